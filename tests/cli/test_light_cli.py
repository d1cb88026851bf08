"""``opfleet light`` as an operator meets it: settings errors name the flag (no --l1.beacon needed),
unreachable endpoints are one line each and retried, a source on another chain is one line and
exit 3, Ctrl-C exits 130 without a traceback."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
import trio

from opfleet.cli.exit import ExitStatus
from opfleet.protocol.l1_chain_config import L1ChainConfig
from opfleet.rpc.optimism import rollup_config_json
from opfleet.rpc.server import JsonRpcServer
from opfleet.testing.derive import FakeL1Chain, make_rollup_config

JWT = "0x" + "11" * 32


@pytest.fixture
def files(tmp_path):
    rollup = make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0, ecotone_time=0)
    path = tmp_path / "rollup.json"
    path.write_text(json.dumps(rollup.to_json()))
    jwt = tmp_path / "jwt.hex"
    jwt.write_text(JWT)
    (tmp_path / "l1-chain-config.json").write_text(json.dumps(L1ChainConfig.at_genesis(900, "prague").to_json()))
    return path, jwt, rollup


def dead_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def base_args(rollup, jwt, *, follow: str | None = None) -> list[str]:
    return ["light", "--follow", follow or dead_url(), "--rollup.config", str(rollup),
            "--rollup.l1-chain-config", str(rollup.parent / "l1-chain-config.json"), "--l1", dead_url(),
            "--l2", dead_url(), "--l2.jwt-secret", str(jwt), "--rpc.port", "0",
            "--l1.http-poll-interval", "50ms", "--log.format", "logfmt"]


def interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize("missing, flag", [("--follow", "--l2.follow.source"), ("--l1", "--l1"), ("--l2", "--l2"),
                                           ("--l2.jwt-secret", "--l2.jwt-secret")])
def test_missing_required_setting_names_the_flag(cli, files, missing, flag):
    argv = base_args(*files[:2])
    i = argv.index(missing)
    del argv[i:i + 2]
    result = cli(argv)
    assert result.status == ExitStatus.CONFIG
    assert f"set {flag}" in result.stderr and result.stderr.count("\n") == 1


def test_sequencer_and_payloads_exclude_each_other(cli, files):
    result = cli(base_args(*files[:2]) + ["--sequencer.enabled", "--l2.follow.payloads", "http://el:8545"])
    assert result.status == ExitStatus.CONFIG and "only one of" in result.stderr


def test_unreachable_endpoints_retry_quietly_and_ctrl_c_exits_130(cli, files):
    timer = interrupt_after(1.0)
    try:
        result = cli(base_args(*files[:2]))  # note: no --l1.beacon, although the chain has Ecotone
    finally:
        timer.cancel()
    assert result.status == ExitStatus.INTERRUPTED, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "lvl=warn" in line]
    # One line per outage: the source, our L1 and our execution client.
    assert len(warnings) == 3, warnings
    assert any("Follow source" in w for w in warnings) and any("L1 head polling" in w for w in warnings)
    assert "Shutting down" in result.stderr


def test_source_on_another_chain_is_one_line_and_a_config_exit(cli, files):
    path, jwt, rollup = files
    other = rollup_config_json(rollup)
    other["l2_chain_id"] = 12345
    server = JsonRpcServer({"optimism_rollupConfig": _const(other)})
    ready, stop, port = threading.Event(), threading.Event(), []

    async def serve() -> None:
        async with trio.open_nursery() as nursery:
            port.append(await nursery.start(server.serve, "127.0.0.1", 0))
            ready.set()
            while not stop.is_set():
                await trio.sleep(0.02)
            nursery.cancel_scope.cancel()

    thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        result = cli(base_args(path, jwt, follow=f"http://127.0.0.1:{port[0]}"))
    finally:
        stop.set()
        thread.join(5)
    assert result.status == ExitStatus.CONFIG, result.stderr
    assert "is on another chain: its L2 chain id is 12345" in result.stderr
    assert "Traceback" not in result.stderr


def _const(value):
    async def method():
        return value

    return method
