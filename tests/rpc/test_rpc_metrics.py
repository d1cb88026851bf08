"""Metrics registry and the Prometheus text exposition format 0.0.4.

Format reference: https://prometheus.io/docs/instrumenting/exposition_formats/ (text format:
HELP/TYPE lines, label value escaping of backslash, double quote and newline).
"""

from __future__ import annotations

import httpx
import pytest

from opfleet.rpc import Registry, serve_metrics
from opfleet.rpc.metrics import CONTENT_TYPE


def test_exposition_text_is_exact():
    registry = Registry()
    follow = registry.counter("op_node_follow_source_requests_total", "Follow-source polls by result.", ["result"])
    refs = registry.gauge("op_node_refs_number", "Block numbers of refs.", ["layer", "type"])
    up = registry.gauge("opfleet_up", "1 when running.")
    follow.inc(result="success")
    follow.inc(2, result="success")
    follow.inc(result="error_fetch_status")
    refs.set(120, layer="l2", type="l2_safe")
    refs.set(118.5, layer="l2", type="l2_finalized")
    up.set(1)
    assert registry.expose() == (
        "# HELP op_node_follow_source_requests_total Follow-source polls by result.\n"
        "# TYPE op_node_follow_source_requests_total counter\n"
        'op_node_follow_source_requests_total{result="error_fetch_status"} 1\n'
        'op_node_follow_source_requests_total{result="success"} 3\n'
        "# HELP op_node_refs_number Block numbers of refs.\n"
        "# TYPE op_node_refs_number gauge\n"
        'op_node_refs_number{layer="l2",type="l2_finalized"} 118.5\n'
        'op_node_refs_number{layer="l2",type="l2_safe"} 120\n'
        "# HELP opfleet_up 1 when running.\n"
        "# TYPE opfleet_up gauge\n"
        "opfleet_up 1\n"
    )


def test_escaping_and_special_values():
    registry = Registry()
    g = registry.gauge("x_value", 'help with \\ and\nnewline', ["path"])
    g.set(float("inf"), path='a"b\\c\nd')
    g.set(float("nan"), path="nan")
    g.set(float("-inf"), path="neg")
    text = registry.expose()
    assert "# HELP x_value help with \\\\ and\\nnewline\n" in text
    assert 'x_value{path="a\\"b\\\\c\\nd"} +Inf\n' in text
    assert 'x_value{path="nan"} NaN\n' in text
    assert 'x_value{path="neg"} -Inf\n' in text


def test_counter_rules_and_label_checks():
    registry = Registry()
    c = registry.counter("requests_total", "Requests.", ["method"])
    with pytest.raises(ValueError):
        c.inc(-1, method="a")
    with pytest.raises(ValueError):
        c.inc(method="a", extra="b")
    with pytest.raises(ValueError):
        c.inc()
    with pytest.raises(ValueError):
        registry.counter("bad-name", "x")
    with pytest.raises(ValueError):
        registry.gauge("ok_name", "x", ["__reserved"])
    assert registry.counter("requests_total", "Requests.", ["method"]) is c
    with pytest.raises(ValueError):
        registry.gauge("requests_total", "Requests.", ["method"])
    c.inc(method="eth_call")
    assert c.get(method="eth_call") == 1
    c.clear()
    assert c.get(method="eth_call") == 0


def test_gauge_function_reads_statistics_at_scrape_time():
    registry = Registry()
    state = {"open": 3}
    g = registry.gauge("rpc_open_connections", "Open connections.")
    g.set_function(lambda: state["open"])
    assert "rpc_open_connections 3\n" in registry.expose()
    state["open"] = 5
    assert "rpc_open_connections 5\n" in registry.expose()
    g.dec()  # ignored while a function is set
    assert "rpc_open_connections 5\n" in registry.expose()


async def test_serve_metrics_over_loopback(nursery):
    registry = Registry()
    registry.counter("opfleet_test_total", "A test counter.").inc(7)
    port = await nursery.start(serve_metrics, registry, "127.0.0.1", 0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"] == CONTENT_TYPE
        assert "opfleet_test_total 7\n" in response.text
        assert (await client.get("/other")).status_code == 404
        assert (await client.post("/metrics")).status_code == 405
