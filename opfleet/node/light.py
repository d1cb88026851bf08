"""The light node: follow a source's safe chain, derive nothing (op-node ``--l2.follow.source``).

::

    LightNode.run()                         outer nursery, owns every client
    ├── RPC server (optimism_*, opfleet_*, /healthz readiness, /livez)   started first
    ├── metrics server (--metrics.enabled)
    ├── L1Heads: head / safe / finalized (one batch) every --l1.http-poll-interval (12 s)
    ├── SourceWatch: one watcher per source, its SyncStatus pushed or polled, sanity-checked
    ├── Follower: consensus over the sources -> decision table -> heads -> forkchoice update
    ├── payload puller (--l2.follow.payloads): copies blocks from an L2 EL RPC into ours
    └── sequencer (--sequencer.enabled): builds unsafe blocks; the Follower is its SequencerHost

:class:`LightNode` wires three parts, each owning its state: :class:`~opfleet.node.light_sources.SourceWatch`
(per-source state, the long poll or polling of each source, the consensus across them),
:class:`~opfleet.node.light_l1.L1Heads` (our L1's heads, the sanity checks' L1 lookups and the
refs our L1 has finalized) and :class:`~opfleet.node.light_follow.Follower` (our heads, the
forkchoice updates, payload import and the sequencer hand-off). Their modules say how each
works; this one runs them and serves what they know over RPC and metrics.

Failures: a source that is down or slow (``--l2.follow.source.rpc-timeout``) only stalls the safe
heads, retried with backoff and logged once per outage; our L1 or EL down likewise. A source on
another chain (``optimism_rollupConfig``: L2 chain id or genesis) is refused at first contact
with a :class:`~opfleet.errors.ConfigError`, which :meth:`LightNode.run` raises.

Where we deliberately differ from op-node: no ``--l1.beacon`` is needed (a light node reads no
blobs; op-node still requires one from Ecotone because its start-up code is shared); the
``pending_safe_l2`` we report is the local-safe head (op-node leaves it where it was at start);
an InvalidForkchoiceState answer is logged and retried when the heads change, not a reset.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import trio

from opfleet.engine.l2_chain import EngineL2Chain
from opfleet.errors import BlockNotFoundError, NodeError
from opfleet.node.follow import FinalizedL1Statistics, Heads
from opfleet.node.light_config import LightConfig, LightMetrics
from opfleet.node.light_follow import Follower
from opfleet.node.light_l1 import L1CheckStatistics, L1Heads
from opfleet.node.light_sources import SourceState, SourceWatch
from opfleet.node.outage import Outage
from opfleet.node.source import EL_HEADS_AT_START_TIMEOUT
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.output_root import OutputV0
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.providers.l1 import L1Provider
from opfleet.rpc.metrics import serve_metrics
from opfleet.rpc.optimism import source_rpc_server
from opfleet.rpc.server import JsonRpcServer

if TYPE_CHECKING:
    from opfleet.node.gossip import NodeGossip
    from opfleet.node.payloads import PayloadPuller
    from opfleet.node.sequencer import Sequencer

log = logging.getLogger("opfleet.light")

__all__ = ["LightConfig", "LightMetrics", "LightNode", "LightStatistics", "SourceState"]


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
    """A running light node; see the module docstring. Its clients are made here and closed
    when :meth:`run` returns."""

    def __init__(self, config: LightConfig, *, metrics: LightMetrics | None = None):
        self.config = config
        self.rollup_config = config.rollup_config
        self.metrics = metrics or LightMetrics()
        self.rpc_port: int | None = None
        self.metrics_port: int | None = None
        self.gossip: NodeGossip | None = None
        """Unsafe blocks by op-node's gossip (``--p2p.*``), once :meth:`run` has started it."""
        l1_client = JsonRpcClient(config.l1_url, name="L1")
        self._engine = EngineClient(config.l2_url, config.jwt_secret, forks=self.rollup_config)
        self._l2 = EngineL2Chain(self._engine.client, self.rollup_config)
        payloads = JsonRpcClient(config.payloads_url, name="L2 payloads") if config.payloads_url else None
        self._l1 = L1Heads(L1Provider(l1_client), self.metrics, poll_interval=config.l1_poll_interval,
                           backoff_base=config.backoff_base, backoff_cap=config.backoff_cap,
                           on_polled=lambda: self.metrics.client_requests(self._clients))
        self._sources = SourceWatch(config, self.metrics, self._l1.lookup)
        self._follower = Follower(config, self.metrics, engine=self._engine, l2=self._l2, sources=self._sources,
                                  l1=self._l1, payloads=payloads)
        self._clients: dict[str, JsonRpcClient] = {"l1": l1_client, "engine": self._engine.client}
        if payloads is not None:
            self._clients["payloads"] = payloads
        for source in self._sources.sources:
            self._clients[f"follow_source_{source.label}"] = source.client

    # --- the parts' state, as the fleet and tests read it ---------------------------------------------

    @property
    def sources(self) -> list[SourceState]:
        return self._sources.sources

    @property
    def sequencer(self) -> Sequencer | None:
        """The light sequencer (``--sequencer.enabled``), once it runs."""
        return self._follower.sequencer

    @property
    def puller(self) -> PayloadPuller | None:
        """The payload puller (``--l2.follow.payloads``)."""
        return self._follower.puller

    @property
    def l2_heads(self) -> Heads:
        return self._follower.l2_heads

    @property
    def head_l1(self) -> L1BlockRef:
        return self._l1.head

    @property
    def safe_l1(self) -> L1BlockRef:
        return self._l1.safe

    @property
    def finalized_l1(self) -> L1BlockRef:
        return self._l1.finalized

    @property
    def current_l1(self) -> L1BlockRef:
        """The last validated source ``current_l1``."""
        return self._l1.current

    def heads(self) -> tuple[L2BlockRef, L2BlockRef, L2BlockRef]:
        """(unsafe, safe, finalized)."""
        return self._follower.heads()

    def statistics(self) -> LightStatistics:
        sources, follower, l1 = self._sources, self._follower, self._l1
        return LightStatistics(follower.l2_heads, l1.current, sources.results, follower.actions,
                               follower.forkchoice_updates, sources.modes, sources.no_majority_count,
                               l1.verified_statistics(), l1.checks)

    # --- what the RPC reads (SourceView) ----------------------------------------------------------

    def sync_status(self) -> SyncStatus:
        """What a light node reports (ref section 1.6): its own unsafe head, the source's safe heads,
        the last validated source ``current_l1``, and L1 heads from its own L1."""
        h, l1 = self._follower.l2_heads, self._l1
        return SyncStatus(current_l1=l1.current, head_l1=l1.head, safe_l1=l1.safe,
                          finalized_l1=l1.finalized, unsafe_l2=h.unsafe, safe_l2=h.safe,
                          finalized_l2=h.finalized, pending_safe_l2=h.local_safe, cross_unsafe_l2=h.unsafe,
                          local_safe_l2=h.local_safe)

    def status_not_ready(self) -> str | None:
        """Why ``optimism_syncStatus`` cannot be answered yet (None: it can): until our heads are
        read from the EL it answers this error, never all-zero heads (see
        :meth:`opfleet.node.source.SourceNode.status_not_ready` for op-node's start order)."""
        return None if self._follower.heads_ready else "not ready: the execution client's heads have not been read yet"

    def readiness(self) -> str | None:
        """Why ``GET /healthz`` answers 503 (None: 200): ready once the node has its chain (heads
        read from the EL) and a follow source answers a status that passed the sanity checks.
        A light node with every source down holds its safe head: traffic should go elsewhere."""
        return self.status_not_ready() or self._sources.readiness()

    @property
    def node_role(self) -> str:
        """``opfleet_nodeInfo``'s role: a light node, or a light sequencer."""
        return "sequencer" if self.config.sequencer_enabled else "light"

    @property
    def follow_sources(self) -> tuple[str, ...]:
        return tuple(self.config.sources)

    @property
    def sequencer_active(self) -> bool:
        return self.sequencer is not None

    async def output_at(self, number: int) -> tuple[OutputV0, L2BlockRef, SyncStatus]:
        status = self.sync_status()
        if number > status.unsafe_l2.number:
            raise BlockNotFoundError(f"L2 block {number} is ahead of the unsafe head")
        output, ref = await self._l2.output_v0(number)
        return output, ref, status

    def request_reset(self) -> None:
        """``admin_resetDerivationPipeline``: send the forkchoice state again on the next tick."""
        self._follower.request_reset()

    async def wait_status_change(self, timeout: float) -> None:
        """Return when the heads change or after ``timeout`` (serves ``opfleet_waitSyncStatus``)."""
        await self._follower.wait_status_change(timeout)

    def rpc_server(self) -> JsonRpcServer:
        return source_rpc_server(self, enable_admin=self.config.enable_admin)

    # --- running ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[LightNode] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``task_status.started(self)`` once the RPC (and metrics) servers
        listen. Raises ConfigError when a source turns out to be on another chain."""
        cfg = self.config
        follower = self._follower
        async with AsyncExitStack() as stack:
            for client in self._clients.values():
                stack.push_async_callback(client.aclose)
            with trio.move_on_after(EL_HEADS_AT_START_TIMEOUT):
                try:  # before the RPC server answers (see status_not_ready); retried by the follow loop
                    await follower.read_heads()
                except NodeError as exc:
                    log.debug(f"Execution client heads not read at start: {exc}")
            async with trio.open_nursery() as nursery:
                self.rpc_port = await nursery.start(self.rpc_server().serve, cfg.rpc_addr, cfg.rpc_port)
                if cfg.metrics_enabled:
                    self.metrics_port = await nursery.start(serve_metrics, self.metrics.registry,
                                                            cfg.metrics_addr, cfg.metrics_port)
                nursery.start_soon(self._l1.watch)
                for source in self._sources.sources:
                    nursery.start_soon(self._sources.watch_or_stop, source, nursery.cancel_scope)
                nursery.start_soon(follower.run)
                if cfg.p2p is not None:
                    from opfleet.node.gossip import NodeGossip

                    self.gossip = await nursery.start(NodeGossip(
                        cfg.p2p, self.rollup_config, l1_client=self._clients["l1"], engine=self._engine,
                        on_head=follower.on_pulled_head, registry=self.metrics.registry,
                        insert=not cfg.sequencer_enabled).run)
                if follower.puller is not None:
                    pull = partial(follower.puller.run, Outage("Payload pulling", cfg.backoff_base, cfg.backoff_cap,
                                                               logger=log))
                    if self.gossip is not None:  # --l2.follow.payloads stays as the fallback
                        from opfleet.node.gossip import pull_when_gossip_is_quiet

                        nursery.start_soon(pull_when_gossip_is_quiet, pull, self.gossip)
                    else:
                        nursery.start_soon(pull)
                if cfg.sequencer_enabled:
                    await follower.start_sequencer(nursery, self.gossip)
                log.info("Light node started", extra={"fields": {
                    "rpc": f"http://{cfg.rpc_addr}:{self.rpc_port}", "l2_chain_id": self.rollup_config.l2_chain_id,
                    "sources": ",".join(s.label for s in self._sources.sources), "sequencer": cfg.sequencer_enabled}})
                self.metrics.up.set(1)
                task_status.started(self)
            if self._sources.fatal is not None:
                raise self._sources.fatal
