"""``opfleet status`` end to end: table, --json schema, exit codes and their precedence,
--discover and --check-follow, against loopback fake nodes served from a background thread."""

from __future__ import annotations

import json

from monitor_helpers import FakeNode, FakeSupernode, ThreadedFleet, dead_url

from opfleet.cli.exit import ExitStatus


def test_healthy_table_and_json(cli):
    fakes = {"src": FakeNode(100), "light": FakeNode(99, safe=90)}
    with ThreadedFleet(fakes) as urls:
        table = cli(["status", urls["src"], urls["light"]])
        doc = cli(["status", "--json", urls["src"], urls["light"]])
    assert table.status == ExitStatus.OK, table.stderr
    assert "healthy" in table.stdout and "chain 10" in table.stdout and "100" in table.stdout
    assert doc.status == ExitStatus.OK
    parsed = json.loads(doc.stdout)
    assert parsed["schema"] == 1 and parsed["verdict"] == "healthy" and parsed["healthy"] is True
    node = parsed["nodes"][1]
    assert set(node) >= {"name", "url", "role", "chain", "follows", "reachable", "error", "latency_ms",
                         "polled_at", "heads", "lag", "source_lag", "stalled", "follow_source",
                         "alarms", "sync_status"}
    assert node["heads"]["unsafe"]["number"] == 99 and node["lag"]["unsafe"] == {"blocks": 1, "seconds": 2.0}
    assert node["sync_status"]["safe_l2"]["number"] == 90


def test_exit_codes_and_precedence(cli):
    fakes = {"a": FakeNode(200), "b": FakeNode(150)}
    with ThreadedFleet(fakes) as urls:
        lagging = cli(["status", urls["a"], urls["b"]])
        relaxed = cli(["status", "--max-unsafe-lag", "60", "--max-safe-lag", "60", urls["a"], urls["b"]])
        down = cli(["status", "--timeout", "1s", urls["a"], urls["b"], dead_url()])
        fakes["b"].l1_head = 1000  # b's unsafe head now far older than its L1 head: stalled
        stalled = cli(["status", "--max-unsafe-lag", "60", "--max-safe-lag", "60", urls["a"], urls["b"]])
        both = cli(["status", "--timeout", "1s", urls["a"], urls["b"], dead_url()])
    assert lagging.status == ExitStatus.LAGGING and "behind" in lagging.stdout
    assert relaxed.status == ExitStatus.OK
    assert down.status == ExitStatus.UNREACHABLE
    assert stalled.status == ExitStatus.STALLED
    assert both.status == ExitStatus.UNREACHABLE  # unreachable beats stalled and lagging


def test_divergent_exit_code_in_one_shot(cli):
    fakes = {"a": FakeNode(100), "b": FakeNode(100, fork=1, fork_from=50)}
    with ThreadedFleet(fakes) as urls:
        result = cli(["status", "--json", urls["a"], urls["b"]])
    # both report block 100 with different hashes: seen without any lookup
    assert result.status == ExitStatus.DIVERGENT
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "divergent"
    assert {d["number"] for d in doc["divergences"]} == {70, 90, 100}  # finalized, safe, unsafe


def test_fleet_profile_and_supernode_routes(cli, tmp_path):
    fakes = {"super": FakeSupernode({901: FakeNode(40, chain_id=901)}), "light": FakeNode(40, chain_id=901)}
    with ThreadedFleet(fakes) as urls:
        profile = tmp_path / "fleet.toml"
        profile.write_text(f'[fleet]\nname = "test"\n\n[[nodes]]\nname = "super"\nrole = "supernode"\n'
                           f'url = "{urls["super"]}"\n\n[[nodes]]\nname = "light"\nrole = "light"\n'
                           f'url = "{urls["light"]}"\nfollows = ["super"]\n')
        result = cli(["status", "--fleet", str(profile), "--json"])
    assert result.status == ExitStatus.OK, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert [n["name"] for n in doc["nodes"]] == ["super/901", "light"]
    assert doc["nodes"][1]["source_lag"]["safe"]["blocks"] == 0


def test_bad_profile_is_one_line_config_error(cli, tmp_path):
    profile = tmp_path / "fleet.toml"
    profile.write_text('[[nodes]]\nname = "a"\nurl = "http://x:1"\nrole = "boss"\n')
    result = cli(["status", "--fleet", str(profile)])
    assert result.status == ExitStatus.CONFIG
    assert result.stderr.count("\n") == 1 and "nodes[0].role" in result.stderr and "boss" in result.stderr


def test_no_nodes_is_a_usage_error(cli):
    result = cli(["status"])
    assert result.status == ExitStatus.USAGE and "--fleet" in result.stderr


def test_discover_prints_a_loadable_profile(cli, tmp_path):
    fakes = {"src": FakeNode(100), "super": FakeSupernode({901: FakeNode(40, chain_id=901)})}
    with ThreadedFleet(fakes) as urls:
        result = cli(["status", "--discover", urls["src"], urls["super"]])
    assert result.status == ExitStatus.OK, result.stderr
    from opfleet.monitor.fleet import load_profile

    path = tmp_path / "found.toml"
    path.write_text(result.stdout)
    fleet = load_profile(path)
    roles = {n.url: (n.role.value, n.chain) for n in fleet.nodes}
    assert roles[urls["src"]] == ("source", "10") and roles[urls["super"]] == ("supernode", None)


def test_check_follow_same_chain_and_divergent(cli):
    fakes = {"src": FakeNode(120, safe=100), "light": FakeNode(118, safe=100),
             "other": FakeNode(120, safe=100, fork=1, fork_from=60)}
    with ThreadedFleet(fakes) as urls:
        same = cli(["status", "--check-follow", urls["light"], urls["src"]])
        forked = cli(["status", "--check-follow", urls["other"], urls["src"]])
        down = cli(["status", "--timeout", "1s", "--check-follow", dead_url(), urls["src"]])
    assert same.status == ExitStatus.OK, same.stdout
    assert "same hash, same output root" in same.stdout and "result: OK" in same.stdout
    assert forked.status == ExitStatus.DIVERGENT and "DIFFERENT HASH" in forked.stdout
    assert down.status == ExitStatus.UNREACHABLE and "light unreachable" in down.stdout
