"""``opfleet source``: run a source node until Ctrl-C (see :mod:`opfleet.node.source`).

Settings are checked before anything starts: a missing or unreadable one is a
:class:`~opfleet.errors.ConfigError` naming its flag; a chain scheduling a fork this version
cannot derive (Karst) is one :class:`~opfleet.errors.NotAvailableYet` line (exit status 7). Once running, unreachable endpoints and a
wrong JWT secret are outages: one log line each, retried with backoff, never a crash loop.
Ctrl-C (SIGINT) or SIGTERM stops the node cleanly with exit status 130; a critical derivation
error stops it with its message (exit status 6).
"""

from __future__ import annotations

from typing import Any

from opfleet.cli._settings import positive, setting
from opfleet.cli.daemon import batch_size, required, run_daemon, run_until_signal, server_settings
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.config.spec import SOURCE
from opfleet.errors import ConfigError, NotAvailableYet


def source_config(settings: Any) -> Any:
    """A :class:`~opfleet.node.source.SourceConfig` from ``opfleet source``'s merged settings."""
    from opfleet.cli._p2p import p2p_config
    from opfleet.config.chain import l1_blob_schedule, load_rollup_config
    from opfleet.node.source import SourceConfig, check_supported
    from opfleet.providers.jwt import load_jwt_secret

    if settings.get("sequencer.enabled"):
        raise NotAvailableYet("--sequencer.enabled: a source node does not sequence in this version")
    rollup = load_rollup_config(settings)
    check_supported(rollup)
    l1 = required(settings, "l1", "the L1 execution RPC endpoint")
    l2 = required(settings, "l2", "the execution client's Engine API endpoint")
    jwt_path = required(settings, "l2.jwt-secret", "the JWT secret file shared with the execution client")
    beacon = settings.get("l1.beacon") or None
    if beacon is None and rollup.ecotone_time is not None:
        raise ConfigError("missing the L1 beacon endpoint (blobs are read from it from Ecotone): set --l1.beacon",
                          key="l1.beacon")
    blob_schedule = l1_blob_schedule(rollup, settings.get("rollup.l1-chain-config"))
    return SourceConfig(
        rollup_config=rollup,
        blob_schedule=blob_schedule,
        l1_url=str(l1),
        l2_url=str(l2),
        jwt_secret=load_jwt_secret(str(jwt_path)),
        l1_beacon_url=str(beacon) if beacon else None,
        l1_beacon_seconds_per_slot=int(setting(settings, "l1.beacon.seconds-per-slot", SOURCE)),
        l1_poll_interval=positive(settings, "l1.http-poll-interval", SOURCE),
        l1_max_batch_size=batch_size(settings, SOURCE),
        l1_confs=int(setting(settings, "verifier.l1-confs", SOURCE)),
        **server_settings(settings, SOURCE),
        safedb_path=settings.get("safedb.path") or None,
        p2p=p2p_config(settings),
    )


async def serve(config: Any) -> ExitStatus:
    """Run the node until SIGINT/SIGTERM (-> 130) or a critical error (raised)."""
    from opfleet.node.source import SourceNode

    return await run_until_signal(SourceNode(config).run)


def run(ctx: Context) -> ExitStatus:
    config = source_config(ctx.settings)
    return run_daemon(serve, config)
