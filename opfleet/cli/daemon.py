"""What every long-running command (source, light, supernode, devnet) shares: required settings,
the RPC/metrics settings block, running until SIGINT/SIGTERM, and unwrapping trio's exception
groups into the one error the user should see."""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from opfleet.cli._settings import ADDRESS_HINT, nonempty, refused, setting
from opfleet.cli.exit import ExitStatus
from opfleet.config.spec import Command
from opfleet.errors import ConfigError, OpfleetError

log = logging.getLogger("opfleet")


def required(settings: Any, key: str, what: str) -> Any:
    """The setting ``key`` or a ConfigError naming its flag."""
    value = settings.get(key)
    if value in (None, ""):
        raise ConfigError(f"missing {what}: set --{key}", key=key)
    return value


def server_settings(settings: Any, command: Command) -> dict[str, Any]:
    """``--rpc.*`` and ``--metrics.*`` as the node config fields of the same names (``command``:
    whose defaults apply where ``settings`` lacks one)."""
    return {
        "rpc_addr": nonempty(settings, "rpc.addr", command, hint=ADDRESS_HINT),
        "rpc_port": int(setting(settings, "rpc.port", command)),
        "enable_admin": bool(setting(settings, "rpc.enable-admin", command)),
        "metrics_enabled": bool(setting(settings, "metrics.enabled", command)),
        "metrics_addr": nonempty(settings, "metrics.addr", command, hint=ADDRESS_HINT),
        "metrics_port": int(setting(settings, "metrics.port", command)),
    }


def batch_size(settings: Any, command: Command) -> int:
    """``--l1.rpc-max-batch-size``: at least 1, as op-node checks it (op-node also refuses more
    than 500; we send what the operator's L1 takes)."""
    value = int(setting(settings, "l1.rpc-max-batch-size", command))
    if value < 1:
        raise refused(settings, "l1.rpc-max-batch-size", f"must be at least 1, got {value}")
    return value


async def run_until_signal(run: Callable[[], Awaitable[Any]]) -> ExitStatus:
    """Run ``run()`` until it returns (OK) or SIGINT/SIGTERM cancels it (INTERRUPTED); its
    errors propagate."""
    stopped_by: list[int] = []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for signum in signals:
                    stopped_by.append(signum)
                    log.info("Shutting down", extra={"fields": {"signal": signal.Signals(signum).name}})
                    nursery.cancel_scope.cancel()
                    return

            async def run_it() -> None:
                await run()
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_signals)
            nursery.start_soon(run_it)
    return ExitStatus.INTERRUPTED if stopped_by else ExitStatus.OK


def unwrap(group: BaseExceptionGroup) -> BaseException:
    """The one meaningful error of an exception group (trio nurseries wrap errors)."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    for kind in (KeyboardInterrupt, OpfleetError):
        for leaf in leaves:
            if isinstance(leaf, kind):
                return leaf
    return leaves[0] if leaves else group


def run_daemon(serve: Callable[..., Awaitable[ExitStatus]], *args: Any) -> ExitStatus:
    """``trio.run(serve, *args)`` with exception groups unwrapped for the CLI's error handling."""
    try:
        return trio.run(serve, *args)
    except BaseExceptionGroup as group:
        raise unwrap(group) from None
