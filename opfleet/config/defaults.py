"""Defaults that more than one place needs, written once.

The option table (:mod:`opfleet.config.spec`) gives them to the command line, and the node
configs (:class:`~opfleet.node.source.SourceConfig`, :class:`~opfleet.node.light.LightConfig`,
:class:`~opfleet.interop.supernode.SupernodeConfig`) use them as their field defaults, so a
node built in code behaves as one started from the command line; so do the p2p config and
proxyd's configuration reader. The values are op-node's (or proxyd's) where opfleet mirrors one
of their flags.
"""

from __future__ import annotations

RPC_ADDR = "127.0.0.1"
"""``--rpc.addr``: op-node serves its RPC on loopback unless told otherwise."""
RPC_PORT = 9545
"""``--rpc.port``."""
METRICS_ADDR = "0.0.0.0"
"""``--metrics.addr``: Prometheus scrapes from another host, so op-node listens everywhere."""
METRICS_PORT = 7300
"""``--metrics.port``."""

L1_HTTP_POLL_INTERVAL = 12.0
"""``--l1.http-poll-interval``: how often a node reads its L1 heads (one L1 slot)."""
L1_RPC_MAX_BATCH_SIZE = 20
"""``--l1.rpc-max-batch-size``."""

FOLLOW_SOURCE_RPC_TIMEOUT = 10.0
"""``--l2.follow.source.rpc-timeout``: each call of a light node to its source."""

INTEROP_GATE_TIMEOUT = 60.0
"""``--interop.gate-timeout``: how long a supernode route waits for its chain before 503."""

P2P_LISTEN_IP = "0.0.0.0"
"""``--p2p.listen.ip``."""
P2P_LISTEN_TCP = 9222
"""``--p2p.listen.tcp`` once gossip runs (the option itself has no default: giving it turns gossip on)."""
P2P_BAN_THRESHOLD = -100.0
"""``--p2p.ban.threshold``: the gossip score at or under which a peer is banned."""
P2P_BAN_DURATION = 3600.0
"""``--p2p.ban.duration``."""

PROXY_POLLER_INTERVAL = 1.0
"""proxyd's ``consensus_poller_interval`` (``proxyd/consensus_poller.go``), ``--consensus.poller-interval``."""
PROXY_BAN_PERIOD = 300.0
"""proxyd's ``consensus_ban_period``, ``--consensus.ban-period``."""
PROXY_BACKEND_TIMEOUT = 5.0
"""proxyd's backend HTTP client timeout (``proxyd/backend.go`` ``NewBackend``), ``--backend.timeout``."""

BACKOFF_BASE = 0.5
"""First retry delay after an outage (an endpoint down, a failed step); doubled per failure."""
BACKOFF_CAP = 30.0
"""Longest retry delay."""

DEVNET_NODES = {"source": 1, "proxy": 0, "light": 2}
"""``opfleet devnet --nodes``: one source, no proxy, two light nodes (a role left out keeps its count)."""
