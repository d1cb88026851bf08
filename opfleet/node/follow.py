"""Follow-source logic of a light node: op-node's sanity checks and decision table, as functions.

A light node derives nothing: each tick it reads one ``optimism_syncStatus`` from its source and
moves its own heads. This module holds the rules, with no I/O of its own (the only lookups, own-L1
blocks by number, come in through a callable), so every row can be tested on its own.

Sanity checks, in op-node's order (op-node ``op-node/rollup/driver/driver.go``,
``Driver.followUpstream``). The first failure names the tick's result, the label of
``op_node_follow_source_requests_total{result=...}``, and the whole tick is skipped:

1. the fetch failed                                              -> ``error_fetch_status``
2. ``safe_l2.number > local_safe_l2.number``                     -> ``error_invalid_state``
3. ``finalized_l2.number > safe_l2.number``                      -> ``error_invalid_state``
4. the L1 origins of ``local_safe_l2``, ``safe_l2``, ``finalized_l2`` (in that order) on *our* L1:
   lookup failed -> ``error_l1_lookup``; other hash -> ``error_l1_mismatch``
5. ``current_l1`` the same way, unless it is the zero value ("not available": ignored)
6. otherwise                                                     -> ``success``

Decision table (section 1.4; op-node ``EngineController.FollowSource``), with ``eLS``/``eS``/``eF``
the source's local-safe, safe and finalized refs:

=====================  ============================================  ===========================
case                   condition                                     action
=====================  ============================================  ===========================
source ahead           our unsafe number < ``eLS.number``             apply, unsafe := ``eLS``
EL still syncing       our EL has no block at ``eLS.number``          apply, unsafe untouched
lookup error           the EL lookup failed otherwise                 nothing this tick
match                  our block at ``eLS.number`` == ``eLS``         apply, unsafe untouched
conflict (verifier)    our block differs                              apply, unsafe := ``eLS``
conflict (sequencer)   our block differs and we sequence              force reset onto the source
=====================  ============================================  ===========================

"apply" moves local-safe only up, safe only when it advances (or is the zero value), finalized
only up and never above safe; a force reset sets unsafe = local-safe = ``eLS``, safe = ``eS``,
finalized = ``eF`` in one step (op-node ``forceReset``, PR #21155). Full :class:`L2BlockRef`
equality is used for "match", as op-node does: a different ``l1origin`` or sequence number is a
conflict.

L1 reads (same outcomes as op-node, fewer requests): op-node reads every L1 number a status
names from its own L1 on every tick, with no cache (``op-service/sources/eth_client.go``: "can't
hit the cache when querying by number due to reorgs"), and so do we: :func:`check_status_batch`
asks for all of a tick's numbers in ONE lookup. The only exception is :class:`FinalizedL1`: refs
at or below our L1's finalized block, where no reorg can replace them, are read once and then
known for good. A ref above it, however recently confirmed, is read again at the next tick: a
reorg between two L1 head polls must fail the next status naming the replaced block, since
local-safe only moves up and a wrong acceptance is never undone.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from opfleet.errors import BlockNotFoundError, NodeError
from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF, ZERO_L2_BLOCK_REF, BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus

__all__ = [
    "FollowAction",
    "FollowResult",
    "FollowTarget",
    "Heads",
    "NOT_FOUND",
    "LOOKUP_FAILED",
    "SanityCheck",
    "FinalizedL1",
    "FinalizedL1Statistics",
    "all_zero",
    "apply",
    "check_status",
    "check_status_batch",
    "l1_refs_to_check",
    "decide",
    "follow_step",
    "shape_problem",
]


class FollowResult(str, enum.Enum):
    """op-node's ``result`` labels of ``op_node_follow_source_requests_total``."""

    SUCCESS = "success"
    ERROR_FETCH_STATUS = "error_fetch_status"
    ERROR_INVALID_STATE = "error_invalid_state"
    ERROR_L1_LOOKUP = "error_l1_lookup"
    ERROR_L1_MISMATCH = "error_l1_mismatch"


@dataclass(frozen=True, slots=True)
class SanityCheck:
    """The outcome of :func:`check_status`: a result label and, unless success, why."""

    result: FollowResult
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.result is FollowResult.SUCCESS


@dataclass(frozen=True, slots=True)
class FollowTarget:
    """What a tick applies: the four fields op-node consumes from the source's status."""

    local_safe: L2BlockRef
    safe: L2BlockRef
    finalized: L2BlockRef
    current_l1: L1BlockRef = ZERO_L1_BLOCK_REF

    @classmethod
    def of(cls, status: SyncStatus) -> FollowTarget:
        return cls(status.local_safe_l2, status.safe_l2, status.finalized_l2, status.current_l1)


@dataclass(frozen=True, slots=True)
class Heads:
    """A light node's L2 heads (op-node ``EngineController``'s, minus the derivation-only ones)."""

    unsafe: L2BlockRef = ZERO_L2_BLOCK_REF
    local_safe: L2BlockRef = ZERO_L2_BLOCK_REF
    safe: L2BlockRef = ZERO_L2_BLOCK_REF
    """Cross-safe: the source's ``safe_l2``; what the EL is told is safe."""
    finalized: L2BlockRef = ZERO_L2_BLOCK_REF
    backup_unsafe: L2BlockRef = ZERO_L2_BLOCK_REF
    """The unsafe head a follow step replaced (op-node keeps it to restore after a bad reorg)."""


class FollowAction(str, enum.Enum):
    """A row of the decision table."""

    SOURCE_AHEAD = "source_ahead"
    EL_SYNCING = "el_syncing"
    LOOKUP_ERROR = "lookup_error"
    MATCH = "match"
    CONFLICT = "conflict"
    FORCE_RESET = "force_reset"

    @property
    def moves_unsafe(self) -> bool:
        return self in (FollowAction.SOURCE_AHEAD, FollowAction.CONFLICT, FollowAction.FORCE_RESET)


class _Lookup(enum.Enum):
    NOT_FOUND = "not_found"
    LOOKUP_FAILED = "lookup_failed"


NOT_FOUND = _Lookup.NOT_FOUND
"""Our EL has no block at the height (it is still syncing)."""
LOOKUP_FAILED = _Lookup.LOOKUP_FAILED
"""The EL lookup failed for another reason (EL down...)."""

ELLookup = L2BlockRef | _Lookup
L1ByNumber = Callable[[int], Awaitable[L1BlockRef]]
L1Lookup = Callable[[Sequence[BlockID]], Awaitable[Mapping[int, L1BlockRef | BaseException]]]
"""Our L1's canonical ref at each number of the given ids (an exception where the lookup failed)."""


# --- sanity checks ----------------------------------------------------------------------------------


def all_zero(status: SyncStatus) -> bool:
    """True when the local-safe, safe and finalized heads are all the zero value: a source that has
    not read its chain yet (op-node answers so between its RPC server starting and its first
    engine reset). There is nothing to follow: the source is not ready, rather than lying."""
    return status.local_safe_l2.is_zero() and status.safe_l2.is_zero() and status.finalized_l2.is_zero()


def shape_problem(status: SyncStatus) -> str | None:
    """Why the status is internally inconsistent (checks 2 and 3), or None."""
    if status.safe_l2.number > status.local_safe_l2.number:
        return f"safe_l2 {status.safe_l2.number} is above local_safe_l2 {status.local_safe_l2.number}"
    if status.finalized_l2.number > status.safe_l2.number:
        return f"finalized_l2 {status.finalized_l2.number} is above safe_l2 {status.safe_l2.number}"
    return None


async def _check_l1(name: str, block: BlockID, l1_by_number: L1ByNumber) -> SanityCheck | None:
    try:
        ours = await l1_by_number(block.number)
    except (NodeError, ValueError) as exc:
        return SanityCheck(FollowResult.ERROR_L1_LOOKUP, f"{name} L1 block {block.number}: {exc}")
    if ours.hash != block.hash:
        return SanityCheck(FollowResult.ERROR_L1_MISMATCH,
                           f"{name} is L1 block {block.number} 0x{block.hash.hex()}, "
                           f"but our L1 has 0x{ours.hash.hex()} there")
    return None


async def check_status(status: SyncStatus, l1_by_number: L1ByNumber) -> SanityCheck:
    """op-node's checks 2-6 (the fetch itself is check 1), in op-node's order.

    ``l1_by_number`` reads our own L1; any :class:`~opfleet.errors.NodeError` it raises (down,
    block not found) is a lookup failure. Lookups are made once per distinct L1 number.
    """
    problem = shape_problem(status)
    if problem is not None:
        return SanityCheck(FollowResult.ERROR_INVALID_STATE, problem)
    seen: dict[int, L1BlockRef] = {}

    async def cached(number: int) -> L1BlockRef:
        if number not in seen:
            seen[number] = await l1_by_number(number)
        return seen[number]

    for name, ref in (("local_safe_l2.l1origin", status.local_safe_l2),
                      ("safe_l2.l1origin", status.safe_l2),
                      ("finalized_l2.l1origin", status.finalized_l2)):
        failed = await _check_l1(name, ref.l1_origin, cached)
        if failed is not None:
            return failed
    if not status.current_l1.is_zero():  # zero: "CurrentL1 not available", ignored as op-node does
        failed = await _check_l1("current_l1", status.current_l1.id, cached)
        if failed is not None:
            return failed
    return SanityCheck(FollowResult.SUCCESS)


def l1_refs_to_check(status: SyncStatus) -> tuple[tuple[str, BlockID], ...]:
    """The L1 blocks check 4 and 5 look up, named and in op-node's order (a zero ``current_l1``
    is left out: "not available")."""
    refs = [("local_safe_l2.l1origin", status.local_safe_l2.l1_origin),
            ("safe_l2.l1origin", status.safe_l2.l1_origin),
            ("finalized_l2.l1origin", status.finalized_l2.l1_origin)]
    if not status.current_l1.is_zero():
        refs.append(("current_l1", status.current_l1.id))
    return tuple(refs)


async def check_status_batch(status: SyncStatus, lookup: L1Lookup) -> SanityCheck:
    """:func:`check_status` with all L1 lookups of the status made by ONE call of ``lookup``.

    Same results and reasons as op-node's one-by-one checks: the answers are judged in op-node's
    order and the first failure names the tick (op-node would have stopped there; asking for the
    later numbers too changes no outcome). No lookup at all when the state is invalid.
    """
    problem = shape_problem(status)
    if problem is not None:
        return SanityCheck(FollowResult.ERROR_INVALID_STATE, problem)
    checks = l1_refs_to_check(status)
    found = await lookup([block for _, block in checks])
    for name, block in checks:
        ours = found.get(block.number)
        if ours is None or isinstance(ours, BaseException):
            error = ours if ours is not None else NodeError("no answer")
            return SanityCheck(FollowResult.ERROR_L1_LOOKUP, f"{name} L1 block {block.number}: {error}")
        if ours.hash != block.hash:
            return SanityCheck(FollowResult.ERROR_L1_MISMATCH,
                               f"{name} is L1 block {block.number} 0x{block.hash.hex()}, "
                               f"but our L1 has 0x{ours.hash.hex()} there")
    return SanityCheck(FollowResult.SUCCESS)


@dataclass(frozen=True, slots=True)
class FinalizedL1Statistics:
    """A snapshot of a :class:`FinalizedL1`."""

    hits: int
    """L1 refs confirmed from the cache (no call): only ever at or below our L1's finalized block."""
    misses: int
    """L1 refs that had to be looked up."""
    invalidations: int
    """Times the cache was dropped because our L1's finalized block went back or changed."""
    cached: int
    finalized: int | None
    """Our L1's finalized block number as last polled (None before the first poll)."""


class FinalizedL1:
    """Our L1's canonical refs at or below its finalized block (number -> ref).

    A finalized block cannot be reorged, so a ref our L1 answered at a height at or below its
    finalized block stays canonical: it is read once and then confirmed without a call. Nothing
    above the finalized block is ever kept: those numbers are read from our L1 on every tick, as
    op-node reads them. :meth:`confirms` holds only for that exact ref (same number and hash),
    so the cache can save a lookup but never fail a check: a mismatch is always our L1's fresh
    answer. An L1 whose finalized block goes back or changes hash (a dev chain reset) drops
    everything.
    """

    def __init__(self, size: int = 256):
        self.size = size
        self._refs: dict[int, L1BlockRef] = {}
        self._finalized: L1BlockRef | None = None
        self._hits = 0
        self._misses = 0
        self._invalidations = 0

    @property
    def finalized(self) -> L1BlockRef | None:
        return self._finalized

    def get(self, number: int) -> L1BlockRef | None:
        return self._refs.get(number)

    def confirms(self, block: BlockID) -> bool:
        """True if ``block`` is at or below our L1's finalized block and our L1 answered it there."""
        ref = self._refs.get(block.number)
        if ref is not None and ref.hash == block.hash:
            self._hits += 1
            return True
        self._misses += 1
        return False

    def add(self, ref: L1BlockRef) -> bool:
        """Keep a ref our L1 just answered as canonical, if it is at or below the finalized block."""
        final = self._finalized
        if final is None or ref.number > final.number:
            return False
        self._refs[ref.number] = ref
        while len(self._refs) > self.size:
            del self._refs[min(self._refs)]
        return True

    def set_finalized(self, finalized: L1BlockRef) -> None:
        """Our L1's finalized block, from a head poll."""
        old = self._finalized
        known = self._refs.get(finalized.number)
        if (old is not None and finalized.number < old.number) or (known is not None and known.hash != finalized.hash):
            self.invalidate()
        self._finalized = finalized
        self.add(finalized)

    def invalidate(self) -> None:
        self._invalidations += 1
        self._refs.clear()

    def statistics(self) -> FinalizedL1Statistics:
        final = self._finalized
        return FinalizedL1Statistics(self._hits, self._misses, self._invalidations, len(self._refs),
                                     final.number if final is not None else None)


# --- the decision table -----------------------------------------------------------------------------


def decide(unsafe: L2BlockRef, local_safe: L2BlockRef, el_block: ELLookup | None, *,
           sequencing: bool = False) -> FollowAction:
    """The decision-table row for the source's ``local_safe`` given our ``unsafe`` head and our EL's
    block at ``local_safe.number`` (``None`` when it was not looked up: only when the source is
    ahead, since then no lookup is needed)."""
    if unsafe.number < local_safe.number:
        return FollowAction.SOURCE_AHEAD
    if el_block is None:
        raise ValueError("our EL's block at the source's local-safe height is needed")
    if el_block is NOT_FOUND:
        return FollowAction.EL_SYNCING
    if el_block is LOOKUP_FAILED:
        return FollowAction.LOOKUP_ERROR
    if el_block == local_safe:
        return FollowAction.MATCH
    return FollowAction.FORCE_RESET if sequencing else FollowAction.CONFLICT


def _advances(new: L2BlockRef, current: L2BlockRef) -> bool:
    """op-node ``eth.L2BlockRefAdvances``: higher, or the current value is unset (fresh genesis)."""
    return new.number > current.number or current.is_zero()


def apply(heads: Heads, action: FollowAction, target: FollowTarget) -> Heads:
    """The heads after ``action`` (see the module docstring); unchanged for a lookup error."""
    if action is FollowAction.LOOKUP_ERROR:
        return heads
    ls, s, f = target.local_safe, target.safe, target.finalized
    if action is FollowAction.FORCE_RESET:
        return Heads(unsafe=ls, local_safe=ls, safe=s, finalized=f, backup_unsafe=heads.unsafe)
    out = heads
    if action.moves_unsafe and heads.unsafe != ls:
        backup = heads.unsafe if heads.unsafe.number >= heads.backup_unsafe.number else heads.backup_unsafe
        out = replace(out, unsafe=ls, backup_unsafe=backup)
    if ls.number > out.local_safe.number or out.local_safe.is_zero():
        out = replace(out, local_safe=ls)
    if _advances(s, out.safe):
        out = replace(out, safe=s)
    if f.number >= out.finalized.number and f.number <= out.safe.number and f != out.finalized:
        out = replace(out, finalized=f)
    return out


async def follow_step(heads: Heads, target: FollowTarget, el_block_at: Callable[[int], Awaitable[L2BlockRef]], *,
                      sequencing: bool = False) -> tuple[FollowAction, Heads]:
    """One decision: look up our EL's block at the source's local-safe height (unless the source is
    ahead), pick the row, apply it. ``el_block_at`` raises BlockNotFoundError when the EL lacks
    the block; any other :class:`~opfleet.errors.NodeError` is a lookup error."""
    el_block: ELLookup | None = None
    if heads.unsafe.number >= target.local_safe.number:
        try:
            el_block = await el_block_at(target.local_safe.number)
        except BlockNotFoundError:
            el_block = NOT_FOUND
        except NodeError:
            el_block = LOOKUP_FAILED
    action = decide(heads.unsafe, target.local_safe, el_block, sequencing=sequencing)
    return action, apply(heads, action, target)
