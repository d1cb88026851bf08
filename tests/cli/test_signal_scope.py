"""The run loop every long-running command shares (:func:`opfleet.cli.daemon.open_signal_scope`):
SIGINT/SIGTERM cancel it and make the exit status 130; a body that ends on its own stops what it
started and exits 0; an error of the body propagates."""

from __future__ import annotations

import os
import signal

import pytest
import trio

from opfleet.cli.daemon import open_signal_scope, run_daemon, run_until_signal
from opfleet.cli.exit import ExitStatus
from opfleet.errors import ConfigError


def test_a_signal_cancels_the_scope_and_says_interrupted():
    reached: list[str] = []

    async def main() -> tuple[int | None, ExitStatus]:
        with trio.fail_after(5):
            async with open_signal_scope() as scope:
                scope.nursery.start_soon(trio.sleep_forever)
                os.kill(os.getpid(), signal.SIGTERM)
                await trio.sleep_forever()
                reached.append("after")  # cancelled: never here
        return scope.signal, scope.exit_status

    assert trio.run(main) == (signal.SIGTERM, ExitStatus.INTERRUPTED)
    assert reached == []


def test_a_body_that_ends_stops_its_tasks_and_says_ok():
    stopped: list[bool] = []

    async def background() -> None:
        try:
            await trio.sleep_forever()
        finally:
            stopped.append(True)

    async def main() -> tuple[int | None, ExitStatus]:
        async with open_signal_scope() as scope:
            scope.nursery.start_soon(background)
            await trio.sleep(0.01)
        return scope.signal, scope.exit_status

    assert trio.run(main) == (None, ExitStatus.OK)
    assert stopped == [True]


def test_run_until_signal_returns_ok_and_errors_reach_the_cli_unwrapped():
    async def done() -> None:
        await trio.sleep(0)

    async def broken() -> None:
        raise ConfigError("bad", key="rpc.port")

    assert trio.run(run_until_signal, done) is ExitStatus.OK
    with pytest.raises(ConfigError, match="bad"):
        run_daemon(run_until_signal, broken)
