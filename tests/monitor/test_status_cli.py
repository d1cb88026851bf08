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
    # a derive-only source: its unsafe head is its safe head
    fakes = {"src": FakeNode(100, safe=100), "super": FakeSupernode({901: FakeNode(40, chain_id=901)})}
    with ThreadedFleet(fakes) as urls:
        result = cli(["status", "--discover", urls["src"], urls["super"]])
    assert result.status == ExitStatus.OK, result.stderr
    from opfleet.monitor.fleet import load_profile

    path = tmp_path / "found.toml"
    path.write_text(result.stdout)
    fleet = load_profile(path)
    roles = {n.url: (n.role.value, n.chain) for n in fleet.nodes}
    assert roles[urls["src"]] == ("source", "10") and roles[urls["super"]] == ("supernode", None)


def test_discover_tells_light_nodes_and_sequencers_from_sources(cli, tmp_path):
    # op-node shapes (no opfleet_nodeInfo, no admin API): a source derives (unsafe = local-safe),
    # a sequencer's unsafe head runs ahead of local-safe, a light node (op-node --l2.follow.source)
    # never drives pending-safe; an opfleet light node says what it is and whom it follows
    seq = FakeNode(400, safe=250)
    src = FakeNode(250, safe=250)
    light = FakeNode(400, safe=250, pending_safe=12)
    opfleet_light = FakeNode(400, safe=250)
    admin_seq = FakeNode(250, safe=250)  # a sequencer that just started: only admin tells
    fakes = {"seq": seq, "src": src, "light": light, "ofl": opfleet_light, "admin": admin_seq,
             "super": FakeSupernode({901: FakeNode(40, safe=40, chain_id=901)})}
    with ThreadedFleet(fakes) as urls:
        async def node_info():
            return {"role": "light", "follows": [urls["src"] + "/"]}

        async def sequencer_active():
            return True

        opfleet_light.server.register("opfleet_nodeInfo", node_info)
        admin_seq.server.register("admin_sequencerActive", sequencer_active)
        order = ["seq", "src", "light", "ofl", "admin"]
        result = cli(["status", "--discover", *(urls[n] for n in order), urls["super"] + "/901"])
    assert result.status == ExitStatus.OK, result.stderr
    from opfleet.monitor.fleet import load_profile

    path = tmp_path / "found.toml"
    path.write_text(result.stdout)
    nodes = {n.url: n for n in load_profile(path).nodes}
    roles = {name: nodes[urls[name]].role.value for name in order}
    assert roles == {"seq": "sequencer", "src": "source", "light": "light", "ofl": "light",
                     "admin": "sequencer"}
    assert nodes[urls["ofl"]].follows == (nodes[urls["src"]].name,)  # matched to a discovered URL
    assert 'fill in "follows" for light-1' in result.stdout  # the op-node one: it does not say
    assert nodes[urls["super"] + "/901"].role.value == "supernode"
    assert nodes[urls["super"] + "/901"].chain == "901"


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


def test_check_follow_across_two_chains_says_different_chains(cli):
    # chain 10 and chain 11 share no block: that is two chains, not a divergence
    fakes = {"light": FakeNode(120, safe=100, chain_id=10),
             "src": FakeNode(120, safe=100, chain_id=11, fork=2, fork_from=0),
             "g1": FakeNode(120, safe=100, genesis="0x" + "aa" * 32),
             "g2": FakeNode(120, safe=100, genesis="0x" + "bb" * 32, fork=1)}
    with ThreadedFleet(fakes) as urls:
        chains = cli(["status", "--check-follow", urls["light"], urls["src"]])
        as_json = cli(["status", "--json", "--check-follow", urls["light"], urls["src"]])
        genesis = cli(["status", "--check-follow", urls["g1"], urls["g2"]])
    assert chains.status == ExitStatus.CONFIG, chains.stdout
    assert "DIFFERENT CHAINS" in chains.stdout and "chain 10" in chains.stdout and "chain 11" in chains.stdout
    assert "DIVERGENT" not in chains.stdout and "DIFFERENT HASH" not in chains.stdout
    doc = json.loads(as_json.stdout)
    assert as_json.status == ExitStatus.CONFIG and doc["ok"] is False and doc["divergent"] is False
    assert "chain 11" in doc["different_chains"] and doc["heights"] == []
    assert genesis.status == ExitStatus.CONFIG and "L2 genesis blocks differ" in genesis.stdout


def _profile(profile_path, urls, roles):
    lines = []
    for name, role in roles.items():
        lines.append(f'[[nodes]]\nname = "{name}"\nrole = "{role}"\nurl = "{urls[name]}"\n')
    profile_path.write_text("\n".join(lines))


def test_derive_only_source_is_judged_by_safe_head_and_derivation_lag(cli, tmp_path):
    # A real chain: the sequencer's tip is 150 blocks past the safe head; the derive-only
    # source's unsafe head is its safe head, its current_l1 two blocks behind its L1 head.
    fakes = {"seq": FakeNode(400, safe=250, l1_head=68, current_l1=66),
             "src": FakeNode(250, safe=250, l1_head=68, current_l1=66),
             "light": FakeNode(400, safe=250, l1_head=68, current_l1=66)}
    profile = tmp_path / "fleet.toml"
    with ThreadedFleet(fakes) as urls:
        _profile(profile, urls, {"seq": "sequencer", "src": "source", "light": "light"})
        with_roles = cli(["status", "--json", "--fleet", str(profile)])
        bare = cli(["status", "--json", urls["seq"], urls["src"], urls["light"]])
        fakes["src"].current_l1 = 40  # derivation 28 L1 blocks behind
        behind = cli(["status", "--fleet", str(profile)])
        relaxed = cli(["status", "--max-derivation-lag", "30", "--fleet", str(profile)])
        fakes["src"].current_l1 = 66
        fakes["light"].unsafe = 380  # a light node is still judged by its unsafe head
        light_lags = cli(["status", "--fleet", str(profile)])
    assert with_roles.status == ExitStatus.OK, with_roles.stdout
    doc = json.loads(with_roles.stdout)
    src = next(n for n in doc["nodes"] if n["name"] == "src")
    assert src["lag"]["unsafe"]["blocks"] == 150 and src["alarms"] == []  # a fact, not an alarm
    assert src["derivation_lag"] == {"blocks": 2, "seconds": 24.0}
    assert bare.status == ExitStatus.OK, bare.stdout
    assert {n["role"] for n in json.loads(bare.stdout)["nodes"]} == {"sequencer", "source"}
    assert behind.status == ExitStatus.LAGGING and "derivation 28 L1 blocks behind" in behind.stdout
    assert "unsafe" not in behind.stdout.split("derivation")[0].split("src")[-1]
    assert relaxed.status == ExitStatus.OK, relaxed.stdout + relaxed.stderr
    assert light_lags.status == ExitStatus.LAGGING and "unsafe 20 blocks" in light_lags.stdout


def test_zero_heads_are_never_healthy(cli):
    from opfleet.protocol.sync_status import SyncStatus

    zero = FakeNode(100)
    zero.garbage = SyncStatus().to_json()  # all-zero heads, as a node that has not read its chain
    light = FakeNode(100)
    light.health = (503, {"version": "x", "ready": False,
                          "reason": "not ready: no follow source answers"})
    with ThreadedFleet({"zero": zero, "light": light}) as urls:
        alone = cli(["status", "--json", urls["zero"]])
        table = cli(["status", urls["zero"]])
        unready = cli(["status", "--json", urls["light"]])
    assert alone.status == ExitStatus.UNREACHABLE, alone.stdout
    doc = json.loads(alone.stdout)
    assert doc["verdict"] == "unreachable" and doc["alarms"][0]["kind"] == "not_ready"
    assert "all-zero heads" in doc["alarms"][0]["message"]
    assert table.status == ExitStatus.UNREACHABLE and "not ready" in table.stdout
    assert unready.status == ExitStatus.UNREACHABLE
    assert "no follow source answers" in json.loads(unready.stdout)["alarms"][0]["message"]
