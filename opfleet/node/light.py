"""The light node: follow a source's safe chain, derive nothing (op-node ``--l2.follow.source``).

::

    LightNode.run()                         outer nursery, owns every client
    ├── RPC server (optimism_*, opfleet_*, /healthz readiness, /livez)   started first
    ├── metrics server (--metrics.enabled)
    ├── L1 watcher: head / safe / finalized (one batch) every --l1.http-poll-interval (12 s)
    ├── one watcher per source: the source's SyncStatus, pushed or polled, sanity-checked
    ├── follow loop: consensus over the sources -> decision table -> heads -> forkchoice update
    ├── payload puller (--l2.follow.payloads): copies blocks from an L2 EL RPC into ours
    └── sequencer (--sequencer.enabled): builds unsafe blocks; we are its SequencerHost

**Per tick, one request to each source.** When the source is opfleet, that request is the long
poll ``opfleet_waitSyncStatus(known, timeout_ms)`` (:mod:`opfleet.rpc.optimism`): it answers as
soon as the source's local-safe, safe, finalized or ``current_l1`` is another block than the one
we know, so a safe-head change reaches us in one round trip instead of up to one poll interval.
Support is detected by the first call itself (an empty ``known`` answers at once); a source that
answers -32601 (op-node, a supernode route, proxyd) is polled with ``optimism_syncStatus`` every
``--l2.follow.source.poll-interval`` (default 2 x block time, op-node's upstream-sync ticker).

Each status goes through op-node's sanity checks (:mod:`opfleet.node.follow`), counted in
``op_node_follow_source_requests_total{result=...}``; with several sources
:mod:`opfleet.node.consensus` picks what a majority agrees on. The follow loop then applies
op-node's decision table under :attr:`LightNode.engine_lock` (shared with the payload puller and
the sequencer, so engine calls never interleave) and sends ``engine_forkchoiceUpdatedV3`` with
head = unsafe, safe = the source's ``safe_l2``, finalized = its ``finalized_l2`` (ref section 1.5),
skipping one identical to the last sent.

**L1 reads.** A light node derives nothing, so its own L1 serves only the sanity checks and the
L1 heads it reports (a light sequencer's origin selection makes its own reads). The heads are
polled at op-node's ``--l1.http-poll-interval`` default, 12 s (one batch: latest, safe,
finalized). The checks read our L1 on every tick, as op-node does: the L1 origins of the
source's local-safe, safe and finalized heads and its ``current_l1``, each distinct number once,
all in ONE batched request. Only refs at or below our L1's finalized block are remembered
(:class:`~opfleet.node.follow.FinalizedL1`): no reorg can replace them. So a tick costs one HTTP
request carrying one call per distinct L1 number above our L1's finalized block (usually two:
the safe heads' origin and ``current_l1``; the finalized head's origin is below it), and none
when every number is finalized. ``statistics().l1_checks`` and the
``opfleet_follow_l1_check_*_total`` counters count ticks, calls and requests.

Failures: a source that is down or slow (``--l2.follow.source.rpc-timeout``) only stalls the safe
heads, retried with backoff and logged once per outage; our L1 or EL down likewise. A source on
another chain (``optimism_rollupConfig``: L2 chain id or genesis) is refused at first contact
with a :class:`~opfleet.errors.ConfigError`.

Where we deliberately differ from op-node: no ``--l1.beacon`` is needed (a light node reads no
blobs; op-node still requires one from Ecotone because its start-up code is shared); the
``pending_safe_l2`` we report is the local-safe head (op-node leaves it where it was at start);
an InvalidForkchoiceState answer is logged and retried when the heads change, not a reset.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import trio

from opfleet.config import defaults
from opfleet.engine.l2_chain import EngineL2Chain
from opfleet.errors import BlockNotFoundError, ConfigError, DecodeError, NodeError, TemporaryError
from opfleet.log import mask_url
from opfleet.node.consensus import DEFAULT_BAN_PERIOD, DEFAULT_SYNC_THRESHOLD, agree
from opfleet.node.follow import (
    FinalizedL1,
    FinalizedL1Statistics,
    FollowAction,
    FollowResult,
    FollowTarget,
    Heads,
    all_zero,
    check_status_batch,
    follow_step,
)
from opfleet.node.outage import Outage
from opfleet.node.payloads import PayloadPuller
from opfleet.node.source import EL_HEADS_AT_START_TIMEOUT, SourceMetrics
from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF, BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.engine_api import ForkchoiceState, PayloadStatus
from opfleet.protocol.ethjson import header_from_json
from opfleet.protocol.hexjson import hex_quantity
from opfleet.protocol.l1_block_info import BlobSchedule
from opfleet.protocol.output_root import OutputV0
from opfleet.protocol.rollup_api import ChainIdentity
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.engine import EngineClient, InvalidForkchoiceState
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.l1 import L1Provider, LRUCache
from opfleet.providers.rollup_node import RollupNodeClient
from opfleet.rpc.metrics import Registry, serve_metrics
from opfleet.rpc.optimism import source_rpc_server
from opfleet.rpc.server import JsonRpcServer

log = logging.getLogger("opfleet.light")

__all__ = ["LightConfig", "LightMetrics", "LightNode", "LightStatistics", "SourceState"]

PUSH = "push"
POLL = "poll"


@dataclass(frozen=True, slots=True)
class LightConfig:
    """Everything a light node needs (the CLI fills it from ``opfleet light`` settings)."""

    rollup_config: RollupConfig
    sources: tuple[str, ...]
    """``--l2.follow.source`` URLs: op-node-compatible RPCs (opfleet, op-node, supernode routes, proxyd)."""
    l1_url: str
    l2_url: str
    """Engine API (authenticated) endpoint; L2 blocks are read there too."""
    jwt_secret: bytes
    source_rpc_timeout: float = defaults.FOLLOW_SOURCE_RPC_TIMEOUT
    poll_interval: float = 0.0
    """Polling interval for sources that cannot push; 0 = 2 x block time (op-node)."""
    push_wait: float = 5.0
    """How long a pushed request may wait at the source for a change (capped below the timeout)."""
    payloads_url: str | None = None
    payloads_interval: float = 0.0
    """How often to ask ``payloads_url`` for new blocks; 0 = block time / 2."""
    l1_poll_interval: float = defaults.L1_HTTP_POLL_INTERVAL
    rpc_addr: str = defaults.RPC_ADDR
    rpc_port: int = defaults.RPC_PORT
    enable_admin: bool = False
    metrics_enabled: bool = False
    metrics_addr: str = defaults.METRICS_ADDR
    metrics_port: int = defaults.METRICS_PORT
    sequencer_enabled: bool = False
    sequencer_config: Any = None
    """An ``opfleet.node.sequencer.SequencerConfig`` (None: its defaults)."""
    sequencer_clock: Callable[[], float] = time.time
    """The sequencer's wall clock (tests and the devnet inject one)."""
    blob_schedule: BlobSchedule | None = None
    """The L1's blob fee schedule for the sequencer's L1-info deposits (``--rollup.l1-chain-config``);
    None: the built-in one of a public L1."""
    sync_threshold: int = DEFAULT_SYNC_THRESHOLD
    ban_period: float = DEFAULT_BAN_PERIOD
    backoff_base: float = defaults.BACKOFF_BASE
    backoff_cap: float = defaults.BACKOFF_CAP
    p2p: Any = None
    """An ``opfleet.p2p.P2PConfig``: unsafe blocks by op-node's gossip (None: ``--p2p.disable``)."""

    def __post_init__(self) -> None:
        if not self.sources:
            raise ConfigError("a light node needs at least one source: set --l2.follow.source", key="l2.follow.source")
        if self.sequencer_enabled and self.payloads_url:
            raise ConfigError("--l2.follow.payloads copies someone else's blocks; a sequencer builds its own: "
                              "set only one of --sequencer.enabled and --l2.follow.payloads", key="l2.follow.payloads")

    @property
    def effective_poll_interval(self) -> float:
        return self.poll_interval or 2.0 * self.rollup_config.block_time

    @property
    def effective_push_wait(self) -> float:
        return max(0.0, min(self.push_wait, self.source_rpc_timeout / 2))


class LightMetrics(SourceMetrics):
    """The source node's metrics (refs, RPC client requests, up) plus the follow-source ones."""

    def __init__(self, registry: Registry | None = None):
        super().__init__(registry)
        r = self.registry
        self.follow_requests = r.counter("op_node_follow_source_requests_total",
                                         "Follow-source syncStatus requests by result", ("result",))
        self.consensus_ok = r.gauge("opfleet_follow_consensus_ok",
                                    "1 while a majority of follow sources agree (0: safe head held)")
        self.source_up = r.gauge("opfleet_follow_source_up",
                                 "1 if the follow source's last status was fetched and sane", ("source",))
        self.source_push = r.gauge("opfleet_follow_source_push",
                                   "1 if the follow source pushes changes (opfleet_waitSyncStatus)", ("source",))
        self.forkchoice_updates = r.counter("opfleet_follow_forkchoice_updates_total",
                                            "Forkchoice updates sent to the execution client")
        self.l1_check_ticks = r.counter("opfleet_follow_l1_check_ticks_total",
                                        "Follow-source statuses checked against our L1")
        self.l1_check_calls = r.counter("opfleet_follow_l1_check_calls_total",
                                        "L1 JSON-RPC calls made by the follow-source sanity checks")
        self.l1_check_requests = r.counter("opfleet_follow_l1_check_requests_total",
                                           "L1 HTTP requests (batches) made by the follow-source sanity checks")
        self.consensus_ok.set(1)


@dataclass
class SourceState:
    """What the node knows about one source (read by statistics and the consensus)."""

    url: str
    client: JsonRpcClient
    mode: str | None = None
    """``push``, ``poll``, or None until the first answer."""
    status: SyncStatus | None = None
    """The last status that passed the sanity checks; None while down or insane."""
    last_result: FollowResult | None = None
    not_ready: SyncStatus | None = None
    """Its last status, while that one had all-zero heads (it has not read its chain yet)."""
    chain_checked: bool = False
    results: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return mask_url(self.url)

    @property
    def node(self) -> RollupNodeClient:
        """The rollup-node API over :attr:`client` (which this state owns and closes)."""
        return RollupNodeClient(rpc=self.client)


@dataclass(frozen=True, slots=True)
class L1CheckStatistics:
    """What the sanity checks cost our L1: statuses checked, calls and HTTP requests made."""

    ticks: int = 0
    calls: int = 0
    """JSON-RPC calls (one per distinct L1 number not known final)."""
    requests: int = 0
    """HTTP requests: at most one per tick (one batch)."""

    @property
    def calls_per_tick(self) -> float:
        return self.calls / self.ticks if self.ticks else 0.0

    @property
    def requests_per_tick(self) -> float:
        return self.requests / self.ticks if self.ticks else 0.0


@dataclass(frozen=True, slots=True)
class LightStatistics:
    """A snapshot of a light node."""

    heads: Heads
    current_l1: L1BlockRef
    results: dict[str, int]
    """Sanity-check outcomes, by op-node's result label."""
    actions: dict[str, int]
    """Decision-table rows taken."""
    forkchoice_updates: int
    source_modes: dict[str, str | None]
    no_majority: int
    verified_l1: FinalizedL1Statistics | None = None
    """The sanity checks' cache of finalized L1 refs: refs confirmed without a call, lookups."""
    l1_checks: L1CheckStatistics = L1CheckStatistics()
    """What the sanity checks cost our L1, per tick."""


class LightNode:
    """A running light node; see the module docstring. Also the ``SequencerHost`` of its sequencer."""

    def __init__(self, config: LightConfig, *, metrics: LightMetrics | None = None):
        self.config = config
        self.rollup_config = config.rollup_config
        self.metrics = metrics or LightMetrics()
        self.engine_lock = trio.Lock()
        self.head_l1 = self.safe_l1 = self.finalized_l1 = ZERO_L1_BLOCK_REF
        self.current_l1 = ZERO_L1_BLOCK_REF
        self.rpc_port: int | None = None
        self.metrics_port: int | None = None
        self.sources = [SourceState(url, JsonRpcClient(url, timeout=config.source_rpc_timeout, name="follow source"))
                        for url in config.sources]
        self.sequencer: Any = None
        self.puller: PayloadPuller | None = None
        self.gossip: Any = None  # opfleet.node.gossip.NodeGossip with --p2p.*
        self._heads = Heads()
        self._heads_ready = False
        self._heads_ready_event = trio.Event()
        self._clients: dict[str, Any] = {}
        self._fatal: list[BaseException] = []
        self._engine: EngineClient | None = None
        self._l1: L1Provider | None = None
        self._l2: EngineL2Chain | None = None
        self._last_fcu: ForkchoiceState | None = None
        self._fcu_syncing = False  # the EL answered SYNCING to _last_fcu: it lacks our unsafe head
        self._retry_in: float | None = None
        self._el_error: BaseException | None = None
        self._sources_changed = trio.Event()
        self._status_event = trio.Event()
        self._set_aside: dict[str, float] = {}
        self._verified_l1 = FinalizedL1()
        self._l1_checks = L1CheckStatistics()
        self._ref_cache: LRUCache[tuple[str, int, bytes], L2BlockRef] = LRUCache(256)
        self._no_majority = False
        self._counts = {"fcu": 0, "no_majority": 0}
        self._results: dict[str, int] = {}
        self._actions: dict[str, int] = {}
        self._el_outage = Outage("Execution client", config.backoff_base, config.backoff_cap, logger=log)

    # --- what the RPC reads (SourceView) ----------------------------------------------------------

    def sync_status(self) -> SyncStatus:
        """What a light node reports (ref section 1.6): its own unsafe head, the source's safe heads,
        the last validated source ``current_l1``, and L1 heads from its own L1."""
        h = self._heads
        return SyncStatus(current_l1=self.current_l1, head_l1=self.head_l1, safe_l1=self.safe_l1,
                          finalized_l1=self.finalized_l1, unsafe_l2=h.unsafe, safe_l2=h.safe,
                          finalized_l2=h.finalized, pending_safe_l2=h.local_safe, cross_unsafe_l2=h.unsafe,
                          local_safe_l2=h.local_safe)

    def status_not_ready(self) -> str | None:
        """Why ``optimism_syncStatus`` cannot be answered yet (None: it can): until our heads are
        read from the EL it answers this error, never all-zero heads (see
        :meth:`opfleet.node.source.SourceNode.status_not_ready` for op-node's start order)."""
        return None if self._heads_ready else "not ready: the execution client's heads have not been read yet"

    def readiness(self) -> str | None:
        """Why ``GET /healthz`` answers 503 (None: 200): ready once the node has its chain (heads
        read from the EL) and a follow source answers a status that passed the sanity checks.
        A light node with every source down holds its safe head: traffic should go elsewhere."""
        reason = self.status_not_ready()
        if reason is not None:
            return reason
        if any(source.status is not None for source in self.sources):
            return None
        states = ", ".join(f"{s.label} {s.last_result.value if s.last_result else 'no answer yet'}"
                           for s in self.sources)
        return f"not ready: no follow source answers a sane status ({states})"

    @property
    def node_role(self) -> str:
        """``opfleet_nodeInfo``'s role: a light node, or a light sequencer."""
        return "sequencer" if self.config.sequencer_enabled else "light"

    @property
    def follow_sources(self) -> tuple[str, ...]:
        return tuple(self.config.sources)

    async def output_at(self, number: int) -> tuple[OutputV0, L2BlockRef, SyncStatus]:
        status = self.sync_status()
        if self._l2 is None or number > status.unsafe_l2.number:
            raise BlockNotFoundError(f"L2 block {number} is ahead of the unsafe head")
        output, ref = await self._l2.output_v0(number)
        return output, ref, status

    def request_reset(self) -> None:
        """``admin_resetDerivationPipeline``: send the forkchoice state again on the next tick."""
        self._last_fcu = None
        self._sources_changed.set()

    async def wait_status_change(self, timeout: float) -> None:
        """Return when the heads change or after ``timeout`` (serves ``opfleet_waitSyncStatus``)."""
        with trio.move_on_after(timeout):
            await self._status_event.wait()

    def rpc_server(self) -> JsonRpcServer:
        return source_rpc_server(self, enable_admin=self.config.enable_admin)

    @property
    def sequencer_active(self) -> bool:
        return self.sequencer is not None

    @property
    def l2_heads(self) -> Heads:
        return self._heads

    def statistics(self) -> LightStatistics:
        return LightStatistics(self._heads, self.current_l1, dict(self._results), dict(self._actions),
                               self._counts["fcu"], {s.url: s.mode for s in self.sources}, self._counts["no_majority"],
                               self._verified_l1.statistics(), self._l1_checks)

    # --- SequencerHost ----------------------------------------------------------------------------

    def heads(self) -> tuple[L2BlockRef, L2BlockRef, L2BlockRef]:
        """(unsafe, safe, finalized), for the sequencer."""
        h = self._heads
        return h.unsafe, h.safe, h.finalized

    def on_sequenced(self, ref: L2BlockRef) -> None:
        """The sequencer built ``ref`` and made it the EL's head (with our safe and finalized)."""
        self._set_heads(replace(self._heads, unsafe=ref))
        self._last_fcu = ForkchoiceState(ref.hash, self._heads.safe.hash, self._heads.finalized.hash)

    # --- running ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[LightNode] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``task_status.started(self)`` once the RPC (and metrics) servers
        listen. Raises ConfigError when a source turns out to be on another chain."""
        cfg = self.config
        async with AsyncExitStack() as stack:
            for source in self.sources:
                stack.push_async_callback(source.client.aclose)
            l1_client = await stack.enter_async_context(JsonRpcClient(cfg.l1_url, name="L1"))
            self._l1 = L1Provider(l1_client)
            self._engine = await stack.enter_async_context(
                EngineClient(cfg.l2_url, cfg.jwt_secret, forks=self.rollup_config))
            self._l2 = EngineL2Chain(self._engine.client, self.rollup_config)
            clients: dict[str, Any] = {"l1": l1_client, "engine": self._engine.client}
            if cfg.payloads_url:
                remote = await stack.enter_async_context(JsonRpcClient(cfg.payloads_url, name="L2 payloads"))
                clients["payloads"] = remote
                self.puller = PayloadPuller(self.rollup_config, remote=remote, engine=self._engine, l2=self._l2,
                                            on_head=self._on_pulled_head,
                                            interval=cfg.payloads_interval or self.rollup_config.block_time / 2)
            for source in self.sources:
                clients[f"follow_source_{source.label}"] = source.client
            self._clients = clients
            with trio.move_on_after(EL_HEADS_AT_START_TIMEOUT):
                try:  # before the RPC server answers (see status_not_ready); retried by the follow loop
                    await self._read_heads()
                except NodeError as exc:
                    log.debug(f"Execution client heads not read at start: {exc}")
            async with trio.open_nursery() as nursery:
                self.rpc_port = await nursery.start(self.rpc_server().serve, cfg.rpc_addr, cfg.rpc_port)
                if cfg.metrics_enabled:
                    self.metrics_port = await nursery.start(serve_metrics, self.metrics.registry,
                                                            cfg.metrics_addr, cfg.metrics_port)
                nursery.start_soon(self._watch_l1)
                for source in self.sources:
                    nursery.start_soon(self._watch_source_or_stop, source, nursery.cancel_scope)
                nursery.start_soon(self._follow)
                if cfg.p2p is not None:
                    from opfleet.node.gossip import NodeGossip

                    self.gossip = await nursery.start(NodeGossip(
                        cfg.p2p, self.rollup_config, l1_client=l1_client, engine=self._engine,
                        on_head=self._on_pulled_head, registry=self.metrics.registry,
                        insert=not cfg.sequencer_enabled).run)
                if self.puller is not None:
                    pull = partial(self.puller.run, Outage("Payload pulling", cfg.backoff_base, cfg.backoff_cap,
                                                            logger=log))
                    if self.gossip is not None:  # --l2.follow.payloads stays as the fallback
                        from opfleet.node.gossip import pull_when_gossip_is_quiet

                        nursery.start_soon(pull_when_gossip_is_quiet, pull, self.gossip)
                    else:
                        nursery.start_soon(pull)
                if cfg.sequencer_enabled:
                    await self._start_sequencer(nursery)
                log.info("Light node started", extra={"fields": {
                    "rpc": f"http://{cfg.rpc_addr}:{self.rpc_port}", "l2_chain_id": self.rollup_config.l2_chain_id,
                    "sources": ",".join(s.label for s in self.sources), "sequencer": cfg.sequencer_enabled}})
                self.metrics.up.set(1)
                task_status.started(self)
            if self._fatal:
                raise self._fatal[0]

    async def _start_sequencer(self, nursery: trio.Nursery) -> None:
        from opfleet.node.sequencer import Sequencer, SequencerConfig, run_sequencer

        assert self._engine is not None and self._l1 is not None and self._l2 is not None
        await self._heads_ready_event.wait()  # the sequencer builds on the heads read from the EL
        self.sequencer = Sequencer(self.rollup_config, engine=self._engine, l1=self._l1, l2=self._l2,
                                   config=self.config.sequencer_config or SequencerConfig(),
                                   clock=self.config.sequencer_clock, blob_schedule=self.config.blob_schedule)
        if self.gossip is not None and self.gossip.can_publish:
            self.sequencer.on_built = self.gossip.publish_payload  # --p2p.sequencer.key
        await nursery.start(run_sequencer, self.sequencer, self)

    # --- heads ------------------------------------------------------------------------------------

    def _set_heads(self, heads: Heads) -> None:
        if heads == self._heads:
            return
        self._heads = heads
        for name, ref in (("l2_unsafe", heads.unsafe), ("l2_cross_unsafe", heads.unsafe),
                          ("l2_local_safe", heads.local_safe), ("l2_safe", heads.safe),
                          ("l2_finalized", heads.finalized), ("l2_backup_unsafe", heads.backup_unsafe)):
            self.metrics.ref("l2", name, ref)
        self._status_event.set()
        self._status_event = trio.Event()

    async def _init_heads(self) -> None:
        """Start from what the EL has (a restart resumes), as op-node's engine controller does
        (unless :meth:`run` read them already, before serving RPC)."""
        while not self._heads_ready:
            try:
                await self._read_heads()
            except NodeError as exc:
                await trio.sleep(self._el_outage.failed(exc))
                continue
            self._el_outage.ok()

    async def _read_heads(self) -> None:
        """One attempt at reading our heads from the EL; raises NodeError."""
        assert self._l2 is not None
        unsafe = await self._l2.l2_block_ref("latest")
        genesis = await self._l2.l2_block_ref(self.rollup_config.genesis.l2.number)
        safe = await self._label("safe", genesis)
        finalized = await self._label("finalized", genesis)
        if self._heads_ready:
            return
        self._set_heads(Heads(unsafe=unsafe, local_safe=safe, safe=safe, finalized=finalized))
        self._heads_ready = True
        self._heads_ready_event.set()
        log.info("Heads read from the execution client", extra={"fields": {
            "unsafe": unsafe.number, "safe": safe.number, "finalized": finalized.number}})

    async def _label(self, label: str, fallback: L2BlockRef) -> L2BlockRef:
        assert self._l2 is not None
        try:
            return await self._l2.l2_block_ref(label)
        except BlockNotFoundError:
            return fallback

    # --- L1 -----------------------------------------------------------------------------------------

    async def _watch_l1(self) -> None:
        outage = Outage("L1 head polling", self.config.backoff_base, self.config.backoff_cap, logger=log)
        while True:
            try:
                await self._poll_l1_heads()
            except NodeError as exc:
                await trio.sleep(outage.failed(exc))
                continue
            outage.ok()
            for name, ref in (("l1_head", self.head_l1), ("l1_safe", self.safe_l1),
                              ("l1_finalized", self.finalized_l1)):
                self.metrics.ref("l1", name, ref)
            for name, client in self._clients.items():
                self.metrics.requests(name, client.statistics().requests_by_method)
            await trio.sleep(self.config.l1_poll_interval)

    async def _poll_l1_heads(self) -> None:
        """One batched request: ``latest``, ``safe`` and ``finalized``."""
        assert self._l1 is not None
        params = ("latest", "safe", "finalized")
        answers = await self._l1.client.batch([("eth_getBlockByNumber", [p, False]) for p in params])
        head, safe, finalized = (self._parse_l1_ref(raw, label) for raw, label in zip(answers, params))
        if head is None or safe is None or finalized is None:
            raise BlockNotFoundError(f"{self._l1.client.endpoint}: our L1 has no latest/safe/finalized block yet")
        self._verified_l1.set_finalized(finalized)
        self.head_l1, self.safe_l1, self.finalized_l1 = head, safe, finalized
        if self.current_l1.number > head.number:
            self.current_l1 = head  # our L1 went back below it: no more than our head is known derived

    def _parse_l1_ref(self, raw: Any, what: Any) -> L1BlockRef | None:
        if raw is None:
            return None
        try:
            ref = header_from_json(raw).ref
        except DecodeError as exc:
            assert self._l1 is not None
            raise TemporaryError(f"{self._l1.client.endpoint}: malformed L1 block {what}: {exc}") from None
        if isinstance(what, str) and what.startswith("0x") and ref.number != int(what, 16):
            raise TemporaryError(f"asked our L1 for block {int(what, 16)}, got block {ref.number}")
        return ref

    async def _lookup_l1(self, blocks: Sequence[BlockID]) -> dict[int, L1BlockRef | BaseException]:
        """Our L1's canonical refs at the numbers of ``blocks`` for one tick's sanity checks: read
        from our L1 in ONE batched request, except refs at or below its finalized block that it
        already answered (:class:`FinalizedL1`)."""
        assert self._l1 is not None
        missing = sorted({b.number for b in blocks if not self._verified_l1.confirms(b)})
        found: dict[int, L1BlockRef | BaseException] = {}
        for b in blocks:
            if b.number not in missing:
                found[b.number] = self._verified_l1.get(b.number) or NodeError("evicted")
        checks = self._l1_checks
        self._l1_checks = replace(checks, ticks=checks.ticks + 1, calls=checks.calls + len(missing),
                                  requests=checks.requests + (1 if missing else 0))
        self.metrics.l1_check_ticks.inc()
        if not missing:
            return found
        self.metrics.l1_check_calls.inc(len(missing))
        self.metrics.l1_check_requests.inc()
        calls = [("eth_getBlockByNumber", [hex_quantity(n), False]) for n in missing]
        try:
            answers = await self._l1.client.batch(calls, return_errors=True)
        except NodeError as exc:
            return found | {n: exc for n in missing}
        for n, raw in zip(missing, answers):
            if isinstance(raw, BaseException):
                found[n] = raw
                continue
            try:
                ref = self._parse_l1_ref(raw, hex_quantity(n))
            except NodeError as exc:
                found[n] = exc
                continue
            if ref is None:
                found[n] = BlockNotFoundError(f"{self._l1.client.endpoint}: L1 block {n} not found")
            else:
                self._verified_l1.add(ref)
                found[n] = ref
        return found

    # --- sources ------------------------------------------------------------------------------------

    async def _check_chain(self, source: SourceState) -> None:
        """Refuse a source on another chain: its rollup config's L2 chain id and genesis must be ours."""
        try:
            theirs = await source.node.chain_identity()
        except DecodeError:  # not even an object: nothing says it is our chain
            raise ConfigError(f"follow source {source.label} is on another chain: optimism_rollupConfig did not "
                              "answer an object", key="l2.follow.source") from None
        except RpcCallError as exc:
            if not exc.is_method_not_found:
                raise
            log.warning("Follow source has no optimism_rollupConfig: cannot check it is on our chain",
                        extra={"fields": {"source": source.label}})
            source.chain_checked = True
            return
        ours = self.rollup_config
        problem = _chain_mismatch(theirs, ours)
        if problem is not None:
            raise ConfigError(f"follow source {source.label} is on another chain: {problem}", key="l2.follow.source")
        source.chain_checked = True

    def _count(self, source: SourceState, result: FollowResult) -> None:
        self.metrics.follow_requests.inc(result=result.value)
        self._results[result.value] = self._results.get(result.value, 0) + 1
        source.results[result.value] = source.results.get(result.value, 0) + 1

    async def _fetch(self, source: SourceState) -> SyncStatus:
        """One request: the long poll when the source pushes (or might), else ``optimism_syncStatus``."""
        if source.mode != POLL:
            basis = source.status or source.not_ready
            known = basis if source.mode == PUSH else None  # none known: it answers at once
            wait_ms = int(self.config.effective_push_wait * 1000) if known is not None else 0
            try:
                status = await source.node.wait_sync_status(known, wait_ms)
            except RpcCallError as exc:
                if not exc.is_method_not_found:
                    raise
                source.mode = POLL
                self.metrics.source_push.set(0, source=source.label)
                log.info("Follow source cannot push: polling it", extra={"fields": {
                    "source": source.label, "interval": f"{self.config.effective_poll_interval:g}s"}})
            else:
                if source.mode is None:
                    log.info("Follow source pushes changes", extra={"fields": {"source": source.label}})
                    self.metrics.source_push.set(1, source=source.label)
                source.mode = PUSH
                return status
        return await source.node.sync_status()

    async def _watch_source_or_stop(self, source: SourceState, scope: trio.CancelScope) -> None:
        try:
            await self._watch_source(source)
        except ConfigError as exc:
            self._fatal.append(exc)  # run() raises it: the CLI prints it as one line
            scope.cancel()

    async def _watch_source(self, source: SourceState) -> None:
        cfg = self.config
        outage = Outage(f"Follow source {source.label}", cfg.backoff_base, cfg.backoff_cap, logger=log)
        insane = Outage(f"Follow source {source.label} sanity checks", cfg.backoff_base,
                         min(cfg.backoff_cap, cfg.effective_poll_interval), logger=log)
        while True:
            try:
                if not source.chain_checked:
                    await self._check_chain(source)
                status = await self._fetch(source)
            except (NodeError, DecodeError) as exc:
                self._count(source, FollowResult.ERROR_FETCH_STATUS)
                self._source_result(source, None, FollowResult.ERROR_FETCH_STATUS)
                await trio.sleep(outage.failed(exc))
                continue
            outage.ok()
            if all_zero(status):
                # Not ready (it answered before reading its chain): nothing to check or follow.
                # Counted like a failed fetch, logged once; a pushing source is asked to answer
                # as soon as its heads change, a polled one is polled again at the interval.
                self._count(source, FollowResult.ERROR_FETCH_STATUS)
                self._source_result(source, None, FollowResult.ERROR_FETCH_STATUS)
                if source.not_ready is None:
                    log.info("Follow source not ready: its heads are all zero (it has not read its chain yet); "
                             "waiting for it", extra={"fields": {"source": source.label}})
                source.not_ready = status
                await trio.sleep(cfg.effective_poll_interval if source.mode == POLL else cfg.backoff_base)
                continue
            if source.not_ready is not None:
                source.not_ready = None
                log.debug("Follow source ready", extra={"fields": {"source": source.label}})
            check = await check_status_batch(status, self._lookup_l1)
            self._count(source, check.result)
            if not check.ok:
                # Tick skipped, as op-node does. A pushing source is asked again after a backoff
                # (the next request does not wait: we know no good status of it); a polled one
                # at the next poll, never sooner.
                self._source_result(source, None, check.result)
                delay = insane.failed(NodeError(f"{check.result.value}: {check.reason}"))
                await trio.sleep(cfg.effective_poll_interval if source.mode == POLL else delay)
                continue
            insane.ok()
            self._source_result(source, status, check.result)
            if source.mode == POLL:
                await trio.sleep(cfg.effective_poll_interval)

    def _source_result(self, source: SourceState, status: SyncStatus | None, result: FollowResult) -> None:
        source.status = status
        source.last_result = result
        self.metrics.source_up.set(1 if status is not None else 0, source=source.label)
        self._sources_changed.set()

    # --- consensus ----------------------------------------------------------------------------------

    async def _ref_at(self, url: str, number: int, reported: L2BlockRef) -> L2BlockRef:
        key = (url, number, reported.hash)
        cached = self._ref_cache.get(key)
        if cached is not None:
            return cached
        source = next(s for s in self.sources if s.url == url)
        ref = (await source.node.output_at_block(number)).block_ref
        self._ref_cache.put(key, ref)
        return ref

    async def _choose_target(self) -> FollowTarget | None:
        now = trio.current_time()
        for url, until in list(self._set_aside.items()):
            if until <= now:
                del self._set_aside[url]
                log.info("Follow source readmitted to the consensus", extra={"fields": {"source": mask_url(url)}})
        statuses = {s.url: s.status for s in self.sources}
        failed: set[str] = set()

        async def ref_at(url: str, number: int, reported: L2BlockRef) -> L2BlockRef:
            try:
                return await self._ref_at(url, number, reported)
            except (NodeError, DecodeError) as exc:
                failed.add(url)
                raise _LookupFailed(url, exc) from None

        for _ in range(len(self.sources) + 1):
            try:
                result = await agree({u: s for u, s in statuses.items() if u not in failed}, ref_at,
                                     set_aside=tuple(self._set_aside), sync_threshold=self.config.sync_threshold)
                break
            except _LookupFailed as exc:
                log.debug("Follow source block lookup failed", extra={"fields": {"source": mask_url(exc.url),
                                                                                  "err": str(exc.error)}})
        else:
            return None
        for url in result.disagreeing:
            self._set_aside[url] = now + self.config.ban_period
            log.warning("Follow source set aside: it disagrees with the majority", extra={"fields": {
                "source": mask_url(url), "reason": result.reasons.get(url, ""),
                "for": f"{self.config.ban_period:g}s"}})
        if result.no_majority != self._no_majority:
            self._no_majority = result.no_majority
            self.metrics.consensus_ok.set(0 if result.no_majority else 1)
            if result.no_majority:
                self._counts["no_majority"] += 1
                log.warning("Follow sources disagree and no majority agrees: holding the safe head",
                            extra={"fields": {"candidates": len(result.candidates)}})
            else:
                log.info("Follow sources agree again")
        return result.target

    # --- the follow loop ----------------------------------------------------------------------------

    async def _follow(self) -> None:
        await self._init_heads()
        while True:
            with trio.move_on_after(self._retry_in if self._retry_in is not None else math.inf):
                await self._sources_changed.wait()
            self._sources_changed = trio.Event()
            target = await self._choose_target()
            async with self.engine_lock:
                if target is not None:
                    await self._apply(target)
                await self._sync_forkchoice()

    async def _el_block_at(self, number: int) -> L2BlockRef:
        assert self._l2 is not None
        try:
            return await self._l2.l2_block_ref(number)
        except BlockNotFoundError:
            raise
        except NodeError as exc:
            self._el_error = exc
            raise

    async def _apply(self, target: FollowTarget) -> None:
        before = self._heads
        action, heads = await follow_step(before, target, self._el_block_at, sequencing=self.sequencer is not None)
        self._actions[action.value] = self._actions.get(action.value, 0) + 1
        if action is FollowAction.LOOKUP_ERROR:
            self._retry_in = self._el_outage.failed(self._el_error or NodeError("EL lookup failed"))
            return
        if action is FollowAction.FORCE_RESET:
            log.warning("Our unsafe chain conflicts with the source's local-safe block: resetting onto it",
                        extra={"fields": {"number": target.local_safe.number,
                                          "source_block": "0x" + target.local_safe.hash.hex()}})
            if self.sequencer is not None:
                self.sequencer.reset()
        elif action is FollowAction.CONFLICT:
            log.warning("Our unsafe chain conflicts with the source's local-safe block: reorging onto it",
                        extra={"fields": {"number": target.local_safe.number,
                                          "source_block": "0x" + target.local_safe.hash.hex()}})
        if not target.current_l1.is_zero():
            self.current_l1 = target.current_l1
            self.metrics.ref("l1", "l1_derived", target.current_l1)
            if target.current_l1.number > self.head_l1.number:
                # The sanity check has just read it from our L1: it is the newest block of our L1
                # we know, so our head moves up to it rather than trail current_l1 until the next
                # head poll (we never report a current_l1 above our head_l1).
                self.head_l1 = target.current_l1
                self.metrics.ref("l1", "l1_head", self.head_l1)
        self._set_heads(heads)
        if self.puller is not None and action.moves_unsafe:
            self.puller.wake()
        if heads.safe != before.safe:
            log.info("Following the source's safe head", extra={"fields": {
                "safe": heads.safe.number, "local_safe": heads.local_safe.number,
                "finalized": heads.finalized.number, "unsafe": heads.unsafe.number, "row": action.value}})

    async def _sync_forkchoice(self, *, resend_syncing: bool = False) -> None:
        """``engine_forkchoiceUpdatedV3`` with our heads, unless identical to the last one sent
        (sent again with ``resend_syncing`` if the EL answered that one SYNCING: it may have the
        head now)."""
        if not self._heads_ready or self._engine is None:
            return
        h = self._heads
        state = ForkchoiceState(h.unsafe.hash, h.safe.hash, h.finalized.hash)
        if state == self._last_fcu and not (resend_syncing and self._fcu_syncing):
            if self._el_outage.failures == 0:
                self._retry_in = None
            return
        try:
            result = await self._engine.forkchoice_updated(state, version=3)
        except InvalidForkchoiceState as exc:
            log.warning(f"Execution client refused the forkchoice state (retried when the heads change): {exc}")
            self._last_fcu = state
            self._fcu_syncing = False
            self._retry_in = None
            return
        except NodeError as exc:
            self._retry_in = self._el_outage.failed(exc)
            return
        self._el_outage.ok()
        self._retry_in = None
        self._last_fcu = state
        self._fcu_syncing = result.payload_status.status is PayloadStatus.SYNCING
        self._counts["fcu"] += 1
        self.metrics.forkchoice_updates.inc()
        if result.payload_status.status in (PayloadStatus.INVALID, PayloadStatus.INVALID_BLOCK_HASH):
            log.warning("Execution client reports our unsafe head invalid", extra={"fields": {
                "unsafe": h.unsafe.number, "err": result.payload_status.validation_error or ""}})

    async def _on_pulled_head(self, ref: L2BlockRef) -> None:
        """The puller imported blocks up to ``ref``: make it the unsafe head, like a gossiped payload.

        Our unsafe head is never moved down to it. Below our unsafe head, ``ref`` is a step of a
        catch-up: our unsafe head is the source's local-safe block (the "source ahead" row), which
        the EL answered SYNCING to, and the puller is how the EL gets there. Our heads stay as they
        are (so the safe head is never reported above the unsafe one, and the decision table sees
        the block it is syncing to); the EL's head alone moves to ``ref``, with safe and finalized
        labels only where they are at or below it, so the EL grows its canonical chain block by
        block as in any sync, and a restart resumes from there."""
        async with self.engine_lock:
            unsafe = self._heads.unsafe
            if ref.number >= unsafe.number:
                if ref != unsafe:
                    self._set_heads(replace(self._heads, unsafe=ref))
                await self._sync_forkchoice(resend_syncing=True)
            elif self._fcu_syncing:
                await self._forkchoice_catching_up(ref)

    async def _forkchoice_catching_up(self, ref: L2BlockRef) -> None:
        """Move the EL's head to ``ref``, a block below our unsafe head it has just imported."""
        assert self._engine is not None
        h = self._heads
        zero = bytes(32)
        state = ForkchoiceState(ref.hash, h.safe.hash if h.safe.number <= ref.number else zero,
                                h.finalized.hash if h.finalized.number <= ref.number else zero)
        try:
            await self._engine.forkchoice_updated(state, version=3)
        except InvalidForkchoiceState as exc:
            log.debug(f"Execution client refused a catch-up forkchoice state: {exc}")
            return
        except NodeError as exc:
            self._retry_in = self._el_outage.failed(exc)
            return
        self._el_outage.ok()
        self._counts["fcu"] += 1
        self.metrics.forkchoice_updates.inc()


class _LookupFailed(Exception):
    def __init__(self, url: str, error: BaseException):
        self.url, self.error = url, error


def _chain_mismatch(theirs: ChainIdentity, ours: RollupConfig) -> str | None:
    """Why a source's ``optimism_rollupConfig`` is not our chain (None: same chain, or it does not say)."""
    if theirs.l2_chain_id is not None and theirs.l2_chain_id != ours.l2_chain_id:
        return f"its L2 chain id is {theirs.l2_chain_id}, ours is {ours.l2_chain_id}"
    their_hash = theirs.l2_genesis_hash
    if their_hash is not None and their_hash != "0x" + ours.genesis.l2.hash.hex():
        return f"its L2 genesis is {their_hash}, ours is 0x{ours.genesis.l2.hash.hex()}"
    return None
