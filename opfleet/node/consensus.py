"""Choosing what to follow when a light node has several sources (``--follow A --follow B``).

In the spirit of proxyd's ``consensus_aware_consensus_layer`` routing (proxyd
``proxyd/consensus_poller_cl.go``), built into the light node instead of a proxy in front of it:

- **Candidates**: sources whose last ``optimism_syncStatus`` was fetched and passed op-node's
  sanity checks (:mod:`opfleet.node.follow`), that are *in sync* (``head_l1 - current_l1`` at most
  ``sync_threshold`` L1 blocks, proxyd's ``consensus_cl_sync_threshold``; a zero ``current_l1`` is
  "unknown" and accepted) and are not set aside. A source that is down is simply not a candidate,
  so one source down never stalls the node.
- **Agreement, per head** (local-safe, safe, finalized): with ``n`` candidates a majority is
  ``k = n // 2 + 1``. The highest height tried is the ``k``-th highest height reported, so a
  lagging minority does not hold the node back (proxyd takes the minimum; we only need a
  majority). Every candidate at or above a height gives its block there (the head it reported,
  or for a source further ahead its canonical block at that height, ``optimism_outputAtBlock``'s
  ``blockRef``); if ``k`` of them name the same block, it is the agreed one, else the next lower
  reported height is tried. Candidates naming another block at the agreed height are **set
  aside** for ``ban_period`` seconds (logged by the caller). No majority at any height: nothing
  moves and the node raises its alert metric (proxyd halts the same way on an output-root split).
- ``current_l1`` of the target is the lowest of the agreeing sources' (proxyd pins the backend
  with the lowest ``current_l1`` so the served fields are consistent).

Order statistics keep the target consistent: each source has finalized <= safe <= local-safe, so
the ``k``-th highest values keep that order too.

With a single source nothing here applies beyond its sanity checks: the node behaves exactly as
op-node with one ``--l2.follow.source`` (the in-sync filter is only used with several sources).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from opfleet.node.follow import FollowTarget
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus

__all__ = ["ConsensusResult", "DEFAULT_BAN_PERIOD", "DEFAULT_SYNC_THRESHOLD", "agree", "candidates", "in_sync",
           "majority"]

DEFAULT_SYNC_THRESHOLD = 10
"""L1 blocks a source's ``current_l1`` may trail its ``head_l1`` (proxyd ``consensus_cl_sync_threshold``)."""
DEFAULT_BAN_PERIOD = 60.0
"""Seconds a disagreeing source is set aside (proxyd's ``consensus_ban_period`` is 5 minutes)."""

_HEADS = ("local_safe_l2", "safe_l2", "finalized_l2")

RefAt = Callable[[str, int, L2BlockRef], Awaitable[L2BlockRef]]
"""``ref_at(source, number, reported)``: the source's canonical block at ``number``, given that
it reported ``reported`` (higher) as this head."""


@dataclass(frozen=True, slots=True)
class ConsensusResult:
    """What :func:`agree` decided."""

    target: FollowTarget | None
    """What to apply; None when there is nothing to apply (no candidate, or no majority)."""
    candidates: tuple[str, ...] = ()
    disagreeing: tuple[str, ...] = ()
    """Candidates whose block at an agreed height is not the majority's: to be set aside."""
    no_majority: bool = False
    """Candidates exist but no majority agrees on a block: hold and alert."""
    reasons: Mapping[str, str] = field(default_factory=dict)


def majority(n: int) -> int:
    """Votes needed among ``n`` candidates: a strict majority."""
    return n // 2 + 1


def in_sync(status: SyncStatus, threshold: int = DEFAULT_SYNC_THRESHOLD) -> bool:
    """proxyd's CL "in sync": derivation (``current_l1``) close to the source's L1 head."""
    if status.current_l1.is_zero() or status.head_l1.is_zero():
        return True
    return status.head_l1.number - status.current_l1.number <= threshold


def candidates(statuses: Mapping[str, SyncStatus | None], *, set_aside: Sequence[str] = (),
               sync_threshold: int = DEFAULT_SYNC_THRESHOLD) -> dict[str, SyncStatus]:
    """The sources that may vote: a sane status, in sync (with several sources), not set aside."""
    usable = {url: s for url, s in statuses.items() if s is not None and url not in set_aside}
    if len(statuses) > 1:
        usable = {url: s for url, s in usable.items() if in_sync(s, sync_threshold)}
    return usable


async def _agree_on(head: str, votes: Mapping[str, SyncStatus], ref_at: RefAt
                    ) -> tuple[L2BlockRef | None, list[str], list[str]]:
    """The agreed block for one head; the sources agreeing and those disagreeing at its height."""
    k = majority(len(votes))
    reported = {url: getattr(s, head) for url, s in votes.items()}
    heights = sorted({r.number for r in reported.values()}, reverse=True)
    top = sorted((r.number for r in reported.values()), reverse=True)[k - 1]
    for height in (h for h in heights if h <= top):
        at_height: dict[str, L2BlockRef] = {}
        for url, ref in reported.items():
            if ref.number == height:
                at_height[url] = ref
            elif ref.number > height:
                at_height[url] = await ref_at(url, height, ref)
        groups: dict[L2BlockRef, list[str]] = {}
        for url, ref in at_height.items():
            groups.setdefault(ref, []).append(url)
        best = max(groups.items(), key=lambda item: len(item[1]))
        if len(best[1]) >= k:
            return best[0], best[1], [url for url in at_height if url not in best[1]]
    return None, [], []


async def agree(statuses: Mapping[str, SyncStatus | None], ref_at: RefAt, *, set_aside: Sequence[str] = (),
                sync_threshold: int = DEFAULT_SYNC_THRESHOLD) -> ConsensusResult:
    """Decide what to follow from every source's last sane status (None: down or insane).

    ``ref_at`` may raise; the caller treats that like the source being down for this round.
    """
    votes = candidates(statuses, set_aside=set_aside, sync_threshold=sync_threshold)
    names = tuple(votes)
    if not votes:
        return ConsensusResult(None, names)
    if len(votes) == 1:
        return ConsensusResult(FollowTarget.of(next(iter(votes.values()))), names)
    agreed: dict[str, L2BlockRef] = {}
    disagreeing: dict[str, str] = {}
    supporters: list[str] = list(votes)
    for head in _HEADS:
        ref, agreeing, others = await _agree_on(head, votes, ref_at)
        if ref is None:
            return ConsensusResult(None, names, no_majority=True)
        agreed[head] = ref
        for url in others:
            disagreeing.setdefault(url, f"{head} at {ref.number} is not the majority's 0x{ref.hash.hex()}")
        if head == "local_safe_l2":
            supporters = agreeing
    current_l1 = _lowest_current_l1([votes[url] for url in supporters])
    target = FollowTarget(agreed["local_safe_l2"], agreed["safe_l2"], agreed["finalized_l2"], current_l1)
    return ConsensusResult(target, names, tuple(disagreeing), reasons=disagreeing)


def _lowest_current_l1(statuses: Sequence[SyncStatus]) -> L1BlockRef:
    known = [s.current_l1 for s in statuses if not s.current_l1.is_zero()]
    if not known:
        return statuses[0].current_l1
    return min(known, key=lambda ref: ref.number)
