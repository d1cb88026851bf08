"""A busy port stops the devnet with one line that names what could not listen."""

from __future__ import annotations

import socket

import pytest
import trio

from opfleet.devnet.fleet import Devnet, FleetConfig
from opfleet.errors import ConfigError


def _busy_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


async def _serve(host: str, port: int, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    listeners = await trio.open_tcp_listeners(port, host=host)
    task_status.started()
    await trio.sleep_forever()
    await listeners[0].aclose()


async def test_a_busy_port_given_to_a_server_is_named():
    with _busy_port() as busy:
        port = busy.getsockname()[1]
        async with trio.open_nursery() as nursery:
            with pytest.raises(ConfigError, match=rf"^embedded L1: port {port} is already in use \(another devnet"):
                await Devnet(FleetConfig())._start(nursery, "embedded L1", _serve, "127.0.0.1", port)
            nursery.cancel_scope.cancel()


async def test_a_node_whose_configured_port_is_busy_gets_a_line_without_a_placeholder():
    with _busy_port() as busy:
        port = busy.getsockname()[1]

        async def node_run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            await _serve("127.0.0.1", port, task_status=task_status)  # the port comes from its config

        async with trio.open_nursery() as nursery:
            with pytest.raises(ConfigError) as raised:
                await Devnet(FleetConfig())._start(nursery, "sequencer", node_run)
            nursery.cancel_scope.cancel()
    assert str(raised.value).startswith("sequencer: a port it listens on is already in use")
    assert "port ?" not in str(raised.value)
