"""Where a node serves: the ``--rpc.*`` and ``--metrics.*`` settings every node shares.

:class:`ServingConfig` is the base of the source, light and supernode configs, so the six
fields and their defaults (op-node's, from :mod:`opfleet.config.defaults`) are written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from opfleet.config import defaults


@dataclass(frozen=True, slots=True)
class ServingConfig:
    """The RPC server's and the metrics server's addresses, and which of them run."""

    rpc_addr: str = defaults.RPC_ADDR
    rpc_port: int = defaults.RPC_PORT
    """0 picks a free port (tests, the devnet); the node reports the one it got."""
    enable_admin: bool = False
    """Serve op-node's ``admin_*`` methods."""
    metrics_enabled: bool = False
    metrics_addr: str = defaults.METRICS_ADDR
    metrics_port: int = defaults.METRICS_PORT
