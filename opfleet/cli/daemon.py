"""What every long-running command (source, light, supernode, devnet) shares: required settings,
the RPC/metrics settings block, running until SIGINT/SIGTERM, and unwrapping trio's exception
groups into the one error the user should see."""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
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


class SignalScope:
    """What :func:`open_signal_scope` yields: the nursery SIGINT/SIGTERM cancels, and the signal
    that did (None while none has)."""

    def __init__(self, nursery: trio.Nursery):
        self.nursery = nursery
        self.signal: int | None = None

    @property
    def exit_status(self) -> ExitStatus:
        """INTERRUPTED once a signal stopped the scope, else OK."""
        return ExitStatus.OK if self.signal is None else ExitStatus.INTERRUPTED


@asynccontextmanager
async def open_signal_scope() -> AsyncIterator[SignalScope]:
    """A nursery that SIGINT or SIGTERM cancels (logged once); it is cancelled too when the body
    ends, so whatever the body started in it stops with it."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            scope = SignalScope(nursery)

            async def watch_signals() -> None:
                async for signum in signals:
                    scope.signal = signum
                    log.info("Shutting down", extra={"fields": {"signal": signal.Signals(signum).name}})
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(watch_signals)
            yield scope
            nursery.cancel_scope.cancel()


async def run_until_signal(run: Callable[[], Awaitable[Any]]) -> ExitStatus:
    """Run ``run()`` until it returns (OK) or SIGINT/SIGTERM cancels it (INTERRUPTED); its
    errors propagate."""
    async with open_signal_scope() as scope:
        await run()
    return scope.exit_status


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
