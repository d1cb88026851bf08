"""``opfleet devnet`` as a user runs it: endpoints printed and a fleet profile written, a second
instance (same data directory, or a busy port) refused with one line and exit status 3, and
Ctrl-C stopping everything within two seconds with exit status 130."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib

import pytest

from e2e_helpers import free_base_port

from opfleet.cli.exit import ExitStatus

pytestmark = pytest.mark.slow  # a whole devnet or fleet: CI runs it; `pytest -m "not slow"` leaves it out


def devnet(*args: str) -> list[str]:
    return [sys.executable, "-m", "opfleet", "devnet", "--block-time", "1", "--nodes", "source=1,light=1",
            "--log.level", "warn", *args]


def _endpoint_list(proc: subprocess.Popen, timeout: float = 30.0) -> list[str]:
    """The devnet's stdout up to its last endpoint line (the command attaching a node), read in
    a thread so that a line that never comes fails the test instead of blocking it."""
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if "attach a light node:" in line:
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout), f"no endpoint list within {timeout:.0f} s: {''.join(lines)}"
    assert lines and "attach a light node:" in lines[-1], f"devnet exited early: {''.join(lines)}"
    return list(lines)


def test_devnet_prints_endpoints_refuses_a_second_instance_and_stops_on_ctrl_c(tmp_path):
    base = free_base_port()
    proc = subprocess.Popen(devnet("--base-port", str(base), "--data-dir", str(tmp_path / "a")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        text = "".join(_endpoint_list(proc))
        assert "not an EVM" in text
        for role in ("l1", "sequencer", "source", "light"):
            assert f"\n  {role} " in text
        assert f"http://127.0.0.1:{base}" in text
        profile = tomllib.loads((tmp_path / "a" / "fleet.toml").read_text())
        assert {n["role"] for n in profile["nodes"]} == {"sequencer", "source", "light"}
        # The L1 (chain 900) is not one op-node knows: its chain config is written and printed.
        l1_config = tmp_path / "a" / "l1-chain-config.json"
        assert re.search(rf"\n  L1 chain config: +{re.escape(str(l1_config))} ", text)
        assert json.loads(l1_config.read_text())["chainId"] == 900

        same_dir = subprocess.run(devnet("--base-port", str(base + 100), "--data-dir", str(tmp_path / "a")),
                                  capture_output=True, text=True, timeout=60)
        assert same_dir.returncode == ExitStatus.CONFIG and "another opfleet devnet" in same_dir.stderr
        busy = subprocess.run(devnet("--base-port", str(base), "--data-dir", str(tmp_path / "b")),
                              capture_output=True, text=True, timeout=60)
        assert busy.returncode == ExitStatus.CONFIG and "already in use" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1  # one line, no traceback

        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == ExitStatus.INTERRUPTED
        assert time.monotonic() - started < 2.0
    finally:
        proc.kill()
        proc.wait()


def _engine_call(url: str, secret: bytes, method: str) -> dict:
    import httpx

    from opfleet.providers.jwt import encode_jwt

    token = encode_jwt(secret, iat=int(time.time()))
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": []},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10).json()


def test_devnet_lists_what_a_node_of_your_own_needs_names_the_node_of_every_log_line_and_sums_up(tmp_path):
    """The endpoint list lets a user attach a node (each node's Engine API, the JWT file, the
    beacon URL, the labelled EL RPC, the rollup and L1 chain configs), every log line on the
    terminal and in devnet.log names its node and chain, no warning at start, and --duration
    ends with a summary of what the fleet did."""
    from opfleet.devnet.fleet import JWT_SECRET
    from opfleet.protocol.rollup_config import RollupConfig
    from opfleet.providers.jwt import load_jwt_secret

    data = tmp_path / "devnet"
    proc = subprocess.Popen(devnet("--duration", "12", "--log.level", "info", "--base-port", "0",
                                   "--data-dir", str(data)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = _endpoint_list(proc)
        text = "".join(lines)
        urls = {}  # (name, what) -> URL
        name = ""
        for line in lines:
            match = re.match(r"  (\S*) +(\S*) +(http://\S+) +(.+)", line)
            if match:
                name = match[2] or name
                urls[name, match[4].split(" (")[0]] = match[3]
        l1 = urls["l1", "L1 RPC"]
        assert urls["l1-beacon", "L1 beacon API"] == l1  # the embedded L1 serves both
        for node in ("sequencer", "source-1", "light-1"):
            assert ("node RPC" in what for (n, what) in urls if n == node)
            assert (f"{node}-el", "EL RPC") in urls
            assert (f"{node}-el", "Engine API") in urls, text
        jwt_file = data / "jwt.hex"
        assert re.search(rf"\n  JWT secret: +{re.escape(str(jwt_file))} ", text)
        assert load_jwt_secret(jwt_file) == JWT_SECRET
        # every printed Engine API answers with that JWT (and is not the EL's public RPC)
        for node in ("sequencer", "source-1", "light-1"):
            engine = urls[f"{node}-el", "Engine API"]
            assert engine != urls[f"{node}-el", "EL RPC"]
            assert _engine_call(engine, load_jwt_secret(jwt_file), "eth_chainId")["result"] == hex(901)
        rollup_file = data / "rollup.json"
        assert re.search(rf"\n  rollup config: +{re.escape(str(rollup_file))} ", text)
        assert RollupConfig.from_json(json.loads(rollup_file.read_text())).l2_chain_id == 901
        assert f"--rollup.config {rollup_file} --rollup.l1-chain-config {data / 'l1-chain-config.json'}" in text
        assert f"--l2.jwt-secret {jwt_file}" in text and f"--l1 {l1}" in text
        assert re.search(rf"\n  logs: +{re.escape(str(data / 'devnet.log'))} ", text)

        out, err = proc.communicate(timeout=60)
        assert proc.returncode == ExitStatus.OK, err[-800:]
    finally:
        proc.kill()
        proc.wait()
    # --duration ends with a summary: blocks sequenced, derived, followed; no divergence
    summary = out[out.index("opfleet devnet stopped after"):].splitlines()
    row = {line.split()[0]: line for line in summary[1:]}
    assert re.search(r"sequenced +\d+ blocks", row["sequencer"])
    assert re.search(r"derived +\d+ blocks", row["source-1"])
    assert re.search(r"followed +\d+ blocks", row["light-1"])
    assert re.search(r"chain 901: no divergence \(3 nodes have the same block #[1-9]", summary[-1]), summary
    # every log line names its node (and, for L2 nodes, the chain), on the terminal and in the file
    logged = err.splitlines()
    assert len(logged) > 20
    for line in logged:
        assert re.search(r" node=\S+", line), line
    assert any(" node=source-1 chain=901 " in line for line in logged)
    assert any(" node=light-1 chain=901 " in line for line in logged)
    assert any(" node=sequencer-el chain=901 " in line for line in logged)
    in_file = (data / "devnet.log").read_text().splitlines()
    assert len(in_file) >= len(logged) and all(" node=" in line for line in in_file)
    # nothing to warn about in a healthy devnet (no L1 mismatch at start)
    assert not [line for line in logged if not line.startswith("INFO")], err[:2000]
