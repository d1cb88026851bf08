"""``opfleet doctor``'s checklist over plain observed facts: every box both ways, the spend report,
the JSON schema."""

from __future__ import annotations

import json

import pytest

from monitor_helpers import l1_ref, l2_ref

from opfleet.monitor.check import FollowCheck, HeightCheck
from opfleet.monitor.doctor import (
    BOX_IDS,
    Observation,
    RuleSet,
    State,
    classify_rules,
    evaluate,
    l1_calls,
)
from opfleet.monitor.model import FleetSnapshot, NodeSnapshot, NodeSpec, Role
from opfleet.protocol.sync_status import SyncStatus

CHAIN = "10"


def status(safe: int = 90, *, pending: int | None = None, current_l1: int = 20, head_l1: int = 22,
           unsafe: int | None = None) -> SyncStatus:
    ref = l2_ref(safe)
    return SyncStatus(current_l1=l1_ref(current_l1), head_l1=l1_ref(head_l1), safe_l1=l1_ref(head_l1 - 1),
                      finalized_l1=l1_ref(current_l1 - 5), unsafe_l2=l2_ref(unsafe or safe + 10),
                      safe_l2=ref, finalized_l2=l2_ref(safe - 20),
                      pending_safe_l2=ref if pending is None else l2_ref(pending),
                      cross_unsafe_l2=l2_ref(unsafe or safe + 10), local_safe_l2=ref)


def spec(name: str, role: Role, *follows: str, chain: str | None = CHAIN) -> NodeSpec:
    return NodeSpec(name=name, url=f"http://{name}:9545", role=role, chain=chain, follows=follows)


def snapshot(nodes: list[tuple[NodeSpec, SyncStatus | None]], at: float = 1000.0) -> FleetSnapshot:
    return FleetSnapshot(taken_at=at, nodes=tuple(
        NodeSnapshot(spec=s, status=st, chain=s.chain, error=None if st else "connection refused")
        for s, st in nodes))


def agree(light: str, target: str) -> tuple[str, FollowCheck]:
    h = l2_ref(80).hash
    check = FollowCheck(f"http://{light}:9545", f"http://{target}:9545", None, None, status(), status(),
                        (HeightCheck(80, "safe", h, h, b"r" * 32, b"r" * 32),))
    return target, check


def diverge(light: str, target: str) -> tuple[str, FollowCheck]:
    check = FollowCheck(f"http://{light}:9545", f"http://{target}:9545", None, None, status(), status(),
                        (HeightCheck(80, "safe", b"a" * 32, b"b" * 32),))
    return target, check


FOLLOW_METRICS = 'op_node_follow_source_requests_total{result="success"} 12\n'


def good_fleet() -> tuple[list[tuple[NodeSpec, SyncStatus | None]], dict, dict]:
    """The specialized topology done right: two sources behind a proxy, light nodes and a
    sequencer following the proxy."""
    nodes = [
        (spec("source-a", Role.SOURCE), status()),
        (spec("source-b", Role.SOURCE), status()),
        (spec("proxy", Role.PROXY, "source-a", "source-b"), status()),
        (spec("light-1", Role.LIGHT, "proxy"), status()),
        (spec("light-2", Role.LIGHT, "proxy"), status()),
        (spec("seq", Role.SEQUENCER, "proxy"), status()),
    ]
    metrics = {n: (FOLLOW_METRICS, FOLLOW_METRICS) for n in ("light-1", "light-2", "seq")}
    checks = {"light-1": agree("light-1", "proxy"), "light-2": agree("light-2", "proxy")}
    return nodes, metrics, checks


SHIPPED = RuleSet("http://prom:9090", (
    ("OpfleetSourceTierDown", 'sum by (chain) (up{role=~"source|supernode|proxy"}) == 0'),
    ("OpfleetFollowSourceFailing",
     'sum by (instance) (rate(op_node_follow_source_requests_total{result!="success"}[5m])) > 0'),
))


def run(nodes, metrics=None, checks=None, rules=None, first=None, window=0.0, opfleet=None):
    return evaluate(Observation(last=snapshot(nodes), first=None if first is None else snapshot(first, 988.0),
                                window=window, metrics=metrics or {}, checks=checks or {}, rules=rules,
                                opfleet=opfleet or {}, fleet_name="t"))


def test_all_boxes_checked():
    nodes, metrics, checks = good_fleet()
    report = run(nodes, metrics, checks, SHIPPED)
    assert [b.id for b in report.boxes] == list(BOX_IDS)
    assert {b.id: b.state for b in report.boxes} == dict.fromkeys(BOX_IDS, State.OK)
    assert report.result is State.OK
    assert not any(b.fixes for b in report.boxes)
    assert "light-1 → proxy" in report.box("proxy").evidence
    assert any("2 deriving sources" in line for line in report.box("sources").evidence)


# --- sources ------------------------------------------------------------------------------------


def test_one_source_is_no_failover():
    nodes, metrics, checks = good_fleet()
    nodes = [n for n in nodes if n[0].name != "source-b"]
    box = run(nodes, metrics, checks, SHIPPED).box("sources")
    assert box.state is State.FAIL
    assert any("no failover" in line for line in box.evidence)
    assert box.fixes and "second source beside source-a" in box.fixes[0]


def test_source_not_deriving_and_down():
    nodes, metrics, checks = good_fleet()
    nodes[0] = (nodes[0][0], status(current_l1=20, head_l1=200))  # far behind and not moving
    nodes[1] = (nodes[1][0], None)
    box = run(nodes, metrics, checks, SHIPPED).box("sources")
    assert box.state is State.FAIL
    assert any("not deriving" in line and "180 L1 blocks behind" in line for line in box.evidence)
    assert any("source-b: unreachable" in line for line in box.evidence)


def test_source_catching_up_is_unknown():
    nodes, metrics, checks = good_fleet()
    first = list(nodes)
    first[0] = (nodes[0][0], status(current_l1=100, head_l1=200))
    nodes[0] = (nodes[0][0], status(current_l1=120, head_l1=200))
    box = run(nodes, metrics, checks, SHIPPED, first=first, window=12).box("sources")
    assert any("catching up" in line for line in box.evidence)
    # one deriving source left: still a failover failure, which wins over the unknown
    assert box.state is State.FAIL


def test_unknown_roles_are_unknown():
    nodes, metrics, checks = good_fleet()
    nodes.append((spec("mystery", Role.UNKNOWN), status()))
    box = run(nodes, metrics, checks, SHIPPED).box("sources")
    assert box.state is State.UNKNOWN
    assert "mystery" in box.evidence[-1]


# --- every other op-node follows ------------------------------------------------------------------


def test_follows_by_behaviour_op_node():
    nodes, _, checks = good_fleet()
    # op-node light nodes leave pending_safe where it was at start: it never derives
    nodes[3] = (nodes[3][0], status(safe=90, pending=40))
    nodes[4] = (nodes[4][0], status(safe=90))
    first = list(nodes)
    first[4] = (nodes[4][0], status(safe=80))
    report = run(nodes, {"seq": (FOLLOW_METRICS, FOLLOW_METRICS)}, checks, SHIPPED, first=first,
                 window=12, opfleet={"light-1": False, "light-2": False})
    box = report.box("followers")
    assert box.state is State.FAIL  # light-2's pending_safe moved with safe: it derives
    assert any("light-1: pending_safe_l2 40 below safe_l2 90" in line for line in box.evidence)
    assert any("light-2: pending_safe_l2 moved 80 → 90" in line for line in box.evidence)
    assert box.fixes == ("light-2: add --l2.follow.source=http://proxy:9545 (env OP_NODE_L2_FOLLOW_SOURCE)",)


def test_follows_by_opfleet_metrics():
    nodes, _, checks = good_fleet()
    text = 'opfleet_follow_source_up{source="http://proxy:9545"} 1\n'
    nodes[3] = (spec("light-1", Role.LIGHT), status())  # no follows in the profile
    report = run(nodes, {"light-1": (text, text), "light-2": (FOLLOW_METRICS, FOLLOW_METRICS),
                         "seq": (FOLLOW_METRICS, FOLLOW_METRICS)}, checks, SHIPPED)
    assert report.box("followers").state is State.OK
    assert report.follows["light-1"] == ("proxy",)  # learned from the metrics' source label
    assert "light-1 → proxy" in report.box("proxy").evidence


def test_follow_unknown_without_evidence():
    nodes, _, checks = good_fleet()
    box = run(nodes, {"seq": (FOLLOW_METRICS, FOLLOW_METRICS)}, checks, SHIPPED,
              opfleet={"light-1": True}).box("followers")
    assert box.state is State.UNKNOWN
    assert any("light-1: an opfleet node" in line for line in box.evidence)
    assert any("light-2: no op_node_follow_source_requests_total" in line for line in box.evidence)


def test_no_follower_at_all_fails():
    nodes = [(spec("source-a", Role.SOURCE), status()), (spec("source-b", Role.SOURCE), status())]
    box = run(nodes).box("followers")
    assert box.state is State.FAIL and "opfleet light --follow" in box.fixes[0]


# --- tracking -----------------------------------------------------------------------------------------


def test_tracking_divergent_and_unchecked():
    nodes, metrics, _ = good_fleet()
    nodes[4] = (spec("light-2", Role.LIGHT), status())  # follows unknown: not checked
    box = run(nodes, metrics, {"light-1": diverge("light-1", "proxy")}, SHIPPED).box("tracking")
    assert box.state is State.FAIL
    assert any("light-1 vs proxy: DIVERGENT at block 80" in line for line in box.evidence)
    assert any("light-2: not checked" in line for line in box.evidence)


def test_tracking_unreachable_fails_and_no_shared_height_is_unknown():
    nodes, metrics, _ = good_fleet()
    down = FollowCheck("http://light-1:9545", "http://proxy:9545", None, "refused", status(), None)
    empty = FollowCheck("http://light-2:9545", "http://proxy:9545", None, None, status(), status())
    report = run(nodes, metrics, {"light-1": ("proxy", down)}, SHIPPED)
    assert report.box("tracking").state is State.FAIL
    report = run(nodes, metrics, {"light-1": ("proxy", empty), "light-2": agree("light-2", "proxy")},
                 SHIPPED)
    assert report.box("tracking").state is State.UNKNOWN


# --- proxy ------------------------------------------------------------------------------------------


def test_no_proxy_fails_with_the_command():
    nodes, metrics, checks = good_fleet()
    nodes = [(spec(s.name, s.role, "source-a") if s.role is not Role.SOURCE else s, st)
             for s, st in nodes if s.role is not Role.PROXY]
    box = run(nodes, metrics, checks, SHIPPED).box("proxy")
    assert box.state is State.FAIL
    assert "no proxy in front of the source tier" in box.evidence[0]
    assert "opfleet proxy --backend http://source-a:9545 --backend http://source-b:9545" in box.fixes[0]


def test_light_following_a_single_source_fails_with_exact_fix():
    nodes, metrics, checks = good_fleet()
    nodes[4] = (spec("light-2", Role.LIGHT, "source-b"), status())
    box = run(nodes, metrics, checks, SHIPPED).box("proxy")
    assert box.state is State.FAIL
    assert box.fixes == ("light-2: set --l2.follow.source=http://proxy:9545 (instead of http://source-b:9545)",)


def test_proxy_with_one_source_behind_it_fails():
    nodes, metrics, checks = good_fleet()
    nodes[2] = (spec("proxy", Role.PROXY, "source-a"), status())
    box = run(nodes, metrics, checks, SHIPPED).box("proxy")
    assert box.state is State.FAIL and "no failover behind it" in box.evidence[0]


# --- sequencers -------------------------------------------------------------------------------------


def test_sequencer_deriving_fails():
    nodes, metrics, checks = good_fleet()
    nodes[5] = (spec("seq", Role.SEQUENCER), status(safe=90))
    first = list(nodes)
    first[5] = (nodes[5][0], status(safe=84))
    metrics = {k: v for k, v in metrics.items() if k != "seq"}
    box = run(nodes, metrics, checks, SHIPPED, first=first, window=12, opfleet={"seq": False}).box("sequencers")
    assert box.state is State.FAIL
    assert box.fixes == ("seq: add --l2.follow.source=http://proxy:9545 to offload derivation "
                         "(env OP_NODE_L2_FOLLOW_SOURCE)",)


def test_no_sequencer_is_nothing_to_check():
    nodes, metrics, checks = good_fleet()
    nodes = nodes[:5]
    assert run(nodes, metrics, checks, SHIPPED).box("sequencers").state is State.OK


# --- alerting ---------------------------------------------------------------------------------------


def test_alerting_three_ways():
    nodes, metrics, checks = good_fleet()
    assert run(nodes, metrics, checks, None).box("alerting").state is State.UNKNOWN
    assert "opfleet-rules.yml" in run(nodes, metrics, checks, None).box("alerting").fixes[0]
    lacking = RuleSet("http://prom:9090", (("HighCPU", "rate(cpu[5m]) > 0.9"),))
    box = run(nodes, metrics, checks, lacking).box("alerting")
    assert box.state is State.FAIL and len(box.fixes) == 2
    broken = RuleSet("http://prom:9090", error="connection refused")
    assert run(nodes, metrics, checks, broken).box("alerting").state is State.UNKNOWN


def test_equivalent_rules_count():
    source_down, follow = classify_rules([
        ("DeriversGone", 'count(up{job="x", role="source"} == 1) < 1'),
        ("LightStuck", "opfleet_follow_consensus_ok == 0"),
        ("Unrelated", "up == 0"),
    ])
    assert source_down == ["DeriversGone"] and follow == ["LightStuck"]


def test_shipped_rules_pass_the_alerting_box():
    from opfleet.monitor.alerts import load_rules

    alerts = [(r["alert"], r["expr"]) for g in load_rules()["groups"] for r in g["rules"]]
    source_down, follow = classify_rules(alerts)
    assert "OpfleetSourceTierDown" in source_down
    assert {"OpfleetFollowSourceFailing", "OpfleetFollowSourceNoSuccess"} <= set(follow)


# --- spend ------------------------------------------------------------------------------------------


def rpc_metrics(l1: float, beacon: float, engine: float = 500.0) -> str:
    return ("# TYPE op_node_rpc_client_requests_total counter\n"
            f'op_node_rpc_client_requests_total{{client="l1",method="eth_getBlockByNumber"}} {l1}\n'
            f'op_node_rpc_client_requests_total{{client="beacon",method="blobs"}} {beacon}\n'
            f'op_node_rpc_client_requests_total{{client="engine",method="engine_newPayloadV3"}} {engine}\n')


def test_spend_homogeneous_vs_deployed():
    nodes, metrics, checks = good_fleet()
    first = [(s, status(current_l1=20, head_l1=22)) for s, _ in nodes]
    last = [(s, status(current_l1=26, head_l1=28)) for s, _ in nodes]
    metrics = dict(metrics)
    metrics["source-a"] = (rpc_metrics(100, 10), rpc_metrics(148, 16))  # 54 calls / 6 blocks = 9
    metrics["source-b"] = (rpc_metrics(0, 0), rpc_metrics(60, 6))  # 66 / 6 = 11
    metrics["light-1"] = (rpc_metrics(0, 0) + FOLLOW_METRICS, rpc_metrics(6, 0) + FOLLOW_METRICS)
    spend = run(last, metrics, checks, SHIPPED, first=first, window=12).spend
    assert spend.l1_blocks == 6
    rates = {n.name: n.calls_per_l1_block for n in spend.nodes}
    assert rates["source-a"] == 9 and rates["source-b"] == 11 and rates["light-1"] == 1
    assert spend.per_deriver == 10 and spend.derivers == 2
    assert spend.op_nodes == 5  # two sources, two light nodes, one sequencer
    assert spend.homogeneous == 50 and spend.deployed == 20
    assert spend.saved == 30 and spend.saved_fraction == pytest.approx(0.6)
    assert spend.other == 1  # light-1's own L1 calls: not derivation
    text = "\n".join(spend.lines())
    assert "as deployed: 20.0" in text and "homogeneous: 50.0" in text and "(60%)" in text
    assert "not derivation, not counted above: 1.0 L1 calls per L1 block" in text


def test_spend_without_metrics_or_l1_progress_says_why():
    nodes, metrics, checks = good_fleet()
    assert "--window" in run(nodes, metrics, checks, SHIPPED).spend.note
    spend = run(nodes, metrics, checks, SHIPPED, first=nodes, window=12).spend
    assert spend.deployed is None and "L1 did not advance" in spend.note
    moved = [(s, status(head_l1=30)) for s, _ in nodes]
    spend = run(moved, metrics, checks, SHIPPED, first=nodes, window=12).spend
    assert spend.deployed is None and "metrics_url" in spend.note


@pytest.mark.parametrize("text, expected", [
    (None, None), ("", None), ("garbage {{{\n", None),
    ('op_node_rpc_client_requests_total{method="eth_call"} 7\n', 7.0),  # op-node: no client label
    ('op_node_rpc_client_requests_total{client="l1",method="x"} 3\n'
     'op_node_rpc_client_requests_total{client="l1",method="y"} NaN\n', 3.0),
    ('op_node_rpc_client_requests_total_created{client="l1"} 1e9\n', None),
])
def test_l1_calls_from_metrics(text, expected):
    assert l1_calls(text) == expected


# --- output -----------------------------------------------------------------------------------------


def test_json_schema_is_stable():
    nodes, metrics, checks = good_fleet()
    doc = json.loads(json.dumps(run(nodes, metrics, checks, SHIPPED).to_json()))
    assert set(doc) == {"schema", "fleet", "taken_at", "window_s", "result", "boxes", "spend", "nodes"}
    assert doc["schema"] == 1 and doc["result"] == "ok"
    assert [b["id"] for b in doc["boxes"]] == list(BOX_IDS)
    assert set(doc["boxes"][0]) == {"id", "title", "state", "evidence", "fixes"}
    assert set(doc["spend"]) == {"l1_blocks", "nodes", "per_deriver", "derivers", "op_nodes",
                                 "deployed_per_l1_block", "homogeneous_per_l1_block",
                                 "saved_per_l1_block", "saved_fraction", "note", "other_l1_per_l1_block"}
    assert doc["nodes"][3] == {"name": "light-1", "role": "light", "chain": "10",
                               "url": "http://light-1:9545", "reachable": True, "follows": ["proxy"]}


def test_text_marks():
    nodes, metrics, checks = good_fleet()
    nodes = [n for n in nodes if n[0].name != "source-b"]
    lines = run(nodes, metrics, checks, None).lines()
    assert lines[0].startswith("✗ Sources")
    assert any(line.startswith("? Alerting") for line in lines)
    assert any(line.startswith("    → chain 10: add a second source") for line in lines)


def test_opfleet_nodes_say_what_they_follow():
    from opfleet.monitor.doctor import NodeClaim

    nodes, _, checks = good_fleet()
    nodes[3] = (spec("light-1", Role.LIGHT), status())  # the profile does not say
    claims = {"light-1": NodeClaim("light", ("http://proxy:9545",)),
              "light-2": NodeClaim("light", ("http://proxy:9545/",)),
              "seq": NodeClaim("sequencer", ("http://source-a:9545",))}
    report = evaluate(Observation(last=snapshot(nodes), claims=claims, checks=checks, rules=SHIPPED))
    assert report.box("followers").state is State.OK
    assert "light-1: opfleet light node following http://proxy:9545 (opfleet_nodeInfo)" in \
        report.box("followers").evidence
    assert report.follows["light-1"] == ("proxy",)
    assert report.follows["seq"] == ("proxy", "source-a")
    assert report.box("proxy").state is State.OK
    claims["light-2"] = NodeClaim("source")
    box = evaluate(Observation(last=snapshot(nodes), claims=claims, checks=checks)).box("followers")
    assert box.state is State.FAIL
    assert "light-2: says it is a source: it derives from L1 itself" in box.evidence


def test_proxy_says_which_sources_it_fronts():
    from opfleet.monitor.doctor import NodeClaim

    nodes, metrics, checks = good_fleet()
    nodes[2] = (spec("proxy", Role.PROXY), status())  # the profile does not list its backends
    nodes.append((spec("source-c", Role.SOURCE), status()))
    claims = {"proxy": NodeClaim("proxy", ("http://source-a:9545",))}
    box = evaluate(Observation(last=snapshot(nodes), claims=claims, metrics=metrics, checks=checks)).box("proxy")
    assert box.state is State.FAIL and "proxy: fronts 1 source(s) (source-a): no failover behind it" in box.evidence
    claims = {"proxy": NodeClaim("proxy", ("http://source-a:9545", "http://source-c:9545"))}
    box = evaluate(Observation(last=snapshot(nodes), claims=claims, metrics=metrics, checks=checks)).box("proxy")
    assert box.state is State.OK and "proxy: fronts 2 sources (source-a, source-c), 2 up" in box.evidence


def test_a_devnet_gets_the_devnet_flag_as_its_fix():
    nodes, metrics, checks = good_fleet()
    nodes = [n for n in nodes if n[0].name not in ("source-b", "proxy")]
    report = evaluate(Observation(last=snapshot(nodes), metrics=metrics, checks=checks, fleet_name="devnet"))
    for box_id in ("sources", "proxy"):
        assert report.box(box_id).fixes[-1] == "on the devnet: opfleet devnet --nodes source=2,proxy=1,light=2"
    assert "opfleet devnet" not in " ".join(run(nodes, metrics, checks).box("proxy").fixes)


# --- reading Prometheus' rules: garbage in, one line out ------------------------------------------


@pytest.mark.parametrize("status, body, error", [
    (200, b"", "Expecting value"),
    (200, b'{"data": {"gro', "Unterminated string"),
    (200, b"<html>not json</html>", "Expecting value"),
    (200, b'{"status": "success", "data": {"groups": "nope"}}', "no data.groups"),
    (200, b"[1, 2, 3]", "no data.groups"),
    (200, b'{"data": 5}', "no data.groups"),
    (200, b'{"data": {"groups": [' + b'[' * 100_000 + b']' * 100_000 + b']}}', "nested too deep"),
    (500, b"{}", "500"),
    (200, b'{"data": {"groups": [' + b'{"rules": "x"}, ' * 3 + b'{"rules": [{"type": "alerting", "name": 7}]}]}}', None),
], ids=["empty", "truncated", "html", "groups-not-a-list", "a-list", "data-not-an-object",
        "nested-100k", "http-500", "malformed-entries"])
async def test_read_rules_survives_garbage(status, body, error):
    """Empty, truncated, HTML, the wrong shape, an error status, hostile nesting: one line each."""
    import httpx

    from opfleet.monitor.observe import read_rules

    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    rules = await read_rules("http://prom:9090", transport=transport)
    if error is None:
        assert rules.error is None and rules.alerts == ()  # malformed entries skipped, nothing invented
    else:
        assert rules.error is not None and error in rules.error and "\n" not in rules.error


async def test_read_rules_reads_alerting_rules_only():
    import httpx

    from opfleet.monitor.observe import read_rules

    doc = {"status": "success", "data": {"groups": [{"rules": [
        {"type": "recording", "name": "job:up:sum", "query": "sum(up)"},
        {"type": "alerting", "name": "OpfleetSourceTierDown", "query": 'up{role="source"} == 0'}]}]}}
    seen = []

    def answer(request):
        seen.append(str(request.url))
        return httpx.Response(200, json=doc)

    rules = await read_rules("http://prom:9090/", transport=httpx.MockTransport(answer))
    assert rules.alerts == (("OpfleetSourceTierDown", 'up{role="source"} == 0'),)
    assert seen == ["http://prom:9090/api/v1/rules?type=alert"]


async def test_oversized_metrics_are_ignored():
    import httpx

    from opfleet.monitor.observe import _MAX_METRICS_BYTES, _scrape

    big = b"# " + b"x" * _MAX_METRICS_BYTES
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=big))) as http:
        assert await _scrape(http, "http://node:7300/metrics") is None
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, text="a 1\n"))) as http:
        assert await _scrape(http, "http://node:7300/metrics") == "a 1\n"
