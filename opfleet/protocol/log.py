"""An L1 event log, as the derivation rules read it from a receipt.

Spec: ``specs/protocol/deposits.md`` ("Deposit Contract") and ``specs/protocol/system-config.md``
("System config updates"): both user deposits and system-config updates are EVM logs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Log:
    """One EVM log: the emitting contract, its indexed topics and its unindexed data.

    ``address`` is 20 bytes and each topic 32 bytes. The optional fields locate the log in its
    L1 block; derivation needs ``log_index`` (the index among *all* logs of the block) for the
    user-deposit source hash.
    """

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes
    block_hash: bytes | None = None
    log_index: int | None = None
    tx_hash: bytes | None = None
    tx_index: int | None = None

    def __post_init__(self) -> None:
        if len(self.address) != 20:
            raise ValueError(f"log address must be 20 bytes, got {len(self.address)}")
        if not isinstance(self.topics, tuple):
            object.__setattr__(self, "topics", tuple(self.topics))
        for i, topic in enumerate(self.topics):
            if len(topic) != 32:
                raise ValueError(f"log topic {i} must be 32 bytes, got {len(topic)}")
