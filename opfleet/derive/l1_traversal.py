"""L1 Traversal: walk the L1 chain one block at a time, tracking the system config.

Spec: ``specs/protocol/derivation.md`` ("L1 Traversal"), ``specs/protocol/system-config.md``
("System config updates"), ``specs/protocol/holocene/derivation.md`` ("Activation"); op-node
``l1_traversal.go``; kona ``stages/traversal/polling.rs``.
"""

from __future__ import annotations

import logging

from opfleet.derive.errors import CriticalError, EndOfData, ResetError
from opfleet.derive.interfaces import Activation, ChainProvider, Reset, Signal
from opfleet.errors import BlockNotFoundError, DecodeError
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import SystemConfig, update_system_config_with_receipts

log = logging.getLogger("opfleet.derive")

HOLOCENE = "holocene"


class L1Traversal:
    """The bottom stage: hands out the current L1 origin once, then advances on request.

    Keeps its own copy of the system config, updated with each new block's ``ConfigUpdate``
    logs; its batcher address authenticates the batcher transactions of that same block.
    """

    def __init__(self, chain: ChainProvider, rollup_config: RollupConfig):
        self.chain = chain
        self.rollup_config = rollup_config
        self._block: L1BlockRef | None = None
        self._done = False
        self._system_config = rollup_config.genesis.system_config
        self.blocks_traversed = 0

    @property
    def origin(self) -> L1BlockRef | None:
        return self._block

    @property
    def system_config(self) -> SystemConfig:
        return self._system_config

    async def next_l1_block(self) -> L1BlockRef:
        """The current origin, once; :class:`EndOfData` until the origin advances."""
        if self._block is None or self._done:
            raise EndOfData("L1 traversal: origin already handed out")
        self._done = True
        return self._block

    async def advance_origin(self) -> Activation | None:
        """Move to L1 block ``origin + 1``.

        Raises :class:`EndOfData` when that block does not exist yet, :class:`ResetError` when
        its parent hash is not the current origin (an L1 reorg), :class:`CriticalError` when
        one of its ``ConfigUpdate`` logs is malformed (op-node). Nothing changes on failure.
        Returns an :class:`Activation` when the new origin is the first Holocene L1 block.

        Spec: specs/protocol/derivation.md, L1 Traversal.
        """
        current = self._block
        if current is None:
            raise ResetError("L1 traversal has no origin: reset the pipeline first")
        # One provider call (one batched request) for the header, transactions and receipts:
        # the data source and attributes builder then read the same block by hash from cache.
        try:
            block, receipts = await self.chain.block_with_receipts(current.number + 1)
        except BlockNotFoundError:
            raise EndOfData(f"L1 block {current.number + 1} does not exist yet") from None
        ref = block.ref
        if ref.number != current.number + 1:
            raise ResetError(f"asked the L1 provider for block {current.number + 1}, got {ref.number}")
        if ref.parent_hash != current.hash:
            raise ResetError(
                f"L1 reorg detected: block {ref.number} has parent 0x{ref.parent_hash.hex()}, "
                f"but the origin {current.number} is 0x{current.hash.hex()}"
            )
        cfg = self.rollup_config
        try:
            system_config = update_system_config_with_receipts(
                self._system_config,
                ((r.status, r.logs) for r in receipts),
                cfg.l1_system_config_address,
                ecotone_active=cfg.is_ecotone(ref.timestamp),
            )
        except DecodeError as exc:
            raise CriticalError(
                f"malformed SystemConfig update in L1 block {ref.number} "
                f"(0x{ref.hash.hex()}): {exc}"
            ) from None
        if system_config != self._system_config:
            log.info("system config updated at L1 block %d", ref.number)
        self._system_config = system_config
        self._block = ref
        self._done = False
        self.blocks_traversed += 1
        if cfg.is_holocene(ref.timestamp) and not cfg.is_holocene(current.timestamp):
            return Activation(HOLOCENE, ref)
        return None

    def signal(self, signal: Signal) -> None:
        if isinstance(signal, Reset):
            self._block = signal.l1_base
            self._done = False
            self._system_config = signal.system_config
