"""proxyd's TOML for consensus_aware_consensus_layer: keys, defaults, Go durations, refusals;
and ``opfleet proxy`` on the command line (one line, exit 3, for every bad setting)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trio

from fakes import Clock, FakeBackend, serve_backends
from opfleet.config.proxyd import DEFAULTS, load_config, parse_config, parse_go_duration
from opfleet.errors import ConfigError

TESTDATA = Path(__file__).parent / "testdata"
ENV = {"NODE1_URL": "http://127.0.0.1:9001", "NODE2_URL": "http://127.0.0.1:9002", "NODE3_URL": "http://127.0.0.1:9003"}


def minimal(**group):
    return {
        "server": {"rpc_port": 8545},
        "backends": {"a": {"rpc_url": "http://a:9545"}, "b": {"rpc_url": "http://b:9545"}},
        "backend_groups": {"node": {"backends": ["a", "b"], "routing_strategy": "consensus_aware_consensus_layer",
                                    **group}},
        "rpc_method_mappings": {"optimism_syncStatus": "node"},
    }


@pytest.mark.parametrize("text,seconds", [
    ("1m", 60), ("5s", 5), ("300ms", 0.3), ("1h30m", 5400), ("1.5s", 1.5), ("0", 0), ("2m3.5s", 123.5),
    ("100us", 1e-4), ("100µs", 1e-4), (".5s", 0.5), ("+1s", 1),
])
def test_go_durations(text, seconds):
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5", "", "s", "1x", "-1s", "1s2", "1 s", "1.2.3s", "ms", ".s", "1d"])
def test_bad_go_durations(text):
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_proxyd_defaults():
    config = parse_config(minimal(), {})
    g = config.group
    assert (g.poller_interval, g.ban_period, g.max_update_threshold, g.max_block_lag, g.min_peer_count) == (
        1.0, 300.0, 30.0, 8, 3)
    assert (g.cl_sync_threshold, g.cl_head_l1_max_age, g.cl_output_root_ban_threshold) == (10, 300.0, 3)
    assert all(DEFAULTS[k] == v for k, v in {"consensus_ban_period": 300.0, "consensus_min_peer_count": 3}.items())
    backend = config.backend("a")
    assert backend.timeout == 5.0 and not backend.skip_peer_count and backend.max_error_rate_threshold == 0.5
    assert (backend.max_latency_threshold, backend.max_degraded_latency_threshold) == (10.0, 5.0)
    assert config.rpc_host == "" and config.rpc_port == 8545
    assert config.whitelist_error_message == "rpc method is not whitelisted"


def test_zero_keeps_the_default_as_proxyd():
    config = parse_config(minimal(consensus_ban_period="0", consensus_max_block_lag=0), {})
    assert config.group.ban_period == 300.0 and config.group.max_block_lag == 8


def test_the_testdata_file_loads_unchanged():
    config = load_config(TESTDATA / "consensus_cl.toml", ENV)
    g = config.group
    assert g.name == "node" and g.backends == ("node1", "node2", "node3") and g.noop_handler
    assert (g.ban_period, g.poller_interval, g.max_update_threshold, g.max_block_lag, g.min_peer_count) == (
        60.0, 0.1, 120.0, 8, 4)
    assert g.cl_head_l1_max_age == 5400.0 and g.cl_sync_threshold == 10
    assert [b.rpc_url for b in config.backends] == list(ENV.values())
    assert config.backend("node1").timeout == 1.0
    assert config.backend("node1").max_degraded_latency_threshold == pytest.approx(0.03)
    assert config.backend("node3").skip_peer_count and not config.backend("node1").skip_peer_count
    assert dict(config.method_mappings) == {"optimism_syncStatus": "node", "optimism_outputAtBlock": "node"}
    assert (config.rpc_host, config.rpc_port, config.max_body_size_bytes) == ("127.0.0.1", 8545, 1048576)


def test_env_urls_and_escapes():
    doc = minimal()
    doc["backends"]["a"]["rpc_url"] = "$MISSING"
    with pytest.raises(ConfigError, match=r"config env var \$MISSING not found"):
        parse_config(doc, {})
    doc["backends"]["a"]["rpc_url"] = "\\http://literal:1"
    assert parse_config(doc, {}).backend("a").rpc_url == "http://literal:1"


def test_response_timeout_milliseconds_wins():
    doc = minimal()
    doc["backend"] = {"response_timeout_seconds": 3, "response_timeout_milliseconds": 250}
    doc["backends"]["b"]["response_timeout_milliseconds"] = 700
    config = parse_config(doc, {})
    assert config.backend("a").timeout == 0.25 and config.backend("b").timeout == 0.7


@pytest.mark.parametrize("change,needle", [
    (lambda d: d.update(cache={"enabled": True}), "cache"),
    (lambda d: d.update(redis={"url": "redis://x"}), "redis"),
    (lambda d: d.update(rate_limit={"base_rate": 5}), "rate_limit"),
    (lambda d: d["server"].update(ws_port=8546), "server.ws_port"),
    (lambda d: d["backends"]["a"].update(ws_url="ws://a"), "backends.a.ws_url"),
    (lambda d: d["backend_groups"]["node"].update(consensus_ha=True), "backend_groups.node.consensus_ha"),
    (lambda d: d["backend_groups"]["node"].update(weighted_routing=True), "weighted_routing"),
])
def test_other_mode_keys_refused_by_name(change, needle):
    doc = minimal()
    change(doc)
    with pytest.raises(ConfigError, match="does not implement") as info:
        parse_config(doc, {})
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_every_refused_key_named_at_once():
    doc = minimal()
    doc["cache"] = {"enabled": True}
    doc["backends"]["b"]["max_rps"] = 3
    with pytest.raises(ConfigError) as info:
        parse_config(doc, {})
    assert "cache" in str(info.value) and "backends.b.max_rps" in str(info.value)


@pytest.mark.parametrize("strategy", ["consensus_aware", "multicall", "fallback", None])
def test_other_routing_strategies_refused(strategy):
    doc = minimal()
    if strategy is None:
        del doc["backend_groups"]["node"]["routing_strategy"]
    else:
        doc["backend_groups"]["node"]["routing_strategy"] = strategy
    with pytest.raises(ConfigError, match="implements only"):
        parse_config(doc, {})


@pytest.mark.parametrize("change,needle", [
    (lambda d: d["backend_groups"]["node"].update(consensus_ban_period="5"), "Go duration"),
    (lambda d: d["backend_groups"]["node"].update(consensus_max_block_lag="8"), "integer"),
    (lambda d: d["backend_groups"]["node"].update(backends=["a", "zz"]), "not defined"),
    (lambda d: d["backend_groups"]["node"].update(backends=[]), "no backends"),
    (lambda d: d["backend_groups"].update(other={"backends": ["a"]}), "one consensus_aware_consensus_layer"),
    (lambda d: d["rpc_method_mappings"].update(eth_call="other"), "not defined"),
    (lambda d: d["backends"]["a"].update(rpc_url=""), "must define an RPC URL"),
    (lambda d: d["backends"]["a"].update(rpc_url="ws://a"), "http(s)"),
    (lambda d: d["server"].update(rpc_port=70000), "at most 65535"),
    (lambda d: d["server"].update(nonsense=1), "unknown proxyd key"),
    (lambda d: d.update(backend_groups={}), "no [backend_groups]"),
    (lambda d: d["backends"]["a"].update(consensus_skip_peer_count="yes"), "boolean"),
])
def test_bad_values(change, needle):
    doc = minimal()
    change(doc)
    with pytest.raises(ConfigError) as info:
        parse_config(doc, {})
    assert needle in str(info.value)


def test_unreadable_and_garbage_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", {})
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nrpc_port = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, {})
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(binary, {})


# --- the command line ----------------------------------------------------------------------------


def test_cli_refuses_other_mode_keys_with_one_line(cli, tmp_path):
    path = tmp_path / "proxyd.toml"
    path.write_text((TESTDATA / "consensus_cl.toml").read_text() + '\n[redis]\nurl = "redis://r:6379"\n')
    result = cli(["proxy", "--config", str(path)], env=ENV)
    assert result.status == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "redis" in lines[0] and str(path) in lines[0]


@pytest.mark.parametrize("argv,needle", [
    (["proxy"], "nothing to proxy"),
    (["proxy", "--config", "x.toml", "--backend", "http://a:1"], "either --config"),
    (["proxy", "--backend", "ftp://a"], "http(s)"),
    (["proxy", "--backend", "http://a:1,http://a:1"], "twice"),
])
def test_cli_bad_settings_exit_3(cli, argv, needle):
    result = cli(argv)
    assert result.status == 3 and needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_missing_env_var_names_it(cli):
    result = cli(["proxy", "--config", str(TESTDATA / "consensus_cl.toml")], env={"NODE1_URL": "http://a:1"})
    assert result.status == 3 and "$NODE2_URL" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_testdata_file_runs_unchanged_in_the_real_command():
    """``opfleet proxy --config consensus_cl.toml`` as a process, with its backends from the
    environment as the file says; only the port is moved off 8545."""
    clock = time.time
    backends = [FakeBackend(f"node{i}", clock) for i in (1, 2, 3)]
    async with serve_backends(*backends):
        port = _free_port()
        env = {**os.environ, **{f"NODE{i}_URL": b.url for i, b in enumerate(backends, 1)}}
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "opfleet", "proxy", "--config", str(TESTDATA / "consensus_cl.toml"),
             "--rpc.port", str(port), "--log.format", "json"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            answer: dict = {}
            async with httpx.AsyncClient() as client:
                with trio.fail_after(20):
                    while "result" not in answer:
                        await trio.sleep(0.1)
                        try:
                            response = await client.post(f"http://127.0.0.1:{port}",
                                                         json={"jsonrpc": "2.0", "id": 1,
                                                               "method": "optimism_syncStatus"})
                        except httpx.TransportError:
                            continue
                        answer = response.json()
                        if "error" in answer:
                            assert response.status_code == 503 and answer["error"]["code"] == -32025
                assert answer["result"]["backend"] == "node1"
                unmapped = await client.post(f"http://127.0.0.1:{port}",
                                             json={"jsonrpc": "2.0", "id": 2, "method": "optimism_version"})
                assert unmapped.status_code == 403
                health = (await client.get(f"http://127.0.0.1:{port}/healthz")).json()
                assert health["consensus_group"] == ["node1", "node2", "node3"]
        finally:
            process.terminate()
            with trio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
        stderr = b""
        if process.stderr is not None:
            stderr = await process.stderr.receive_some(1 << 20) or b""
        lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
        assert any("noop" in line.get("msg", "") for line in lines)


def test_cli_log_level_from_the_file_is_checked(cli, tmp_path):
    path = tmp_path / "proxyd.toml"
    text = (TESTDATA / "consensus_cl.toml").read_text().replace("[server]\n", '[server]\nlog_level = "loud"\n', 1)
    path.write_text(text)
    result = cli(["proxy", "--config", str(path)], env=ENV)
    assert result.status == 3 and "server.log_level" in result.stderr and "loud" in result.stderr
