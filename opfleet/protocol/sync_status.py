"""``SyncStatus``: a node's view of L1 and L2 heads, as op-node serves it.

Spec: op-node ``op-service/eth/sync_status.go`` (``optimism_syncStatus``). Every key is always
present; unknown refs are zero values. ``current_l1_finalized`` is deprecated and always equals
``finalized_l1``. Light nodes, proxies and the TUI read this shape, so it is byte-exact.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.block_ref import (
    ZERO_L1_BLOCK_REF,
    ZERO_L2_BLOCK_REF,
    L1BlockRef,
    L2BlockRef,
)

L1_KEYS = ("current_l1", "current_l1_finalized", "head_l1", "safe_l1", "finalized_l1")
_FALLBACKS = {"local_safe_l2": "safe_l2", "cross_unsafe_l2": "unsafe_l2"}
L2_KEYS = ("unsafe_l2", "safe_l2", "finalized_l2", "pending_safe_l2", "cross_unsafe_l2",
           "local_safe_l2")


@dataclass(frozen=True, slots=True)
class SyncStatus:
    current_l1: L1BlockRef = ZERO_L1_BLOCK_REF
    """The L1 block derivation last idled at: safe L2 is derived up to, not including, it."""
    head_l1: L1BlockRef = ZERO_L1_BLOCK_REF
    safe_l1: L1BlockRef = ZERO_L1_BLOCK_REF
    finalized_l1: L1BlockRef = ZERO_L1_BLOCK_REF
    unsafe_l2: L2BlockRef = ZERO_L2_BLOCK_REF
    """The local-unsafe tip."""
    safe_l2: L2BlockRef = ZERO_L2_BLOCK_REF
    """Cross-safe (equal to local-safe before interop)."""
    finalized_l2: L2BlockRef = ZERO_L2_BLOCK_REF
    pending_safe_l2: L2BlockRef = ZERO_L2_BLOCK_REF
    cross_unsafe_l2: L2BlockRef = ZERO_L2_BLOCK_REF
    local_safe_l2: L2BlockRef = ZERO_L2_BLOCK_REF

    def to_json(self) -> dict[str, Any]:
        """op-node's key order: the L1 refs, then the L2 refs."""
        out: dict[str, Any] = {
            "current_l1": self.current_l1.to_json(),
            "current_l1_finalized": self.finalized_l1.to_json(),
            "head_l1": self.head_l1.to_json(),
            "safe_l1": self.safe_l1.to_json(),
            "finalized_l1": self.finalized_l1.to_json(),
        }
        for key in L2_KEYS:
            out[key] = getattr(self, key).to_json()
        return out

    @classmethod
    def from_json(cls, obj: Any) -> SyncStatus:
        """Parse a SyncStatus; fields must be well formed (else DecodeError).

        Older op-nodes lack ``local_safe_l2`` and ``cross_unsafe_l2``; as op-node's own follow
        client did before they existed, those fall back to ``safe_l2`` and ``unsafe_l2``.
        """
        if not isinstance(obj, dict):
            raise DecodeError(f"sync status: expected a JSON object, got {type(obj).__name__}")
        obj = {**{new: obj[old] for new, old in _FALLBACKS.items() if new not in obj and old in obj},
               **obj}
        values: dict[str, Any] = {}
        for field in fields(cls):
            key = field.name
            if key not in obj:
                raise DecodeError(f"sync status: missing {key}")
            parser = L1BlockRef if key in L1_KEYS else L2BlockRef
            values[key] = parser.from_json(obj[key], where=key)
        return cls(**values)
