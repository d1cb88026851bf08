"""``opfleet light``: run a light node until Ctrl-C (see :mod:`opfleet.node.light`).

Settings are checked before anything starts: a missing or unreadable one is a
:class:`~opfleet.errors.ConfigError` naming its flag. No ``--l1.beacon`` is needed: a light node
reads no blobs (op-node asks for one anyway; we deliberately do not). Once running, unreachable
sources, L1 or execution client are outages: one log line each, retried with backoff. A source on
another chain stops the node with one line (exit status 3); Ctrl-C or SIGTERM exits 130.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

import trio

from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.cli.source import _required, _unwrap

log = logging.getLogger("opfleet.light")


def light_config(settings: Any) -> Any:
    """A :class:`~opfleet.node.light.LightConfig` from ``opfleet light``'s merged settings."""
    from opfleet.config.chain import load_rollup_config
    from opfleet.node.light import LightConfig
    from opfleet.providers.jwt import load_jwt_secret

    sources = _required(settings, "l2.follow.source", "the source to follow (an op-node-compatible RPC)")
    rollup = load_rollup_config(settings)
    l1 = _required(settings, "l1", "the L1 execution RPC endpoint (used to check the source's L1 references)")
    l2 = _required(settings, "l2", "the execution client's Engine API endpoint")
    jwt_path = _required(settings, "l2.jwt-secret", "the JWT secret file shared with the execution client")
    sequencer_config = None
    if settings.get("sequencer.enabled"):
        from opfleet.node.sequencer import SequencerConfig

        sequencer_config = SequencerConfig(max_safe_lag=int(settings.get("sequencer.max-safe-lag") or 0),
                                           l1_confs=int(settings.get("sequencer.l1-confs") or 0))

    def port(key: str, default: int) -> int:
        value = settings.get(key)
        return int(value) if value is not None else default

    return LightConfig(
        rollup_config=rollup,
        sources=tuple(str(s) for s in (sources if isinstance(sources, (list, tuple)) else [sources])),
        l1_url=str(l1),
        l2_url=str(l2),
        jwt_secret=load_jwt_secret(str(jwt_path)),
        source_rpc_timeout=float(settings.get("l2.follow.source.rpc-timeout") or 10.0),
        poll_interval=float(settings.get("l2.follow.source.poll-interval") or 0.0),
        payloads_url=settings.get("l2.follow.payloads") or None,
        l1_poll_interval=float(settings.get("l1.http-poll-interval") or 12.0),
        rpc_addr=str(settings.get("rpc.addr") or "127.0.0.1"),
        rpc_port=port("rpc.port", 9545),
        enable_admin=bool(settings.get("rpc.enable-admin")),
        metrics_enabled=bool(settings.get("metrics.enabled")),
        metrics_addr=str(settings.get("metrics.addr") or "0.0.0.0"),
        metrics_port=port("metrics.port", 7300),
        sequencer_enabled=bool(settings.get("sequencer.enabled")),
        sequencer_config=sequencer_config,
    )


async def serve(config: Any) -> ExitStatus:
    """Run the node until SIGINT/SIGTERM (-> 130) or a fatal error (raised)."""
    from opfleet.node.light import LightNode

    node = LightNode(config)
    stopped_by: list[int] = []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for signum in signals:
                    stopped_by.append(signum)
                    log.info("Shutting down", extra={"fields": {"signal": signal.Signals(signum).name}})
                    nursery.cancel_scope.cancel()
                    return

            async def run_node() -> None:
                await node.run()
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            nursery.start_soon(run_node)
    return ExitStatus.INTERRUPTED if stopped_by else ExitStatus.OK


def run(ctx: Context) -> ExitStatus:
    config = light_config(ctx.settings)
    try:
        return trio.run(serve, config)
    except BaseExceptionGroup as group:
        raise _unwrap(group) from None
