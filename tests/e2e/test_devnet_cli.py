"""``opfleet devnet`` as a user runs it: endpoints printed and a fleet profile written, a second
instance (same data directory, or a busy port) refused with one line and exit status 3, and
Ctrl-C stopping everything within two seconds with exit status 130."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import tomllib

from opfleet.cli.exit import ExitStatus


def free_base_port(span: int = 16) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + span < 65535 and all(_free(base + i) for i in range(span)):
            return base
    raise AssertionError("no free port range")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def devnet(*args: str) -> list[str]:
    return [sys.executable, "-m", "opfleet", "devnet", "--block-time", "1", "--nodes", "source=1,light=1",
            "--log.level", "warn", *args]


def test_devnet_prints_endpoints_refuses_a_second_instance_and_stops_on_ctrl_c(tmp_path):
    base = free_base_port()
    proc = subprocess.Popen(devnet("--base-port", str(base), "--data-dir", str(tmp_path / "a")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"devnet exited early: {proc.stderr.read()[-500:]}"
            lines.append(line)
            if "fleet profile" in line:
                break
        text = "".join(lines)
        assert "not an EVM" in text
        for role in ("l1", "sequencer", "source", "light"):
            assert f"\n  {role} " in text
        assert f"http://127.0.0.1:{base}" in text
        profile = tomllib.loads((tmp_path / "a" / "fleet.toml").read_text())
        assert {n["role"] for n in profile["nodes"]} == {"sequencer", "source", "light"}
        # The L1 (chain 900) is not one op-node knows: its chain config is written and printed.
        l1_config = tmp_path / "a" / "l1-chain-config.json"
        assert f"L1 chain config: {l1_config}" in proc.stdout.readline()
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
