"""The shipped Prometheus rules and Grafana dashboard parse and use real metric names.

PyYAML is not a dependency: the rules file is written in a plain YAML subset (block maps and
lists, single-quoted or plain scalars) and parsed here by a small reader for exactly that subset.
"""

from __future__ import annotations

import json
import re

from opfleet.monitor.alerts import DASHBOARD, RULES

# Metric names opfleet and op-node expose (opfleet/node/source.py, opfleet/node/light.py) plus
# Prometheus' own per-target ``up``.
KNOWN_METRICS = {"up", "op_node_up", "op_node_refs_number", "op_node_refs_time",
                 "op_node_follow_source_requests_total", "opfleet_follow_source_up",
                 "opfleet_follow_consensus_ok", "op_supernode_refs_number",
                 "proxyd_consensus_cl_halted", "proxyd_consensus_backend_banned"}
PROMQL_WORDS = {"sum", "by", "max", "min", "count", "on", "and", "or", "group_right", "rate",
                "increase", "changes", "time", "bool", "unless"}


def _scalar(text: str):
    if text.startswith("'"):
        assert text.endswith("'") and len(text) >= 2, text
        return text[1:-1].replace("''", "'")
    assert not text.startswith(('"', "|", ">", "&", "*", "{", "[")), f"outside the subset: {text}"
    return text


def parse_yaml_subset(text: str):
    lines = [(len(l) - len(l.lstrip(" ")), l.strip()) for l in text.splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    pos = 0

    def block(indent: int):
        nonlocal pos
        if lines[pos][1].startswith("- "):
            items = []
            while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
                # a list item is a map whose first key sits after "- "
                lines[pos] = (indent + 2, lines[pos][1][2:])
                items.append(block(indent + 2))
            return items
        out = {}
        while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("- "):
            key, _, rest = lines[pos][1].partition(":")
            assert key and key not in out, lines[pos]
            pos += 1
            rest = rest.strip()
            if rest:
                out[key] = _scalar(rest)
            else:
                assert lines[pos][0] > indent, f"empty value for {key}"
                out[key] = block(lines[pos][0])
        return out

    doc = block(0)
    assert pos == len(lines), f"unparsed from line: {lines[pos]}"
    return doc


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groupings = re.sub(r"\b(by|on)\s*\([^)]*\)", "", without_ranges)
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groupings)} - PROMQL_WORDS


def test_rules_file_structure():
    doc = parse_yaml_subset(RULES.read_text())
    groups = doc["groups"]
    assert {g["name"] for g in groups} == {"opfleet-source-tier", "opfleet-heads", "opfleet-follow-source"}
    alerts = {}
    for group in groups:
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert rule["alert"] not in alerts
            alerts[rule["alert"]] = rule
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            assert re.fullmatch(r"\d+[smh]", rule["for"])
            expr = rule["expr"]
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
            unknown = metric_names(expr) - KNOWN_METRICS
            assert not unknown, f"{rule['alert']}: unknown metrics {unknown}"
    # the topology alarms issue 7 asks for
    assert {"OpfleetSourceTierDown", "OpfleetSafeLagHigh", "OpfleetFollowSourceFailing",
            "OpfleetUnsafeHeadStalled", "OpfleetFollowSourcesDisagree"} <= set(alerts)
    assert 'type="l2_safe"' in alerts["OpfleetSafeLagHigh"]["expr"]
    assert alerts["OpfleetSourceTierDown"]["labels"]["severity"] == "critical"
    assert alerts["OpfleetProxyHalted"]["labels"]["severity"] == "critical"  # proxyd's metric name


def test_yaml_subset_reader_rejects_what_it_does_not_understand():
    assert parse_yaml_subset("a:\n  - b: 'x: y'\n    c: 1\n") == {"a": [{"b": "x: y", "c": "1"}]}
    for bad in ("a: |\n  text\n", "a: 1\na: 2\n"):
        try:
            parse_yaml_subset(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_grafana_dashboard():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    names = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "chain"} <= names
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10
    used = set()
    for expr in exprs:
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
        found = metric_names(expr.replace("$__rate_interval", "5m")) - {"chain", "__rate_interval"}
        assert not found - KNOWN_METRICS, found - KNOWN_METRICS
        used |= found
    assert {"op_node_refs_number", "op_node_follow_source_requests_total", "up"} <= used
    for p in dash["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24


def _selectors(expr: str, metric: str) -> list[str]:
    """The label matchers of every use of ``metric`` in ``expr``."""
    return re.findall(re.escape(metric) + r"\{([^}]*)\}", expr)


def _unsafe_uses(expr: str) -> list[str]:
    return [sel for sel in _selectors(expr, "op_node_refs_number") + _selectors(expr, "op_node_refs_time")
            if 'type="l2_unsafe"' in sel]


def test_rules_judge_each_role_by_what_it_owns():
    """A derive-only source's unsafe head is its safe head: no rule may alarm on a source's
    unsafe head (lag or stall); sources get a derivation-lag rule; supernodes local-safe and safe."""
    doc = parse_yaml_subset(RULES.read_text())
    alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    for name, rule in alerts.items():
        expr = rule["expr"]
        uses = _unsafe_uses(expr)
        if not uses:
            continue
        # the reference side of a lag (max by chain) may span every role; what is alarmed on
        # (the right-hand side, or the only selector) must be light nodes and sequencers only
        alarmed = uses[-1]
        assert 'role=~"light|sequencer"' in alarmed, f"{name} alarms on a source's unsafe head: {expr}"
    derivation = alerts["OpfleetDerivationLagHigh"]["expr"]
    assert 'type="l1_head",role="source"' in derivation and 'type="l1_derived",role="source"' in derivation
    assert derivation.endswith("> 10")  # opfleet status --max-derivation-lag's default
    assert 'type="l2_local_safe"' in alerts["OpfleetSupernodeLocalSafeLagHigh"]["expr"]
    held = alerts["OpfleetSupernodeSafeHeld"]["expr"]
    assert 'type="l2_local_safe"' in held and 'type="l2_safe"' in held
    assert "role" not in alerts["OpfleetSafeLagHigh"]["expr"]  # every role owns its safe head


def test_dashboard_shows_unsafe_lag_for_light_nodes_and_sequencers_only():
    dash = json.loads(DASHBOARD.read_text())
    exprs = {p["title"]: [t["expr"] for t in p.get("targets", [])] for p in dash["panels"]}
    for title, targets in exprs.items():
        for expr in targets:
            uses = _unsafe_uses(expr)
            if uses and ("lag" in title.lower() or "age" in title.lower()):
                assert 'role=~"light|sequencer"' in uses[-1], f"{title}: {expr}"
    (derivation,) = exprs["Derivation lag (L1 blocks behind the L1 head; sources)"]
    assert 'type="l1_derived",role="source"' in derivation
    assert any("op_supernode_refs_number" in e for t in exprs.values() for e in t)
