"""``opfleet source`` as an operator meets it: settings errors name the flag; bad endpoints and a
wrong JWT secret are one log line each and retried; Ctrl-C exits 130 without a traceback."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_helpers import JWT_SECRET, new_engine, start_devnet  # noqa: E402
from node_helpers import grow, post_batches, same_chain  # noqa: E402

from opfleet.cli.exit import ExitStatus
from opfleet.devnet.batcher import CALLDATA
from opfleet.devnet.engine import DevEngine, ForkTimes
from opfleet.protocol.l1_chain_config import L1ChainConfig
from opfleet.testing.derive import FakeL1Chain, make_rollup_config

JWT = "0x" + "11" * 32


@pytest.fixture
def files(tmp_path):
    rollup = tmp_path / "rollup.json"
    rollup.write_text(json.dumps(make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0,
                                                    ecotone_time=0).to_json()))
    jwt = tmp_path / "jwt.hex"
    jwt.write_text(JWT)
    write_l1_chain_config(tmp_path)
    return rollup, jwt


def write_l1_chain_config(directory: Path) -> Path:
    """The devnet L1's chain config (chain 900, Prague), which --rollup.l1-chain-config needs."""
    path = directory / "l1-chain-config.json"
    path.write_text(json.dumps(L1ChainConfig.at_genesis(900, "prague").to_json()))
    return path


def dead_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def base_args(rollup, jwt, *, l2: str | None = None) -> list[str]:
    return ["source", "--rollup.config", str(rollup), "--rollup.l1-chain-config", str(rollup.parent / "l1-chain-config.json"),
            "--l1", dead_url(), "--l1.beacon", dead_url(),
            "--l2", l2 or dead_url(), "--l2.jwt-secret", str(jwt), "--rpc.port", "0",
            "--l1.http-poll-interval", "50ms", "--log.format", "logfmt"]


def interrupt_after(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize("missing", ["--l1", "--l2", "--l2.jwt-secret", "--l1.beacon"])
def test_missing_required_setting_names_the_flag(cli, files, missing):
    argv = base_args(*files)
    i = argv.index(missing)
    del argv[i:i + 2]
    result = cli(argv)
    assert result.status == ExitStatus.CONFIG
    assert f"set {missing}" in result.stderr and result.stderr.count("\n") == 1


def test_missing_chain_and_unreadable_jwt_are_config_errors(cli, files, tmp_path):
    rollup, jwt = files
    argv = base_args(rollup, jwt)
    no_chain = cli(argv[:1] + argv[3:])
    assert no_chain.status == ExitStatus.CONFIG and "--network" in no_chain.stderr
    argv[argv.index("--l2.jwt-secret") + 1] = str(tmp_path / "nope.hex")
    no_jwt = cli(argv)
    assert no_jwt.status == ExitStatus.CONFIG and "nope.hex" in no_jwt.stderr


def test_unreachable_endpoints_retry_quietly_and_ctrl_c_exits_130(cli, files):
    timer = interrupt_after(1.0)
    try:
        result = cli(base_args(*files))
    finally:
        timer.cancel()
    assert result.status == ExitStatus.INTERRUPTED, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "lvl=warn" in line]
    assert len(warnings) == 2, warnings  # one per outage: L1 polling, derivation
    assert any("L1 head polling failing" in w for w in warnings)
    assert "Shutting down" in result.stderr


def test_wrong_jwt_secret_is_one_clear_line(cli, files):
    rollup, jwt = files
    engine = DevEngine(chain_id=901, forks=ForkTimes.up_to("isthmus"), jwt_secret=bytes(range(32)))
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(engine.serve_auth, "127.0.0.1", 0)
            ready.set()
            while not stop.is_set():
                await trio.sleep(0.02)
            nursery.cancel_scope.cancel()

    thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
    thread.start()
    assert ready.wait(5)
    timer = interrupt_after(1.0)
    try:
        result = cli(base_args(rollup, jwt, l2=engine.auth_url))
    finally:
        timer.cancel()
        stop.set()
        thread.join(5)
    assert result.status == ExitStatus.INTERRUPTED, result.stderr
    derivation = [line for line in result.stderr.splitlines() if "Derivation failing" in line]
    assert len(derivation) == 1 and "--l2.jwt-secret" in derivation[0]
    assert "Traceback" not in result.stderr


def test_a_chain_scheduling_lagoon_is_refused_at_startup_with_one_line(cli, tmp_path, files):
    _, jwt = files
    rollup = tmp_path / "lagoon.json"
    obj = make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0, ecotone_time=0, karst_time=0).to_json()
    obj["interop_time"] = 1_900_000_000  # op-node's key; the registry's is lagoon_time
    rollup.write_text(json.dumps(obj))
    result = cli(base_args(rollup, jwt))
    assert result.status == ExitStatus.NOT_AVAILABLE_YET
    assert result.stderr.count("\n") == 1 and "Lagoon" in result.stderr and "1900000000" in result.stderr
    assert "2030-03-17" in result.stderr  # when, in UTC
    assert "Traceback" not in result.stderr


def test_a_chain_scheduling_karst_is_no_longer_refused():
    from opfleet.node.source import check_supported

    check_supported(make_rollup_config(FakeL1Chain(), karst_time=1_800_000_000))


def test_lagoon_is_refused_unless_it_is_the_devnets_own_interop_mode():
    from opfleet.errors import NotAvailableYet
    from opfleet.node.source import check_supported

    rollup = make_rollup_config(FakeL1Chain(), karst_time=0, interop_time=0)
    with pytest.raises(NotAvailableYet, match="Lagoon"):
        check_supported(rollup)
    check_supported(rollup, devnet_interop=True)


def test_a_corrupted_upgrade_bundle_stops_the_cli_with_one_line(tmp_path, files):
    """A copy of the package whose Karst bundle lost one byte: ``opfleet source`` for a chain
    that schedules Karst stops at start (exit 6) with one line, deriving nothing."""
    import shutil
    import subprocess
    import sys

    import opfleet

    _, jwt = files
    package = Path(opfleet.__file__).parent
    copy = tmp_path / "site" / "opfleet"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "trusted_setup.txt"))
    bundle = copy / "protocol" / "data" / "upgrades" / "karst_nut_bundle.json"
    bundle.write_bytes(bundle.read_bytes()[:-2] + b"\n")
    rollup = tmp_path / "karst.json"
    rollup.write_text(json.dumps(make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0, ecotone_time=0,
                                                    karst_time=1_800_000_000).to_json()))
    env = {**os.environ, "PYTHONPATH": str(copy.parent)}
    result = subprocess.run([sys.executable, "-m", "opfleet", *base_args(rollup, jwt)],
                            capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
                            cwd=tmp_path)  # not the checkout: -m puts the cwd first on sys.path
    assert result.returncode == ExitStatus.CRITICAL, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "karst_nut_bundle.json is corrupted" in result.stderr and "reinstall" in result.stderr


def test_happy_path_derives_a_safe_head_then_ctrl_c_exits_130(cli, tmp_path):
    """``opfleet source`` against the loopback devnet (L1Server + beacon, DevEngine), run through
    ``opfleet.cli.main.main``; the devnet runs in its own trio loop on another thread."""
    ready, stop = threading.Event(), threading.Event()
    devnet: dict = {}

    async def serve_devnet() -> None:
        async with trio.open_nursery() as nursery:
            net = await start_devnet(nursery)
            await grow(net, 12)
            await post_batches(net, CALLDATA, 1)
            ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
            await net.serve_engine(nursery, ours)
            devnet.update(net=net, ours=ours)
            ready.set()
            while not stop.is_set():
                await trio.sleep(0.02)
            nursery.cancel_scope.cancel()

    thread = threading.Thread(target=trio.run, args=(serve_devnet,), daemon=True)
    thread.start()
    try:
        assert ready.wait(20)
        net, ours = devnet["net"], devnet["ours"]
        rollup, jwt = tmp_path / "rollup.json", tmp_path / "jwt.hex"
        rollup.write_text(json.dumps(net.rollup.to_json()))
        jwt.write_text(JWT_SECRET.hex())

        def interrupt_once_safe() -> None:
            deadline = time.monotonic() + 20
            while ours.safe.number < 12 and time.monotonic() < deadline:
                time.sleep(0.02)
            os.kill(os.getpid(), signal.SIGINT)

        watcher = threading.Thread(target=interrupt_once_safe, daemon=True)
        watcher.start()
        result = cli(["source", "--rollup.config", str(rollup), "--l1", net.l1_server.url,
                      "--rollup.l1-chain-config", str(write_l1_chain_config(tmp_path)),
                      "--l1.beacon", net.l1_server.url, "--l2", ours.auth_url, "--l2.jwt-secret", str(jwt),
                      "--rpc.port", "0", "--l1.http-poll-interval", "50ms", "--log.format", "logfmt"])
        watcher.join(5)
    finally:
        stop.set()
        thread.join(5)
    assert result.status == ExitStatus.INTERRUPTED, result.stderr
    assert ours.safe.number == 12
    same_chain(ours, net.sequencer_engine, 12)
    assert "Traceback" not in result.stderr and "Shutting down" in result.stderr
    assert "Source node started" in result.stderr and "lvl=warn" not in result.stderr
