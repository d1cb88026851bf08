"""Singular batches (batch type 0): one L2 block per batch.

Spec: ``specs/protocol/derivation.md`` ("Batch Format"):
``rlp([parent_hash, epoch_number, epoch_hash, timestamp, transaction_list])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from opfleet.errors import DecodeError
from opfleet.protocol.rlp_codec import int_bytes, rlp_decode_first, rlp_encode

SINGULAR_BATCH_TYPE = 0
_U64_BYTES = 8


@dataclass(frozen=True, slots=True)
class SingularBatch:
    """One L2 block's batch: its parent, L1 origin (epoch), timestamp and EIP-2718 txs."""

    parent_hash: bytes
    epoch_num: int
    epoch_hash: bytes
    timestamp: int
    transactions: tuple[bytes, ...] = ()

    BATCH_TYPE: ClassVar[int] = SINGULAR_BATCH_TYPE

    def __post_init__(self) -> None:
        if len(self.parent_hash) != 32 or len(self.epoch_hash) != 32:
            raise ValueError("parent_hash and epoch_hash must be 32 bytes")
        if not (0 <= self.epoch_num < 1 << 64 and 0 <= self.timestamp < 1 << 64):
            raise ValueError("epoch_num and timestamp must be uint64")

    def encode(self) -> bytes:
        """Batch content (after the type byte): the RLP list of the five fields.

        Spec: specs/protocol/derivation.md, Batch Format.
        """
        fields = [self.parent_hash, int_bytes(self.epoch_num), self.epoch_hash, int_bytes(self.timestamp)]
        return rlp_encode(fields + [list(self.transactions)])

    @classmethod
    def decode(cls, content: bytes) -> SingularBatch:
        """Decode batch content (after the type byte). Bytes after the RLP list are ignored,
        as op-node decodes a single value from the batch's byte string.

        Spec: specs/protocol/derivation.md, Batch Format; op-node ``SingularBatch.decode``.
        """
        if not content:
            raise DecodeError("empty singular batch", offset=0)
        if content[0] < 0xC0:
            raise DecodeError("singular batch must be an RLP list", offset=0)
        try:
            fields = rlp_decode_first(content)[0]
        except DecodeError as exc:
            raise DecodeError(f"malformed singular batch RLP: {exc.reason}", offset=exc.offset) from None
        if not isinstance(fields, list) or len(fields) != 5:
            raise DecodeError(f"singular batch must have 5 fields, got {len(fields)}", offset=0)
        parent_hash, epoch_num, epoch_hash, timestamp, txs = fields
        if not isinstance(txs, list):
            raise DecodeError("singular batch transactions must be a list", offset=0)
        for tx in txs:
            if not isinstance(tx, bytes):
                raise DecodeError("singular batch transaction must be a byte string", offset=0)
        return cls(
            parent_hash=_hash(parent_hash, "parent_hash"),
            epoch_num=_uint64(epoch_num, "epoch_num"),
            epoch_hash=_hash(epoch_hash, "epoch_hash"),
            timestamp=_uint64(timestamp, "timestamp"),
            transactions=tuple(txs),
        )

    def to_json(self, chain_id: int | None = None) -> dict[str, Any]:
        """JSON-ready view. ``chain_id`` is accepted (and unused) so every batch type shares
        one ``to_json`` signature."""
        return {
            "type": SINGULAR_BATCH_TYPE,
            "parent_hash": "0x" + self.parent_hash.hex(),
            "epoch_num": self.epoch_num,
            "epoch_hash": "0x" + self.epoch_hash.hex(),
            "timestamp": self.timestamp,
            "transactions": ["0x" + tx.hex() for tx in self.transactions],
        }


def _hash(item: Any, name: str) -> bytes:
    if not isinstance(item, bytes) or len(item) != 32:
        raise DecodeError(f"singular batch {name} must be 32 bytes", offset=0)
    return item


def _uint64(item: Any, name: str) -> int:
    if not isinstance(item, bytes):
        raise DecodeError(f"singular batch {name} must be an integer", offset=0)
    if item[:1] == b"\x00":
        raise DecodeError(f"singular batch {name}: non-canonical integer", offset=0)
    if len(item) > _U64_BYTES:
        raise DecodeError(f"singular batch {name} overflows uint64", offset=0)
    return int.from_bytes(item, "big")
