"""``opfleet doctor``: the specialized topology's Definition of Done as a checklist.

The operator notices (``docs/public-docs/notices/specialized-node-topology.mdx`` and the light-node
announcement) end with six boxes: sources designated and sized with failover; every other op-node
started with ``--l2.follow.source``; light nodes tracking the safe chain correctly; in production
the deriver tier behind a consensus-aware proxyd with the light tier in front; sequencers following
a source; dashboards and alerting treating the source tier as a hard dependency.

Everything here is pure: :func:`evaluate` turns an :class:`Observation` (two fleet snapshots a
window apart, each node's metrics text from both, the ``--check-follow`` results and the loaded
alert rules) into a :class:`Report`. The I/O lives in ``opfleet.cli.doctor`` and goes through the
monitor engine. Each box is ``ok``, ``fail`` or ``unknown``; a failed box names the exact change
(which flag on which node).

``doctor --json`` schema (``"schema": 1``; fields are only ever added)::

    {
      "schema": 1,
      "fleet": "devnet",                 # the fleet profile's name ("" for bare URLs)
      "taken_at": 1718000000.0,          # unix seconds of the last snapshot
      "window_s": 12.0,                  # seconds between the two snapshots
      "result": "fail",                  # ok | unknown | fail (the worst box)
      "boxes": [{"id": "sources", "title": "...", "state": "ok" | "unknown" | "fail",
                 "evidence": ["..."], "fixes": ["..."]}],     # ids in BOX_IDS order
      "spend": {"l1_blocks": 6, "nodes": [{"name": "source-1", "role": "source",
                "l1_calls": 42.0, "calls_per_l1_block": 7.0, "derives": true}],
                "per_deriver": 7.0, "derivers": 1, "op_nodes": 4,
                "deployed_per_l1_block": 7.0, "homogeneous_per_l1_block": 28.0,
                "saved_per_l1_block": 21.0, "saved_fraction": 0.75, "note": null,
                "other_l1_per_l1_block": 3.0},      # L1 calls of the followers
      "nodes": [{"name": "...", "role": "...", "chain": "10", "url": "...", "reachable": true,
                 "follows": ["proxy-1"]}]
    }
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opfleet.log import mask_url
from opfleet.monitor.analysis import FOLLOW_METRIC, parse_prometheus
from opfleet.monitor.check import FollowCheck
from opfleet.monitor.model import FleetSnapshot, NodeSnapshot, Role

__all__ = [
    "BOX_IDS",
    "DOCTOR_SCHEMA",
    "Box",
    "NodeClaim",
    "Observation",
    "Report",
    "RuleSet",
    "SHIPPED_RULES_HINT",
    "Spend",
    "State",
    "evaluate",
]

DOCTOR_SCHEMA = 1
BOX_IDS = ("sources", "followers", "tracking", "proxy", "sequencers", "alerting")
MAX_SOURCE_L1_LAG = 16
"""L1 blocks a deriving source's ``current_l1`` may trail its ``head_l1`` (confirmation depth
plus a batch in flight) and still count as caught up."""
DERIVER_ROLES = frozenset({Role.SOURCE, Role.SUPERNODE})
SOURCE_TIER = frozenset({Role.SOURCE, Role.SUPERNODE, Role.PROXY})
OPFLEET_SOURCE_UP = "opfleet_follow_source_up"
RPC_REQUESTS = "op_node_rpc_client_requests_total"
L1_CLIENTS = ("l1", "beacon")
SHIPPED_RULES_HINT = ("opfleet/monitor/alerts/opfleet-rules.yml (or the PrometheusRule that "
                      "'opfleet deploy kubernetes' renders)")


class State(str, enum.Enum):
    OK = "ok"
    UNKNOWN = "unknown"
    FAIL = "fail"

    @property
    def mark(self) -> str:
        return {"ok": "✔", "unknown": "?", "fail": "✗"}[self.value]

    @property
    def rank(self) -> int:
        return ("ok", "unknown", "fail").index(self.value)


@dataclass(frozen=True, slots=True)
class Box:
    id: str
    title: str
    state: State
    evidence: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "state": self.state.value,
                "evidence": list(self.evidence), "fixes": list(self.fixes)}


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Alerting rules as Prometheus' ``/api/v1/rules`` lists them: (name, query) pairs, or the
    error that kept us from reading them."""

    url: str
    alerts: tuple[tuple[str, str], ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NodeClaim:
    """What an opfleet node says it is (``opfleet_nodeInfo``): its role and the URLs it follows."""

    role: str
    follows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    """What the doctor saw. ``first`` may be ``None`` (one snapshot: no behaviour over time).

    ``metrics`` maps a node (row) name to its metrics text at the first and the last snapshot
    (``None``: not scraped); ``opfleet`` maps a node name to whether it serves
    ``opfleet_nodeInfo`` (``None``: not asked, or no answer) and ``claims`` what such a node said
    it is; ``checks`` maps a light node's name to its
    ``--check-follow`` result against what it follows (the followed node's name first).
    """

    last: FleetSnapshot
    first: FleetSnapshot | None = None
    window: float = 0.0
    fleet_name: str = ""
    metrics: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    opfleet: Mapping[str, bool | None] = field(default_factory=dict)
    claims: Mapping[str, NodeClaim] = field(default_factory=dict)
    checks: Mapping[str, tuple[str, FollowCheck]] = field(default_factory=dict)
    rules: RuleSet | None = None


@dataclass(frozen=True, slots=True)
class SpendNode:
    name: str
    role: str
    l1_calls: float | None
    calls_per_l1_block: float | None
    derives: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "l1_calls": self.l1_calls,
                "calls_per_l1_block": _round(self.calls_per_l1_block), "derives": self.derives}


@dataclass(frozen=True, slots=True)
class Spend:
    """L1 RPC calls per L1 block: per node over the window, the fleet as deployed, and the same
    fleet if every op-node derived (the homogeneous topology)."""

    l1_blocks: int | None
    nodes: tuple[SpendNode, ...] = ()
    per_deriver: float | None = None
    derivers: int = 0
    op_nodes: int = 0
    deployed: float | None = None
    homogeneous: float | None = None
    note: str | None = None
    other: float | None = None  # L1 calls of the nodes that do not derive (head polls, checks)

    @property
    def saved(self) -> float | None:
        if self.deployed is None or self.homogeneous is None:
            return None
        return self.homogeneous - self.deployed

    @property
    def saved_fraction(self) -> float | None:
        if self.saved is None or not self.homogeneous:
            return None
        return self.saved / self.homogeneous

    def to_json(self) -> dict[str, Any]:
        return {"l1_blocks": self.l1_blocks, "nodes": [n.to_json() for n in self.nodes],
                "per_deriver": _round(self.per_deriver), "derivers": self.derivers,
                "op_nodes": self.op_nodes, "deployed_per_l1_block": _round(self.deployed),
                "homogeneous_per_l1_block": _round(self.homogeneous),
                "saved_per_l1_block": _round(self.saved),
                "saved_fraction": _round(self.saved_fraction, 4), "note": self.note,
                "other_l1_per_l1_block": _round(self.other)}

    def lines(self) -> list[str]:
        out = ["L1 RPC spend (calls per L1 block, from metrics):"]
        if self.note:
            out.append(f"  {self.note}")
        for node in self.nodes:
            rate = "?" if node.calls_per_l1_block is None else f"{node.calls_per_l1_block:.1f}"
            what = "derives" if node.derives else "follows (no derivation)"
            out.append(f"  {node.name:<24} {node.role:<10} {rate:>8}  {what}")
        if self.deployed is not None and self.homogeneous is not None:
            out.append(f"  as deployed: {self.deployed:.1f} ({self.derivers} deriving node(s)); "
                       f"homogeneous: {self.homogeneous:.1f} ({self.op_nodes} op-nodes each deriving)")
            if self.saved_fraction is not None:
                out.append(f"  saved: {self.saved:.1f} calls per L1 block ({self.saved_fraction:.0%})")
        if self.other:
            out.append(f"  not derivation, not counted above: {self.other:.1f} L1 calls per L1 block by the "
                       "nodes that follow (their L1 heads, checks of the source's L1 refs)")
        return out


@dataclass(frozen=True)
class Report:
    boxes: tuple[Box, ...]
    spend: Spend
    nodes: tuple[NodeSnapshot, ...]
    follows: Mapping[str, tuple[str, ...]]
    taken_at: float
    window: float
    fleet_name: str = ""

    @property
    def result(self) -> State:
        return max((b.state for b in self.boxes), key=lambda s: s.rank, default=State.OK)

    def box(self, box_id: str) -> Box:
        return next(b for b in self.boxes if b.id == box_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": DOCTOR_SCHEMA,
            "fleet": self.fleet_name,
            "taken_at": self.taken_at,
            "window_s": self.window,
            "result": self.result.value,
            "boxes": [b.to_json() for b in self.boxes],
            "spend": self.spend.to_json(),
            "nodes": [{"name": n.name, "role": n.role.value, "chain": n.chain,
                       "url": mask_url(n.spec.url), "reachable": n.reachable,
                       "follows": list(self.follows.get(n.name, ()))} for n in self.nodes],
        }

    def lines(self) -> list[str]:
        """The checklist as text: one mark per box, evidence indented, fixes after an arrow."""
        out = []
        for b in self.boxes:
            out.append(f"{b.state.mark} {b.title}")
            out.extend(f"    {line}" for line in b.evidence)
            out.extend(f"    → {line}" for line in b.fixes)
        out.append("")
        out.extend(self.spend.lines())
        return out


# --- helpers ------------------------------------------------------------------------------------


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _chain_label(chain: str | None) -> str:
    return f"chain {chain}" if chain else "chain ?"


def _chains(nodes: Sequence[NodeSnapshot]) -> dict[str, str | None]:
    """Each node's chain; a node whose chain is unknown (down since the start, so never asked)
    belongs to the fleet's only chain when there is just one."""
    known = {n.chain for n in nodes if n.chain is not None}
    only = next(iter(known)) if len(known) == 1 else None
    return {n.name: n.chain if n.chain is not None else only for n in nodes}


def _by_name(snapshot: FleetSnapshot | None) -> dict[str, NodeSnapshot]:
    return {} if snapshot is None else {n.name: n for n in snapshot.nodes}


def _origin(node: NodeSnapshot) -> str:
    """The configured name of a row (a supernode root's rows are ``root/<chainID>``)."""
    if node.role is Role.SUPERNODE and "/" in node.name:
        return node.name.rsplit("/", 1)[0]
    return node.name


def _metric_text(obs: Observation, name: str, which: int) -> str | None:
    pair = obs.metrics.get(name)
    return None if pair is None else pair[which]


def _sample_labels(text: str, metric: str, label: str) -> list[str]:
    """Values of ``label`` on ``metric``'s samples (present at all: one entry per series)."""
    return sorted(parse_prometheus(text, metric, label))


def _has_metric(text: str, metric: str) -> bool:
    return any(line.startswith(metric) and not line.startswith(metric + "_")
               for line in text.splitlines())


def resolve_follows(obs: Observation) -> dict[str, tuple[str, ...]]:
    """Which rows each node follows: the profile's ``follows`` (a supernode root name means its
    route on the node's chain) plus the sources an opfleet light node names (``opfleet_nodeInfo``,
    or its metrics' ``opfleet_follow_source_up{source=URL}``), matched by URL."""
    nodes = obs.last.nodes
    by_url = {n.spec.url.rstrip("/"): n.name for n in nodes}
    out: dict[str, tuple[str, ...]] = {}
    for node in nodes:
        found: list[str] = []
        for wanted in node.spec.follows:
            for other in nodes:
                if other.name == wanted or (_origin(other) == wanted and other.name != wanted
                                            and other.chain == node.chain):
                    found.append(other.name)
        urls = list(obs.claims[node.name].follows) if node.name in obs.claims else []
        text = _metric_text(obs, node.name, 1)
        if text:
            urls += _sample_labels(text, OPFLEET_SOURCE_UP, "source")
        for url in urls:
            target = by_url.get(url.rstrip("/"))
            if target is not None:
                found.append(target)
        out[node.name] = tuple(dict.fromkeys(found))
    return out


# --- the boxes ----------------------------------------------------------------------------------


def _sources_box(obs: Observation) -> Box:
    title = "Sources designated, deriving from L1, with failover"
    nodes = obs.last.nodes
    first = _by_name(obs.first)
    chain_of = _chains(nodes)
    chains = sorted({chain_of[n.name] for n in nodes if n.role is not Role.PROXY},
                    key=lambda c: (c is None, c or ""))
    evidence: list[str] = []
    fixes: list[str] = []
    state = State.OK
    unknown_roles = [n.name for n in nodes if n.role is Role.UNKNOWN]
    for chain in chains:
        derivers = [n for n in nodes if chain_of[n.name] == chain and n.role in DERIVER_ROLES]
        label = _chain_label(chain)
        if not derivers:
            if all(n.role is Role.UNKNOWN for n in nodes if chain_of[n.name] == chain):
                continue  # reported below as roles unknown
            state = State.FAIL
            evidence.append(f"{label}: no source node")
            fixes.append(f"{label}: designate a source: run an op-node without --l2.follow.source "
                         "(or 'opfleet source') and list it with role = \"source\"")
            continue
        healthy = 0
        for node in derivers:
            status = node.status
            if status is None:
                evidence.append(f"{node.name}: unreachable ({node.error})")
                continue
            behind = status.head_l1.number - status.current_l1.number
            before = first.get(node.name)
            moved = (before is not None and before.status is not None
                     and status.current_l1.number > before.status.current_l1.number)
            if status.current_l1.is_zero():
                evidence.append(f"{node.name}: not deriving (current_l1 unset)")
            elif behind <= MAX_SOURCE_L1_LAG:
                healthy += 1
                evidence.append(f"{node.name}: deriving, current_l1 {status.current_l1.number} "
                                f"is {behind} behind head_l1 {status.head_l1.number}")
            elif moved:
                evidence.append(f"{node.name}: catching up, current_l1 {status.current_l1.number} "
                                f"is {behind} behind head_l1 {status.head_l1.number}")
                state = max(state, State.UNKNOWN, key=lambda s: s.rank)
            else:
                evidence.append(f"{node.name}: not deriving: current_l1 {status.current_l1.number} is "
                                f"{behind} L1 blocks behind head_l1 {status.head_l1.number}")
        names = ", ".join(n.name for n in derivers)
        if healthy >= 2:
            evidence.append(f"{label}: {healthy} deriving sources ({names}): failover ok")
        elif healthy == 1:
            state = State.FAIL
            evidence.append(f"{label}: one deriving source ({names}): no failover")
            fixes.append(f"{label}: add a second source beside {names}: another op-node without "
                         "--l2.follow.source (or 'opfleet source'), behind the proxy")
        else:
            state = State.FAIL
            evidence.append(f"{label}: no source is deriving ({names})")
            fixes.append(f"{label}: bring a source back: check {names}' L1 (--l1, --l1.beacon) "
                         "and its logs")
    if unknown_roles:
        state = max(state, State.UNKNOWN, key=lambda s: s.rank)
        evidence.append(f"role unknown for {', '.join(unknown_roles)}")
        fixes.append("set role = \"source\" | \"light\" | \"proxy\" | \"sequencer\" in the fleet "
                     "profile (opfleet status --discover writes one)")
    return Box("sources", title, state, tuple(evidence), tuple(fixes))


def _follows_evidence(obs: Observation, node: NodeSnapshot) -> tuple[State, str]:
    """Does a non-source node follow? (state, one line of evidence)."""
    claim = obs.claims.get(node.name)
    if claim is not None and claim.follows:
        return State.OK, (f"{node.name}: opfleet {claim.role} node following "
                          f"{', '.join(mask_url(u) for u in claim.follows)} (opfleet_nodeInfo)")
    if claim is not None and claim.role in ("source", "supernode"):
        return State.FAIL, f"{node.name}: says it is a {claim.role}: it derives from L1 itself"
    text = _metric_text(obs, node.name, 1)
    if text:
        sources = _sample_labels(text, OPFLEET_SOURCE_UP, "source")
        if sources:
            return State.OK, (f"{node.name}: opfleet light node following "
                              f"{', '.join(mask_url(s) for s in sources)} (metrics)")
        if _has_metric(text, FOLLOW_METRIC):
            return State.OK, f"{node.name}: {FOLLOW_METRIC} present on its metrics"
    status = node.status
    if status is None:
        return State.UNKNOWN, f"{node.name}: unreachable ({node.error})"
    if not status.safe_l2.is_zero() and status.pending_safe_l2.number < status.safe_l2.number:
        return State.OK, (f"{node.name}: pending_safe_l2 {status.pending_safe_l2.number} below "
                          f"safe_l2 {status.safe_l2.number}: no derivation of its own")
    before = _by_name(obs.first).get(node.name)
    opfleet = obs.opfleet.get(node.name)
    if before is not None and before.status is not None:
        moved = status.pending_safe_l2.number > before.status.pending_safe_l2.number
        if moved and opfleet is False:
            return State.FAIL, (f"{node.name}: pending_safe_l2 moved {before.status.pending_safe_l2.number}"
                                f" → {status.pending_safe_l2.number} in {obs.window:g}s: it derives")
        if not moved and status.safe_l2.number > before.status.safe_l2.number:
            return State.OK, (f"{node.name}: safe_l2 advanced without pending_safe_l2 progress of "
                              "its own")
    if opfleet:
        return State.UNKNOWN, (f"{node.name}: an opfleet node that did not say what it follows "
                               "(opfleet_nodeInfo); add its metrics_url to the profile")
    return State.UNKNOWN, (f"{node.name}: no {FOLLOW_METRIC} seen and no behaviour to judge "
                           "(add metrics_url, or a longer --window)")


def _follow_target_hint(obs: Observation, node: NodeSnapshot) -> str:
    chain_of = _chains(obs.last.nodes)
    chain = chain_of[node.name]
    proxies = [n for n in obs.last.nodes if n.role is Role.PROXY and chain_of[n.name] in (chain, None)]
    if proxies:
        return proxies[0].spec.url
    sources = [n for n in obs.last.nodes if n.role in DERIVER_ROLES and chain_of[n.name] == chain]
    return sources[0].spec.url if sources else "<source or proxy RPC URL>"


def _followers_box(obs: Observation, follows: Mapping[str, tuple[str, ...]]) -> Box:
    title = "Every other op-node started with --l2.follow.source"
    others = [n for n in obs.last.nodes if n.role in (Role.LIGHT, Role.SEQUENCER)]
    if not others:
        return Box("followers", title, State.FAIL, ("no light node or sequencer in the fleet",),
                   ("add light nodes: 'opfleet light --follow URL' (or op-node with "
                    "--l2.follow.source URL) and list them with role = \"light\"",))
    state = State.OK
    evidence, fixes = [], []
    for node in others:
        verdict, line = _follows_evidence(obs, node)
        evidence.append(line)
        state = max(state, verdict, key=lambda s: s.rank)
        if verdict is State.FAIL:
            fixes.append(f"{node.name}: add --l2.follow.source={mask_url(_follow_target_hint(obs, node))} "
                         "(env OP_NODE_L2_FOLLOW_SOURCE)")
    return Box("followers", title, state, tuple(evidence), tuple(fixes))


def _tracking_box(obs: Observation, follows: Mapping[str, tuple[str, ...]]) -> Box:
    title = "Light nodes track the safe chain correctly (--check-follow)"
    lights = [n for n in obs.last.nodes if n.role is Role.LIGHT]
    if not lights:
        return Box("tracking", title, State.UNKNOWN, ("no light node to check",))
    state = State.OK
    evidence, fixes = [], []
    for node in lights:
        entry = obs.checks.get(node.name)
        if entry is None:
            state = max(state, State.UNKNOWN, key=lambda s: s.rank)
            evidence.append(f"{node.name}: not checked: the profile does not say what it follows")
            fixes.append(f"{node.name}: add follows = [\"<source or proxy name>\"] to its [[nodes]] entry")
            continue
        target, check = entry
        other_chain = getattr(check, "different_chains", None)
        if other_chain and check.reachable:
            state = State.FAIL
            evidence.append(f"{node.name} vs {target}: not the same chain ({other_chain})")
            fixes.append(f"{node.name}: point --l2.follow.source at a source of its own chain")
        elif not check.reachable:
            state = State.FAIL
            who = node.name if check.light_status is None else target
            evidence.append(f"{node.name} vs {target}: cannot compare ({who} unreachable)")
            fixes.append(f"{node.name}: restore {who} and run 'opfleet status --check-follow "
                         f"{mask_url(check.light_url)} {mask_url(check.source_url)}'")
        elif check.divergent:
            state = State.FAIL
            bad = next(h for h in check.heights if h.mismatch)
            evidence.append(f"{node.name} vs {target}: DIVERGENT at block {bad.number} ({bad.label})")
            fixes.append(f"{node.name}: it is not on {target}'s chain: check that both use the same "
                         f"rollup config and L1, then resync its execution client from {target}")
        elif check.compared == 0:
            state = max(state, State.UNKNOWN, key=lambda s: s.rank)
            evidence.append(f"{node.name} vs {target}: no shared height yet")
        else:
            roots = " and output roots" if any(h.output_match for h in check.heights) else ""
            evidence.append(f"{node.name} vs {target}: {check.compared} shared heights agree "
                            f"(block hashes{roots})")
    return Box("tracking", title, state, tuple(evidence), tuple(fixes))


def _proxy_box(obs: Observation, follows: Mapping[str, tuple[str, ...]]) -> Box:
    title = "Deriver tier behind a consensus-aware proxy, light tier in front"
    nodes = obs.last.nodes
    by_name = {n.name: n for n in nodes}
    lights = [n for n in nodes if n.role is Role.LIGHT]
    proxies = [n for n in nodes if n.role is Role.PROXY]
    chain_of = _chains(nodes)
    state = State.OK
    evidence, fixes = [], []
    chains = sorted({chain_of[n.name] for n in lights}, key=lambda c: (c is None, c or ""))
    if not lights:
        return Box("proxy", title, State.UNKNOWN, ("no light node in the fleet",))
    for chain in chains:
        label = _chain_label(chain)
        here = [p for p in proxies if chain_of[p.name] in (chain, None)]
        derivers = [n for n in nodes if chain_of[n.name] == chain and n.role in DERIVER_ROLES]
        if not here:
            state = State.FAIL
            evidence.append(f"{label}: no proxy in front of the source tier")
            backends = " ".join(f"--backend {mask_url(s.spec.url)}" for s in derivers) or "--backend URL ..."
            fixes.append(f"{label}: run 'opfleet proxy {backends}' (with --consensus.min-peer-count 0 "
                         "for sources without p2p; or proxyd with routing_strategy "
                         "consensus_aware_consensus_layer), list it with role = \"proxy\" and "
                         "follows = the sources, and point every light node's --l2.follow.source at it")
            continue
        for proxy in here:
            behind = [by_name[s] for s in follows.get(proxy.name, ()) if s in by_name] or derivers
            up = [s for s in behind if s.reachable]
            if proxy.status is None:
                state = State.FAIL
                evidence.append(f"{proxy.name}: unreachable ({proxy.error})")
                fixes.append(f"{proxy.name}: bring the proxy back; the light tier cannot follow without it")
            elif len(behind) < 2:
                state = State.FAIL
                evidence.append(f"{proxy.name}: fronts {len(behind)} source(s) "
                                f"({', '.join(s.name for s in behind) or 'none'}): no failover behind it")
                fixes.append(f"{proxy.name}: add a second source as a backend")
            else:
                evidence.append(f"{proxy.name}: fronts {len(behind)} sources "
                                f"({', '.join(s.name for s in behind)}), {len(up)} up")
        proxy_names = {p.name for p in here}
        for light in (n for n in lights if chain_of[n.name] == chain):
            targets = follows.get(light.name, ())
            if not targets:
                state = max(state, State.UNKNOWN, key=lambda s: s.rank)
                evidence.append(f"{light.name}: what it follows is not known")
                fixes.append(f"{light.name}: add follows = [\"{sorted(proxy_names)[0]}\"] to its "
                             "[[nodes]] entry")
            elif any(t in proxy_names for t in targets):
                evidence.append(f"{light.name} → {', '.join(t for t in targets if t in proxy_names)}")
            else:
                state = State.FAIL
                evidence.append(f"{light.name} follows {', '.join(targets)}, not the proxy")
                proxy = by_name[sorted(proxy_names)[0]]
                fixes.append(f"{light.name}: set --l2.follow.source={mask_url(proxy.spec.url)} "
                             f"(instead of {', '.join(mask_url(by_name[t].spec.url) for t in targets)})")
    return Box("proxy", title, state, tuple(evidence), tuple(fixes))


def _sequencers_box(obs: Observation, follows: Mapping[str, tuple[str, ...]]) -> Box:
    title = "Sequencers follow a source (--l2.follow.source)"
    sequencers = [n for n in obs.last.nodes if n.role is Role.SEQUENCER]
    by_name = {n.name: n for n in obs.last.nodes}
    if not sequencers:
        return Box("sequencers", title, State.OK, ("no sequencer in this fleet: nothing to check",))
    state = State.OK
    evidence, fixes = [], []
    for node in sequencers:
        targets = [t for t in follows.get(node.name, ()) if by_name[t].role in SOURCE_TIER]
        verdict, line = _follows_evidence(obs, node)
        if targets and verdict is not State.FAIL:
            evidence.append(f"{node.name} → {', '.join(targets)}")
        elif verdict is State.FAIL or (verdict is State.OK and not targets):
            if verdict is State.OK:
                evidence.append(f"{line}; the profile does not say which source")
                state = max(state, State.UNKNOWN, key=lambda s: s.rank)
                fixes.append(f"{node.name}: add follows = [\"<source or proxy>\"] to its [[nodes]] entry")
                continue
            state = State.FAIL
            evidence.append(line)
            fixes.append(f"{node.name}: add --l2.follow.source={mask_url(_follow_target_hint(obs, node))} "
                         "to offload derivation (env OP_NODE_L2_FOLLOW_SOURCE)")
        else:
            state = max(state, State.UNKNOWN, key=lambda s: s.rank)
            evidence.append(line)
            fixes.append(f"{node.name}: add follows = [\"<source or proxy>\"] to its [[nodes]] entry")
    return Box("sequencers", title, state, tuple(evidence), tuple(fixes))


_SOURCE_DOWN_NAMES = re.compile(r"source.?tier.?down|sourcetierdown|sources?.?down", re.I)
_SOURCE_DOWN_QUERY = re.compile(r"\b(up|op_node_up)\s*\{[^}]*role\s*=~?\s*\"[^\"]*(source|supernode)")
_FOLLOW_QUERY = re.compile(rf"\b({FOLLOW_METRIC}|{OPFLEET_SOURCE_UP}|opfleet_follow_consensus_ok)\b")


def classify_rules(alerts: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The alert names covering the source tier going down, and those covering follow failures."""
    source_down = [name for name, query in alerts
                   if _SOURCE_DOWN_NAMES.search(name) or _SOURCE_DOWN_QUERY.search(query)]
    follow = [name for name, query in alerts if _FOLLOW_QUERY.search(query)]
    return source_down, follow


def _alerting_box(obs: Observation) -> Box:
    title = "Alerting treats the source tier as a hard dependency"
    rules = obs.rules
    if rules is None:
        return Box("alerting", title, State.UNKNOWN,
                   ("not checked: give --prometheus URL to read the loaded rules",),
                   (f"load {SHIPPED_RULES_HINT} into Prometheus, then run doctor with --prometheus URL",))
    where = mask_url(rules.url)
    if rules.error is not None:
        return Box("alerting", title, State.UNKNOWN, (f"{where}: cannot read /api/v1/rules ({rules.error})",),
                   (f"check --prometheus {where}; the rules to load: {SHIPPED_RULES_HINT}",))
    source_down, follow = classify_rules(rules.alerts)
    evidence = [f"{where}: {len(rules.alerts)} alerting rule(s) loaded"]
    fixes = []
    if source_down:
        evidence.append(f"source tier down: {', '.join(source_down)}")
    else:
        evidence.append("no alert on the source tier going down")
        fixes.append(f"add OpfleetSourceTierDown from {SHIPPED_RULES_HINT}")
    if follow:
        evidence.append(f"follow failures: {', '.join(follow)}")
    else:
        evidence.append(f"no alert on follow-source failures ({FOLLOW_METRIC})")
        fixes.append(f"add OpfleetFollowSourceFailing and OpfleetFollowSourceNoSuccess from {SHIPPED_RULES_HINT}")
    return Box("alerting", title, State.FAIL if fixes else State.OK, tuple(evidence), tuple(fixes))


# --- L1 spend -------------------------------------------------------------------------------------


def l1_calls(text: str | None) -> float | None:
    """L1 and beacon RPC calls a node made so far (``op_node_rpc_client_requests_total{client}``;
    a node whose counter has no ``client`` label is counted whole: op-node's counts every RPC
    client, so that is an upper bound). ``None``: no such counter."""
    if not text or not _has_metric(text, RPC_REQUESTS):
        return None
    by_client = parse_prometheus(text, RPC_REQUESTS, "client")
    if set(by_client) == {""}:
        return by_client[""]
    return sum(v for k, v in by_client.items() if k in L1_CLIENTS)


def _spend(obs: Observation) -> Spend:
    first = _by_name(obs.first)
    candidates = [n for n in obs.last.nodes if n.role in (Role.SOURCE, Role.SUPERNODE, Role.LIGHT,
                                                            Role.SEQUENCER)]
    op_nodes = len(candidates)
    if obs.first is None or obs.window <= 0:
        return Spend(None, op_nodes=op_nodes, note="one snapshot only: give --window to measure")
    l1_blocks = None
    for node in candidates:  # the L1 head as a deriving node saw it move
        before = first.get(node.name)
        if node.status is not None and before is not None and before.status is not None:
            moved = node.status.head_l1.number - before.status.head_l1.number
            l1_blocks = moved if l1_blocks is None else max(l1_blocks, moved)
    rows: list[SpendNode] = []
    seen_roots: set[str] = set()
    for node in candidates:
        origin = _origin(node)
        if origin in seen_roots:
            continue  # a supernode's routes share one process and one counter
        seen_roots.add(origin)
        pair = obs.metrics.get(node.name) or obs.metrics.get(origin)
        calls = None
        if pair is not None:
            a, b = l1_calls(pair[0]), l1_calls(pair[1])
            if a is not None and b is not None:
                calls = b - a if b >= a else b  # a restart resets the counter
        rate = None if calls is None or not l1_blocks else calls / l1_blocks
        rows.append(SpendNode(origin, node.role.value, calls, rate, node.role in DERIVER_ROLES))
    derivers = [r for r in rows if r.derives]
    measured = [r.calls_per_l1_block for r in derivers if r.calls_per_l1_block is not None]
    note = None
    if not l1_blocks:
        note = f"L1 did not advance during the {obs.window:g}s window: give a longer --window"
    elif not measured:
        note = (f"no {RPC_REQUESTS} from a deriving node: add metrics_url to the sources "
                "in the fleet profile")
    if not measured or not l1_blocks:
        return Spend(l1_blocks, tuple(rows), derivers=len(derivers), op_nodes=op_nodes, note=note)
    per = sum(measured) / len(measured)
    # what derivation costs: every deriving node as deployed, every op-node in a homogeneous fleet;
    # a follower's own L1 calls (its L1 heads, checks of the source's refs) are not derivation
    followers = [r.calls_per_l1_block for r in rows if not r.derives and r.calls_per_l1_block is not None]
    other = sum(followers) if followers else None
    deployed = per * len(derivers)
    homogeneous = per * op_nodes
    if len(measured) < len(derivers):
        note = (f"{len(derivers) - len(measured)} deriving node(s) without metrics: counted at the "
                "measured nodes' mean")
    return Spend(l1_blocks, tuple(rows), per, len(derivers), op_nodes, deployed, homogeneous, note, other)


# --- entry point ----------------------------------------------------------------------------------


DEVNET_FIX = "on the devnet: opfleet devnet --nodes source=2,proxy=1,light={lights}"


def _devnet_fix(obs: Observation, box: Box) -> Box:
    """A devnet (the profile ``opfleet devnet`` writes) gets its sources and proxy by a flag."""
    if obs.fleet_name != "devnet" or box.state is not State.FAIL:
        return box
    lights = max(2, sum(n.role is Role.LIGHT for n in obs.last.nodes))
    return Box(box.id, box.title, box.state, box.evidence, (*box.fixes, DEVNET_FIX.format(lights=lights)))


def evaluate(obs: Observation) -> Report:
    """Every box of the Definition of Done, and the L1 spend report, from what was observed."""
    follows = resolve_follows(obs)
    boxes = (
        _devnet_fix(obs, _sources_box(obs)),
        _followers_box(obs, follows),
        _tracking_box(obs, follows),
        _devnet_fix(obs, _proxy_box(obs, follows)),
        _sequencers_box(obs, follows),
        _alerting_box(obs),
    )
    return Report(boxes, _spend(obs), obs.last.nodes, follows, obs.last.taken_at, obs.window,
                  obs.fleet_name)
