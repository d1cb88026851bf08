"""The fleet table's content as pure functions: grouping, sorting, filtering, health, banner."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text

from opfleet.monitor.model import AlarmKind, Role
from opfleet.monitor.tui import demo_fleet
from opfleet.monitor.tui._view import (
    COLUMNS,
    arrange,
    divergence_lines,
    health,
    iter_changed,
    matches,
    node_cells,
    sparkline_data,
)


def _nodes(rows):
    return [r.key.removeprefix("node:") for r in rows if r.node is not None]


def test_rows_are_grouped_by_chain_then_tier_in_model_order():
    rows = arrange(demo_fleet(12))
    groups = [r.key for r in rows if r.node is None]
    assert groups == ["group:901:sequencer", "group:901:source", "group:901:light",
                      "group:902:sequencer", "group:902:source", "group:902:light"]
    # every node row sits under the header of its own chain and tier
    current = None
    for row in rows:
        if row.node is None:
            current = row.key
        else:
            assert current == f"group:{row.node.chain}:{row.node.role.value}"
    assert rows[0].cells[0].plain.startswith("▾ chain 901 · sequencer tier (1)")


def test_sort_by_safe_lag_orders_within_each_group_and_reverses():
    snapshot = demo_fleet(12)
    rows = arrange(snapshot, sort="lag_safe")
    light_901 = [n for n in _nodes(rows) if n.startswith("light-901")]
    lags = [snapshot.node(n).lag_safe.blocks for n in light_901]
    assert lags == sorted(lags) and lags[-1] == 40
    reverse = [n for n in _nodes(arrange(snapshot, sort="lag_safe", reverse=True))
               if n.startswith("light-901")]
    assert reverse[0] == "light-901-001"  # the lagging one first
    # groups keep their order whatever the sort
    assert [r.key for r in rows if r.node is None] == [r.key for r in arrange(snapshot) if r.node is None]


def test_sort_by_health_puts_the_worst_last_and_unknown_numbers_first():
    snapshot = demo_fleet(12)
    light_902 = [n for n in _nodes(arrange(snapshot, sort="health")) if n.startswith("light-902")]
    assert light_902[-1] == "light-902-002"  # DOWN is worse than ok
    by_unsafe = [n for n in _nodes(arrange(snapshot, sort="unsafe")) if n.startswith("light-902")]
    assert by_unsafe[0] == "light-902-002"  # no head: sorts below every number


def test_filter_keeps_matching_nodes_and_drops_empty_groups():
    snapshot = demo_fleet(12)
    rows = arrange(snapshot, query="light 902")
    assert _nodes(rows) == ["light-902-001", "light-902-002", "light-902-003"]
    assert [r.key for r in rows if r.node is None] == ["group:902:light"]
    assert _nodes(arrange(snapshot, query="DOWN")) == ["light-902-002"]
    assert _nodes(arrange(snapshot, query="lagging")) == ["light-901-001"]
    assert arrange(snapshot, query="no-such-node") == []
    assert matches(snapshot.node("seq-901"), "") is True


def test_health_word_and_colour_follow_the_worst_alarm():
    snapshot = demo_fleet(12)
    assert health(snapshot.node("source-902-a")).plain == "ok"
    assert health(snapshot.node("light-902-002")).plain == "DOWN"
    assert "red" in str(health(snapshot.node("light-902-002")).style)
    lagging = health(snapshot.node("light-901-001"))
    assert lagging.plain == "LAGGING" and "yellow" in str(lagging.style)
    assert health(snapshot.node("light-901-003")).plain == "DIVERGED"


def test_node_cells_mark_the_divergent_head_and_show_lags():
    snapshot = demo_fleet(12)
    node = snapshot.node("light-901-003")
    cells = node_cells(node, frozenset({"unsafe"}))
    assert len(cells) == len(COLUMNS)
    assert cells[1].plain == "12,000" and "red" in str(cells[1].style)
    assert "red" not in str(cells[3].style)  # safe head agrees with the fleet
    lagging = node_cells(snapshot.node("light-901-001"))
    assert lagging[6].plain == "40 80s" and lagging[7].plain == "40 80s"
    down = node_cells(snapshot.node("light-902-002"))
    assert [c.plain for c in down[1:9]] == ["-"] * 8


def test_divergence_banner_names_both_sides_and_heights():
    lines = divergence_lines(demo_fleet(12))
    assert len(lines) == 1
    assert lines[0].startswith("DIVERGENCE chain 901 at unsafe #12,000:")
    assert "seq-901,source-901-a 0x" in lines[0] and "vs  light-901-003 0x" in lines[0]
    assert divergence_lines(demo_fleet(12, divergent=False)) == []


def test_changed_cells_are_found_by_text_and_colour():
    a = (Text("1"), Text("ok", style="green"))
    assert list(iter_changed(a, (Text("1"), Text("ok", style="green")))) == []
    assert list(iter_changed(a, (Text("2"), Text("ok", style="green")))) == [0]
    assert list(iter_changed(a, (Text("1"), Text("ok", style="red")))) == [1]
    assert list(iter_changed(None, a)) == [0, 1]


def test_sparkline_data_reads_history_lags():
    node = demo_fleet(12).node("light-901-001")
    safe = sparkline_data(node, "safe")
    assert len(safe) == len(node.history) and min(safe) >= 40
    assert sparkline_data(replace(node, history=()), "unsafe") == []


def test_demo_fleet_is_deterministic_and_sized():
    assert demo_fleet(12) == demo_fleet(12)
    big = demo_fleet(200)
    assert len(big.nodes) == 200
    assert {n.role for n in big.nodes} == {Role.SEQUENCER, Role.SOURCE, Role.LIGHT}
    kinds = {a.kind for a in big.alarms}
    assert {AlarmKind.DIVERGENT, AlarmKind.UNREACHABLE, AlarmKind.LAGGING} <= kinds
