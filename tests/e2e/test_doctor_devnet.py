"""``opfleet doctor`` on real devnets: the default one fails the failover and proxy boxes with the
exact fix; ``--nodes source=2,proxy=1,light=3`` passes them; two sources with an ``opfleet proxy``
started beside them (light nodes still on the sources) get, per light node, the
--l2.follow.source change still to make."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import free_base_port

from opfleet.cli.exit import ExitStatus

pytestmark = pytest.mark.slow  # a whole devnet or fleet: CI runs it; `pytest -m "not slow"` leaves it out


def _start_devnet(data_dir: Path, nodes: str) -> subprocess.Popen:
    """Start a devnet; return once it wrote its fleet profile (every node is serving by then)."""
    data_dir.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-m", "opfleet", "devnet", "--block-time", "1", "--nodes", nodes,
                             "--base-port", str(free_base_port(24)), "--data-dir", str(data_dir),
                             "--duration", "150s", "--log.level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=(data_dir / "stderr.log").open("w"), text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"devnet exited: {(data_dir / 'stderr.log').read_text()[-800:]}"
        if (data_dir / "fleet.toml").exists():
            return proc
        time.sleep(0.2)
    raise AssertionError("the devnet wrote no fleet profile within 60 s")


def _doctor(profile: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run([sys.executable, "-m", "opfleet", "doctor", "--fleet", str(profile), "--window", "3s",
                             "--json", *extra], capture_output=True, text=True, timeout=90)
    return result.returncode, json.loads(result.stdout)


def _box(doc: dict[str, Any], box_id: str) -> dict[str, Any]:
    return next(b for b in doc["boxes"] if b["id"] == box_id)


def _wait_for_safe_heads(profile: Path, proc: subprocess.Popen) -> None:
    """Until every light node has a safe head above genesis (the batcher posted once)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = subprocess.run([sys.executable, "-m", "opfleet", "status", "--fleet", str(profile), "--json"],
                                capture_output=True, text=True, timeout=30)
        doc = json.loads(status.stdout)
        lights = [n for n in doc["nodes"] if n["role"] == "light"]
        if lights and all(n["heads"].get("safe", {}).get("number", 0) > 0 for n in lights):
            return
        assert proc.poll() is None, "the devnet stopped"
        time.sleep(1)
    raise AssertionError("light nodes never had a safe head above genesis")


def test_default_devnet_fails_failover_and_proxy_with_the_fix(tmp_path):
    proc = _start_devnet(tmp_path / "d", "source=1,light=2")
    try:
        profile = tmp_path / "d" / "fleet.toml"
        _wait_for_safe_heads(profile, proc)
        status, doc = _doctor(profile)
        source_url = next(n["url"] for n in tomllib.loads(profile.read_text())["nodes"] if n["role"] == "source")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert status == ExitStatus.DIVERGENT  # 13: boxes failed
    states = {b["id"]: b["state"] for b in doc["boxes"]}
    assert states == {"sources": "fail", "followers": "ok", "tracking": "ok", "proxy": "fail",
                      "sequencers": "ok", "alerting": "unknown"}, json.dumps(doc["boxes"], indent=1)
    assert any("no failover" in line for line in _box(doc, "sources")["evidence"])
    assert _box(doc, "sources")["fixes"][0].startswith("chain 901: add a second source beside source-1")
    assert _box(doc, "proxy")["fixes"][0].startswith(f"chain 901: run 'opfleet proxy --backend {source_url}'")
    assert all("(opfleet_nodeInfo)" in line for line in _box(doc, "followers")["evidence"])
    for box_id in ("sources", "proxy"):
        assert _box(doc, box_id)["fixes"][-1] == "on the devnet: opfleet devnet --nodes source=2,proxy=1,light=2"


def test_devnet_with_a_proxy_tier_passes_every_box_it_can(tmp_path):
    """``--nodes source=2,proxy=1,light=3``: failover, proxy and the rest pass; alerting needs a
    Prometheus, so it stays ? and the exit status is 10."""
    proc = _start_devnet(tmp_path / "d", "source=2,proxy=1,light=3")
    try:
        profile = tmp_path / "d" / "fleet.toml"
        _wait_for_safe_heads(profile, proc)
        status, doc = _doctor(profile)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    states = {b["id"]: b["state"] for b in doc["boxes"]}
    assert states == {"sources": "ok", "followers": "ok", "tracking": "ok", "proxy": "ok",
                      "sequencers": "ok", "alerting": "unknown"}, json.dumps(doc["boxes"], indent=1)
    assert status == ExitStatus.LAGGING  # 10: some box ?, none ✗
    assert "proxy-1: fronts 2 sources (source-1, source-2), 2 up" in _box(doc, "proxy")["evidence"]
    assert {f"light-{i} → proxy-1" for i in (1, 2, 3)} <= set(_box(doc, "proxy")["evidence"])
    # the devnet's nodes serve metrics, so the L1 spend is measured: 2 deriving nodes of 6 op-nodes
    spend = doc["spend"]
    assert (spend["derivers"], spend["op_nodes"], spend["note"]) == (2, 6, None)
    assert spend["l1_blocks"] > 0 and spend["per_deriver"] > 0
    assert spend["saved_fraction"] == pytest.approx(1 - 2 / 6, abs=1e-3)


def test_two_sources_and_a_proxy_pass_failover_and_name_each_light_nodes_change(tmp_path):
    proc = _start_devnet(tmp_path / "d", "source=2,light=3")
    proxy = None
    try:
        profile = tmp_path / "d" / "fleet.toml"
        nodes = tomllib.loads(profile.read_text())["nodes"]
        sources = [n["url"] for n in nodes if n["role"] == "source"]
        port = free_base_port(1)
        proxy = subprocess.Popen([sys.executable, "-m", "opfleet", "proxy", "--backend", ",".join(sources),
                                  "--rpc.port", str(port), "--consensus.min-peer-count", "0",
                                  "--log.level", "warn"], stderr=subprocess.PIPE, text=True)
        proxy_url = f"http://127.0.0.1:{port}"
        with profile.open("a") as f:
            f.write(f'\n[[nodes]]\nname = "proxy"\nrole = "proxy"\nurl = "{proxy_url}"\nchain = "901"\n'
                    'follows = ["source-1", "source-2"]\n')
        _wait_for_safe_heads(profile, proc)
        status, doc = _doctor(profile)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=20)
        proc.terminate()
        proc.wait(timeout=20)
    states = {b["id"]: b["state"] for b in doc["boxes"]}
    assert states["sources"] == "ok", _box(doc, "sources")
    assert "chain 901: 2 deriving sources (source-1, source-2): failover ok" in _box(doc, "sources")["evidence"]
    assert states["proxy"] == "fail"  # the devnet's light nodes follow a source, not the proxy
    assert "proxy: fronts 2 sources (source-1, source-2), 2 up" in _box(doc, "proxy")["evidence"]
    fixes = _box(doc, "proxy")["fixes"]
    assert len(fixes) == 4 and fixes[-1] == "on the devnet: opfleet devnet --nodes source=2,proxy=1,light=3"
    assert all(f.startswith(f"light-{i}: set --l2.follow.source={proxy_url} (instead of ")
               for i, f in enumerate(fixes[:3], 1))
    assert status == ExitStatus.DIVERGENT
