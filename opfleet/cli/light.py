"""``opfleet light``: run a light node until Ctrl-C (see :mod:`opfleet.node.light`).

Settings are checked before anything starts: a missing or unreadable one is a
:class:`~opfleet.errors.ConfigError` naming its flag. No ``--l1.beacon`` is needed: a light node
reads no blobs (op-node asks for one anyway; we deliberately do not). Once running, unreachable
sources, L1 or execution client are outages: one log line each, retried with backoff. A source on
another chain stops the node with one line (exit status 3); Ctrl-C or SIGTERM exits 130.
"""

from __future__ import annotations

from typing import Any

from opfleet.cli._settings import positive, setting
from opfleet.cli.daemon import required, run_daemon, run_until_signal, server_settings
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.config.spec import FOLLOW_TIMEOUT, LIGHT


def light_config(settings: Any) -> Any:
    """A :class:`~opfleet.node.light.LightConfig` from ``opfleet light``'s merged settings."""
    from opfleet.cli._p2p import p2p_config
    from opfleet.config.chain import l1_blob_schedule, load_rollup_config
    from opfleet.node.light import LightConfig
    from opfleet.providers.jwt import load_jwt_secret

    sources = required(settings, "l2.follow.source", "the source to follow (an op-node-compatible RPC)")
    rollup = load_rollup_config(settings)
    l1 = required(settings, "l1", "the L1 execution RPC endpoint (used to check the source's L1 references)")
    l2 = required(settings, "l2", "the execution client's Engine API endpoint")
    jwt_path = required(settings, "l2.jwt-secret", "the JWT secret file shared with the execution client")
    # op-node decides the L1 chain config for every node; a light sequencer prices L1 blobs with it.
    blob_schedule = l1_blob_schedule(rollup, settings.get("rollup.l1-chain-config"))

    sequencer_config = None
    if settings.get("sequencer.enabled"):
        from opfleet.node.sequencer import SequencerConfig
        from opfleet.node.source import check_supported

        check_supported(rollup)  # a sequencer builds every activation block itself

        sequencer_config = SequencerConfig(max_safe_lag=int(setting(settings, "sequencer.max-safe-lag", LIGHT)),
                                           l1_confs=int(setting(settings, "sequencer.l1-confs", LIGHT)))

    return LightConfig(
        rollup_config=rollup,
        sources=tuple(str(s) for s in (sources if isinstance(sources, (list, tuple)) else [sources])),
        l1_url=str(l1),
        l2_url=str(l2),
        jwt_secret=load_jwt_secret(str(jwt_path)),
        source_rpc_timeout=rpc_timeout(settings),
        poll_interval=float(setting(settings, "l2.follow.source.poll-interval", LIGHT)),
        payloads_url=settings.get("l2.follow.payloads") or None,
        l1_poll_interval=positive(settings, "l1.http-poll-interval", LIGHT),
        **server_settings(settings, LIGHT),
        sequencer_enabled=bool(settings.get("sequencer.enabled")),
        sequencer_config=sequencer_config,
        blob_schedule=blob_schedule,
        p2p=p2p_config(settings, sequencing=bool(settings.get("sequencer.enabled"))),
    )


def rpc_timeout(settings: Any) -> float:
    """``--l2.follow.source.rpc-timeout``; 0 is the default, as in op-node (its RPC client takes a
    zero call timeout for its 10s default)."""
    return float(setting(settings, "l2.follow.source.rpc-timeout", LIGHT)) or float(FOLLOW_TIMEOUT.default)


async def serve(config: Any) -> ExitStatus:
    """Run the node until SIGINT/SIGTERM (-> 130) or a fatal error (raised)."""
    from opfleet.node.light import LightNode

    return await run_until_signal(LightNode(config).run)


def run(ctx: Context) -> ExitStatus:
    config = light_config(ctx.settings)
    return run_daemon(serve, config)
