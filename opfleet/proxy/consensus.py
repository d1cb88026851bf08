"""proxyd's consensus-layer decisions as pure functions (no I/O, no clock of their own).

Reference: ``opnode-rpc.md`` §4.2-4.3; ethereum-optimism/infra ``proxyd/consensus_poller.go``
(``UpdateBackend``, ``checkExpectedBlockTags``, ``FilterCandidates``,
``UpdateBackendGroupConsensus``) and ``proxyd/consensus_poller_cl.go`` (``updateCLBackend``,
``validateCLBackendUpdate``, ``verifyCLOutputRoots``, ``selectConsensusSyncStatusBody``).

The poller (:mod:`opfleet.proxy.poller`) does the I/O and keeps the state; everything it decides
is decided here, so each rule is tested on its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ClStatus", "Heads", "Vote", "BackendView", "parse_sync_status", "check_in_sync", "zero_head",
           "expected_tags", "filter_candidates", "lowest_heads", "resolve_output_roots", "select_pin",
           "parse_output_root", "parse_peer_count"]

ZERO_HASH = "0x" + "00" * 32


@dataclass(frozen=True, slots=True)
class ClStatus:
    """What proxyd reads from one ``optimism_syncStatus`` answer (``clSyncStatus``)."""

    unsafe: int
    unsafe_hash: str
    safe: int
    safe_hash: str
    local_safe: int
    local_safe_hash: str
    finalized: int
    finalized_hash: str
    current_l1: int
    head_l1: int
    head_l1_timestamp: int


def _block(result: Mapping[str, Any], key: str) -> tuple[int, str]:
    ref = result.get(key)
    if not isinstance(ref, dict):
        raise ValueError(f"unexpected type for {key} in optimism_syncStatus")
    number, block_hash = ref.get("number"), ref.get("hash")
    if isinstance(number, bool) or not isinstance(number, int) or number < 0 or not isinstance(block_hash, str):
        raise ValueError(f"missing or invalid 'number' or 'hash' field in {key} block")
    return number, block_hash


def parse_sync_status(result: Any) -> ClStatus:
    """Parse an ``optimism_syncStatus`` result; ValueError names the first bad field.

    Numbers must be JSON integers (op-node's ``uint64``); proxyd's float64 decoding would also
    take ``1.5``, which no node sends.
    """
    if not isinstance(result, dict):
        raise ValueError("unexpected response to optimism_syncStatus (not an object)")
    unsafe, unsafe_hash = _block(result, "unsafe_l2")
    safe, safe_hash = _block(result, "safe_l2")
    local_safe, local_safe_hash = _block(result, "local_safe_l2")
    finalized, finalized_hash = _block(result, "finalized_l2")
    current_l1, _ = _block(result, "current_l1")
    head_l1, _ = _block(result, "head_l1")
    timestamp = result["head_l1"].get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("missing or invalid timestamp in head_l1")
    return ClStatus(unsafe, unsafe_hash, safe, safe_hash, local_safe, local_safe_hash, finalized, finalized_hash,
                    current_l1, head_l1, timestamp)


def _valid_hash(block_hash: str) -> bool:
    """proxyd's ``hasValidBlockHash``: non-empty and not all zeros."""
    digits = block_hash[2:] if block_hash[:2] in ("0x", "0X") else block_hash
    return bool(block_hash) and any(c != "0" for c in digits)


def zero_head(status: ClStatus) -> str | None:
    """The first head at number 0 **without** a valid hash (an uninitialised node), else None.

    At genesis op-node reports number 0 with the real genesis hash, which passes (infra #645).
    """
    for label, number, block_hash in (("latest", status.unsafe, status.unsafe_hash),
                                      ("safe", status.safe, status.safe_hash),
                                      ("finalized", status.finalized, status.finalized_hash),
                                      ("local_safe", status.local_safe, status.local_safe_hash)):
        if number == 0 and not _valid_hash(block_hash):
            return label
    return None


def check_in_sync(status: ClStatus, now: float, *, sync_threshold: int, head_l1_max_age: float) -> tuple[bool, str | None]:
    """proxyd's CL in-sync test: ``head_l1 - current_l1 <= sync_threshold`` and a non-zero
    ``head_l1.timestamp`` no older than ``head_l1_max_age`` (0 disables the age check).
    Returns ``(in_sync, why_not)``."""
    lag = max(0, status.head_l1 - status.current_l1)
    if lag > sync_threshold:
        return False, f"L1 lag {lag} blocks > {sync_threshold}"
    if status.head_l1_timestamp == 0:
        return False, "head_l1 timestamp is zero (initializing)"
    if head_l1_max_age > 0 and now - status.head_l1_timestamp > head_l1_max_age:
        return False, f"head_l1 is {now - status.head_l1_timestamp:.0f}s old (> {head_l1_max_age:g}s)"
    return True, None


def expected_tags(*, latest: int, old_safe: int, safe: int, old_finalized: int, finalized: int,
                  safe_drift: int = 0, finalized_drift: int = 0) -> bool:
    """``checkExpectedBlockTags``: finalized <= safe <= latest, and safe / finalized did not go
    back by more than their drift thresholds since the last poll."""
    min_safe = old_safe - safe_drift if old_safe > safe_drift else old_safe
    min_finalized = old_finalized - finalized_drift if old_finalized > finalized_drift else old_finalized
    return finalized >= min_finalized and safe >= min_safe and finalized <= safe <= latest


@dataclass(frozen=True, slots=True)
class BackendView:
    """A snapshot of one backend's state, what the group decisions read."""

    name: str
    banned: bool = False
    healthy: bool = True
    forced: bool = False
    skip_peer_count: bool = False
    skip_is_syncing_check: bool = False
    peer_count: int = 0
    in_sync: bool = False
    last_update: float | None = None
    latest: int = 0
    safe: int = 0
    local_safe: int = 0
    finalized: int = 0
    current_l1: int = 0
    has_body: bool = False


@dataclass(frozen=True, slots=True)
class Heads:
    """The group's consensus numbers."""

    latest: int = 0
    safe: int = 0
    local_safe: int = 0
    finalized: int = 0


def filter_candidates(views: Iterable[BackendView], *, now: float, min_peer_count: int, max_update_threshold: float,
                      max_block_lag: int, consensus: Heads) -> list[str]:
    """``FilterCandidates`` in CL mode, in the order given.

    A candidate is forced, or: not banned, healthy, enough peers (unless skipped), in sync
    (unless skipped), finalized and local-safe not below the group's current values (so a
    restarting backend cannot drag consensus back), updated within ``max_update_threshold``;
    then backends more than ``max_block_lag`` behind the highest latest are dropped.
    """
    kept: list[BackendView] = []
    for view in views:
        if view.forced:
            kept.append(view)
            continue
        if view.banned or not view.healthy:
            continue
        if not view.skip_peer_count and view.peer_count < min_peer_count:
            continue
        if not view.skip_is_syncing_check and not view.in_sync:
            continue
        if consensus.finalized > 0 and view.finalized < consensus.finalized:
            continue
        if consensus.local_safe > 0 and view.local_safe < consensus.local_safe:
            continue
        if view.last_update is None or view.last_update + max_update_threshold < now:
            continue
        kept.append(view)
    highest = max((v.latest for v in kept), default=0)
    return [v.name for v in kept if highest - v.latest <= max_block_lag]


def lowest_heads(views: Iterable[BackendView]) -> Heads:
    """The consensus numbers: the minimum of each head across ``views`` (zeros if none).

    A true minimum; proxyd skips zeros while taking it (``lowest == 0 || x < lowest``), which only
    differs when a candidate reports a head at genesis, where 0 is the right answer.
    """
    views = list(views)
    if not views:
        return Heads()
    return Heads(min(v.latest for v in views), min(v.safe for v in views), min(v.local_safe for v in views),
                 min(v.finalized for v in views))


@dataclass(frozen=True, slots=True)
class Vote:
    """The outcome of the output-root check at the group's lowest safe height."""

    agreed: str | None
    """The majority root (None when nobody answered, or on a split)."""
    minority: tuple[str, ...] = ()
    """Backends that answered another root than a strict majority: banned."""
    halt: bool = False
    """No strict majority among two or more distinct roots: halt, ban nobody."""
    responders: int = 0


def resolve_output_roots(roots: Mapping[str, str]) -> Vote:
    """``verifyCLOutputRoots``' resolution over the backends that answered (errors excluded).

    At most one distinct root: proceed, nobody banned. A root with more than half the votes:
    ban the others. Otherwise (1-1, 2-2, a 3-way split): halt.
    """
    counts = Counter(roots.values())
    responders = sum(counts.values())
    if len(counts) <= 1:
        return Vote(next(iter(counts), None), (), False, responders)
    root, votes = counts.most_common(1)[0]
    if votes * 2 <= responders:
        return Vote(None, (), True, responders)
    return Vote(root, tuple(name for name, r in roots.items() if r != root), False, responders)


def select_pin(group: Sequence[BackendView], floor: int) -> str | None:
    """``selectConsensusSyncStatusBody``: the group member with a body and the lowest
    ``current_l1`` not below ``floor`` (the last pin's), first in group order on ties."""
    best: BackendView | None = None
    for view in group:
        if view.has_body and view.current_l1 >= floor and (best is None or view.current_l1 < best.current_l1):
            best = view
    return best.name if best is not None else None


def parse_output_root(result: Any) -> str:
    """``outputRoot`` of an ``optimism_outputAtBlock`` answer; ValueError if missing."""
    if not isinstance(result, dict) or not isinstance(result.get("outputRoot"), str):
        raise ValueError("missing or invalid outputRoot in optimism_outputAtBlock response")
    return result["outputRoot"].lower()


def parse_peer_count(result: Any) -> int:
    """``connected`` of an ``opp2p_peerStats`` answer; ValueError if missing."""
    connected = result.get("connected") if isinstance(result, dict) else None
    if isinstance(connected, bool) or not isinstance(connected, (int, float)) or connected < 0:
        raise ValueError("missing or invalid 'connected' field in opp2p_peerStats response")
    return int(connected)
