"""``opfleet proxy``: the consensus-aware deriver tier, a drop-in for proxyd's
``routing_strategy = "consensus_aware_consensus_layer"``.

::

    Proxy.run
    ├── ConsensusPoller     polls each backend, forms the consensus group, pins the served status
    ├── ProxyServer         JSON-RPC front (proxyd's answers), /healthz, /metrics
    └── metrics server      [metrics] enabled/host/port, when configured

The rules are pure functions in :mod:`opfleet.proxy.consensus`; the configuration is proxyd's
TOML (:mod:`opfleet.config.proxyd`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
import trio

from opfleet.config.proxyd import ProxyConfig
from opfleet.proxy.poller import ConsensusPoller as ConsensusPoller
from opfleet.proxy.poller import PollerStatistics as PollerStatistics
from opfleet.proxy.poller import ProxyMetrics as ProxyMetrics
from opfleet.proxy.server import ProxyServer as ProxyServer
from opfleet.rpc.metrics import serve_metrics

log = logging.getLogger("opfleet.proxy")

__all__ = ["ConsensusPoller", "PollerStatistics", "Proxy", "ProxyMetrics", "ProxyServer"]


class Proxy:
    """The whole proxy: poller, RPC server and (optionally) a separate metrics server."""

    def __init__(self, config: ProxyConfig, *, metrics: ProxyMetrics | None = None,
                 clock: Callable[[], float] = time.time, transport: httpx.AsyncBaseTransport | None = None):
        """``metrics``, ``clock`` and ``transport`` go to the :class:`ConsensusPoller` (tests inject them)."""
        self.config = config
        self.poller = ConsensusPoller(config, metrics=metrics, clock=clock, transport=transport)
        self.server = ProxyServer(self.poller)
        self.rpc_port: int | None = None
        self.metrics_port: int | None = None

    def statistics(self) -> PollerStatistics:
        return self.poller.statistics()

    async def run(self, *, task_status: trio.TaskStatus[Proxy] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        async with trio.open_nursery() as nursery:
            await nursery.start(self.poller.run)
            self.rpc_port = await nursery.start(self.server.serve, cfg.rpc_host or None, cfg.rpc_port)
            if cfg.metrics_enabled:
                self.metrics_port = await nursery.start(serve_metrics, self.poller.metrics.registry,
                                                        cfg.metrics_host or None, cfg.metrics_port)
            log.info("proxy serving", extra={"fields": {
                "group": cfg.group.name, "backends": ",".join(b.name for b in cfg.backends),
                "rpc": f"{cfg.rpc_host or '0.0.0.0'}:{self.rpc_port}"}})
            task_status.started(self)
