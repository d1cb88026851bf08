"""Fleet profiles: load/validate with one-line ConfigErrors, write and read back, bare URLs."""

from __future__ import annotations

import pytest

from opfleet.errors import ConfigError
from opfleet.monitor import NodeSpec, Role
from opfleet.monitor.fleet import (dumps_profile, load_profile, parse_profile, route_chain,
                                   specs_from_urls, write_profile)

GOOD = {
    "fleet": {"name": "sepolia"},
    "nodes": [
        {"name": "src", "role": "source", "url": "http://src:9545", "chain": 11155420,
         "el_url": "http://geth:8545", "metrics_url": "http://src:7300/metrics"},
        {"name": "super", "role": "supernode", "url": "http://super:9545", "chain": "1"},
        {"name": "route", "role": "supernode", "url": "http://super:9545/901"},
        {"name": "light", "role": "Light", "url": "https://light:9545", "follows": "src"},
    ],
}


def test_parse_good_profile():
    fleet = parse_profile(GOOD)
    assert fleet.name == "sepolia" and [n.name for n in fleet.nodes] == ["src", "super", "route", "light"]
    src, root, route, light = fleet.nodes
    assert src == NodeSpec("src", "http://src:9545", Role.SOURCE, "11155420", "http://geth:8545",
                           "http://src:7300/metrics")
    assert root.chain is None  # a supernode root serves every chain
    assert route.chain == "901" and light.role is Role.LIGHT and light.follows == ("src",)


def test_roundtrip_through_toml(tmp_path):
    path = write_profile(tmp_path / "f" / "fleet.toml", parse_profile(GOOD).nodes, name="sepolia")
    again = load_profile(path)
    assert again.name == "sepolia" and again.nodes == parse_profile(GOOD).nodes
    assert "[[nodes]]" in dumps_profile(again.nodes)


@pytest.mark.parametrize("change, key, words", [
    ({"role": "boss"}, "nodes[0].role", "unknown role"),
    ({"url": "ftp://x"}, "nodes[0].url", "not an http(s) URL"),
    ({"url": None}, "nodes[0].url", "expected a URL"),
    ({"chain": "op"}, "nodes[0].chain", "decimal chain ID"),
    ({"follows": ["ghost"]}, "nodes[0].follows", "unknown node 'ghost'"),
    ({"follows": ["a"]}, "nodes[0].follows", "cannot follow itself"),
    ({"colour": "red"}, "nodes[0]", "unknown key 'colour'"),
    ({"name": " "}, "nodes[0].name", "needs a name"),
    ({"metrics_url": "nope"}, "nodes[0].metrics_url", "not an http(s) URL"),
])
def test_bad_node_is_one_line_config_error(change, key, words):
    node = {"name": "a", "url": "http://a:1", **change}
    node = {k: v for k, v in node.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        parse_profile({"nodes": [node]}, source="fleet.toml")
    text = str(err.value)
    assert "\n" not in text and text.startswith("fleet.toml") and key in text and words in text


def test_profile_level_errors(tmp_path):
    with pytest.raises(ConfigError, match="no nodes"):
        parse_profile({"fleet": {"name": "x"}})
    with pytest.raises(ConfigError, match="duplicate node name 'a'"):
        parse_profile({"nodes": [{"name": "a", "url": "http://a:1"}, {"name": "a", "url": "http://b:1"}]})
    with pytest.raises(ConfigError, match="unknown table 'node'"):
        parse_profile({"node": []})
    with pytest.raises(ConfigError, match="fleet profile not found"):
        load_profile(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[[nodes]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profile(tmp_path / "bad.toml")


def test_devnet_style_profile_loads():
    # what opfleet devnet writes: [fleet] name plus nodes with string chains and follows
    fleet = parse_profile({"fleet": {"name": "devnet"}, "nodes": [
        {"name": "source-1", "url": "http://127.0.0.1:1", "role": "source", "chain": "901"},
        {"name": "light-1", "url": "http://127.0.0.1:2", "role": "light", "chain": "901",
         "follows": ["source-1"]}]})
    assert [n.chain for n in fleet.nodes] == ["901", "901"]


def test_bare_urls():
    specs = specs_from_urls(["http://a:1", "http://a:1", "http://user:pw@super:9/10"])
    assert [s.name for s in specs] == ["a:1", "a:1#2", "super:9/10"]
    assert specs[2].chain == "10" and specs[0].role is Role.UNKNOWN
    assert route_chain("http://x:1/10/") == "10" and route_chain("http://x:1/v1") is None
    with pytest.raises(ConfigError):
        specs_from_urls(["localhost:9545"])
