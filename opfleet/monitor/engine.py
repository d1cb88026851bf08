"""``FleetMonitor``: poll every node concurrently and publish one :class:`FleetSnapshot` per tick.

One engine serves ``opfleet status`` (``poll_once``) and ``opfleet tui`` (``run``, hosted in
Textual's asyncio loop with ``trio.lowlevel.start_guest_run``). What it asks each node
(op-node ``op-node/node/api.go``, op-supernode):

- ``optimism_syncStatus`` (``op-service/eth/sync_status.go``) on every node or route; a supernode
  root (no ``/<chainID>``, or a node that does not know ``optimism_syncStatus``) is asked
  ``supernode_syncStatus`` (``op-service/eth/supernode_status.go``) and expands into one row per
  chain route ``<root>/<chainID>``;
- ``optimism_rollupConfig`` (``op-node/rollup/types.go``) once per URL, for the chain ID and block
  time;
- the metrics URL, when given, for ``op_node_follow_source_requests_total{result}``
  (``op-node/metrics/metrics.go``);
- ``GET <url>/healthz``: a 503 there (an opfleet node's readiness: no chain yet, or no follow
  source answering) makes the node NOT READY; a node whose answer is no readiness report
  (op-node's ``{"version"}``, always 200) is not asked again;
- once per URL of a node without a role, what it is (:func:`~opfleet.monitor.fleet.probe_role`:
  ``opfleet_nodeInfo``, ``admin_sequencerActive``), else its role is read from its heads
  (:func:`~opfleet.monitor.fleet.role_from_status`), so bare URLs are judged by their role too;
- for divergence, the block at the fleet's lowest heads (compared at the lower node's heads):
  ``eth_getBlockByNumber`` on the node's EL when known, else ``optimism_outputAtBlock``
  (``op-service/eth/output.go``).

Every node is polled in its own task with its own deadline; a snapshot is assembled from
whatever answered, so one slow node never delays the others (with :meth:`FleetMonitor.run` each
node even runs on its own schedule, and the snapshot is published every ``interval`` whether or
not a slow node has answered).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import trio

from opfleet.errors import DecodeError, OpfleetError
from opfleet.monitor import analysis
from opfleet.monitor.analysis import Thresholds
from opfleet.monitor.fleet import probe_role, role_from_status, route_chain
from opfleet.monitor.model import (
    HEADS,
    Alarm,
    AlarmKind,
    FleetSnapshot,
    HeadChange,
    HistoryPoint,
    NodeSnapshot,
    NodeSpec,
    ProxyState,
    Role,
    heads_of,
)
from opfleet.protocol.hexjson import parse_data
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError, RpcHttpError
from opfleet.providers.rollup_node import RollupNodeClient
from opfleet.providers.rollup_node import not_ready as proxy_not_ready

__all__ = ["FleetMonitor", "MonitorStatistics"]

log = logging.getLogger("opfleet.monitor")

DEFAULT_HISTORY = 120
_CHANGES = 50
_KNOWN_BLOCKS = 256
_KNOWN_MAX_AGE_ROUNDS = 64
_HEALTH_BODY = 16 * 1024  # bytes of a /healthz answer read (op-node's is ~40)
_COALESCE = 0.05  # seconds: node answers arriving this close together make one snapshot
_WATCHED = tuple(h for h in HEADS if h != "head_l1")  # head_l1 moves with L1: not a node event


@dataclass(frozen=True, slots=True)
class MonitorStatistics:
    """A snapshot of a :class:`FleetMonitor`."""

    rounds: int
    polls: int
    failed_polls: int
    lookups: int
    snapshots_published: int


@dataclass(slots=True)
class _Reading:
    """One row's result of one poll."""

    spec: NodeSpec
    origin: str  # the configured spec's name (a supernode root's rows share it)
    status: SyncStatus | None = None
    error: str | None = None
    garbage: bool = False
    latency: float | None = None
    polled_at: float = 0.0
    follow_results: dict[str, float] | None = None
    not_ready: str | None = None  # the node said it is not ready (RPC error or /healthz 503)
    proxy: ProxyState | None = None  # a consensus proxy's own report (opfleet_nodeInfo)


@dataclass(slots=True)
class _RowState:
    """What the engine remembers about one row between polls."""

    reading: _Reading
    first_ok: float | None = None
    head_since: dict[str, tuple[bytes, float]] = field(default_factory=dict)
    history: deque[HistoryPoint] = field(default_factory=deque)
    changes: deque[HeadChange] = field(default_factory=lambda: deque(maxlen=_CHANGES))
    known: dict[int, tuple[bytes, str, int]] = field(default_factory=dict)  # n -> (hash, head, round)
    follow_prev: dict[str, float] | None = None
    follow_failing: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class _UrlInfo:
    chain: str | None = None
    block_time: float | None = None
    supernode_root: bool = False
    lookup: str | None = None  # "el", "cl" or "none" (no way to look blocks up)
    role: Role | None = None  # what the node says it is (probe_role), for specs without a role
    sequencing: bool | None = None
    role_probed: bool = False
    readiness: bool | None = None  # does its /healthz report readiness? (None: not known yet)


class FleetMonitor:
    """Watch ``specs``: ``await poll_once()`` for one snapshot, or ``run()`` to poll forever.

    ``interval``: seconds between polls (and between published snapshots in :meth:`run`);
    ``timeout``: each node's deadline per poll; ``history``: points kept per node for sparklines.
    New snapshots go to ``on_snapshot`` (called in the trio thread; with a guest run that is the
    host loop's thread too) and to every :meth:`subscribe` channel (latest snapshot wins).
    ``transport`` replaces httpx's network transport (tests).
    """

    def __init__(
        self,
        specs: Sequence[NodeSpec],
        *,
        interval: float = 2.0,
        timeout: float = 2.0,
        history: int = DEFAULT_HISTORY,
        thresholds: Thresholds = Thresholds(),
        transport: httpx.AsyncBaseTransport | None = None,
        on_snapshot: Callable[[FleetSnapshot], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate node names: {', '.join(dupes)}")
        if interval <= 0 or timeout <= 0:
            raise ValueError("interval and timeout must be positive")
        self.specs = tuple(specs)
        self.interval = interval
        self.timeout = timeout
        self.history = max(1, history)
        self.thresholds = thresholds
        self.on_snapshot = on_snapshot
        self.paused = False
        self._clock = clock
        self._transport = transport
        self._clients: dict[str, JsonRpcClient] = {}
        self._http: httpx.AsyncClient | None = None
        self._info: dict[str, _UrlInfo] = {}
        self._rows: dict[str, _RowState] = {}  # row name -> state, in first-seen order
        self._routes: dict[str, tuple[str, ...]] = {}  # supernode root name -> chain IDs seen
        self._targets: dict[str | None, set[int]] = {}  # chain -> heights to compare at
        self._snapshot = FleetSnapshot(taken_at=clock())
        self._subscribers: list[trio.MemorySendChannel[FleetSnapshot]] = []
        self._wake: trio.Event | None = None
        self._fresh = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._round = 0
        self._polls = 0
        self._failed = 0
        self._lookups = 0
        self._published = 0

    # --- public ---------------------------------------------------------------------------------

    async def __aenter__(self) -> FleetMonitor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            for client in self._clients.values():
                await client.aclose()
            if self._http is not None:
                await self._http.aclose()
        self._clients.clear()
        self._http = None

    def snapshot(self) -> FleetSnapshot:
        """The latest published snapshot (empty before the first poll)."""
        return self._snapshot

    def statistics(self) -> MonitorStatistics:
        return MonitorStatistics(self._round, self._polls, self._failed, self._lookups, self._published)

    def subscribe(self, buffer: int = 1) -> trio.MemoryReceiveChannel[FleetSnapshot]:
        """A channel that receives each new snapshot; a slow reader only misses old ones."""
        send, receive = trio.open_memory_channel[FleetSnapshot](buffer)
        self._subscribers.append(send)
        return receive

    async def poll_once(self) -> FleetSnapshot:
        """Poll every node once, concurrently, and publish the snapshot (at most ``timeout`` late)."""
        async with trio.open_nursery() as nursery:
            for spec in self.specs:
                nursery.start_soon(self._poll_spec, spec)
        return self._publish()

    async def run(self, *, task_status: trio.TaskStatus[FleetMonitor] = trio.TASK_STATUS_IGNORED) -> None:
        """Poll until cancelled: each node on its own schedule, a snapshot every ``interval``.

        ``task_status.started(self)`` once the first snapshot is published (so a caller can
        ``await nursery.start(monitor.run)`` and read :meth:`snapshot` right away). Later
        snapshots are published as node answers land (coalesced) and at least every ``interval``.
        """
        self._token = trio.lowlevel.current_trio_token()
        self._wake = trio.Event()
        self._fresh = trio.Event()
        try:
            with trio.CancelScope() as self._scope:
                await self.poll_once()
                task_status.started(self)
                async with trio.open_nursery() as nursery:
                    for spec in self.specs:
                        nursery.start_soon(self._node_loop, spec)
                    nursery.start_soon(self._publish_loop)
        finally:
            await self.aclose()

    def stop(self) -> None:
        """Make :meth:`run` return. Safe to call from a guest-run host."""
        self._soon(lambda: self._scope.cancel() if self._scope is not None else None)

    def set_interval(self, seconds: float) -> None:
        """Change the refresh interval; takes effect now. Safe to call from a guest-run host."""
        if seconds <= 0:
            raise ValueError("interval must be positive")

        def apply() -> None:
            self.interval = seconds
            self._kick()

        self._soon(apply)

    def pause(self, paused: bool = True) -> None:
        """Stop (or resume) polling; the last snapshot stays. Safe from a guest-run host."""

        def apply() -> None:
            self.paused = paused
            self._kick()

        self._soon(apply)

    def refresh(self) -> None:
        """Poll every node now instead of at the next tick. Safe from a guest-run host."""
        self._soon(self._kick)

    # --- scheduling -----------------------------------------------------------------------------

    def _soon(self, fn: Callable[[], None]) -> None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:  # called from the host loop of a guest run, or another thread
            if self._token is None:
                fn()
            else:
                self._token.run_sync_soon(fn)
        else:
            fn()

    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = trio.Event()

    def _wake_event(self) -> trio.Event:
        """The event a kick sets; it exists once the engine runs (its loops are what wait on it)."""
        if self._wake is None:
            raise RuntimeError("the monitor engine is not running")
        return self._wake

    async def _tick(self) -> None:
        """Sleep one interval, or until kicked (refresh, interval change, resume)."""
        wake = self._wake_event()
        with trio.move_on_after(self.interval):
            await wake.wait()
        while self.paused:
            await self._wake_event().wait()

    async def _node_loop(self, spec: NodeSpec) -> None:
        while True:
            await self._tick()
            await self._poll_spec(spec)
            self._fresh.set()

    async def _publish_loop(self) -> None:
        """Publish as soon as new readings land (a burst from one tick coalesced into one
        snapshot), and at least every ``interval`` so timeouts and stalls show up."""
        while True:
            with trio.move_on_after(self.interval):
                await self._fresh.wait()
                await trio.sleep(min(_COALESCE, self.interval / 4))
            self._fresh = trio.Event()
            while self.paused:
                await self._wake_event().wait()
            self._publish()

    def _publish(self) -> FleetSnapshot:
        self._round += 1
        snapshot = self._build(self._clock())
        self._snapshot = snapshot
        self._published += 1
        for send in list(self._subscribers):
            try:
                send.send_nowait(snapshot)
            except trio.WouldBlock:
                pass  # the reader still has an older one queued: it catches up on the next
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.remove(send)
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot)
        return snapshot

    # --- polling --------------------------------------------------------------------------------

    def _client(self, url: str) -> JsonRpcClient:
        client = self._clients.get(url)
        if client is None:
            client = JsonRpcClient(url, transport=self._transport, timeout=self.timeout)
            self._clients[url] = client
        return client

    def _node(self, url: str) -> RollupNodeClient:
        """The rollup-node API over :meth:`_client`'s JSON-RPC client for ``url`` (which we close)."""
        return RollupNodeClient(rpc=self._client(url))

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport, timeout=self.timeout)
        return self._http

    async def _poll_spec(self, spec: NodeSpec) -> None:
        """Poll one configured node (a supernode root: all its routes) within ``timeout``."""
        info = self._info.get(spec.url)
        if info is None:
            route = route_chain(spec.url)
            info = self._info[spec.url] = _UrlInfo(chain=spec.chain or route)
            info.supernode_root = spec.role is Role.SUPERNODE and route is None
        started = trio.current_time()
        readings: list[_Reading] = []
        with trio.move_on_after(self.timeout) as scope:
            readings = await self._read(spec, info)
        if scope.cancelled_caught:
            readings = self._timed_out(spec, info, trio.current_time() - started)
        for reading in readings:
            self._polls += 1
            self._failed += reading.status is None
            self._record(reading)

    def _timed_out(self, spec: NodeSpec, info: _UrlInfo, elapsed: float) -> list[_Reading]:
        error = f"no answer within {self.timeout:g}s"
        now = self._clock()
        if info.supernode_root and self._routes.get(spec.name):
            return [_Reading(self._route_spec(spec, chain), spec.name, error=error, polled_at=now)
                    for chain in self._routes[spec.name]]
        return [_Reading(spec, spec.name, error=error, polled_at=now, latency=None)]

    async def _read(self, spec: NodeSpec, info: _UrlInfo) -> list[_Reading]:
        client = self._node(spec.url)
        if not info.supernode_root:
            reading = _Reading(spec, spec.name)
            t0 = trio.current_time()
            async with trio.open_nursery() as nursery:
                if spec.metrics_url:
                    nursery.start_soon(self._scrape, spec.metrics_url, reading)
                nursery.start_soon(self._readiness, spec.url, info, reading)
                try:
                    reading.status = await client.sync_status()
                except DecodeError as exc:
                    reading.latency = trio.current_time() - t0
                    _unreadable(reading, exc)
                except RpcCallError as exc:
                    if _says_not_ready(exc):
                        reading.not_ready = _one_line(exc.message)
                    elif not exc.is_method_not_found:
                        _fail(reading, exc, garbage=True)
                    else:  # not an op-node API: maybe a supernode root
                        info.supernode_root = True
                        nursery.cancel_scope.cancel()
                except RpcHttpError as exc:
                    if proxy_not_ready(exc):  # a proxy before its first consensus
                        reading.not_ready = "no consensus among its backends yet (-32025)"
                    else:
                        _fail(reading, exc)
                except OpfleetError as exc:
                    _fail(reading, exc)
                else:
                    reading.latency = trio.current_time() - t0
            if not info.supernode_root:
                reading.polled_at = self._clock()
                if reading.status is not None:
                    await self._learn(spec.url, info, client, spec)
                    await self._lookup_targets(reading, info)
                if Role.PROXY in (spec.role, info.role):
                    reading.proxy = await _proxy_report(client)
                return [reading]
        return await self._read_supernode(spec, client)

    async def _read_supernode(self, spec: NodeSpec, client: RollupNodeClient) -> list[_Reading]:
        t0 = trio.current_time()
        try:
            found = await client.supernode_sync_status()
            latency = trio.current_time() - t0
        except OpfleetError as exc:
            known = self._routes.get(spec.name, ())
            targets = [self._route_spec(spec, c) for c in known] or [spec]
            out = []
            for target in targets:
                reading = _Reading(target, spec.name, polled_at=self._clock())
                _fail(reading, exc, garbage=isinstance(exc, (DecodeError, RpcCallError)))
                out.append(reading)
            return out
        ids = found.chain_ids()
        self._routes[spec.name] = tuple(ids)
        out = []
        for chain in ids:
            route = self._route_spec(spec, str(chain))
            reading = _Reading(route, spec.name, latency=latency, polled_at=self._clock())
            _parse(reading, found.chains[chain])
            out.append(reading)
            info = self._info.setdefault(route.url, _UrlInfo(chain=str(chain)))
            if reading.status is not None:
                await self._learn(route.url, info, self._node(route.url))
                await self._lookup_targets(reading, info)
        return out

    @staticmethod
    def _route_spec(root: NodeSpec, chain: str) -> NodeSpec:
        return NodeSpec(name=f"{root.name}/{chain}", url=f"{root.url.rstrip('/')}/{chain}",
                        role=Role.SUPERNODE, chain=chain, el_url=None, metrics_url=None, follows=())

    async def _learn(self, url: str, info: _UrlInfo, client: RollupNodeClient, spec: NodeSpec | None = None) -> None:
        """Chain ID and block time from ``optimism_rollupConfig``, and (for a spec without a role)
        what the node says it is, once per URL (best effort)."""
        if spec is not None and spec.role is Role.UNKNOWN and not info.role_probed:
            info.role_probed = True
            identity = await probe_role(client)
            info.role, info.sequencing = identity.role, identity.sequencing
        if info.block_time is not None:
            return
        try:
            config = await client.chain_identity()
        except OpfleetError:  # a node without it (or not a config): don't ask again
            info.block_time = float(analysis.DEFAULT_BLOCK_TIME)
            return
        if info.chain is None and config.l2_chain_id is not None:
            info.chain = str(config.l2_chain_id)
        info.block_time = config.block_time
        if info.block_time is None:
            info.block_time = float(analysis.DEFAULT_BLOCK_TIME)

    async def _readiness(self, url: str, info: _UrlInfo, reading: _Reading) -> None:
        """``GET <url>/healthz``: a 503 makes the node NOT READY (with the reason an opfleet node
        gives). A node whose answer is not a readiness report (op-node's is ``{"version"}``, 200
        from its first second; a 404) is not asked again. At most :data:`_HEALTH_BODY` bytes are
        read: a node cannot make us buffer more."""
        if info.readiness is False:
            return
        parts = urlsplit(url)
        health = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/healthz", "", ""))
        try:
            async with self._http_client().stream("GET", health) as response:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _HEALTH_BODY:
                        break
                code = response.status_code
        except httpx.HTTPError:
            return  # the RPC call reports the node being down
        try:
            answer = json.loads(body) if len(body) <= _HEALTH_BODY else None
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            answer = None
        report = isinstance(answer, dict) and "ready" in answer
        if code != 503:
            info.readiness = info.readiness or report
            return
        reason = answer.get("reason") if report and isinstance(answer, dict) else None
        reading.not_ready = _one_line(reason if isinstance(reason, str) and reason.strip()
                                      else "not ready: its /healthz answers 503")

    async def _scrape(self, url: str, reading: _Reading) -> None:
        try:
            response = await self._http_client().get(url)
            response.raise_for_status()
        except httpx.HTTPError:
            return  # metrics are optional: no follow outcomes this round, no alarm
        reading.follow_results = analysis.parse_prometheus(response.text, analysis.FOLLOW_METRIC, "result")

    async def _lookup_targets(self, reading: _Reading, info: _UrlInfo) -> None:
        """Fetch this node's hashes at the fleet's comparison heights it has passed but not seen."""
        assert reading.status is not None
        state = self._rows.get(reading.spec.name)
        chain = info.chain if reading.spec.chain is None else reading.spec.chain
        heights = self._targets.get(chain, set())
        top = reading.status.unsafe_l2.number
        own = analysis.known_blocks(reading.status)
        missing = sorted(h for h in heights
                         if h <= top and h not in own and (state is None or h not in state.known))
        for number in missing[:2]:  # bounded: the next rounds catch up
            found = await self._block_hash(reading.spec, info, number)
            if found is None:
                return
            if state is not None:
                state.known[number] = (found, "lookup", self._round)

    async def _block_hash(self, spec: NodeSpec, info: _UrlInfo, number: int) -> bytes | None:
        if info.lookup == "none":
            return None
        self._lookups += 1
        try:
            if spec.el_url:
                block = await self._client(spec.el_url).call("eth_getBlockByNumber", hex(number), False)
                return parse_data(block.get("hash") if isinstance(block, dict) else None, 32, "hash")
            return (await self._node(spec.url).output_at_block(number)).block_ref.hash
        except RpcCallError as exc:
            if exc.is_method_not_found:
                info.lookup = "none"
            return None
        except OpfleetError:  # down, or an answer without a block hash in it
            return None

    # --- bookkeeping ----------------------------------------------------------------------------

    def _record(self, reading: _Reading) -> None:
        name = reading.spec.name
        state = self._rows.get(name)
        if state is None:
            state = self._rows[name] = _RowState(reading)
        previous = state.reading
        state.reading = reading
        if reading.follow_results is not None:
            state.follow_failing = analysis.follow_failures(state.follow_prev, reading.follow_results)
            state.follow_prev = reading.follow_results
        status = reading.status
        if status is None:
            return
        now = reading.polled_at
        if state.first_ok is None:
            state.first_ok = now
        old_heads = heads_of(previous.status) if previous is not reading else {}
        for head, ref in heads_of(status).items():
            kept = state.head_since.get(head)
            if kept is None or kept[0] != ref.hash:
                state.head_since[head] = (ref.hash, now)
                old = old_heads.get(head)
                if old is not None and head in _WATCHED and old.hash != ref.hash:
                    state.changes.append(HeadChange(now, head, old.number, ref.number, ref.hash))
        top = status.unsafe_l2.number
        for number in [n for n in state.known if n > top]:
            del state.known[number]  # reorged away (or never ours)
        for number, (block_hash, head) in analysis.known_blocks(status).items():
            state.known[number] = (block_hash, head, self._round)
        if len(state.known) > _KNOWN_BLOCKS:
            for number in sorted(state.known)[: len(state.known) - _KNOWN_BLOCKS]:
                del state.known[number]

    def _chain_of(self, reading: _Reading) -> str | None:
        if reading.spec.chain is not None:
            return reading.spec.chain
        info = self._info.get(reading.spec.url)
        return info.chain if info else None

    def _block_time(self, reading: _Reading) -> float:
        info = self._info.get(reading.spec.url)
        return info.block_time if info and info.block_time else float(analysis.DEFAULT_BLOCK_TIME)

    def _build(self, now: float) -> FleetSnapshot:
        """Assemble a snapshot from the latest reading of every row (pure bookkeeping, no I/O)."""
        rows = [self._rows[name] for name in self._row_order() if name in self._rows]
        for state in rows:  # a spec without a role is judged (and grouped) by what it is
            state.reading.spec = self._with_role(state.reading)
        readings = [s.reading for s in rows]
        chains = {r.spec.name: self._chain_of(r) for r in readings}
        ok = [(chains[r.spec.name], r.status) for r in readings if r.status is not None]
        best = analysis.best_heads(ok)
        thresholds = self.thresholds

        # divergence over what each node vouches for, recent entries only
        fresh = self._round - _KNOWN_MAX_AGE_ROUNDS
        blocks = {s.reading.spec.name: {n: (h, head) for n, (h, head, r) in s.known.items() if r >= fresh}
                  for s in rows}
        found = analysis.divergences(chains, blocks)
        divergent: dict[str, list[str]] = {}
        for d in found:
            text = ", ".join(f"{n} {h.hex()[:8]}" for n, h in d.hashes.items())
            for name in d.hashes:
                divergent.setdefault(name, []).append(
                    f"{name}: block {d.number} differs across nodes of chain {d.chain or '?'} ({text})")

        # the next rounds compare at each chain's lowest unsafe and safe heads
        targets: dict[str | None, set[int]] = {}
        lowest: dict[str | None, list[int]] = {}
        for chain, status in ok:
            if status.unsafe_l2.is_zero():
                continue  # not ready: nothing to compare at
            pair = lowest.setdefault(chain, [status.unsafe_l2.number, status.safe_l2.number])
            pair[0] = min(pair[0], status.unsafe_l2.number)
            pair[1] = min(pair[1], status.safe_l2.number)
        for chain, (unsafe_n, safe_n) in lowest.items():
            targets[chain] = {unsafe_n, safe_n}
        self._targets = targets

        # sources each light node depends on (resolved to row names)
        resolved = {r.spec.name: self._resolve_sources(r, readings, chains) for r in readings}
        tier_alarms = analysis.source_tier_alarms(
            (r.spec.name, r.spec.role, chains[r.spec.name], resolved[r.spec.name], r.status is not None)
            for r in readings)
        by_node: dict[str | None, list[Alarm]] = {}
        for alarm in tier_alarms:
            by_node.setdefault(alarm.node, []).append(alarm)

        by_name = {r.spec.name: r for r in readings}
        nodes: list[NodeSnapshot] = []
        for state in rows:
            r = state.reading
            name = r.spec.name
            chain = chains[name]
            alarms: list[Alarm] = [Alarm(AlarmKind.DIVERGENT, name, m) for m in divergent.get(name, ())]
            lag_u = lag_s = analysis.UNKNOWN_LAG
            src_u = src_s = derivation = None
            stalled: tuple[str, ...] = ()
            not_ready = r.not_ready or (None if r.status is None
                                        else analysis.not_ready_reason(r.status, r.spec.role))
            if not_ready is not None:
                # nothing it reports is a chain yet: neither lagging nor healthy
                alarms.append(Alarm(AlarmKind.NOT_READY, name, f"{name}: {not_ready}"))
            elif r.status is None:
                kind = AlarmKind.GARBAGE if r.garbage else AlarmKind.UNREACHABLE
                alarms.append(Alarm(kind, name, f"{name}: {r.error}"))
            if r.status is not None:
                owned = analysis.owned_heads(r.spec.role)
                lags = {head: analysis.lag_behind(analysis.head_ref(r.status, head), best[chain][head])
                        for head in analysis.LAG_HEADS}
                lag_u, lag_s = lags["unsafe"], lags["safe"]
                source = _best_source(resolved[name], by_name)
                if source is not None and source.status is not None:  # _best_source picks answering ones
                    src_u = analysis.lag_behind(r.status.unsafe_l2, source.status.unsafe_l2)
                    src_s = analysis.lag_behind(r.status.safe_l2, source.status.safe_l2)
                if r.spec.role in analysis.DERIVING_ROLES:
                    derivation = analysis.derivation_lag(r.status)
            if r.status is not None and not_ready is None:
                lagging = analysis.lag_alarm(name, "the fleet's best", {h: lags[h] for h in owned}, thresholds)
                if source is not None:
                    lagging = lagging or analysis.lag_alarm(
                        name, f"its source {source.spec.name}",
                        {h: lag for h, lag in (("unsafe", src_u), ("safe", src_s)) if h in owned}, thresholds)
                if lagging is not None:
                    alarms.append(lagging)
                behind_l1 = analysis.derivation_alarm(name, derivation, r.status, thresholds)
                if behind_l1 is not None:
                    alarms.append(behind_l1)
                block_time = self._block_time(r)
                since = {h: t for h, (_, t) in state.head_since.items()}
                stalled = analysis.stalled_heads(since, state.first_ok or now, now, block_time, thresholds,
                                                 owned)
                if ("unsafe" in owned and "unsafe" not in stalled and now - (state.first_ok or now)
                        < thresholds.stall_unsafe_blocks * block_time
                        and analysis.stalled_by_age(r.status, block_time, thresholds)):
                    stalled = ("unsafe", *stalled)
                if stalled:
                    alarms.append(Alarm(AlarmKind.STALLED, name,
                                        f"{name}: {' and '.join(stalled)} head not moving"))
                if state.follow_failing:
                    detail = ", ".join(f"{k} +{v:g}" for k, v in sorted(state.follow_failing.items()))
                    alarms.append(Alarm(AlarmKind.FOLLOW_FAILING, name,
                                        f"{name}: follow-source checks failing ({detail})"))
            if r.proxy is not None and r.proxy.halted:
                alarms.append(Alarm(AlarmKind.PROXY_HALTED, name,
                                    f"{name}: halted, its backends split on an output root (serving the last "
                                    f"agreed status; other calls fail)"))
            alarms.extend(by_node.get(name, ()))
            point = HistoryPoint(now, r.status.unsafe_l2.number if r.status else None,
                                 r.status.safe_l2.number if r.status else None,
                                 lag_u.blocks, lag_s.blocks)
            state.history.append(point)
            while len(state.history) > self.history:
                state.history.popleft()
            nodes.append(NodeSnapshot(
                spec=r.spec, status=r.status, error=r.error, latency=r.latency, polled_at=r.polled_at,
                chain=chain, lag_unsafe=lag_u, lag_safe=lag_s, source_lag_unsafe=src_u,
                source_lag_safe=src_s, derivation_lag=derivation, stalled_heads=stalled, history=tuple(state.history),
                changes=tuple(state.changes),
                follow_results=None if r.follow_results is None else dict(r.follow_results),
                alarms=tuple(alarms), garbage=r.garbage, proxy=r.proxy,
            ))
        all_alarms = [a for n in nodes for a in n.alarms] + by_node.get(None, [])
        return FleetSnapshot(taken_at=now, nodes=tuple(nodes), alarms=tuple(all_alarms),
                             divergences=tuple(found))

    def _with_role(self, reading: _Reading) -> NodeSpec:
        """The spec with a role: the profile's, else what the node said it is, else what its heads
        show (re-read every poll: a sequencer's unsafe head only runs ahead once it sequences)."""
        spec = reading.spec
        if spec.role is not Role.UNKNOWN:
            return spec
        info = self._info.get(spec.url)
        role = info.role if info is not None else None
        if role is None and reading.status is not None:
            role = role_from_status(reading.status, sequencing=info.sequencing if info else None)
        return spec if role is None else replace(spec, role=role)

    def _row_order(self) -> list[str]:
        """Rows in profile order, a supernode root's routes in chain order where the root was."""
        order: list[str] = []
        for spec in self.specs:
            routes = self._routes.get(spec.name)
            if routes and self._info.get(spec.url, _UrlInfo()).supernode_root:
                order.extend(f"{spec.name}/{c}" for c in routes)
            else:
                order.append(spec.name)
        return order

    @staticmethod
    def _resolve_sources(reading: _Reading, readings: list[_Reading],
                         chains: dict[str, str | None]) -> tuple[str, ...]:
        """Row names of the sources a light node follows: a root name resolves to its route on
        the light node's chain."""
        chain = chains[reading.spec.name]
        out: list[str] = []
        for wanted in reading.spec.follows:
            for other in readings:
                if other.spec.name == wanted or (other.origin == wanted and other.spec.name != wanted
                                                 and chains[other.spec.name] == chain):
                    out.append(other.spec.name)
        return tuple(out)


def _best_source(sources: tuple[str, ...], by_name: dict[str, _Reading]) -> _Reading | None:
    up = [by_name[s] for s in sources if s in by_name and by_name[s].status is not None]
    return max(up, key=lambda r: r.status.safe_l2.number if r.status is not None else -1, default=None)


async def _proxy_report(client: RollupNodeClient) -> ProxyState | None:
    """An opfleet proxy's consensus state from ``opfleet_nodeInfo`` (None from proxyd, which has none)."""
    try:
        info = await client.node_info()
    except OpfleetError:
        return None
    return ProxyState.from_json(info.proxy)


def _says_not_ready(exc: RpcCallError) -> bool:
    """opfleet (and op-node's follow clients) answer -32000 "not ready…" while the heads are unknown."""
    return exc.code == -32000 and "not ready" in exc.message.lower()


def _fail(reading: _Reading, exc: BaseException, *, garbage: bool = False) -> None:
    reading.error = _one_line(str(exc))
    reading.garbage = garbage


def _parse(reading: _Reading, raw: Any) -> None:
    try:
        reading.status = SyncStatus.from_json(raw)
    except DecodeError as exc:
        _unreadable(reading, exc)


def _unreadable(reading: _Reading, exc: DecodeError) -> None:
    reading.error = _one_line(f"unreadable sync status: {exc}")
    reading.garbage = True


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
