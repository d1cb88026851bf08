"""A deterministic made-up fleet: for snapshot tests, the README capture and ``bench/tui.py``.

No clocks, no randomness: the same arguments always give the same
:class:`~opfleet.monitor.model.FleetSnapshot`. Lags, divergences and alarms are derived with
the engine's own pure functions (:mod:`opfleet.monitor.analysis`), so the demo looks exactly
like what :class:`~opfleet.monitor.engine.FleetMonitor` publishes.
"""

from __future__ import annotations

import hashlib

from opfleet.monitor import analysis
from opfleet.monitor.model import (
    Alarm,
    AlarmKind,
    FleetSnapshot,
    HeadChange,
    HistoryPoint,
    NodeSnapshot,
    NodeSpec,
    Role,
)
from opfleet.protocol.block_ref import BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus

__all__ = ["DEMO_TIME", "demo_fleet"]

DEMO_TIME = 1_750_000_000.0
_BLOCK_TIME = 2
_TIPS = {"901": 12_000, "902": 8_400}
# each chain's tip is DEMO_TIME at tick 0; L1 started ten minutes before the older chain
_L2_GENESIS = {chain: int(DEMO_TIME) - _BLOCK_TIME * tip for chain, tip in _TIPS.items()}
_L1_GENESIS = min(_L2_GENESIS.values()) - 600


def _hash(*parts: object) -> bytes:
    return hashlib.sha256(":".join(map(str, parts)).encode()).digest()


def _l1(number: int) -> L1BlockRef:
    return L1BlockRef(hash=_hash("l1", number), number=number, parent_hash=_hash("l1", number - 1),
                      timestamp=_L1_GENESIS + 12 * number)


def _l1_at(timestamp: int) -> int:
    return (timestamp - _L1_GENESIS) // 12


def _l2(chain: str, number: int, fork: str = "") -> L2BlockRef:
    timestamp = _L2_GENESIS[chain] + _BLOCK_TIME * number
    origin = _l1_at(timestamp)
    return L2BlockRef(hash=_hash(chain, number, fork), number=number,
                      parent_hash=_hash(chain, number - 1, fork), timestamp=timestamp,
                      l1_origin=BlockID(hash=_hash("l1", origin), number=origin),
                      sequence_number=number % 6)


def _status(chain: str, unsafe: int, safe: int, finalized: int, fork: str = "") -> SyncStatus:
    def l1_of(number: int, ahead: int = 0) -> L1BlockRef:
        return _l1(_l1_at(_L2_GENESIS[chain] + _BLOCK_TIME * number) + ahead)

    return SyncStatus(
        current_l1=l1_of(safe, 2), head_l1=l1_of(unsafe, 1), safe_l1=l1_of(unsafe, -5),
        finalized_l1=l1_of(finalized), unsafe_l2=_l2(chain, unsafe, fork), safe_l2=_l2(chain, safe),
        finalized_l2=_l2(chain, finalized), pending_safe_l2=_l2(chain, safe),
        cross_unsafe_l2=_l2(chain, unsafe, fork), local_safe_l2=_l2(chain, safe),
    )


def _specs(nodes: int) -> list[tuple[NodeSpec, int]]:
    """``nodes`` specs over two chains; the int is the node's offset behind the chain tip."""
    chains = ("901", "902")
    out: list[tuple[NodeSpec, int]] = []
    per_chain = [nodes // 2 + nodes % 2, nodes // 2]
    for chain, count in zip(chains, per_chain):
        if count <= 0:
            continue
        base = f"http://10.0.{chains.index(chain)}."
        out.append((NodeSpec(f"seq-{chain}", base + "1:9545", Role.SEQUENCER, chain), 0))
        sources = [f"source-{chain}-{i}" for i in ("a", "b")][: max(0, min(2, count - 1))]
        for i, name in enumerate(sources):
            out.append((NodeSpec(name, f"{base}{10 + i}:9545", Role.SOURCE, chain), i))
        for i in range(count - 1 - len(sources)):
            follows = (sources[i % len(sources)],) if sources else ()
            out.append((NodeSpec(f"light-{chain}-{i + 1:03d}", f"{base}{100 + i}:9545", Role.LIGHT,
                                 chain, follows=follows), i % 3))
    return out


def demo_fleet(nodes: int = 12, *, tick: int = 0, divergent: bool = True, down: bool = True,
               lagging: bool = True, history: int = 24) -> FleetSnapshot:
    """A fleet of ``nodes`` nodes over chains 901 and 902 at poll ``tick``.

    Chain 901's first light node lags its source by 40 blocks when ``lagging``; chain 902's
    second light node is down when ``down`` (so that light node shows "DOWN"), and chain 901's
    third light node reports a different unsafe block than the rest when ``divergent``.
    """
    thresholds = analysis.Thresholds()
    taken_at = DEMO_TIME + tick * 2.0
    tip = {chain: number + tick for chain, number in _TIPS.items()}
    planned = _specs(nodes)
    statuses: dict[str, SyncStatus | None] = {}
    errors: dict[str, str] = {}
    light_index: dict[str, int] = {}
    for spec, offset in planned:
        chain = spec.chain or "901"
        idx = light_index.setdefault(chain, 0)
        if spec.role is Role.LIGHT:
            light_index[chain] = idx + 1
        unsafe = tip[chain] - offset
        safe = unsafe - 24 - (tick % 6)
        fork = ""
        if spec.role is Role.LIGHT:
            if lagging and chain == "901" and idx == 0:
                unsafe, safe = unsafe - 52, safe - 40
            if divergent and chain == "901" and idx == 2:
                fork, unsafe = "fork", tip[chain]  # same height as the sequencer, other hash
            if down and chain == "902" and idx == 1:
                statuses[spec.name] = None
                errors[spec.name] = "connection refused"
                continue
        statuses[spec.name] = _status(chain, unsafe, safe, safe - 120 - safe % 64, fork)

    chains = {spec.name: spec.chain for spec, _ in planned}
    ok = [(chains[name], s) for name, s in statuses.items() if s is not None]
    best = analysis.best_heads(ok)
    found = analysis.divergences(
        chains, {name: analysis.known_blocks(s) for name, s in statuses.items() if s is not None})
    marked = {name for d in found for name in d.hashes}
    tier_alarms = analysis.source_tier_alarms(
        (spec.name, spec.role, spec.chain, spec.follows, statuses[spec.name] is not None)
        for spec, _ in planned)

    out: list[NodeSnapshot] = []
    for n, (spec, _) in enumerate(planned):
        status = statuses[spec.name]
        alarms: list[Alarm] = []
        if spec.name in marked:
            alarms.append(Alarm(AlarmKind.DIVERGENT, spec.name, f"{spec.name}: unsafe block differs"))
        if status is None:
            alarms.append(Alarm(AlarmKind.UNREACHABLE, spec.name, f"{spec.name}: {errors[spec.name]}"))
            out.append(NodeSnapshot(spec=spec, error=errors[spec.name], polled_at=taken_at,
                                    chain=spec.chain, alarms=tuple(alarms)))
            continue
        lags = {head: analysis.lag_behind(analysis.head_ref(status, head), best[spec.chain][head])
                for head in analysis.LAG_HEADS}
        lag_u, lag_s = lags["unsafe"], lags["safe"]
        owned = analysis.owned_heads(spec.role)
        derivation = analysis.derivation_lag(status) if spec.role in analysis.DERIVING_ROLES else None
        src_u = src_s = None
        if spec.follows and statuses.get(spec.follows[0]) is not None:
            source = statuses[spec.follows[0]]
            assert source is not None
            src_u = analysis.lag_behind(status.unsafe_l2, source.unsafe_l2)
            src_s = analysis.lag_behind(status.safe_l2, source.safe_l2)
        lag_alarm = analysis.lag_alarm(spec.name, "the fleet's best", {h: lags[h] for h in owned},
                                       thresholds)
        if lag_alarm is not None:
            alarms.append(lag_alarm)
        behind_l1 = analysis.derivation_alarm(spec.name, derivation, status, thresholds)
        if behind_l1 is not None:
            alarms.append(behind_l1)
        alarms.extend(a for a in tier_alarms if a.node == spec.name)
        points = tuple(
            HistoryPoint(taken_at - 2.0 * (history - 1 - i), status.unsafe_l2.number - (history - 1 - i),
                         status.safe_l2.number - (history - 1 - i),
                         (lag_u.blocks or 0) + (i * 7 + n) % 4, (lag_s.blocks or 0) + (i * 5 + n) % 9)
            for i in range(history))
        changes = tuple(
            HeadChange(taken_at - 2.0 * k, "unsafe", number - 1, number,
                       status.unsafe_l2.hash if k == 0 else _l2(spec.chain or "", number).hash)
            for k in range(3, -1, -1)
            for number in (status.unsafe_l2.number - k,)
        )
        follow = ({"success": 1200.0 + tick, "error_l1_mismatch": 2.0}
                  if spec.role is Role.LIGHT else None)
        out.append(NodeSnapshot(
            spec=spec, status=status, latency=0.0015 + 0.0005 * (n % 7), polled_at=taken_at,
            chain=spec.chain, lag_unsafe=lag_u, lag_safe=lag_s, source_lag_unsafe=src_u,
            source_lag_safe=src_s, derivation_lag=derivation, history=points, changes=changes, follow_results=follow,
            alarms=tuple(alarms)))
    fleet_wide = tuple(a for a in tier_alarms if a.node is None)
    return FleetSnapshot(taken_at=taken_at, nodes=tuple(out),
                         alarms=tuple(a for node in out for a in node.alarms) + fleet_wide,
                         divergences=tuple(found))
