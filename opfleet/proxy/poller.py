"""The consensus poller: polls every backend, forms the consensus group, pins the served status.

Mirrors proxyd's ``ConsensusPoller`` in ``consensus_aware_consensus_layer`` mode (reference:
``opnode-rpc.md`` §4.2-4.3); the decisions are the pure functions of
:mod:`opfleet.proxy.consensus`, the I/O is one :class:`~opfleet.providers.JsonRpcClient` per
backend.

::

    per backend, every consensus_poller_interval      update_backend(name)
        skip if banned; ban if unhealthy (error rate / latency over 5 minutes)
        opp2p_peerStats (unless consensus_skip_peer_count; 0 peers is an error)
        optimism_syncStatus -> in sync? zero heads? safe > local_safe (ban)? tags (ban)?
    for the group, every consensus_poller_interval    update_group()
        candidates (primaries, else fallbacks) -> minimum heads
        optimism_outputAtBlock(lowest safe) on every candidate: minority banned, split -> halt
        consensus group = candidates; pinned body = lowest current_l1 >= last pin's

Where we knowingly differ from proxyd (each is a line of the README's list):

- an empty consensus group that is not a halt stops serving the cached ``optimism_syncStatus``
  (-32025 / HTTP 503) instead of serving the last pin's body indefinitely: infra issue #627,
  where a follow-source sequencer consumed such a stale ``local_safe_l2``; during a halt the
  frozen body is still served, as proxyd does;
- after the output-root vote every consensus number (not only safe / local-safe) is recomputed
  without the banned minority, so a liar's heads never bound the group;
- ``consensus_handler = "noop"`` (proxyd's test hook that turns polling off) still polls.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import httpx
import trio

from opfleet.config.proxyd import BackendConfig, ProxyConfig
from opfleet.errors import NodeError, TemporaryError
from opfleet.log import mask_url
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError, RpcTimeoutError
from opfleet.proxy import consensus as rules
from opfleet.proxy.consensus import BackendView, Heads
from opfleet.rpc.metrics import Registry

log = logging.getLogger("opfleet.proxy")

HEALTH_WINDOW = 300.0
"""Seconds of requests the error rate and average latency are taken over (proxyd's sliding window)."""
MIN_REQUESTS_FOR_ERROR_RATE = 10
"""proxyd only judges the error rate after this many requests in the window."""

BAN_REASONS = ("not_healthy", "unexpected_block_tags", "interop_safe_gt_local_safe", "output_root_mismatch",
               "output_root_timeout")


class ProxyMetrics:
    """Prometheus metrics with proxyd's names (``proxyd_*``, ``proxyd/metrics.go``)."""

    def __init__(self, registry: Registry | None = None):
        self.registry = r = registry or Registry()
        g, b = ("backend_group_name",), ("backend_name",)
        self.group_latest = r.gauge("proxyd_group_consensus_latest_block", "Consensus latest block", g)
        self.group_safe = r.gauge("proxyd_group_consensus_safe_block", "Consensus safe block", g)
        self.group_finalized = r.gauge("proxyd_group_consensus_finalized_block", "Consensus finalized block", g)
        self.group_local_safe = r.gauge("proxyd_consensus_cl_group_local_safe_block",
                                        "Consensus local_safe_l2 block for the CL backend group", g)
        self.group_count = r.gauge("proxyd_group_consensus_count", "Consensus group serving traffic count", g)
        self.group_filtered = r.gauge("proxyd_group_consensus_filtered_count",
                                      "Consensus group filtered out from serving traffic count", g)
        self.group_total = r.gauge("proxyd_group_consensus_total_count",
                                   "Total count of candidates to be part of consensus group", g)
        self.pin_l1 = r.gauge("proxyd_consensus_cl_group_pin_l1",
                              "The current_l1 block number of the pin backend whose optimism_syncStatus is served",
                              ("backend_group_name", "backend_name"))
        self.cache_hit = r.counter("proxyd_consensus_cl_sync_status_cache_hit_total",
                                   "optimism_syncStatus requests served from the pin-backend cache", g)
        self.cache_miss = r.counter("proxyd_consensus_cl_sync_status_cache_miss_total",
                                    "optimism_syncStatus requests answered -32025 (no pinned body)", g)
        self.no_pin = r.counter("proxyd_consensus_cl_no_pin_candidate_total",
                                "Poll cycles where no valid pin candidate was found", g)
        self.halted = r.gauge("proxyd_consensus_cl_halted",
                              "1 while the group is halted on an output root split with no majority", g)
        self.halt_total = r.counter("proxyd_consensus_cl_halt_total",
                                    "Consensus cycles halted on an output root split with no majority", g)
        self.banned = r.gauge("proxyd_consensus_backend_banned", "Bool gauge for banned backends", b)
        self.peer_count = r.gauge("proxyd_consensus_backend_peer_count", "Peer count", b)
        self.in_sync = r.gauge("proxyd_consensus_backend_in_sync", "Bool gauge for backends in sync", b)
        self.backend_latest = r.gauge("proxyd_backend_latest_block", "Current latest block observed per backend", b)
        self.backend_safe = r.gauge("proxyd_backend_safe_block", "Current safe block observed per backend", b)
        self.backend_finalized = r.gauge("proxyd_backend_finalized_block",
                                         "Current finalized block observed per backend", b)
        self.backend_local_safe = r.gauge("proxyd_consensus_cl_backend_local_safe_block",
                                          "Current local_safe_l2 block observed per CL backend", b)
        self.backend_current_l1 = r.gauge("proxyd_consensus_cl_backend_current_l1",
                                          "current_l1.number of each CL backend", b)
        self.backend_l1_lag = r.gauge("proxyd_consensus_cl_backend_l1_lag", "head_l1 - current_l1 per CL backend", b)
        self.backend_l1_stale = r.gauge("proxyd_consensus_cl_backend_l1_stale",
                                        "Bool gauge for CL backends with a stale L1 head timestamp", b)
        self.unexpected_tags = r.gauge("proxyd_backend_unexpected_block_tags", "Bool gauge for unexpected block tags", b)
        self.bans = {reason: r.counter(f"proxyd_consensus_cl_ban_{reason}_total",
                                       f"CL backend bans: {reason.replace('_', ' ')}", b) for reason in BAN_REASONS}
        self.disagreements = r.counter("proxyd_consensus_cl_output_root_disagreement_total",
                                       "Output root disagreement events per backend", b)
        self.polls = r.counter("opfleet_proxy_backend_requests_total",
                               "Requests the proxy sent to each backend, by method", ("backend_name", "method"))


@dataclass
class _Backend:
    """One backend's live state (proxyd's ``backendState`` plus its health windows)."""

    config: BackendConfig
    client: JsonRpcClient
    fallback: bool = False
    peer_count: int = 0
    in_sync: bool = False
    latest: int = 0
    safe: int = 0
    local_safe: int = 0
    finalized: int = 0
    current_l1: int = 0
    body: bytes | None = None
    status: Mapping[str, Any] | None = None
    last_update: float | None = None
    banned_until: float = 0.0
    output_timeouts: int = 0
    last_error: str | None = None
    outage_logged: bool = False
    requests: deque[tuple[float, float, bool]] = field(default_factory=deque)
    bans: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True, slots=True)
class BackendStatistics:
    name: str
    url: str
    fallback: bool
    banned: bool
    banned_for: float
    healthy: bool
    in_sync: bool
    peer_count: int
    latest: int
    safe: int
    local_safe: int
    finalized: int
    current_l1: int
    last_error: str | None
    bans: Mapping[str, int]
    requests: int


@dataclass(frozen=True, slots=True)
class PollerStatistics:
    """A snapshot of the poller (also what ``/healthz`` and ``opfleet status`` show)."""

    group: str
    cycles: int
    heads: Heads
    consensus_group: tuple[str, ...]
    pinned: str | None
    pinned_current_l1: int
    halted: bool
    halts: int
    serving: bool
    backends: tuple[BackendStatistics, ...]
    backend_requests: int

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group, "cycles": self.cycles, "halted": self.halted, "halts": self.halts,
            "serving": self.serving, "pinned": self.pinned, "pinned_current_l1": self.pinned_current_l1,
            "consensus": {"latest": self.heads.latest, "safe": self.heads.safe, "local_safe": self.heads.local_safe,
                          "finalized": self.heads.finalized},
            "consensus_group": list(self.consensus_group),
            "backends": [{
                "name": b.name, "url": b.url, "fallback": b.fallback, "banned": b.banned,
                "banned_for": round(b.banned_for, 3), "healthy": b.healthy, "in_sync": b.in_sync,
                "peer_count": b.peer_count, "latest": b.latest, "safe": b.safe, "local_safe": b.local_safe,
                "finalized": b.finalized, "current_l1": b.current_l1, "last_error": b.last_error,
                "bans": dict(b.bans),
            } for b in self.backends],
        }


class ConsensusPoller:
    """proxyd's CL consensus poller for one backend group.

    ``clock`` gives unix seconds (bans, update ages and ``head_l1`` ages all read it; tests pass
    a fake). ``transport`` is the httpx seam for tests. Call :meth:`run` in a nursery, or drive
    :meth:`update_backend` / :meth:`update_group` by hand as proxyd's tests do with its noop handler.
    """

    def __init__(self, config: ProxyConfig, *, metrics: ProxyMetrics | None = None,
                 clock: Callable[[], float] = time.time, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self.group_config = config.group
        self.metrics = metrics or ProxyMetrics()
        self.clock = clock
        fallbacks = set(config.group.fallbacks)
        self._backends: dict[str, _Backend] = {}
        for backend in config.backends:
            client = JsonRpcClient(backend.rpc_url, transport=transport, timeout=backend.timeout, name=backend.name,
                                   headers_factory=functools.partial(dict, backend.headers) if backend.headers else None)
            self._backends[backend.name] = _Backend(backend, client, backend.name in fallbacks)
        self.heads = Heads()
        self.consensus_group: tuple[str, ...] = ()
        self.halted = False
        self.halts = 0
        self.cycles = 0
        self.pinned: str | None = None
        self._pin_floor = 0
        self._body: bytes | None = None
        self._status: Mapping[str, Any] | None = None
        self._serving = False
        self._changed = trio.Event()
        self._rng = random.Random()
        self.metrics.group_total.set(len(self._backends), backend_group_name=self.group_config.name)

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.client.aclose()

    # --- what the server reads ----------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._backends)

    def sync_status_body(self) -> bytes | None:
        """The served ``optimism_syncStatus`` result (raw JSON of the pinned backend), or None."""
        return self._body if self._serving else None

    def sync_status(self) -> Mapping[str, Any] | None:
        """The same, parsed (for the long poll)."""
        return self._status if self._serving else None

    async def wait_changed(self, timeout: float) -> None:
        """Return when the served body changes, or after ``timeout`` seconds."""
        with trio.move_on_after(timeout):
            await self._changed.wait()

    def serving_order(self) -> list[str]:
        """The consensus group shuffled, healthy before degraded (``loadBalancedConsensusGroup``)."""
        now = self.clock()
        healthy: list[str] = []
        degraded: list[str] = []
        for name in self.consensus_group:
            backend = self._backends[name]
            ok, avg_latency = self._health(backend, now)
            if not ok:
                continue
            (degraded if avg_latency >= backend.config.max_degraded_latency_threshold else healthy).append(name)
        self._rng.shuffle(healthy)
        self._rng.shuffle(degraded)
        return healthy + degraded

    async def forward(self, name: str, method: str, params: list[Any]) -> Any:
        """Call ``method`` on backend ``name`` (with its retries); its errors propagate."""
        backend = self._backends[name]
        attempts = 1 + max(0, backend.config.max_retries)
        for attempt in range(attempts):
            try:
                return await self._call(backend, method, *params)
            except TemporaryError:
                if attempt + 1 >= attempts:
                    raise
        raise AssertionError("unreachable")

    def statistics(self) -> PollerStatistics:
        now = self.clock()
        backends = []
        requests = 0
        for backend in self._backends.values():
            healthy, _ = self._health(backend, now)
            stats = backend.client.statistics()
            requests += stats.http_requests
            backends.append(BackendStatistics(
                name=backend.name, url=mask_url(backend.config.rpc_url), fallback=backend.fallback,
                banned=self._banned(backend, now), banned_for=max(0.0, backend.banned_until - now),
                healthy=healthy, in_sync=backend.in_sync, peer_count=backend.peer_count, latest=backend.latest,
                safe=backend.safe, local_safe=backend.local_safe, finalized=backend.finalized,
                current_l1=backend.current_l1, last_error=backend.last_error,
                bans=MappingProxyType(dict(backend.bans)), requests=stats.http_requests))
        return PollerStatistics(
            group=self.group_config.name, cycles=self.cycles, heads=self.heads, consensus_group=self.consensus_group,
            pinned=self.pinned, pinned_current_l1=self._pin_floor, halted=self.halted, halts=self.halts,
            serving=self._serving, backends=tuple(backends), backend_requests=requests)

    # --- running --------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[ConsensusPoller] = trio.TASK_STATUS_IGNORED) -> None:
        """Poll every backend and the group every ``consensus_poller_interval`` until cancelled."""
        interval = self.group_config.poller_interval
        if self.group_config.noop_handler:
            log.warning('consensus_handler = "noop" is proxyd\'s test hook (no polling); opfleet proxy polls anyway',
                        extra={"fields": {"group": self.group_config.name}})
        try:
            async with trio.open_nursery() as nursery:
                for backend in self._backends.values():
                    nursery.start_soon(self._backend_loop, backend, interval)
                nursery.start_soon(self._group_loop, interval)
                task_status.started(self)
        finally:
            with trio.CancelScope(shield=True):
                await self.aclose()

    async def _backend_loop(self, backend: _Backend, interval: float) -> None:
        while True:
            started = trio.current_time()
            # proxyd polls a fallback only while no primary is a candidate
            if not backend.fallback or not self._candidates(primaries=True):
                await self.update_backend(backend.name)
            await trio.sleep_until(started + interval)

    async def _group_loop(self, interval: float) -> None:
        while True:
            started = trio.current_time()
            await self.update_group()
            await trio.sleep_until(started + interval)

    # --- one backend ------------------------------------------------------------------------------

    async def update_backend(self, name: str) -> None:
        """proxyd's ``UpdateBackend`` for a CL backend (reference §4.2, steps 1-7)."""
        backend = self._backends[name]
        cfg = backend.config
        now = self.clock()
        m = self.metrics
        m.banned.set(int(self._banned(backend, now)), backend_name=name)
        if self._banned(backend, now):
            return
        healthy, _ = self._health(backend, now)
        if not healthy and not cfg.forced_candidate:
            self._ban(backend, "not_healthy", "error rate or latency above the thresholds")
            return
        peer_count = 0
        if not cfg.skip_peer_count:
            try:
                peer_count = rules.parse_peer_count(await self._call(backend, "opp2p_peerStats"))
            except (NodeError, ValueError) as exc:
                self._outage(backend, f"opp2p_peerStats: {exc}")
                return
            if peer_count == 0:
                self._record_error(backend, now)
                self._outage(backend, "opp2p_peerStats: 0 peers connected")
                return
            m.peer_count.set(peer_count, backend_name=name)
        try:
            result = await self._call(backend, "optimism_syncStatus")
            status = rules.parse_sync_status(result)
        except (NodeError, ValueError) as exc:
            self._outage(backend, f"optimism_syncStatus: {exc}")
            return
        now = self.clock()
        in_sync, why = rules.check_in_sync(status, now, sync_threshold=self.group_config.cl_sync_threshold,
                                           head_l1_max_age=self.group_config.cl_head_l1_max_age)
        m.backend_l1_lag.set(max(0, status.head_l1 - status.current_l1), backend_name=name)
        m.backend_current_l1.set(status.current_l1, backend_name=name)
        m.backend_l1_stale.set(int(why is not None and "head_l1" in why), backend_name=name)
        m.in_sync.set(int(in_sync), backend_name=name)
        if not in_sync and backend.in_sync:
            log.warning("backend out of sync: %s", why, extra={"fields": {"backend": name}})
        zero = rules.zero_head(status)
        if zero is not None:
            self._record_error(backend, now)
            self._outage(backend, f"{zero} block is 0 with no valid hash (not initialised)")
            return
        if status.safe > 0 and status.safe > status.local_safe:
            self._ban(backend, "interop_safe_gt_local_safe",
                      f"safe_l2 {status.safe} above local_safe_l2 {status.local_safe}")
            return
        if backend.outage_logged:
            log.info("backend answers again", extra={"fields": {"backend": name}})
        backend.outage_logged = False
        backend.last_error = None
        old_safe, old_finalized = backend.safe, backend.finalized
        backend.peer_count = peer_count
        backend.in_sync = in_sync
        backend.latest, backend.safe, backend.finalized = status.unsafe, status.safe, status.finalized
        backend.local_safe, backend.current_l1 = status.local_safe, status.current_l1
        backend.status = result
        backend.body = json.dumps(result, separators=(",", ":")).encode()
        backend.last_update = now
        m.backend_latest.set(status.unsafe, backend_name=name)
        m.backend_safe.set(status.safe, backend_name=name)
        m.backend_finalized.set(status.finalized, backend_name=name)
        m.backend_local_safe.set(status.local_safe, backend_name=name)
        ok = rules.expected_tags(latest=status.unsafe, old_safe=old_safe, safe=status.safe, old_finalized=old_finalized,
                                 finalized=status.finalized, safe_drift=cfg.safe_block_drift_threshold,
                                 finalized_drift=cfg.finalized_block_drift_threshold)
        m.unexpected_tags.set(int(not ok), backend_name=name)
        if not ok and not cfg.forced_candidate:
            self._ban(backend, "unexpected_block_tags",
                      f"finalized {status.finalized} (was {old_finalized}) <= safe {status.safe} (was {old_safe}) "
                      f"<= latest {status.unsafe} does not hold")

    # --- the group --------------------------------------------------------------------------------

    def _views(self, backends: list[_Backend], now: float) -> list[BackendView]:
        return [BackendView(
            name=b.name, banned=self._banned(b, now), healthy=self._health(b, now)[0], forced=b.config.forced_candidate,
            skip_peer_count=b.config.skip_peer_count, skip_is_syncing_check=b.config.skip_is_syncing_check,
            peer_count=b.peer_count, in_sync=b.in_sync, last_update=b.last_update, latest=b.latest, safe=b.safe,
            local_safe=b.local_safe, finalized=b.finalized, current_l1=b.current_l1, has_body=b.body is not None,
        ) for b in backends]

    def _candidates(self, *, primaries: bool) -> list[str]:
        now = self.clock()
        members = [b for b in self._backends.values() if b.fallback != primaries]
        return rules.filter_candidates(
            self._views(members, now), now=now, min_peer_count=self.group_config.min_peer_count,
            max_update_threshold=self.group_config.max_update_threshold,
            max_block_lag=self.group_config.max_block_lag, consensus=self.heads)

    async def update_group(self) -> None:
        """proxyd's ``UpdateBackendGroupConsensus`` in CL mode (reference §4.3)."""
        group_name = self.group_config.name
        m = self.metrics
        names = self._candidates(primaries=True) or self._candidates(primaries=False)
        now = self.clock()
        views = {v.name: v for v in self._views([self._backends[n] for n in names], now)}
        heads = rules.lowest_heads(views.values())
        halted = False
        if heads.safe > 0:
            halted, banned = await self._verify_output_roots(list(views), heads.safe)
            for name in banned:
                views.pop(name, None)
            heads = rules.lowest_heads(views.values())
        self.cycles += 1
        m.halted.set(int(halted), backend_group_name=group_name)
        if halted:
            if not self.halted:
                log.error("output roots split with no majority: consensus halted, serving the last agreed "
                          "optimism_syncStatus, other methods fail closed; manual intervention required",
                          extra={"fields": {"group": group_name, "safe": self.heads.safe}})
            self.halted = True
            self.halts += 1
            m.halt_total.inc(backend_group_name=group_name)
            self.consensus_group = ()
            m.group_count.set(0, backend_group_name=group_name)
            return
        if self.halted:
            log.info("a majority agrees again: consensus resumed", extra={"fields": {"group": group_name}})
        self.halted = False
        self.heads = heads
        self.consensus_group = tuple(n for n in self._backends if n in views)
        self._select_pin([views[n] for n in self.consensus_group])
        m.group_latest.set(heads.latest, backend_group_name=group_name)
        m.group_safe.set(heads.safe, backend_group_name=group_name)
        m.group_finalized.set(heads.finalized, backend_group_name=group_name)
        m.group_local_safe.set(heads.local_safe, backend_group_name=group_name)
        m.group_count.set(len(self.consensus_group), backend_group_name=group_name)
        m.group_filtered.set(len(self._backends) - len(self.consensus_group), backend_group_name=group_name)

    def _select_pin(self, group: list[BackendView]) -> None:
        pin = rules.select_pin(group, self._pin_floor)
        if pin is None:
            if group:
                self.metrics.no_pin.inc(backend_group_name=self.group_config.name)
                log.warning("no pin candidate: every consensus member is below the last pin's current_l1",
                            extra={"fields": {"floor": self._pin_floor}})
            else:
                self._set_serving(False)  # issue #627: no stale body once nothing is in consensus
            return
        backend = self._backends[pin]
        if self.pinned is not None and self.pinned != pin:
            self.metrics.pin_l1.set(0, backend_group_name=self.group_config.name, backend_name=self.pinned)
        if pin != self.pinned:
            log.info("pinned backend", extra={"fields": {"backend": pin, "current_l1": backend.current_l1}})
        self.pinned = pin
        self._pin_floor = backend.current_l1
        self.metrics.pin_l1.set(backend.current_l1, backend_group_name=self.group_config.name, backend_name=pin)
        changed = backend.body != self._body or not self._serving
        self._body, self._status = backend.body, backend.status
        self._serving = True
        if changed:
            self._notify()

    def _set_serving(self, serving: bool) -> None:
        if self._serving != serving:
            self._serving = serving
            if not serving:
                log.warning("no backend in consensus: optimism_syncStatus answers -32025 until one is",
                            extra={"fields": {"group": self.group_config.name}})
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _verify_output_roots(self, names: list[str], safe: int) -> tuple[bool, list[str]]:
        """``verifyCLOutputRoots``: returns ``(halt, banned)``."""
        roots: dict[str, str] = {}
        timed_out: list[str] = []

        async def fetch(name: str) -> None:
            backend = self._backends[name]
            try:
                roots[name] = rules.parse_output_root(await self._call(backend, "optimism_outputAtBlock", hex(safe)))
            except RpcTimeoutError:
                timed_out.append(name)
            except (NodeError, ValueError) as exc:
                log.warning("cannot fetch the output root, skipping verification for this backend: %s", exc,
                            extra={"fields": {"backend": name, "safe": safe}})

        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(fetch, name)
        banned: list[str] = []
        threshold = self.group_config.cl_output_root_ban_threshold
        for name in timed_out:
            backend = self._backends[name]
            backend.output_timeouts += 1
            if backend.output_timeouts >= threshold:
                if self._ban(backend, "output_root_timeout",
                             f"{backend.output_timeouts} optimism_outputAtBlock timeouts in a row"):
                    banned.append(name)
            else:
                log.warning("optimism_outputAtBlock timed out, tolerated until the threshold",
                            extra={"fields": {"backend": name, "timeouts": backend.output_timeouts,
                                              "threshold": threshold}})
        for name in roots:
            self._backends[name].output_timeouts = 0
        vote = rules.resolve_output_roots(roots)
        if vote.halt:
            for name in roots:
                self.metrics.disagreements.inc(backend_name=name)
            log.error("output root split at the consensus safe block", extra={"fields": {
                "safe": safe, "roots": ", ".join(f"{n}={r[:10]}" for n, r in sorted(roots.items()))}})
            return True, banned
        for name in vote.minority:
            self.metrics.disagreements.inc(backend_name=name)
            if self._ban(self._backends[name], "output_root_mismatch",
                         f"output root {roots[name]} at block {safe} disagrees with the majority's {vote.agreed}"):
                banned.append(name)
        return False, banned

    # --- bans, health, calls ----------------------------------------------------------------------

    def _banned(self, backend: _Backend, now: float) -> bool:
        return now < backend.banned_until

    def _ban(self, backend: _Backend, reason: str, why: str) -> bool:
        """proxyd's ``Ban``: forced candidates are never banned; heads reset so it may come back anywhere."""
        if backend.config.forced_candidate:
            return False
        log.warning("backend banned: %s", why, extra={"fields": {
            "backend": backend.name, "reason": reason, "for": f"{self.group_config.ban_period:g}s"}})
        backend.banned_until = self.clock() + self.group_config.ban_period
        backend.latest = backend.safe = backend.finalized = 0
        backend.output_timeouts = 0
        backend.bans[reason] += 1
        backend.last_error = f"banned: {why}"
        self.metrics.bans[reason].inc(backend_name=backend.name)
        self.metrics.banned.set(1, backend_name=backend.name)
        return True

    def _health(self, backend: _Backend, now: float) -> tuple[bool, float]:
        """``IsHealthy`` over the last :data:`HEALTH_WINDOW` seconds: ``(healthy, average latency)``."""
        window = backend.requests
        while window and window[0][0] < now - HEALTH_WINDOW:
            window.popleft()
        if not window:
            return True, 0.0
        avg_latency = sum(r[1] for r in window) / len(window)
        errors = sum(1 for r in window if r[2])
        error_rate = errors / len(window) if len(window) >= MIN_REQUESTS_FOR_ERROR_RATE else 0.0
        cfg = backend.config
        return error_rate < cfg.max_error_rate_threshold and avg_latency < cfg.max_latency_threshold, avg_latency

    def _record_error(self, backend: _Backend, now: float) -> None:
        backend.requests.append((now, 0.0, True))

    def _outage(self, backend: _Backend, message: str) -> None:
        backend.last_error = message
        if not backend.outage_logged:
            log.warning("backend not updated: %s", message, extra={"fields": {"backend": backend.name}})
            backend.outage_logged = True

    async def _call(self, backend: _Backend, method: str, *params: Any) -> Any:
        started = trio.current_time()
        self.metrics.polls.inc(backend_name=backend.name, method=method)
        failed = False
        try:
            return await backend.client.call(method, *params)
        except RpcCallError:
            raise  # the backend answered: not an outage
        except NodeError:
            failed = True
            raise
        finally:
            backend.requests.append((self.clock(), trio.current_time() - started, failed))
