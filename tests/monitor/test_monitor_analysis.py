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
