"""The source node: derive the L2 chain from L1, drive the execution client, serve op-node's RPC.

::

    SourceNode.run()                      outer nursery, owns every client
    ├── RPC server (optimism_*, admin_*, /healthz)   started first: task_status.started(node)
    ├── metrics server (--metrics.enabled)
    ├── L1 watcher: head / safe / finalized (one batched request) every --l1.http-poll-interval;
    │   wakes derivation, which never reads L1 above the head it last saw
    └── derivation loop: EngineDriver.step() (pipeline -> engine)
          ResetError      -> reset from the sync start (heads read back from the EL)
          TemporaryError  -> retry with backoff; ONE warning per outage, one info on recovery
          CriticalError   -> stop: run() raises it with the message

Only the derivation task touches the driver (the watcher just records L1 heads), so engine
calls never interleave. Each new safe head is recorded in the safe-head database
(``optimism_safeHeadAtL1Block``) under the L1 block it was derived from, and every reset
truncates it to the reset safe head, as op-node's ``SyncDeriver`` does.

Spec: ``specs/protocol/derivation.md``; op-node ``op-node/node``, ``op-node/rollup/driver``.
Metrics use op-node's names (``op-node/metrics/metrics.go``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from opfleet.config import defaults
from opfleet.derive.pipeline import Pipeline, StepKind
from opfleet.engine.driver import EngineDriver
from opfleet.engine.l2_chain import EngineL2Chain
from opfleet.errors import (
    AuthenticationError,
    BlockNotFoundError,
    CriticalError,
    NotAvailableYet,
    ResetError,
    TemporaryError,
)
from opfleet.node.outage import Outage
from opfleet.node.safedb import SafeHeadDB
from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF, L1BlockRef, L2BlockRef
from opfleet.protocol.engine_api import ForkchoiceState
from opfleet.protocol.l1_block_info import BlobSchedule
from opfleet.protocol.output_root import OutputV0
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.sync_status import SyncStatus
from opfleet.protocol.upgrades import verify_upgrade_bundles
from opfleet.providers.beacon import BeaconClient
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.l1 import L1Provider
from opfleet.rpc.metrics import Registry, serve_metrics
from opfleet.rpc.optimism import source_rpc_server
from opfleet.rpc.server import JsonRpcServer
from opfleet.rpc.serving import ServingConfig

if TYPE_CHECKING:
    from opfleet.node.gossip import NodeGossip
    from opfleet.p2p import P2PConfig

log = logging.getLogger("opfleet.source")



@dataclass(frozen=True, slots=True, kw_only=True)
class SourceConfig(ServingConfig):
    """Everything a source node needs (the CLI fills it from ``opfleet source`` settings)."""

    rollup_config: RollupConfig
    l1_url: str
    l2_url: str
    """Engine API (authenticated) endpoint; L2 blocks are read there too, as op-node does."""
    jwt_secret: bytes
    l1_beacon_url: str | None = None
    l1_beacon_seconds_per_slot: int = 0
    l1_poll_interval: float = defaults.L1_HTTP_POLL_INTERVAL
    l1_max_batch_size: int = defaults.L1_RPC_MAX_BATCH_SIZE
    l1_confs: int = 0
    safedb_path: str | Path | None = None
    backoff_base: float = defaults.BACKOFF_BASE
    backoff_cap: float = defaults.BACKOFF_CAP
    blob_schedule: BlobSchedule | None = None
    """The L1's blob fee schedule (``--rollup.l1-chain-config``); None: the built-in one of a
    public L1 (mainnet, Sepolia, Holesky, Hoodi)."""
    p2p: P2PConfig | None = None
    """Unsafe blocks by op-node's gossip (None: ``--p2p.disable``)."""


def check_supported(rollup_config: RollupConfig, *, devnet_interop: bool = False) -> None:
    """Refuse, before anything starts, a chain this version cannot derive all the way.

    Every fork through Karst is implemented. Lagoon (interop, op-node's ``interop_time``) is not
    scheduled on any public chain and its final upgrade is not settled, so a rollup config that
    schedules it is refused with one line (:class:`NotAvailableYet`, exit 7) rather than
    deriving up to the fork and failing there; ``devnet_interop`` lets the devnet's own interop
    mode through, whose chains run opfleet's draft interop rules from genesis. The upgrade
    bundle of every scheduled fork is read and checked here too, so a corrupted install stops
    at start (:class:`CriticalError`).
    """
    lagoon = rollup_config.interop_time
    if lagoon is not None and not devnet_interop:
        when = datetime.fromtimestamp(lagoon, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        raise NotAvailableYet(
            f"the rollup config schedules Lagoon (interop_time/lagoon_time) at {lagoon} ({when}); "
            "this version of opfleet does not implement Lagoon")
    verify_upgrade_bundles(rollup_config)


def _is_outage(exc: BaseException) -> bool:
    """Failures to retry with backoff rather than stop on: unreachable or refusing endpoints, and
    a rejected JWT (an operator fixing the secret file or the execution client must not have to
    restart us, so we keep retrying)."""
    return isinstance(exc, (TemporaryError, RpcCallError, AuthenticationError))


class _ConfirmedL1:
    """The L1 chain as derivation may read it: ``l1_confs`` blocks behind the head the watcher
    last saw. Asking for a block above that answers "not found" without a request, so a
    pipeline waiting at the L1 head costs nothing until the watcher sees a new block."""

    def __init__(self, l1: L1Provider, node: SourceNode, confs: int):
        self.l1, self.node, self.confs = l1, node, confs

    def _check(self, number: int) -> None:
        head = self.node.head_l1
        if head.is_zero() or number > head.number - self.confs:
            raise BlockNotFoundError(f"L1 block {number} is not {self.confs} blocks behind the head yet")

    async def block_ref(self, number: int, /) -> L1BlockRef:
        if self.confs:
            self._check(number)
        return await self.l1.block_ref(number)

    async def block_with_receipts(self, block: int | bytes, /) -> Any:
        if isinstance(block, int):
            self._check(block)
        return await self.l1.block_with_receipts(block)


EL_HEADS_AT_START_TIMEOUT = 2.0
"""How long the start waits for the EL's heads before serving RPC anyway (answering "not ready")."""


class SourceMetrics:
    """op-node's metric names for what a source node does."""

    def __init__(self, registry: Registry | None = None):
        self.registry = registry or Registry()
        r = self.registry
        self.refs_number = r.gauge("op_node_refs_number", "Gauge representing the different L1/L2 reference block numbers",
                                   ("layer", "type"))
        self.refs_time = r.gauge("op_node_refs_time", "Gauge representing the different L1/L2 reference block timestamps",
                                 ("layer", "type"))
        self.rpc_requests = r.counter("op_node_rpc_client_requests_total",
                                      "Total RPC requests initiated by the opnode's RPC clients", ("client", "method"))
        self.derivation_errors = r.counter("op_node_derivation_errors_total",
                                           "Count of total derivation errors")
        self.pipeline_resets = r.counter("op_node_pipeline_resets_total", "Count of derivation pipeline resets")
        self.up = r.gauge("op_node_up", "1 if the op node has finished starting up")
        self._seen: dict[tuple[str, str], int] = {}

    def ref(self, layer: str, name: str, ref: L1BlockRef | L2BlockRef) -> None:
        self.refs_number.set(ref.number, layer=layer, type=name)
        self.refs_time.set(ref.timestamp, layer=layer, type=name)
        if isinstance(ref, L2BlockRef):
            self.refs_number.set(ref.l1_origin.number, layer="l1_origin", type=name)

    def client_requests(self, clients: Mapping[str, Any]) -> None:
        """:meth:`requests` from each client's own counts: by method, or by path for a beacon
        client (None: a client the node does not use)."""
        for name, client in clients.items():
            if client is None:
                continue
            stats = client.statistics()
            counts = getattr(stats, "requests_by_method", None) or getattr(stats, "requests_by_path", {})
            self.requests(name, counts)

    def requests(self, client: str, counts: Any) -> None:
        for method, total in counts.items():
            key = (client, method)
            delta = total - self._seen.get(key, 0)
            if delta > 0:
                self.rpc_requests.inc(delta, client=client, method=method)
                self._seen[key] = total


class SourceNode:
    """A running source node; see the module docstring. ``safe_db`` overrides
    ``config.safedb_path`` (tests pass an in-memory one)."""

    def __init__(self, config: SourceConfig, *, safe_db: SafeHeadDB | None = None, metrics: SourceMetrics | None = None,
                 l1: L1Provider | None = None, beacon: BeaconClient | None = None, serve_rpc: bool = True,
                 watch_l1: bool = True, denied: Callable[[L2BlockRef], Sequence[bytes] | None] | None = None,
                 status_view: Callable[[SyncStatus], SyncStatus] | None = None,
                 safe_label: Callable[[L2BlockRef], L2BlockRef | None] | None = None):
        verify_upgrade_bundles(config.rollup_config)
        self.config = config
        # A supernode shares one L1 provider (and its cache) and one beacon client across chains,
        # and mounts each chain's RPC under /<chainID> instead of serving it on a port.
        self._shared_l1, self._shared_beacon, self._serve_rpc = l1, beacon, serve_rpc
        self.rollup_config = config.rollup_config
        self._owns_safe_db = safe_db is None and config.safedb_path is not None
        self.safe_db = safe_db if safe_db is not None else (
            SafeHeadDB(config.safedb_path) if config.safedb_path is not None else None)
        self.metrics = metrics or SourceMetrics()
        self.head_l1 = self.safe_l1 = self.finalized_l1 = ZERO_L1_BLOCK_REF
        self.driver: EngineDriver | None = None
        self.rpc_port: int | None = None
        self.metrics_port: int | None = None
        self._new_l1 = trio.Event()
        self._reset_requested = False
        # Supernode hooks: L1 heads fed by one watcher for the whole set (set_l1_heads), interop
        # block replacement (EngineDriver ``denied``), the verified head shown as safe_l2
        # (status_view, op-supernode's SuperAuthority) and rewinds (request_rewind).
        self._watch_l1_heads, self._denied, self._status_view = watch_l1, denied, status_view
        self._rewind_to: L2BlockRef | None = None
        self._safe_label = safe_label  # the EL's safe label (EngineDriver ``safe_label``)
        self._relabel = False
        self._finalized_applied = ZERO_L1_BLOCK_REF
        self._last_logged: tuple[Any, ...] | None = None
        self._clients: dict[str, Any] = {}
        self._status_event = trio.Event()  # set after every step: wakes opfleet_waitSyncStatus
        self._el_heads: SyncStatus | None = None  # read from the EL before derivation has started
        self.gossip: NodeGossip | None = None  # with --p2p.*
        self._gossiped: dict[bytes, L2BlockRef] = {}  # by parent hash, applied between steps

    # --- the SourceView the RPC reads -------------------------------------------------------------

    def sync_status(self) -> SyncStatus:
        """Before derivation has started (the reset needs L1), the heads read from the EL; all zero
        only while those are unknown too (:meth:`status_not_ready` says so: the RPC answers an error)."""
        if self.driver is None or not self.driver.started:
            status = self._el_heads or SyncStatus()
            status = replace(status, head_l1=self.head_l1, safe_l1=self.safe_l1, finalized_l1=self.finalized_l1)
        else:
            status = self.driver.sync_status(head_l1=self.head_l1, safe_l1=self.safe_l1,
                                             finalized_l1=self.finalized_l1)
        return self._status_view(status) if self._status_view is not None else status

    def status_not_ready(self) -> str | None:
        """Why ``optimism_syncStatus`` cannot be answered yet: the EL's heads are not known (None:
        they are).

        op-node starts its RPC server in its init (``initRPCServer``), after ``initL2`` has read the
        L2 genesis block from the execution client (``ValidateL2Config``) but before ``Start`` runs
        the driver, whose first engine reset fills the heads it reports (``rollup/driver``: the
        status tracker starts empty): in between it answers all-zero heads, which op-node light
        nodes then fail as an L1 mismatch and proxyd's CL consensus rejects. We read the EL's heads
        before our RPC server starts instead (:meth:`run`; one attempt, so an EL that is down does
        not hold the server up), and until they are known we answer an error, never zero heads."""
        if self._el_heads is None and (self.driver is None or not self.driver.started):
            return "not ready: the execution client's heads have not been read yet"
        return None

    @property
    def node_role(self) -> str:
        """``opfleet_nodeInfo``'s role: a supernode's chain (it feeds our L1 heads) or a source."""
        return "source" if self._watch_l1_heads else "supernode"

    def set_l1_heads(self, head: L1BlockRef, safe: L1BlockRef, finalized: L1BlockRef) -> None:
        """New L1 heads, from our own poller or a shared watcher (``watch_l1=False``); wakes
        derivation on a change."""
        changed = head != self.head_l1 or finalized != self.finalized_l1
        self.head_l1, self.safe_l1, self.finalized_l1 = head, safe, finalized
        for name, ref in (("l1_head", head), ("l1_safe", safe), ("l1_finalized", finalized)):
            self.metrics.ref("l1", name, ref)
        if changed:
            self._new_l1.set()

    @property
    def rewind_pending(self) -> bool:
        """A :meth:`request_rewind` not carried out yet (heads may still show the old chain)."""
        return self._rewind_to is not None

    def request_relabel(self) -> None:
        """Send the EL a forkchoice update with the current labels (the supernode verified a
        block: the EL's safe label moves). Done by the derivation task between steps."""
        self._relabel = True
        self._new_l1.set()

    def request_rewind(self, to: L2BlockRef) -> None:
        """Move the execution layer's heads back to ``to`` and re-derive from there (a supernode
        invalidating the block after ``to``). Done by the derivation task between steps."""
        self._rewind_to = to
        self._new_l1.set()

    async def output_at(self, number: int) -> tuple[OutputV0, L2BlockRef, SyncStatus]:
        if self.driver is None:
            raise BlockNotFoundError("the node is starting")
        status = self.sync_status()
        if self.driver.started and number > status.unsafe_l2.number:
            raise BlockNotFoundError(f"L2 block {number} is ahead of the unsafe head")
        output, ref = await self.driver.l2.output_v0(number)
        return output, ref, status

    def rpc_server(self) -> JsonRpcServer:
        """op-node's API for this node (also what a supernode mounts under ``/<chainID>``)."""
        return source_rpc_server(self, safe_db=self.safe_db, enable_admin=self.config.enable_admin)

    def request_reset(self) -> None:
        self._reset_requested = True
        self._new_l1.set()

    async def wait_status_change(self, timeout: float) -> None:
        """Return after the next derivation step or reset (the heads may have moved), or after
        ``timeout`` seconds: what the ``opfleet_waitSyncStatus`` long poll waits on."""
        with trio.move_on_after(timeout):
            await self._status_event.wait()

    # --- running ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[SourceNode] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled (or a critical error, raised). ``task_status.started(self)`` once
        the RPC (and metrics) servers listen."""
        cfg = self.config
        async with AsyncExitStack() as stack:
            if self._owns_safe_db and self.safe_db is not None:
                stack.callback(self.safe_db.close)
            if self._shared_l1 is not None:
                l1 = self._shared_l1
                l1_client = l1.client
            else:
                l1_client = await stack.enter_async_context(
                    JsonRpcClient(cfg.l1_url, max_batch_size=cfg.l1_max_batch_size, name="L1"))
                l1 = L1Provider(l1_client)
            beacon = self._shared_beacon
            if beacon is None and cfg.l1_beacon_url:
                beacon = await stack.enter_async_context(BeaconClient(
                    cfg.l1_beacon_url, seconds_per_slot=cfg.l1_beacon_seconds_per_slot or None))
            engine = await stack.enter_async_context(EngineClient(cfg.l2_url, cfg.jwt_secret, forks=self.rollup_config))
            self._clients = {"l1": l1_client, "beacon": beacon, "engine": engine.client}
            l2 = EngineL2Chain(engine.client, self.rollup_config)
            chain = _ConfirmedL1(l1, self, cfg.l1_confs)
            pipeline = Pipeline(self.rollup_config, chain=chain, l2=l2, blobs=beacon, blob_schedule=cfg.blob_schedule)
            self.driver = EngineDriver(self.rollup_config, engine=engine, l2=l2, l1=l1, pipeline=pipeline,
                                       on_safe=self._safe_derived, denied=self._denied,
                                       safe_label=self._safe_label)
            failure: list[CriticalError] = []
            with trio.move_on_after(EL_HEADS_AT_START_TIMEOUT):
                try:  # before the RPC server answers (see status_not_ready); retried by _reset
                    await self._read_el_heads(l2)
                except Exception as exc:  # outages only, see _is_outage
                    if not _is_outage(exc):
                        raise
                    log.debug(f"Execution client heads not read at start: {exc}")
            async with trio.open_nursery() as nursery:
                if self._serve_rpc:
                    server = self.rpc_server()
                    self.rpc_port = await nursery.start(server.serve, cfg.rpc_addr, cfg.rpc_port)
                if cfg.metrics_enabled:
                    self.metrics_port = await nursery.start(serve_metrics, self.metrics.registry,
                                                            cfg.metrics_addr, cfg.metrics_port)
                if self._watch_l1_heads:
                    nursery.start_soon(self._watch_l1, l1)
                nursery.start_soon(self._derive_or_stop, nursery.cancel_scope, failure)
                if cfg.p2p is not None:
                    from opfleet.node.gossip import NodeGossip

                    self.gossip = await nursery.start(NodeGossip(
                        cfg.p2p, self.rollup_config, l1_client=l1_client, engine=engine,
                        on_head=self._on_gossiped, registry=self.metrics.registry).run)
                log.info("Source node started", extra={"fields": {
                    "rpc": f"http://{cfg.rpc_addr}:{self.rpc_port}" if self._serve_rpc else "mounted",
                    "l2_chain_id": self.rollup_config.l2_chain_id}})
                self.metrics.up.set(1)
                task_status.started(self)
            if failure:
                raise failure[0]

    async def _derive_or_stop(self, scope: trio.CancelScope, failure: list[CriticalError]) -> None:
        try:
            await self._derive()
        except CriticalError as exc:
            log.error(f"Derivation stopped: {exc}")
            failure.append(exc)
            scope.cancel()

    async def _watch_l1(self, l1: L1Provider) -> None:
        outage = Outage("L1 head polling", self.config.backoff_base, self.config.backoff_cap, logger=log)
        while True:
            try:
                head, safe, finalized = await l1.block_refs("latest", "safe", "finalized")
            except Exception as exc:  # outages only, see _is_outage
                if not _is_outage(exc):
                    raise
                await trio.sleep(outage.failed(exc))
                continue
            outage.ok()
            self.set_l1_heads(head, safe, finalized)
            self.metrics.client_requests(self._clients)
            await trio.sleep(self.config.l1_poll_interval)

    async def _on_gossiped(self, ref: L2BlockRef) -> None:
        """A gossiped block our EL now holds: the derivation task makes it the unsafe head."""
        self._gossiped[ref.parent_hash] = ref
        while len(self._gossiped) > 160:  # the inserter's MAX_WAITING: a filled gap arrives whole
            self._gossiped.pop(next(iter(self._gossiped)))
        self._new_l1.set()  # wake a derivation waiting for L1

    async def _extend_unsafe(self, driver: EngineDriver) -> None:
        """op-node's unsafe payload queue: a gossiped block goes on top of the unsafe head only;
        derivation later consolidates it (or replaces it, when L1 says otherwise)."""
        head = driver.unsafe_head
        while head.hash in self._gossiped:
            head = self._gossiped.pop(head.hash)
        self._gossiped = {p: r for p, r in self._gossiped.items() if r.number > head.number}
        if head != driver.unsafe_head:
            driver.unsafe_head = head
            await driver.forkchoice_update()
            self._after_step(driver, "gossip")

    async def _wait_for_l1(self) -> None:
        with trio.move_on_after(max(self.config.l1_poll_interval, 0.01)):
            await self._new_l1.wait()
        self._new_l1 = trio.Event()

    async def _reset(self, driver: EngineDriver, outage: Outage) -> None:
        while True:
            try:
                if self._el_heads is None:
                    await self._read_el_heads(driver.l2)
                start = await driver.start()
                # The L2 genesis is safe by definition: a reset that far back records it as safe
                # from L1 block 0 (not the rollup's genesis L1 block: contracts may predate it).
                l1_genesis = (await driver.l1.block_ref(0) if self.safe_db is not None
                              and start.safe_head.id == self.rollup_config.genesis.l2 else None)
            except Exception as exc:  # outages and resets only
                if not (_is_outage(exc) or isinstance(exc, ResetError)):
                    raise
                self.metrics.derivation_errors.inc()
                await trio.sleep(outage.failed(exc))
                continue
            self.metrics.pipeline_resets.inc()
            if self.safe_db is not None:
                # op-node SyncDeriver.onEngineConfirmedReset: entries L1 will yield again go;
                # re-reading L1 up to the reset safe head records nothing (the head does not move).
                self.safe_db.reset(start.safe_head)
                if l1_genesis is not None:
                    self.safe_db.record(l1_genesis.id, start.safe_head.id)
            self._after_step(driver, "reset")
            return

    async def _read_el_heads(self, l2: EngineL2Chain) -> None:
        """The heads the EL has (unsafe = latest, safe and finalized labels, the genesis block where
        it has none), reported until derivation has started."""
        unsafe = await l2.l2_block_ref("latest")
        genesis = await l2.l2_block_ref(self.rollup_config.genesis.l2.number)
        labels = []
        for label in ("safe", "finalized"):
            try:
                labels.append(await l2.l2_block_ref(label))
            except BlockNotFoundError:
                labels.append(genesis)
        safe, finalized = labels
        if finalized.number > safe.number:
            finalized = safe
        self._el_heads = SyncStatus(unsafe_l2=unsafe, safe_l2=safe, finalized_l2=finalized, pending_safe_l2=safe,
                                    cross_unsafe_l2=unsafe, local_safe_l2=safe)
        self._status_event.set()
        self._status_event = trio.Event()

    async def _derive(self) -> None:
        driver = self.driver
        assert driver is not None
        outage = Outage("Derivation", self.config.backoff_base, self.config.backoff_cap, logger=log)
        await self._reset(driver, outage)
        while True:
            if self._rewind_to is not None:
                await self._rewind(driver, outage)
            if self._reset_requested:
                self._reset_requested = False
                log.info("Resetting the derivation pipeline (admin request)")
                await self._reset(driver, outage)
            try:
                if self._relabel and driver.started:
                    self._relabel = False
                    await driver.forkchoice_update()
                if self._gossiped and driver.started:
                    await self._extend_unsafe(driver)
                if self.finalized_l1 != self._finalized_applied and not self.finalized_l1.is_zero():
                    await driver.finalize(self.finalized_l1)
                    self._finalized_applied = self.finalized_l1
                result = await driver.step()
            except ResetError as exc:
                self.metrics.derivation_errors.inc()
                log.warning(f"Derivation pipeline reset: {exc}")
                await self._reset(driver, outage)
                continue
            except Exception as exc:  # outages only, see _is_outage
                if not _is_outage(exc):
                    raise
                self.metrics.derivation_errors.inc()
                await trio.sleep(outage.failed(exc))
                continue
            outage.ok()
            self._after_step(driver, result.kind.value)
            if result.kind is StepKind.EOF:
                await self._wait_for_l1()
            else:
                await trio.sleep(0)

    async def _rewind(self, driver: EngineDriver, outage: Outage) -> None:
        to = self._rewind_to
        assert to is not None
        finalized = driver.finalized_head if driver.finalized_head.number <= to.number else to
        while True:
            try:
                await driver.engine.forkchoice_updated(ForkchoiceState(to.hash, to.hash, finalized.hash), version=3)
                break
            except Exception as exc:  # outages only, see _is_outage
                if not _is_outage(exc):
                    raise
                await trio.sleep(outage.failed(exc))
        log.info("Rewound the execution layer for interop replacement", extra={"fields": {"to": _short(to)}})
        await self._reset(driver, outage)
        self._rewind_to = None

    def _safe_derived(self, derived_from: L1BlockRef, safe_head: L2BlockRef) -> None:
        if self.safe_db is not None:
            self.safe_db.record(derived_from.id, safe_head.id)

    def _after_step(self, driver: EngineDriver, reason: str) -> None:
        self._status_event.set()  # wake long-polling followers
        self._status_event = trio.Event()
        m = self.metrics
        for name, ref in (("l2_unsafe", driver.unsafe_head), ("l2_safe", driver.safe_head),
                          ("l2_local_safe", driver.local_safe_head), ("l2_pending_safe", driver.pending_safe_head),
                          ("l2_finalized", driver.finalized_head)):
            m.ref("l2", name, ref)
        origin = driver.pipeline.origin
        if origin is not None:
            m.ref("l1", "l1_derived", origin)
        key = (driver.finalized_head.hash, driver.safe_head.hash, driver.pending_safe_head.hash,
               driver.unsafe_head.hash)
        if key != self._last_logged:
            self._last_logged = key
            log.info("Sync progress", extra={"fields": {
                "reason": reason,
                "l2_finalized": _short(driver.finalized_head), "l2_safe": _short(driver.safe_head),
                "l2_pending_safe": _short(driver.pending_safe_head), "l2_unsafe": _short(driver.unsafe_head),
                "l2_time": driver.unsafe_head.timestamp,
                "l1_derived": _short(origin) if origin is not None else "none"}})


def _short(ref: L1BlockRef | L2BlockRef) -> str:
    """op-node's ``TerminalString``: shortened hash and number."""
    h = ref.hash.hex()
    return f"0x{h[:6]}..{h[-4:]}:{ref.number}"

