"""What ``optimism_safeHeadAtL1Block`` answers from (op-node ``op-node/node/safedb``): the safe
head recorded for an L1 block, and the read side of the safe-head database. The sqlite store that
writes it is :class:`opfleet.node.safedb.SafeHeadDB`; the RPC layer only needs this interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from opfleet.protocol.block_ref import BlockID

__all__ = ["SafeHeadEntry", "SafeHeadNotFound", "SafeHeadReader"]


@dataclass(frozen=True, slots=True)
class SafeHeadEntry:
    l1_block: BlockID
    safe_head: BlockID


class SafeHeadNotFound(LookupError):
    """No entry at or below the requested L1 block (op-node's error says "not found")."""


class SafeHeadReader(Protocol):
    """The most recent entry at or below an L1 block number (op-node's ``SeekLT(n+1)``)."""

    def safe_head_at(self, l1_number: int) -> SafeHeadEntry:
        """Raises :class:`SafeHeadNotFound` when there is none."""
        ...
