"""The fleet monitor's data model: what ``opfleet status`` prints and ``opfleet tui`` draws.

Everything here is a frozen value. The engine (:mod:`opfleet.monitor.engine`) builds one
:class:`FleetSnapshot` per poll; readers never see a half-updated fleet.

Heads follow op-node's ``optimism_syncStatus`` (``op-service/eth/sync_status.go``): on a
light node ``local_safe``/``safe``/``finalized``/``current_l1`` are mirrored from its source
(``op-node/rollup/status/status.go``); on a supernode route ``safe`` is the cross-verified head
and ``local_safe`` the chain's own derivation (op-supernode ``chain_container/super_authority.go``).

``status --json`` schema (``"schema": 1``; fields are only ever added, never renamed)::

    {
      "schema": 1,
      "taken_at": 1718000000.123,          # unix seconds
      "healthy": true,                     # no alarms at all
      "verdict": "healthy",                # worst alarm class: healthy | lagging | stalled |
                                           #   unreachable | divergent
      "alarms": [{"kind": "lagging", "node": "light-1", "message": "..."}],
      "divergences": [{"chain": "10", "number": 1234, "head": "unsafe",
                       "hashes": {"source-a": "0x..", "light-1": "0x.."}}],
      "nodes": [{
        "name": "light-1", "url": "http://..", "role": "light", "chain": "10",
        "follows": ["source-a"], "reachable": true, "error": null,
        "latency_ms": 3.1, "polled_at": 1718000000.1,
        "heads": {"unsafe": L2BlockRef, "cross_unsafe": .., "local_safe": .., "safe": ..,
                  "finalized": .., "current_l1": L1BlockRef, "head_l1": ..},
        "lag": {"unsafe": {"blocks": 0, "seconds": 0}, "safe": {...}},        # behind fleet best
        "source_lag": {"unsafe": {...}, "safe": {...}} | null,                # behind its source
        "derivation_lag": {"blocks": 2, "seconds": 24} | null,  # L1 blocks current_l1 -> head_l1
        "stalled": ["safe"],                                                  # heads not moving
        "follow_source": {"success": 120.0, "error_fetch_status": 2.0} | null,
        "alarms": [...],
        "sync_status": <optimism_syncStatus exactly as served> | null,
        "proxy": {"halted": false, "pinned": "source-b", "consensus_group": [..], "banned": [..],
                  "backends": [..], "consensus": {"latest": N, "safe": N, "local_safe": N,
                  "finalized": N}} | null        # an opfleet proxy's own report (role proxy)
      }]
    }

Each role is judged by the heads it owns (:func:`opfleet.monitor.analysis.owned_heads`): a
source (or a proxy in front of the source tier) by its safe head and its derivation lag
(``current_l1`` behind ``head_l1``), a light node and a sequencer by unsafe and safe, a supernode
route by local-safe and safe. ``lag`` is always reported; only owned heads raise alarms.

Block refs use op-node's JSON (``hash``, ``number``, ``parentHash``, ``timestamp``, and for L2
``l1origin``, ``sequenceNumber``). A lag field is ``null`` when it cannot be computed (node down,
no peer on its chain).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from opfleet.log import mask_url
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus

__all__ = [
    "HEADS",
    "L1_HEADS",
    "L2_HEADS",
    "SCHEMA_VERSION",
    "Alarm",
    "AlarmKind",
    "Divergence",
    "FleetSnapshot",
    "HeadChange",
    "HistoryPoint",
    "Lag",
    "NodeSnapshot",
    "NodeSpec",
    "Role",
    "UNKNOWN_LAG",
    "Verdict",
    "heads_of",
]

SCHEMA_VERSION = 1

L2_HEADS = ("unsafe", "cross_unsafe", "local_safe", "safe", "finalized")
L1_HEADS = ("current_l1", "head_l1")
HEADS = L2_HEADS + L1_HEADS
"""Every head the monitor shows, in display order."""

_STATUS_FIELD = {
    "unsafe": "unsafe_l2",
    "cross_unsafe": "cross_unsafe_l2",
    "local_safe": "local_safe_l2",
    "safe": "safe_l2",
    "finalized": "finalized_l2",
    "current_l1": "current_l1",
    "head_l1": "head_l1",
}

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


class Role(str, enum.Enum):
    """A node's tier in the specialized topology
    (``docs/public-docs/notices/specialized-node-topology.mdx``)."""

    SOURCE = "source"  # derives L2 from L1
    LIGHT = "light"  # follows a source's safe chain (--l2.follow.source)
    SUPERNODE = "supernode"  # op-supernode: one route per chain, URL/<chainID>
    SEQUENCER = "sequencer"
    PROXY = "proxy"  # proxyd in CL consensus mode, in front of the source tier
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role named ``text`` (case-insensitive); ValueError if none."""
        return cls(text.strip().lower())


class AlarmKind(str, enum.Enum):
    """What can be wrong with a node or the fleet."""

    DIVERGENT = "divergent"  # two nodes, same chain, same height, different hashes
    UNREACHABLE = "unreachable"  # RPC failed or timed out
    GARBAGE = "garbage"  # answered, but not with a sync status we can read
    NOT_READY = "not_ready"  # answered "not ready", zero heads, or its /healthz says 503
    SOURCE_DOWN = "source_down"  # a light node's sources are all down: light tier at risk
    FOLLOW_FAILING = "follow_failing"  # op_node_follow_source_requests_total{result!="success"} grew
    STALLED = "stalled"  # a head has not moved for N block times
    LAGGING = "lagging"  # behind the fleet's best / its source beyond the thresholds
    PROXY_HALTED = "proxy_halted"  # a consensus proxy's backends split on an output root: halted


class Verdict(str, enum.Enum):
    """The fleet's overall state: the worst alarm class, in ``status`` exit-code precedence."""

    HEALTHY = "healthy"
    LAGGING = "lagging"
    STALLED = "stalled"
    UNREACHABLE = "unreachable"
    DIVERGENT = "divergent"

    @property
    def rank(self) -> int:
        return _VERDICT_ORDER.index(self)


_VERDICT_ORDER = (Verdict.HEALTHY, Verdict.LAGGING, Verdict.STALLED, Verdict.UNREACHABLE,
                  Verdict.DIVERGENT)

_VERDICT_OF = {
    AlarmKind.DIVERGENT: Verdict.DIVERGENT,
    AlarmKind.UNREACHABLE: Verdict.UNREACHABLE,
    AlarmKind.GARBAGE: Verdict.UNREACHABLE,
    AlarmKind.NOT_READY: Verdict.UNREACHABLE,
    AlarmKind.SOURCE_DOWN: Verdict.UNREACHABLE,
    AlarmKind.STALLED: Verdict.STALLED,
    AlarmKind.FOLLOW_FAILING: Verdict.LAGGING,
    AlarmKind.LAGGING: Verdict.LAGGING,
    AlarmKind.PROXY_HALTED: Verdict.DIVERGENT,  # the sources disagree on an output root
}


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One node to watch, as a fleet profile or a bare URL describes it.

    ``chain`` is the decimal L2 chain ID (``None``: learn it from ``optimism_rollupConfig``).
    ``follows`` names the nodes (by ``name``) a light node follows. A supernode spec whose
    ``url`` is the root (no ``/<chainID>``) expands into one row per chain route.
    """

    name: str
    url: str
    role: Role = Role.UNKNOWN
    chain: str | None = None
    el_url: str | None = None
    metrics_url: str | None = None
    follows: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: AlarmKind
    node: str | None  # None: a fleet-wide alarm
    message: str

    @property
    def verdict(self) -> Verdict:
        return _VERDICT_OF[self.kind]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "node": self.node, "message": self.message}


@dataclass(frozen=True, slots=True)
class Lag:
    """How far a head is behind a reference head: blocks and seconds (``None``: unknown)."""

    blocks: int | None = None
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "seconds": self.seconds}


UNKNOWN_LAG = Lag()


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One poll's unsafe/safe numbers and lags, for sparklines."""

    at: float  # unix seconds
    unsafe: int | None
    safe: int | None
    unsafe_lag: int | None = None
    safe_lag: int | None = None


@dataclass(frozen=True, slots=True)
class HeadChange:
    """A head moved (or went backwards: a reorg) between two polls."""

    at: float
    head: str  # one of HEADS
    old_number: int
    new_number: int
    new_hash: bytes

    @property
    def reorg(self) -> bool:
        return self.new_number <= self.old_number


@dataclass(frozen=True, slots=True)
class Divergence:
    """Nodes of one chain that report different hashes at the same height."""

    chain: str | None
    number: int
    head: str  # the head kind on which the disagreement was seen (e.g. "unsafe")
    hashes: Mapping[str, bytes]  # node name -> hash at ``number``

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self.hashes)

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "number": self.number,
            "head": self.head,
            "hashes": {name: "0x" + h.hex() for name, h in self.hashes.items()},
        }


def heads_of(status: SyncStatus | None) -> Mapping[str, L1BlockRef | L2BlockRef]:
    """The seven displayed heads of a sync status, keyed by :data:`HEADS` names."""
    if status is None:
        return _EMPTY
    return MappingProxyType({head: getattr(status, _STATUS_FIELD[head]) for head in HEADS})


@dataclass(frozen=True, slots=True)
class ProxyState:
    """What a consensus proxy says about its group (``opfleet_nodeInfo``'s ``proxy`` object of
    ``opfleet proxy``): consensus heads, the pinned backend, bans and halt. Names are the proxy's
    own backend names."""

    halted: bool = False
    pinned: str | None = None
    consensus_group: tuple[str, ...] = ()
    banned: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    heads: Mapping[str, int] = field(default_factory=dict)  # latest, safe, local_safe, finalized

    @classmethod
    def from_json(cls, obj: Any) -> ProxyState | None:
        """Parse the proxy's report; None for anything that is not one."""
        if not isinstance(obj, dict):
            return None
        backends = obj.get("backends")
        group = obj.get("consensus_group")
        heads = obj.get("consensus")
        if not isinstance(backends, list) or not isinstance(group, list) or not isinstance(heads, dict):
            return None
        names = tuple(str(b.get("name")) for b in backends if isinstance(b, dict))
        banned = tuple(str(b.get("name")) for b in backends if isinstance(b, dict) and b.get("banned") is True)
        pinned = obj.get("pinned")
        return cls(halted=obj.get("halted") is True, pinned=pinned if isinstance(pinned, str) else None,
                   consensus_group=tuple(str(g) for g in group), banned=banned, backends=names,
                   heads=MappingProxyType({k: v for k, v in heads.items()
                                           if isinstance(v, int) and not isinstance(v, bool)}))

    def summary(self) -> str:
        """A few words for a table row: ``HALTED`` or the pinned backend, then any bans."""
        text = "HALTED" if self.halted else f"pin {self.pinned or '-'}"
        return text + (f" · banned {','.join(self.banned)}" if self.banned else "")

    def to_json(self) -> dict[str, Any]:
        return {"halted": self.halted, "pinned": self.pinned, "consensus_group": list(self.consensus_group),
                "banned": list(self.banned), "backends": list(self.backends), "consensus": dict(self.heads)}


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """One node as of its last poll, with everything derived from the fleet around it."""

    spec: NodeSpec
    status: SyncStatus | None = None
    error: str | None = None  # one line; set when the poll failed
    latency: float | None = None  # seconds the syncStatus call took
    polled_at: float = 0.0  # unix seconds
    chain: str | None = None  # spec.chain, or learned from the node
    lag_unsafe: Lag = UNKNOWN_LAG  # behind the best unsafe head on the same chain
    lag_safe: Lag = UNKNOWN_LAG
    source_lag_unsafe: Lag | None = None  # behind its own source (light nodes); None: n/a
    source_lag_safe: Lag | None = None
    derivation_lag: Lag | None = None  # current_l1 behind head_l1 (deriving roles); None: n/a
    stalled_heads: tuple[str, ...] = ()
    history: tuple[HistoryPoint, ...] = ()
    changes: tuple[HeadChange, ...] = ()  # most recent last
    follow_results: Mapping[str, float] | None = None  # result label -> counter
    alarms: tuple[Alarm, ...] = ()
    garbage: bool = False  # answered with something that is not a sync status
    proxy: ProxyState | None = None  # a consensus proxy's own report (role proxy), when it gives one

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def role(self) -> Role:
        return self.spec.role

    @property
    def reachable(self) -> bool:
        return self.status is not None

    @property
    def healthy(self) -> bool:
        return self.reachable and not self.alarms

    @property
    def heads(self) -> Mapping[str, L1BlockRef | L2BlockRef]:
        return heads_of(self.status)

    @property
    def verdict(self) -> Verdict:
        return _worst(self.alarms)

    def to_json(self) -> dict[str, Any]:
        """This node's entry in ``status --json`` (module docstring)."""
        def lag_pair(unsafe: Lag | None, safe: Lag | None) -> dict[str, Any] | None:
            if unsafe is None and safe is None:
                return None
            return {"unsafe": (unsafe or UNKNOWN_LAG).to_json(),
                    "safe": (safe or UNKNOWN_LAG).to_json()}

        return {
            "name": self.name,
            "url": mask_url(self.spec.url),  # printed: never a password or an API key
            "role": self.role.value,
            "chain": self.chain,
            "follows": list(self.spec.follows),
            "reachable": self.reachable,
            "error": self.error,
            "latency_ms": None if self.latency is None else round(self.latency * 1000, 3),
            "polled_at": self.polled_at,
            "heads": {head: ref.to_json() for head, ref in self.heads.items()},
            "lag": lag_pair(self.lag_unsafe, self.lag_safe),
            "source_lag": lag_pair(self.source_lag_unsafe, self.source_lag_safe),
            "derivation_lag": None if self.derivation_lag is None else self.derivation_lag.to_json(),
            "stalled": list(self.stalled_heads),
            "follow_source": None if self.follow_results is None else dict(self.follow_results),
            "alarms": [alarm.to_json() for alarm in self.alarms],
            "sync_status": None if self.status is None else self.status.to_json(),
            "proxy": None if self.proxy is None else self.proxy.to_json(),
        }


TIER_ORDER = (Role.SEQUENCER, Role.SOURCE, Role.SUPERNODE, Role.PROXY, Role.LIGHT, Role.UNKNOWN)


@dataclass(frozen=True)
class FleetSnapshot:
    """The whole fleet after one poll round."""

    taken_at: float  # unix seconds
    nodes: tuple[NodeSnapshot, ...] = ()
    alarms: tuple[Alarm, ...] = ()  # every node's alarms plus fleet-wide ones
    divergences: tuple[Divergence, ...] = ()
    # an index for node(): not compared, hashed or shown
    _by_name: dict[str, NodeSnapshot] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {n.name: n for n in self.nodes})

    @property
    def healthy(self) -> bool:
        return not self.alarms

    @property
    def verdict(self) -> Verdict:
        return _worst(self.alarms)

    def node(self, name: str) -> NodeSnapshot | None:
        return self._by_name.get(name)

    @property
    def groups(self) -> dict[str | None, dict[Role, tuple[NodeSnapshot, ...]]]:
        """chain -> tier -> nodes, chains in ascending numeric order (unknown last), tiers in
        :data:`TIER_ORDER`, nodes in profile order."""
        out: dict[str | None, dict[Role, list[NodeSnapshot]]] = {}
        for node in self.nodes:
            out.setdefault(node.chain, {}).setdefault(node.role, []).append(node)
        return {
            chain: {role: tuple(tiers[role]) for role in TIER_ORDER if role in tiers}
            for chain, tiers in sorted(out.items(), key=lambda kv: _chain_key(kv[0]))
        }

    def to_json(self) -> dict[str, Any]:
        """The stable ``status --json`` document (schema in the module docstring)."""
        return {
            "schema": SCHEMA_VERSION,
            "taken_at": self.taken_at,
            "healthy": self.healthy,
            "verdict": self.verdict.value,
            "alarms": [alarm.to_json() for alarm in self.alarms],
            "divergences": [d.to_json() for d in self.divergences],
            "nodes": [node.to_json() for node in self.nodes],
        }


def _worst(alarms: tuple[Alarm, ...]) -> Verdict:
    return max((alarm.verdict for alarm in alarms), key=lambda v: v.rank, default=Verdict.HEALTHY)


def _chain_key(chain: str | None) -> tuple[int, int, str]:
    if chain is None:
        return (2, 0, "")
    return (0, int(chain), chain) if chain.isdigit() else (1, 0, chain)
