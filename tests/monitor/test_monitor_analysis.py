"""The pure derivations: lag, divergence, stalls, source tier, follow failures, metrics text,
and the model's verdict precedence and grouping."""

from __future__ import annotations

from monitor_helpers import FakeNode, l2_ref

from opfleet.monitor import Alarm, AlarmKind, FleetSnapshot, NodeSnapshot, NodeSpec, Role, Verdict
from opfleet.monitor import analysis
from opfleet.monitor.analysis import Thresholds


def test_lag_is_never_negative_and_unknown_without_reference():
    assert analysis.lag_behind(l2_ref(10), l2_ref(15)).blocks == 5
    assert analysis.lag_behind(l2_ref(15), l2_ref(10)).blocks == 0
    assert analysis.lag_behind(None, l2_ref(1)).blocks is None


def test_divergence_only_within_a_chain_and_names_every_node():
    a, b, c = FakeNode(100).status(), FakeNode(100, fork=1, fork_from=100).status(), FakeNode(100).status()
    blocks = {"a": analysis.known_blocks(a), "b": analysis.known_blocks(b), "c": analysis.known_blocks(c)}
    (found,) = analysis.divergences({"a": "1", "b": "1", "c": "1"}, blocks)
    assert found.number == 100 and found.head == "unsafe" and set(found.hashes) == {"a", "b", "c"}
    assert analysis.divergences({"a": "1", "b": "2", "c": "1"}, blocks) == []


def test_stalled_heads_need_a_full_window_of_observation():
    t = Thresholds(stall_unsafe_blocks=5, stall_safe_blocks=10)
    since = {"unsafe": 0.0, "safe": 0.0}
    assert analysis.stalled_heads(since, 0.0, 9.0, 2.0, t) == ()
    assert analysis.stalled_heads(since, 0.0, 10.0, 2.0, t) == ("unsafe",)
    assert analysis.stalled_heads(since, 5.0, 20.0, 2.0, t) == ("unsafe",)  # safe watched 15 s < 20 s
    assert analysis.stalled_heads(since, 0.0, 20.0, 2.0, t) == ("unsafe", "safe")


def test_follow_failures_count_growth_and_restarts():
    assert analysis.follow_failures(None, {"error_fetch_status": 5}) == {}
    assert analysis.follow_failures({"error_fetch_status": 5, "success": 1},
                                    {"error_fetch_status": 7, "success": 9}) == {"error_fetch_status": 2}
    assert analysis.follow_failures({"error_l1_lookup": 9}, {"error_l1_lookup": 2}) == {"error_l1_lookup": 2}


def test_parse_prometheus_text():
    text = ('# HELP op_node_follow_source_requests_total x\n'
            'op_node_follow_source_requests_total{result="success"} 12\n'
            'op_node_follow_source_requests_total{chain="1",result="error_l1_mismatch"} 2 1700000000\n'
            'op_node_follow_source_requests_total{chain="2",result="error_l1_mismatch"} 1\n'
            'op_node_follow_source_requests_total_created{result="success"} 3\n'
            'op_node_follow_source_requests_total{result="bad"} NaN\n'
            'garbage line {\n')
    assert analysis.parse_prometheus(text, analysis.FOLLOW_METRIC, "result") == {
        "success": 12.0, "error_l1_mismatch": 3.0}


def test_source_tier_alarms():
    rows = [("s1", Role.SOURCE, "1", (), False), ("s2", Role.SUPERNODE, "1", (), True),
            ("l1", Role.LIGHT, "1", ("s1",), True), ("l2", Role.LIGHT, "1", (), True)]
    alarms = analysis.source_tier_alarms(rows)
    assert [(a.kind, a.node) for a in alarms] == [(AlarmKind.SOURCE_DOWN, "l1")]  # l2 has s2 up
    rows[1] = ("s2", Role.SUPERNODE, "1", (), False)
    alarms = analysis.source_tier_alarms(rows)
    assert [a.node for a in alarms] == ["l1", "l2", None]


def test_verdict_precedence_and_groups():
    def node(name, role, chain, *kinds):
        return NodeSnapshot(NodeSpec(name, "http://x:1", role), chain=chain,
                            alarms=tuple(Alarm(k, name, k.value) for k in kinds))

    nodes = (node("l", Role.LIGHT, "10", AlarmKind.LAGGING, AlarmKind.STALLED),
             node("s", Role.SOURCE, "10", AlarmKind.GARBAGE), node("x", Role.UNKNOWN, None),
             node("q", Role.SEQUENCER, "9", AlarmKind.FOLLOW_FAILING))
    snap = FleetSnapshot(1.0, nodes, tuple(a for n in nodes for a in n.alarms))
    assert nodes[0].verdict is Verdict.STALLED and nodes[1].verdict is Verdict.UNREACHABLE
    assert snap.verdict is Verdict.UNREACHABLE and not snap.healthy
    assert list(snap.groups) == ["9", "10", None]
    assert list(snap.groups["10"]) == [Role.SOURCE, Role.LIGHT]
    div = FleetSnapshot(1.0, nodes, (Alarm(AlarmKind.DIVERGENT, "s", "d"),) + snap.alarms)
    assert div.verdict is Verdict.DIVERGENT and div.to_json()["verdict"] == "divergent"
    assert snap.node("q") is nodes[3] and snap.node("nope") is None


def test_each_role_is_judged_by_the_heads_it_owns():
    assert analysis.owned_heads(Role.SOURCE) == ("safe",)
    assert analysis.owned_heads(Role.PROXY) == ("safe",)
    assert analysis.owned_heads(Role.SUPERNODE) == ("local_safe", "safe")
    assert analysis.owned_heads(Role.LIGHT) == analysis.owned_heads(Role.SEQUENCER) == ("unsafe", "safe")
    t = Thresholds(max_unsafe_lag=10, max_safe_lag=30)
    lags = {"unsafe": analysis.Lag(150, 300.0), "local_safe": analysis.Lag(40, 80.0), "safe": analysis.Lag(0, 0.0)}
    assert analysis.lag_alarm("s", "x", {h: lags[h] for h in analysis.owned_heads(Role.SOURCE)}, t) is None
    route = analysis.lag_alarm("r", "the fleet's best", {h: lags[h] for h in ("local_safe", "safe")}, t)
    assert route.message == "r: local-safe 40 blocks behind the fleet's best"
    assert "unsafe 150 blocks" in analysis.lag_alarm("l", "x", lags, t).message


def test_derivation_lag_is_current_l1_behind_head_l1():
    status = FakeNode(250, safe=250, l1_head=68, current_l1=66).status()
    assert analysis.derivation_lag(status) == analysis.Lag(2, 24.0)
    t = Thresholds(max_derivation_lag=10)
    assert analysis.derivation_alarm("s", analysis.derivation_lag(status), status, t) is None
    behind = FakeNode(250, safe=250, l1_head=68, current_l1=57).status()
    alarm = analysis.derivation_alarm("s", analysis.derivation_lag(behind), behind, t)
    assert alarm.kind is AlarmKind.LAGGING and "derivation 11 L1 blocks" in alarm.message
    from dataclasses import replace

    from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF

    assert analysis.derivation_lag(replace(status, current_l1=ZERO_L1_BLOCK_REF)) is None


def test_zero_heads_are_not_ready_but_genesis_is_a_chain():
    from dataclasses import replace

    from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF, ZERO_L2_BLOCK_REF
    from opfleet.protocol.sync_status import SyncStatus

    assert "all-zero heads" in analysis.not_ready_reason(SyncStatus(), Role.UNKNOWN)
    ok = FakeNode(10).status()
    assert analysis.not_ready_reason(ok, Role.LIGHT) is None
    genesis = FakeNode(0, safe=0).status()
    assert genesis.unsafe_l2.number == 0 and analysis.not_ready_reason(genesis, Role.SOURCE) is None
    assert "unsafe head" in analysis.not_ready_reason(replace(ok, unsafe_l2=ZERO_L2_BLOCK_REF), Role.SOURCE)
    assert "no L1 head" in analysis.not_ready_reason(replace(ok, head_l1=ZERO_L1_BLOCK_REF), Role.SOURCE)
    no_current = replace(ok, current_l1=ZERO_L1_BLOCK_REF)
    assert "followed any source" in analysis.not_ready_reason(no_current, Role.LIGHT)
    assert analysis.not_ready_reason(no_current, Role.SUPERNODE) is None  # a route reports no current_l1
