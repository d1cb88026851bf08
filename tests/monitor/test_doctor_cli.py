"""``opfleet doctor`` end to end over loopback HTTP: fake op-nodes, opfleet nodes that say what
they follow, a fake Prometheus serving /api/v1/rules; every box both ways, the exit codes, --json,
bare URLs and --discover."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor_helpers import FakeNode, ThreadedFleet, dead_url

from opfleet.cli.exit import ExitStatus
from opfleet.monitor.alerts import load_rules
from opfleet.rpc.server import HttpResponse, JsonRpcServer


class DoctorNode(FakeNode):
    """A fake node that can say what it is (``opfleet_nodeInfo``), serve any metrics text and
    move its heads by ``step`` blocks on every status read (so L1 advances across the window)."""

    def __init__(self, unsafe: int = 120, *, info: dict[str, Any] | None = None, step: int = 0,
                 metrics: Any = "", **kw: Any):
        super().__init__(unsafe, **kw)
        self.info = info
        self.step = step
        self.metrics_text = metrics
        self.scrapes = 0
        methods = {"optimism_syncStatus": self._stepping_status,
                   "optimism_rollupConfig": self._rollup_config,
                   "optimism_outputAtBlock": self._output_at_block}
        if info is not None:
            methods["opfleet_nodeInfo"] = self._info
        self.server = JsonRpcServer(methods, extra_routes={"/metrics": self._doctor_metrics})

    async def _stepping_status(self) -> Any:
        answer = self.status().to_json()
        self.advance(self.step)
        return answer

    async def _info(self) -> Any:
        return self.info

    async def _doctor_metrics(self, request: Any) -> HttpResponse:
        self.scrapes += 1
        text = self.metrics_text(self.scrapes) if callable(self.metrics_text) else self.metrics_text
        return HttpResponse.text(text)


class FakePrometheus:
    def __init__(self, alerts: list[tuple[str, str]]):
        self.alerts = alerts
        self.server = JsonRpcServer({}, extra_routes={"/api/v1/rules": self._rules})

    async def _rules(self, request: Any) -> HttpResponse:
        rules = [{"type": "alerting", "name": name, "query": query, "health": "ok"} for name, query in self.alerts]
        return HttpResponse.json({"status": "success", "data": {"groups": [{"name": "g", "rules": rules}]}})


SHIPPED = [(r["alert"], r["expr"]) for g in load_rules()["groups"] for r in g["rules"]]


def source_metrics(scrape: int) -> str:
    # 60 L1 calls and 6 beacon calls between the two scrapes
    return (f'op_node_rpc_client_requests_total{{client="l1",method="eth_getBlockByHash"}} {100 + 60 * scrape}\n'
            f'op_node_rpc_client_requests_total{{client="beacon",method="blob_sidecars"}} {6 * scrape}\n'
            f'op_node_rpc_client_requests_total{{client="engine",method="engine_forkchoiceUpdatedV3"}} {900 * scrape}\n')


def write_profile(path: Path, urls: dict[str, str], entries: list[dict[str, Any]]) -> Path:
    lines = ['[fleet]', 'name = "loopback"', '']
    for entry in entries:
        lines.append("[[nodes]]")
        for key, value in entry.items():
            if key == "url":
                value = urls[value]
            if key == "metrics_url":
                value = urls[value] + "/metrics"
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def doctor(cli, profile: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = cli(["doctor", "--fleet", str(profile), "--window", "0.3", "--timeout", "2s", "--json", *extra])
    assert result.stderr == "" or "opfleet:" in result.stderr
    return result.status, json.loads(result.stdout), result.stderr


def states(doc: dict[str, Any]) -> dict[str, str]:
    return {b["id"]: b["state"] for b in doc["boxes"]}


def box(doc: dict[str, Any], box_id: str) -> dict[str, Any]:
    return next(b for b in doc["boxes"] if b["id"] == box_id)


def test_devnet_shaped_fleet_fails_proxy_and_failover(cli, tmp_path):
    """The default devnet's shape: one source, a light sequencer and two light nodes following it."""
    fakes = {"source": DoctorNode(metrics=source_metrics, step=6),
             "seq": DoctorNode(info={}), "light-1": DoctorNode(info={}), "light-2": DoctorNode(info={})}
    with ThreadedFleet(fakes) as urls:
        for name in ("light-1", "light-2", "seq"):  # opfleet nodes: they say whom they follow
            fakes[name].info = {"role": "sequencer" if name == "seq" else "light", "follows": [urls["source"]]}
        profile = write_profile(tmp_path / "fleet.toml", urls, [
            {"name": "sequencer", "role": "sequencer", "url": "seq", "follows": ["source-1"]},
            {"name": "source-1", "role": "source", "url": "source", "metrics_url": "source"},
            {"name": "light-1", "role": "light", "url": "light-1", "follows": ["source-1"]},
            {"name": "light-2", "role": "light", "url": "light-2", "follows": ["source-1"]},
        ])
        status, doc, _ = doctor(cli, profile)
    assert status == ExitStatus.DIVERGENT  # 13: some box failed
    assert states(doc) == {"sources": "fail", "followers": "ok", "tracking": "ok", "proxy": "fail",
                           "sequencers": "ok", "alerting": "unknown"}
    assert "chain 10: one deriving source (source-1): no failover" in box(doc, "sources")["evidence"]
    fix = box(doc, "proxy")["fixes"][0]
    assert fix.startswith(f"chain 10: run 'opfleet proxy --backend {urls['source']}'")
    assert "light-1 vs source-1" in " ".join(box(doc, "tracking")["evidence"])
    spend = doc["spend"]
    assert spend["derivers"] == 1 and spend["op_nodes"] == 4
    # the exact arithmetic is unit-tested; here: measured from live counters, and consistent
    assert spend["l1_blocks"] > 0 and spend["per_deriver"] > 0
    assert spend["homogeneous_per_l1_block"] == pytest.approx(4 * spend["per_deriver"], abs=0.01)
    assert spend["deployed_per_l1_block"] == pytest.approx(spend["per_deriver"], abs=0.01)


def test_specialized_fleet_passes_every_box(cli, tmp_path):
    follow_metrics = 'op_node_follow_source_requests_total{result="success"} 40\n'
    fakes = {"a": DoctorNode(metrics=source_metrics, step=6), "b": DoctorNode(metrics=source_metrics, step=6),
             "proxy": DoctorNode(), "light-1": DoctorNode(metrics=follow_metrics),
             "light-2": DoctorNode(metrics=follow_metrics), "seq": DoctorNode(metrics=follow_metrics),
             "prometheus": FakePrometheus(SHIPPED)}
    with ThreadedFleet(fakes) as urls:
        profile = write_profile(tmp_path / "fleet.toml", urls, [
            {"name": "seq", "role": "sequencer", "url": "seq", "follows": ["proxy"], "metrics_url": "seq"},
            {"name": "source-a", "role": "source", "url": "a", "metrics_url": "a"},
            {"name": "source-b", "role": "source", "url": "b", "metrics_url": "b"},
            {"name": "proxy", "role": "proxy", "url": "proxy", "follows": ["source-a", "source-b"]},
            {"name": "light-1", "role": "light", "url": "light-1", "follows": ["proxy"], "metrics_url": "light-1"},
            {"name": "light-2", "role": "light", "url": "light-2", "follows": ["proxy"], "metrics_url": "light-2"},
        ])
        status, doc, _ = doctor(cli, profile, "--prometheus", urls["prometheus"])
        assert status == ExitStatus.OK, json.dumps(doc["boxes"], indent=1)
        assert set(states(doc).values()) == {"ok"}
        assert doc["spend"]["derivers"] == 2 and doc["spend"]["saved_fraction"] == pytest.approx(1 - 2 / 5)
        # without Prometheus the alerting box is unknown: exit 10
        status, doc, _ = doctor(cli, profile)
        assert status == ExitStatus.LAGGING and box(doc, "alerting")["state"] == "unknown"
        # a Prometheus without the source-tier rule: failed, with the rule to load
        fakes["prometheus"].alerts = [a for a in SHIPPED if not ("Source" in a[0] and "Down" in a[0])]
        status, doc, _ = doctor(cli, profile, "--prometheus", urls["prometheus"])
        assert status == ExitStatus.DIVERGENT
        assert "OpfleetSourceTierDown" in box(doc, "alerting")["fixes"][0]


def test_text_output_and_broken_parts(cli, tmp_path):
    fakes = {"a": DoctorNode(), "b": DoctorNode(), "light": DoctorNode(fork=1, fork_from=50)}
    with ThreadedFleet(fakes) as urls:
        urls = dict(urls, gone=dead_url())
        profile = write_profile(tmp_path / "fleet.toml", urls, [
            {"name": "source-a", "role": "source", "url": "a"},
            {"name": "source-b", "role": "source", "url": "b"},
            {"name": "light-1", "role": "light", "url": "light", "follows": ["source-a"]},
            {"name": "light-2", "role": "light", "url": "gone", "follows": ["source-b"]},
        ])
        result = cli(["doctor", "--fleet", str(profile), "--window", "0", "--prometheus", dead_url()])
    assert result.status == ExitStatus.DIVERGENT
    out = result.stdout
    assert out.splitlines()[0] == "Definition of Done · loopback · 4 node(s)"
    assert "✔ Sources designated, deriving from L1, with failover" in out
    assert "✗ Light nodes track the safe chain correctly (--check-follow)" in out
    assert "light-1 vs source-a: DIVERGENT at block" in out
    assert "light-2 vs source-b: cannot compare (light-2 unreachable)" in out
    assert "chain ?" not in out  # the unreachable node belongs to the fleet's only chain
    assert "? Alerting treats the source tier as a hard dependency" in out
    assert "cannot read /api/v1/rules" in out
    assert "one snapshot only: give --window to measure" in out


def test_bare_urls_and_discover(cli):
    fakes = {"a": DoctorNode(), "light": DoctorNode()}
    with ThreadedFleet(fakes) as urls:
        plain = cli(["doctor", urls["a"], urls["light"], "--window", "0", "--json"])
        found = cli(["doctor", "--discover", urls["a"], "--window", "0", "--json"])
    doc = json.loads(plain.stdout)
    assert plain.status in (ExitStatus.LAGGING, ExitStatus.DIVERGENT)
    assert len(doc["nodes"]) == 2
    assert json.loads(found.stdout)["nodes"][0]["role"] != "unknown"


@pytest.mark.parametrize("argv, message", [
    (["doctor"], "no nodes to check"),
    (["doctor", "--discover"], "--discover: give the node URLs"),
    (["doctor", "http://127.0.0.1:1", "--window", "-1s"], "--window"),
    (["doctor", "ftp://x"], "not an http(s) URL"),
    (["doctor", "--fleet", "/nonexistent.toml"], "fleet profile not found"),
])
def test_bad_input_is_one_line(cli, argv, message):
    result = cli(argv)
    assert result.status in (ExitStatus.USAGE, ExitStatus.CONFIG)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_op_nodes_that_derive_fail_followers_and_sequencers_with_the_flag_to_add(cli, tmp_path):
    """Plain op-nodes (no opfleet_nodeInfo, no follow metrics) whose pending-safe head moves with
    their safe head between the two looks derive for themselves: ✗ with --l2.follow.source."""
    fakes = {"a": DoctorNode(step=6), "b": DoctorNode(step=6), "proxy": DoctorNode(),
             "light": DoctorNode(step=6), "seq": DoctorNode(step=6)}
    with ThreadedFleet(fakes) as urls:
        profile = write_profile(tmp_path / "fleet.toml", urls, [
            {"name": "source-a", "role": "source", "url": "a"},
            {"name": "source-b", "role": "source", "url": "b"},
            {"name": "proxy", "role": "proxy", "url": "proxy", "follows": ["source-a", "source-b"]},
            {"name": "light-1", "role": "light", "url": "light", "follows": ["proxy"]},
            {"name": "seq", "role": "sequencer", "url": "seq"},
        ])
        status, doc, _ = doctor(cli, profile)
    assert status == ExitStatus.DIVERGENT
    followers = box(doc, "followers")
    assert followers["state"] == "fail"
    assert f"light-1: add --l2.follow.source={urls['proxy']} (env OP_NODE_L2_FOLLOW_SOURCE)" in followers["fixes"]
    assert any(line.startswith("light-1: pending_safe_l2 moved") for line in followers["evidence"])
    sequencers = box(doc, "sequencers")
    assert sequencers["state"] == "fail"
    assert sequencers["fixes"] == [f"seq: add --l2.follow.source={urls['proxy']} to offload derivation "
                                   "(env OP_NODE_L2_FOLLOW_SOURCE)"]
