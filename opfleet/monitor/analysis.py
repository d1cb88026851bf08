"""Pure derivations over sync statuses: lag, divergence, stalls, source-tier health, follow failures.

No I/O and no clocks: every function takes the time it needs as an argument, so the engine,
``opfleet status`` and the tests get the same answers from the same inputs. Shapes follow
op-node: ``op-service/eth/sync_status.go`` (``optimism_syncStatus``),
``op-node/rollup/driver/driver.go`` ``followUpstream`` (the follow-source checks and
``op_node_follow_source_requests_total{result}``), ``op-node/rollup/status/status.go`` (what a
light node mirrors), ``op-node/metrics/metrics.go`` (metric names).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opfleet.monitor.model import (
    UNKNOWN_LAG,
    Alarm,
    AlarmKind,
    Divergence,
    Lag,
    Role,
)
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus

__all__ = [
    "DEFAULT_BLOCK_TIME",
    "DERIVING_ROLES",
    "FOLLOW_METRIC",
    "LAG_HEADS",
    "SOURCE_ROLES",
    "Thresholds",
    "best_heads",
    "derivation_alarm",
    "derivation_lag",
    "divergences",
    "follow_failures",
    "known_blocks",
    "lag_alarm",
    "lag_behind",
    "not_ready_reason",
    "owned_heads",
    "parse_prometheus",
    "source_tier_alarms",
    "stalled_by_age",
    "stalled_heads",
]

DEFAULT_BLOCK_TIME = 2
FOLLOW_METRIC = "op_node_follow_source_requests_total"
SOURCE_ROLES = frozenset({Role.SOURCE, Role.SUPERNODE, Role.PROXY})
"""Tiers a light node may follow (op-node ``flags/flags.go``: the source must be a CL)."""
DERIVING_ROLES = frozenset({Role.SOURCE, Role.PROXY})
"""Judged by their safe head and derivation lag: a derive-only source's unsafe head is its safe
head, so comparing it with the sequencer's tip says nothing (a proxy serves a source's status)."""
LAG_HEADS = ("unsafe", "local_safe", "safe")
"""The L2 heads whose lag behind the chain's best is measured."""

# Heads compared across nodes for divergence: every L2 head a node reports.
_L2_FIELDS = (("unsafe", "unsafe_l2"), ("cross_unsafe", "cross_unsafe_l2"),
              ("local_safe", "local_safe_l2"), ("safe", "safe_l2"), ("finalized", "finalized_l2"))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a node counts as lagging or stalled. Lags are in blocks; stalls in block times."""

    max_unsafe_lag: int = 10
    max_safe_lag: int = 30
    stall_unsafe_blocks: int = 30
    """Unsafe head unchanged for this many block times: stalled (a sequencer makes one per block)."""
    stall_safe_blocks: int = 600
    """Safe head unchanged this long: stalled (it moves once per batch, minutes apart)."""
    max_derivation_lag: int = 10
    """L1 blocks a deriving node's ``current_l1`` may trail its ``head_l1`` (op-node keeps it
    within its ``--verifier.l1-confs``, 0 by default)."""


# --- what each role is judged by ------------------------------------------------------------------


def owned_heads(role: Role) -> tuple[str, ...]:
    """The L2 heads a role answers for, i.e. the ones whose lag and stalls raise alarms.

    A source derives and nothing else: its unsafe head is its safe head (``derivation.md``; no
    gossip on a derive-only node), so it is judged by safe (plus :func:`derivation_lag`). A light
    node keeps the unsafe chain (gossip, or ``--l2.follow.payloads``) and mirrors its source's safe
    chain (``opnode-rpc.md`` 1.6); a sequencer makes the unsafe chain. A supernode route owns
    local-safe (its own derivation) and safe (cross-verified, op-supernode ``super_authority.go``).
    A node of unknown role is judged by unsafe and safe, as op-node's own dashboards do.
    """
    if role in DERIVING_ROLES:
        return ("safe",)
    if role is Role.SUPERNODE:
        return ("local_safe", "safe")
    return ("unsafe", "safe")


def derivation_lag(status: SyncStatus) -> Lag | None:
    """How far derivation (``current_l1``) trails the node's L1 head, in L1 blocks and seconds;
    None while either is unknown (zero)."""
    current, head = status.current_l1, status.head_l1
    if current.is_zero() or head.is_zero():
        return None
    return Lag(max(0, head.number - current.number), float(max(0, head.timestamp - current.timestamp)))


def derivation_alarm(name: str, lag: Lag | None, status: SyncStatus, thresholds: Thresholds) -> Alarm | None:
    """A LAGGING alarm when derivation trails the L1 head by more than ``max_derivation_lag``."""
    if lag is None or lag.blocks is None or lag.blocks <= thresholds.max_derivation_lag:
        return None
    return Alarm(AlarmKind.LAGGING, name,
                 f"{name}: derivation {lag.blocks} L1 blocks behind its L1 head "
                 f"(current_l1 #{status.current_l1.number}, head_l1 #{status.head_l1.number})")


def not_ready_reason(status: SyncStatus, role: Role) -> str | None:
    """Why a status that parsed is still no chain to serve (None: it is one).

    Zero refs are op-node's "unknown" (``sync_status.go``): a node answering them has not read
    its chain, its L1, or (a light node) a single status of its source, so nothing it says can
    be lagging or healthy. A node at genesis reports block 0 with the real hash, which is a chain.
    """
    l2 = (status.unsafe_l2, status.local_safe_l2, status.safe_l2, status.finalized_l2)
    if all(ref.is_zero() for ref in l2):
        return "not ready: it reports all-zero heads (it has not read its chain)"
    if status.unsafe_l2.is_zero() or status.safe_l2.is_zero():
        head = "unsafe" if status.unsafe_l2.is_zero() else "safe"
        return f"not ready: its {head} head is the zero block"
    if status.head_l1.is_zero():
        return "not ready: it knows no L1 head (its L1 is not answering)"
    if status.current_l1.is_zero() and role is not Role.SUPERNODE:
        what = "followed any source" if role is Role.LIGHT else "derived or followed anything"
        return f"not ready: current_l1 is the zero block (it has not {what} yet)"
    return None


# --- lag ----------------------------------------------------------------------------------------


def lag_behind(ref: L2BlockRef | None, best: L2BlockRef | None) -> Lag:
    """How far ``ref`` is behind ``best``: blocks and seconds, never negative."""
    if ref is None or best is None:
        return UNKNOWN_LAG
    return Lag(max(0, best.number - ref.number), float(max(0, best.timestamp - ref.timestamp)))


def head_ref(status: SyncStatus, head: str) -> L2BlockRef:
    """The L2 head named ``head`` (one of :data:`LAG_HEADS`)."""
    return getattr(status, f"{head}_l2")


def best_heads(statuses: Iterable[tuple[str | None, SyncStatus]]) -> dict[str | None, dict[str, L2BlockRef]]:
    """Per chain, the highest of each of :data:`LAG_HEADS` any node reports."""
    best: dict[str | None, dict[str, L2BlockRef]] = {}
    for chain, status in statuses:
        tops = best.setdefault(chain, {})
        for head in LAG_HEADS:
            ref = head_ref(status, head)
            if head not in tops or ref.number > tops[head].number:
                tops[head] = ref
    return best


def lag_alarm(name: str, what: str, lags: Mapping[str, Lag | None], thresholds: Thresholds) -> Alarm | None:
    """A LAGGING alarm when a head's lag exceeds its threshold (``--max-unsafe-lag`` for unsafe,
    ``--max-safe-lag`` for local-safe and safe); ``what``: "the fleet's best". Pass only the
    heads the node owns (:func:`owned_heads`)."""
    parts = []
    for head in LAG_HEADS:
        lag = lags.get(head)
        limit = thresholds.max_unsafe_lag if head == "unsafe" else thresholds.max_safe_lag
        if lag is not None and lag.blocks is not None and lag.blocks > limit:
            parts.append(f"{head.replace('_', '-')} {lag.blocks} blocks")
    if not parts:
        return None
    return Alarm(AlarmKind.LAGGING, name, f"{name}: {' and '.join(parts)} behind {what}")


# --- divergence ---------------------------------------------------------------------------------


def known_blocks(status: SyncStatus) -> dict[int, tuple[bytes, str]]:
    """The (number -> (hash, head)) pairs a sync status vouches for; unknown (zero) refs skipped.

    A genesis-only node reports number 0 with the real genesis hash (proxyd
    ``consensus_poller_cl.go`` ``hasValidBlockHash``), which is kept.
    """
    out: dict[int, tuple[bytes, str]] = {}
    for head, field in _L2_FIELDS:
        ref: L2BlockRef = getattr(status, field)
        if ref.is_zero() or ref.hash == bytes(32):
            continue
        out.setdefault(ref.number, (ref.hash, head))
    return out


def divergences(chains: Mapping[str, str | None],
                blocks: Mapping[str, Mapping[int, tuple[bytes, str]]]) -> list[Divergence]:
    """Heights where nodes of one chain report different hashes.

    ``chains`` maps node name -> chain; ``blocks`` maps node name -> the blocks it vouches for
    (current heads, recent history and EL lookups at the lower node's heights). Nodes with an
    unknown chain are only compared with each other. One :class:`Divergence` per (chain, height),
    naming every node that has a hash there.
    """
    by_chain: dict[str | None, dict[int, dict[str, tuple[bytes, str]]]] = {}
    for name, known in blocks.items():
        heights = by_chain.setdefault(chains.get(name), {})
        for number, entry in known.items():
            heights.setdefault(number, {})[name] = entry
    found: list[Divergence] = []
    for chain, heights in by_chain.items():
        for number in sorted(heights):
            seen = heights[number]
            if len({h for h, _ in seen.values()}) > 1:
                head = min(seen.values(), key=lambda e: _HEAD_RANK.get(e[1], len(_HEAD_RANK)))[1]
                found.append(Divergence(chain, number, head, {n: h for n, (h, _) in seen.items()}))
    return found


_HEAD_RANK = {head: i for i, (head, _) in enumerate(reversed(_L2_FIELDS))}  # finalized first


# --- stalls -------------------------------------------------------------------------------------


def stalled_heads(since: Mapping[str, float], observed_since: float, now: float, block_time: float,
                  thresholds: Thresholds, heads: Iterable[str] = ("unsafe", "safe")) -> tuple[str, ...]:
    """``heads`` (the node's :func:`owned_heads`) unchanged for too many block times, by observation.

    ``since[head]`` is when the head was first seen at its current value; ``observed_since`` is
    when this node was first polled successfully (a head is only called stalled once we watched
    it for the whole window). Unsafe gets ``stall_unsafe_blocks``; local-safe and safe move once
    per batch and get ``stall_safe_blocks``.
    """
    out = []
    for head in heads:
        blocks = thresholds.stall_unsafe_blocks if head == "unsafe" else thresholds.stall_safe_blocks
        window = blocks * block_time
        if head in since and now - observed_since >= window and now - since[head] >= window:
            out.append(head)
    return tuple(out)


def stalled_by_age(status: SyncStatus, block_time: float, thresholds: Thresholds) -> bool:
    """One-shot stall check without history: the unsafe head's time is far behind the node's own
    L1 head time. On a live chain L2 block times track L1 block times (``sync_status.go``
    ``head_l1``), so an
    unsafe head older than the stall window (plus two L1 slots of slack) is not moving."""
    head_l1: L1BlockRef = status.head_l1
    unsafe = status.unsafe_l2
    if head_l1.is_zero() or unsafe.timestamp == 0:
        return False
    return head_l1.timestamp - unsafe.timestamp > thresholds.stall_unsafe_blocks * block_time + 24


# --- source tier and follow checks --------------------------------------------------------------


def source_tier_alarms(nodes: Iterable[tuple[str, Role, str | None, tuple[str, ...], bool]]
                       ) -> list[Alarm]:
    """SOURCE_DOWN alarms: the light tier at risk because its sources are down.

    ``nodes`` yields (name, role, chain, sources, reachable) where ``sources`` are the node names
    a light node follows (already resolved). A light node with no listed sources depends on every
    source-tier node of its chain. One alarm per light node whose sources are all down, plus a
    fleet-wide alarm (node ``None``) per chain whose whole source tier is down while light nodes
    depend on it.
    """
    table = list(nodes)
    up = {name: reachable for name, _, _, _, reachable in table}
    tier: dict[str | None, list[str]] = {}
    for name, role, chain, _, _ in table:
        if role in SOURCE_ROLES:
            tier.setdefault(chain, []).append(name)
    alarms: list[Alarm] = []
    chains_at_risk: dict[str | None, int] = {}
    for name, role, chain, sources, _ in table:
        if role is not Role.LIGHT:
            continue
        deps = [s for s in sources if s in up] or tier.get(chain, [])
        if deps and not any(up[s] for s in deps):
            alarms.append(Alarm(AlarmKind.SOURCE_DOWN, name,
                                f"{name}: every source it follows is down ({', '.join(deps)}); "
                                "its safe head cannot advance"))
            chains_at_risk[chain] = chains_at_risk.get(chain, 0) + 1
    for chain, tier_sources in tier.items():
        if chain in chains_at_risk and not any(up[s] for s in tier_sources):
            label = f"chain {chain}" if chain else "the fleet"
            alarms.append(Alarm(AlarmKind.SOURCE_DOWN, None,
                                f"{label}: the whole source tier is down ({', '.join(tier_sources)}); "
                                f"{chains_at_risk[chain]} light node(s) at risk"))
    return alarms


def follow_failures(previous: Mapping[str, float] | None,
                    current: Mapping[str, float] | None) -> dict[str, float]:
    """Non-success follow-source outcomes that grew between two scrapes (``followUpstream``
    result labels).

    A counter that went down means the node restarted: its current value counts as new.
    """
    if not current or previous is None:
        return {}
    grown: dict[str, float] = {}
    for result, value in current.items():
        if result == "success":
            continue
        before = previous.get(result, 0.0)
        delta = value if value < before else value - before
        if delta > 0:
            grown[result] = delta
    return grown


# --- Prometheus text ----------------------------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?\s*$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str, metric: str, label: str) -> dict[str, float]:
    """The samples of ``metric`` keyed by the value of ``label`` (text exposition format 0.0.4).

    Samples of the same label value (differing in other labels) are summed. Unparseable lines
    are skipped: one odd exporter line must not hide the rest.
    """
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(metric):
            continue
        match = _SAMPLE.match(line.strip())
        if match is None or match.group(1) != metric:
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(match.group(3) or "")}
        try:
            value = float(match.group(4))
        except ValueError:
            continue
        if math.isnan(value):
            continue
        key = labels.get(label, "")
        out[key] = out.get(key, 0.0) + value
    return out


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
