"""``opfleet source --network NAME`` for each built-in network that is live today, as an operator
runs it: a real process, every endpoint a closed loopback port. It must start, wait for the
endpoints with one warning per outage however many retries there are, and exit 130 on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

JWT = "0x" + "11" * 32
CHAIN_IDS = {"op-sepolia": 11155420, "op-mainnet": 10, "unichain-mainnet": 130, "unichain-sepolia": 1301}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


class Lines:
    """A process's stderr, collected line by line on a thread."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def join(self) -> list[str]:
        self._thread.join(10)
        return self.snapshot()


def wait_for(predicate, lines: Lines, proc: subprocess.Popen, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = lines.snapshot()
        if predicate(seen) or proc.poll() is not None:
            return seen
        time.sleep(0.05)
    return lines.snapshot()


def start_source(tmp_path: Path, *flags: str, stdout=subprocess.PIPE) -> tuple[subprocess.Popen, Lines]:
    """``opfleet source`` as an operator starts it, every endpoint a closed port, no OP_NODE_* or
    OPFLEET_* variables of ours leaking in."""
    jwt = tmp_path / "jwt.hex"
    jwt.write_text(JWT)
    argv = [sys.executable, "-m", "opfleet", "source", *flags,
            "--l1", closed_port_url(), "--l1.beacon", closed_port_url(), "--l2", closed_port_url(),
            "--l2.jwt-secret", str(jwt), "--rpc.port", "0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OP_NODE_", "OPFLEET_"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    return proc, Lines(proc.stderr)


def interrupt(proc: subprocess.Popen) -> int:
    """Ctrl-C, and the exit status."""
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=30)


def kill_if_running(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("network", sorted(CHAIN_IDS))
def test_source_on_a_built_in_network_waits_for_its_endpoints_then_ctrl_c_exits_130(tmp_path: Path, network):
    proc, stderr = start_source(tmp_path, "--network", network, "--l1.http-poll-interval", "50ms",
                                "--log.format", "logfmt", "--log.level", "debug")
    try:
        def retried_twice(seen: list[str]) -> bool:
            # Both outages seen, and at least one retried twice after its warning.
            warned = sum("lvl=warn" in line for line in seen) >= 2
            return warned and any(sum(f"{what} still failing" in line for line in seen) >= 2
                                  for what in ("L1 head polling", "Derivation"))

        seen = wait_for(retried_twice, stderr, proc, timeout=30)
        assert proc.poll() is None, "\n".join(seen)
        assert retried_twice(seen), "\n".join(seen)
        status = interrupt(proc)
    finally:
        kill_if_running(proc)
    lines = stderr.join()
    out = proc.stdout.read() if proc.stdout else ""
    text = "\n".join(lines)
    assert status == 130, text
    assert "Traceback" not in text and out == ""
    started = [line for line in lines if "Source node started" in line]
    assert len(started) == 1, text
    assert f"l2_chain_id={CHAIN_IDS[network]}" in started[0]
    # One warning per outage, not one per retry: L1 head polling and derivation.
    warnings = [line for line in lines if "lvl=warn" in line]
    assert len(warnings) == 2, warnings
    assert sum("L1 head polling failing" in w for w in warnings) == 1
    assert sum("Derivation failing" in w for w in warnings) == 1
    assert not [line for line in lines if "lvl=error" in line or "lvl=crit" in line]
    assert "Shutting down" in text


def test_rollup_config_file_with_an_unknown_key_starts_with_one_warning_naming_it(tmp_path: Path):
    import json

    from opfleet.config.networks import network_json

    obj = network_json("unichain-mainnet")
    obj["fusaka_time"] = 1764798551  # not an op-node key: L1 forks come from the L1's config
    rollup = tmp_path / "rollup.json"
    rollup.write_text(json.dumps(obj))
    proc, stderr = start_source(tmp_path, "--rollup.config", str(rollup), "--log.format", "logfmt",
                                stdout=subprocess.DEVNULL)
    try:
        seen = wait_for(lambda s: any("Source node started" in line for line in s), stderr, proc, timeout=30)
        assert proc.poll() is None, "\n".join(seen)
        status = interrupt(proc)
    finally:
        kill_if_running(proc)
    lines = stderr.join()
    assert status == 130, "\n".join(lines)
    unknown = [line for line in lines if "does not know" in line]
    assert len(unknown) == 1, lines
    assert "lvl=warn" in unknown[0] and f"file={rollup}" in unknown[0] and "keys=fusaka_time" in unknown[0]
