"""Block references: the (hash, number, parent, time) summaries op-node passes around and serves.

Spec: op-node ``op-service/eth/id.go`` (``BlockID``, ``L1BlockRef``, ``L2BlockRef``), as served by
``optimism_syncStatus`` and ``optimism_outputAtBlock`` (``specs/protocol/rollup-node.md``,
"Output RPC method"). JSON shape: ``{"hash", "number", "parentHash", "timestamp"}`` with numbers
as plain JSON integers and hashes as lowercase 0x-hex; an L2 ref adds
``"l1origin": {"hash", "number"}`` and ``"sequenceNumber"``. The zero value (zero hash, all
numbers 0) stands for "unknown" and is always serialised, never omitted.

:class:`BlockID` is the rollup configuration's own type (``opfleet.protocol.rollup_config``),
so a genesis ``l1`` block and an L2 ref's ``l1origin`` compare equal when they are the same block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opfleet.protocol.crypto import ZERO_HASH
from opfleet.protocol.hexjson import json_object, parse_data, parse_json_uint
from opfleet.protocol.rollup_config import BlockID

__all__ = [
    "BlockID",
    "BlockRef",
    "L1BlockRef",
    "L2BlockRef",
    "ZERO_BLOCK_ID",
    "ZERO_L1_BLOCK_REF",
    "ZERO_L2_BLOCK_REF",
    "block_id_from_json",
    "block_id_to_json",
]

_UINT64_MAX = (1 << 64) - 1


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _json_hash(obj: dict[str, Any], key: str, where: str) -> bytes:
    return parse_data(obj.get(key), 32, f"{where}.{key}")


def _json_uint64(obj: dict[str, Any], key: str, where: str) -> int:
    return parse_json_uint(obj.get(key), f"{where}.{key}")  # op-node writes these as JSON numbers


def _json_object(obj: Any, where: str) -> dict[str, Any]:
    return json_object(obj, where)


def _check_hash(value: bytes, name: str) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise ValueError(f"{name} must be 32 bytes")


def _check_uint64(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT64_MAX:
        raise ValueError(f"{name} must be a uint64, got {value!r}")


def _check_ref(ref: L1BlockRef | L2BlockRef) -> None:
    _check_hash(ref.hash, "hash")
    _check_hash(ref.parent_hash, "parent_hash")
    _check_uint64(ref.number, "number")
    _check_uint64(ref.timestamp, "timestamp")


ZERO_BLOCK_ID = BlockID(ZERO_HASH, 0)


class _RefFields:
    """What an L1 and an L2 ref share: the id, the parent's id and the four JSON fields.

    A mixin rather than a base class, so that an :class:`L2BlockRef` is never taken for an
    :class:`L1BlockRef` (``isinstance``, dataclass equality)."""

    __slots__ = ()
    hash: bytes
    number: int
    parent_hash: bytes
    timestamp: int

    @property
    def id(self) -> BlockID:
        return BlockID(self.hash, self.number)

    @property
    def parent_id(self) -> BlockID:
        """The parent's id; for block 0 the zero id with number 0 (op-node ``ParentID``)."""
        return BlockID(self.parent_hash, self.number - 1 if self.number > 0 else 0)

    def _ref_json(self) -> dict[str, Any]:
        return {
            "hash": _hex(self.hash),
            "number": self.number,
            "parentHash": _hex(self.parent_hash),
            "timestamp": self.timestamp,
        }


def _ref_fields_from_json(obj: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "hash": _json_hash(obj, "hash", where),
        "number": _json_uint64(obj, "number", where),
        "parent_hash": _json_hash(obj, "parentHash", where),
        "timestamp": _json_uint64(obj, "timestamp", where),
    }


def block_id_to_json(block: BlockID) -> dict[str, Any]:
    """``{"hash": "0x..", "number": n}`` (op-node ``eth.BlockID``)."""
    return {"hash": _hex(block.hash), "number": block.number}


def block_id_from_json(obj: Any, *, where: str = "blockID") -> BlockID:
    """Parse op-node's ``BlockID`` JSON; raises :class:`DecodeError` naming the bad field."""
    obj = _json_object(obj, where)
    return BlockID(_json_hash(obj, "hash", where), _json_uint64(obj, "number", where))


@dataclass(frozen=True, slots=True)
class L1BlockRef(_RefFields):
    """An L1 block's hash, number, parent hash and timestamp (op-node ``eth.L1BlockRef``)."""

    hash: bytes
    number: int
    parent_hash: bytes
    timestamp: int

    def __post_init__(self) -> None:
        _check_ref(self)

    def is_zero(self) -> bool:
        return self == ZERO_L1_BLOCK_REF

    def to_json(self) -> dict[str, Any]:
        return self._ref_json()

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "L1BlockRef") -> L1BlockRef:
        return cls(**_ref_fields_from_json(_json_object(obj, where), where))


BlockRef = L1BlockRef
"""op-node's ``eth.BlockRef`` is the same shape as ``L1BlockRef``."""


@dataclass(frozen=True, slots=True)
class L2BlockRef(_RefFields):
    """An L2 block's ref plus its L1 origin and sequence number (op-node ``eth.L2BlockRef``).

    ``sequence_number`` is the distance to the first L2 block of the same epoch (L1 origin).
    Two refs are the same block only if *every* field is equal: op-node light nodes compare
    whole refs, so ``l1_origin`` and ``sequence_number`` must match the L1-info deposit exactly.
    """

    hash: bytes
    number: int
    parent_hash: bytes
    timestamp: int
    l1_origin: BlockID
    sequence_number: int

    def __post_init__(self) -> None:
        _check_ref(self)
        if not isinstance(self.l1_origin, BlockID):
            raise ValueError("l1_origin must be a BlockID")
        _check_uint64(self.sequence_number, "sequence_number")

    def is_zero(self) -> bool:
        return self == ZERO_L2_BLOCK_REF

    def to_json(self) -> dict[str, Any]:
        out = self._ref_json()
        out["l1origin"] = block_id_to_json(self.l1_origin)
        out["sequenceNumber"] = self.sequence_number
        return out

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "L2BlockRef") -> L2BlockRef:
        obj = _json_object(obj, where)
        return cls(
            **_ref_fields_from_json(obj, where),
            l1_origin=block_id_from_json(obj.get("l1origin"), where=f"{where}.l1origin"),
            sequence_number=_json_uint64(obj, "sequenceNumber", where),
        )


ZERO_L1_BLOCK_REF = L1BlockRef(ZERO_HASH, 0, ZERO_HASH, 0)
ZERO_L2_BLOCK_REF = L2BlockRef(ZERO_HASH, 0, ZERO_HASH, 0, ZERO_BLOCK_ID, 0)
