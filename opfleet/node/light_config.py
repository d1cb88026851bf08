"""What a light node is given and what it reports: :class:`LightConfig` (filled from ``opfleet light``
settings) and :class:`LightMetrics` (op-node's names, plus the follow-source ones). Its parts
(:mod:`~opfleet.node.light_sources`, :mod:`~opfleet.node.light_l1`, :mod:`~opfleet.node.light_follow`)
and :class:`~opfleet.node.light.LightNode`, which wires them, share these two."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opfleet.config import defaults
from opfleet.errors import ConfigError
from opfleet.node.consensus import DEFAULT_BAN_PERIOD, DEFAULT_SYNC_THRESHOLD
from opfleet.node.source import SourceMetrics
from opfleet.protocol.l1_block_info import BlobSchedule
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.rpc.metrics import Registry
from opfleet.rpc.serving import ServingConfig

if TYPE_CHECKING:
    from opfleet.node.sequencer import SequencerConfig
    from opfleet.p2p import P2PConfig

__all__ = ["LightConfig", "LightMetrics"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LightConfig(ServingConfig):
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
    sequencer_enabled: bool = False
    sequencer_config: SequencerConfig | None = None
    """The sequencer's pace (None: its defaults)."""
    sequencer_clock: Callable[[], float] = time.time
    """The sequencer's wall clock (tests and the devnet inject one)."""
    blob_schedule: BlobSchedule | None = None
    """The L1's blob fee schedule for the sequencer's L1-info deposits (``--rollup.l1-chain-config``);
    None: the built-in one of a public L1."""
    sync_threshold: int = DEFAULT_SYNC_THRESHOLD
    ban_period: float = DEFAULT_BAN_PERIOD
    backoff_base: float = defaults.BACKOFF_BASE
    backoff_cap: float = defaults.BACKOFF_CAP
    p2p: P2PConfig | None = None
    """Unsafe blocks by op-node's gossip (None: ``--p2p.disable``)."""

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
