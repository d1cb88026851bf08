"""The light node's real follow loop against loopback fake sources and a fake execution client that
records every forkchoice update: the exact FCU sequence op-node's decision table implies
(op-node rollup/engine/engine_controller.go FollowSource), push vs polling, and each failure of
issue 5 item 7."""

from __future__ import annotations

import logging

import httpx
import pytest
import trio

from light_helpers import FakeEL, FakeSource, Records, Setup, dead_url, status, wait_for
from opfleet.errors import ConfigError
from opfleet.node.light import LightNode
from opfleet.protocol.sync_status import L1_KEYS, L2_KEYS, SyncStatus
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError


async def start(nursery, *, push=True, el_chain=10, **overrides):
    """L1 + a fake source + a fake EL holding a1..a<el_chain>; returns (setup, source, el, node)."""
    setup = await Setup().start(nursery)
    source = await FakeSource(setup.rollup, push=push).start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    setup.chains.extend("a", setup.chains.genesis, 20)
    el.have([setup.chains[f"a{n}"] for n in range(1, el_chain + 1)])
    genesis = setup.chains.genesis
    source.set(status(genesis))
    node = await nursery.start(LightNode(setup.config([source.url], el, **overrides)).run)
    # Start-up: the source's first status (genesis) matches; the first forkchoice update is sent.
    await wait_for(lambda: len(el.fcus) == 1)
    assert el.fcus.pop() == (f"a{el_chain}", "g", "g")
    return setup, source, el, node


async def test_forkchoice_updates_follow_the_decision_table_exactly(nursery):
    setup, source, el, node = await start(nursery)
    c = setup.chains
    source.set(status(c["a5"], c["a4"], c["a2"]))  # match: safe heads move, unsafe stays a10
    await wait_for(lambda: len(el.fcus) == 1)
    source.set(status(c["a8"], c["a8"], c["a5"]))
    await wait_for(lambda: len(el.fcus) == 2)
    source.set(status(c["a12"], c["a11"], c["a5"]))  # source ahead: unsafe jumps to local-safe (EL syncs)
    await wait_for(lambda: len(el.fcus) == 3)
    source.set(status(c["a12"], c["a12"], c["a6"]))  # our unsafe a12 is unknown to the EL: "still syncing"
    await wait_for(lambda: len(el.fcus) == 4)
    assert el.fcus == [("a10", "a4", "a2"), ("a10", "a8", "a5"), ("a12", "a11", "a5"), ("a12", "a12", "a6")]
    stats = node.statistics()
    assert stats.actions == {"match": 3, "source_ahead": 1, "el_syncing": 1}
    assert stats.results == {"success": 5}  # the probe at start-up and four changes
    assert stats.source_modes == {source.url: "push"}
    h = node.l2_heads
    assert (h.unsafe, h.local_safe, h.safe, h.finalized) == (c["a12"], c["a12"], c["a12"], c["a6"])


async def test_a_push_source_is_asked_once_per_change_not_polled(nursery):
    # A 1.5 s long poll leaves a loaded machine a second of slack around each count.
    setup, source, el, node = await start(nursery, push_wait=1.5, source_rpc_timeout=3.0)
    c = setup.chains
    source.set(status(c["a5"]))
    await wait_for(lambda: node.l2_heads.safe == c["a5"])
    await trio.sleep(0.3)  # nothing changes: the long poll (1.5 s) is still waiting
    assert source.calls == {"optimism_rollupConfig": 1, "opfleet_waitSyncStatus": 3}
    assert "optimism_syncStatus" not in source.calls
    # one answer at the long poll's timeout, asked again at once, and nothing in between
    await wait_for(lambda: source.calls["opfleet_waitSyncStatus"] == 4, timeout=3)
    await trio.sleep(0.5)
    assert source.calls["opfleet_waitSyncStatus"] == 4
    assert "optimism_syncStatus" not in source.calls


async def test_a_source_without_push_is_polled_every_interval(nursery):
    setup, source, el, node = await start(nursery, push=False, poll_interval=0.1)
    c = setup.chains
    source.set(status(c["a6"], c["a5"], c["a3"]))
    await wait_for(lambda: el.fcus == [("a10", "a5", "a3")])
    before = source.calls["optimism_syncStatus"]
    await trio.sleep(0.5)
    polls = source.calls["optimism_syncStatus"] - before
    assert 3 <= polls <= 7, polls  # every 0.1 s, never faster
    assert source.calls["opfleet_waitSyncStatus"] == 0  # the probe got -32601 and was not counted as served
    assert node.statistics().source_modes == {source.url: "poll"}
    assert el.fcus == [("a10", "a5", "a3")]  # identical forkchoice states are not sent again


async def test_default_poll_interval_is_twice_the_block_time(nursery):
    setup = await Setup().start(nursery)
    assert setup.config(["http://s:1"], "http://e:1", poll_interval=0).effective_poll_interval == 4.0


async def test_source_behind_changes_nothing(nursery):
    setup, source, el, node = await start(nursery)
    c = setup.chains
    source.set(status(c["a9"], c["a8"], c["a6"]))
    await wait_for(lambda: len(el.fcus) == 1)
    source.set(status(c["a5"], c["a4"], c["a2"]))
    await wait_for(lambda: node.statistics().results.get("success", 0) >= 3)
    await trio.sleep(0.05)
    h = node.l2_heads
    assert (h.local_safe, h.safe, h.finalized) == (c["a9"], c["a8"], c["a6"])
    assert el.fcus == [("a10", "a8", "a6")]


async def test_source_reorg_reorgs_our_unsafe_chain(nursery):
    setup, source, el, node = await start(nursery)
    c = setup.chains
    source.set(status(c["a6"], c["a6"], c["a3"]))
    await wait_for(lambda: len(el.fcus) == 1)
    c.extend("b", c["a7"], 5)  # the source's chain now forks after a7
    source.set(status(c["b9"], c["b8"], c["a3"]))
    await wait_for(lambda: len(el.fcus) == 2)
    assert el.fcus == [("a10", "a6", "a3"), ("b9", "b8", "a3")]
    assert node.statistics().actions["conflict"] == 1
    assert node.l2_heads.backup_unsafe == c["a10"]


async def test_light_sequencer_conflict_force_resets_onto_the_source(nursery):
    setup, source, el, node = await start(nursery)
    c = setup.chains

    class StubSequencer:
        resets = 0

        def reset(self):
            self.resets += 1

    node._follower.sequencer = stub = StubSequencer()  # the follower resets the sequencer it hosts
    c.extend("b", c["a7"], 5)
    source.set(status(c["b9"], c["b8"], c["a3"]))
    await wait_for(lambda: len(el.fcus) == 1)
    assert el.fcus == [("b9", "b8", "a3")] and stub.resets == 1
    h = node.l2_heads
    assert (h.unsafe, h.local_safe, h.safe, h.finalized) == (c["b9"], c["b9"], c["b8"], c["a3"])


@pytest.mark.parametrize("lie, result", [
    ("safe_above_local_safe", "error_invalid_state"),
    ("finalized_above_safe", "error_invalid_state"),
    ("unknown_l1_origin", "error_l1_mismatch"),
    ("future_l1_origin", "error_l1_lookup"),
    ("forked_current_l1", "error_l1_mismatch"),
])
async def test_a_lying_source_is_ignored_with_op_nodes_label(nursery, lie, result):
    setup, source, el, node = await start(nursery)
    c = setup.chains
    source.set(status(c["a6"], c["a5"], c["a2"]))
    await wait_for(lambda: len(el.fcus) == 1)
    a9 = c["a9"]
    lies = {
        "safe_above_local_safe": status(c["a7"], c["a8"], c["a2"]),
        "finalized_above_safe": status(c["a9"], c["a7"], c["a8"]),
        "unknown_l1_origin": status(a9.__class__(a9.hash, 9, a9.parent_hash, a9.timestamp,
                                                 a9.l1_origin.__class__(b"\x07" * 32, 1), 3)),
        "future_l1_origin": status(a9.__class__(a9.hash, 9, a9.parent_hash, a9.timestamp,
                                                a9.l1_origin.__class__(b"\x07" * 32, 99), 3)),
        "forked_current_l1": status(c["a9"], current_l1=setup.l1.head.ref.__class__(
            b"\x08" * 32, 2, setup.l1.by_number(1).hash, 0)),
    }
    with Records() as logs:
        source.set(lies[lie])
        await wait_for(lambda: node.statistics().results.get(result, 0) >= 2)
    h = node.l2_heads
    assert (h.local_safe, h.safe, h.finalized) == (c["a6"], c["a5"], c["a2"]) and len(el.fcus) == 1
    assert len(logs.warnings("sanity checks failing")) == 1  # once, not per tick
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{node.metrics_port}/metrics")).text
    assert f'op_node_follow_source_requests_total{{result="{result}"}}' in metrics
    source.set(status(c["a8"], c["a7"], c["a2"]))  # honest again: followed again
    await wait_for(lambda: node.l2_heads.safe == c["a7"])


async def test_source_unreachable_holds_safe_and_logs_once(nursery):
    setup = await Setup().start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    with Records() as logs:
        node = await nursery.start(LightNode(setup.config([dead_url()], el)).run)
        await trio.sleep(0.5)
    fetch_errors = node.statistics().results["error_fetch_status"]
    assert 4 <= fetch_errors <= 20, fetch_errors  # retried with backoff (0.01 s doubling, capped at 0.05 s)
    assert len(logs.warnings("failing")) == 1
    assert el.fcus == [("g", "g", "g")]  # only the EL's own heads at start-up, nothing from the source
    assert node.l2_heads.safe == setup.chains.genesis


async def test_slow_source_times_out_and_recovers(nursery):
    setup, source, el, node = await start(nursery, source_rpc_timeout=0.2)
    c = setup.chains
    source.switch.delay = 0.5  # longer than the 0.2 s timeout; the long poll in flight is past it
    source.set(status(c["a4"]))
    await wait_for(lambda: len(el.fcus) == 1)
    with Records() as logs:
        source.set(status(c["a6"]))
        await wait_for(lambda: node.statistics().results.get("error_fetch_status", 0) >= 2)
        assert node.l2_heads.safe == c["a4"]
        source.switch.delay = 0
        await wait_for(lambda: node.l2_heads.safe == c["a6"])
    assert any("timed out" in w for w in logs.warnings())
    assert any(r.getMessage().endswith("recovered") for r in logs.records)


async def test_source_on_another_chain_is_refused(nursery):
    setup = await Setup().start(nursery)
    other = setup.rollup.__class__(**{**{f: getattr(setup.rollup, f) for f in setup.rollup.__dataclass_fields__},
                                      "l2_chain_id": 999})
    source = await FakeSource(other).start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    with trio.fail_after(5):
        with pytest.raises(ConfigError, match="is on another chain: its L2 chain id is 999, ours is 901"):
            await LightNode(setup.config([source.url], el)).run()


async def test_execution_client_down_then_back(nursery):
    setup, source, el, node = await start(nursery)
    c = setup.chains
    source.set(status(c["a5"]))
    await wait_for(lambda: len(el.fcus) == 1)
    el.switch.down = True
    with Records() as logs:
        source.set(status(c["a12"], c["a11"], c["a5"]))  # source ahead: no EL lookup needed, FCU fails
        await wait_for(lambda: node.l2_heads.safe == c["a11"])
        await trio.sleep(0.3)
        assert len(el.fcus) == 1
        el.switch.down = False
        await wait_for(lambda: len(el.fcus) == 2)
    assert el.fcus == [("a10", "a5", "a5"), ("a12", "a11", "a5")]
    assert len(logs.warnings("Execution client failing")) == 1


async def test_our_l1_down_holds_the_safe_head(nursery):
    setup, source, el, node = await start(nursery)
    c = setup.chains
    source.set(status(c["a5"]))
    await wait_for(lambda: len(el.fcus) == 1)
    setup.l1_switch.down = True
    source.set(status(c["a8"]))
    await wait_for(lambda: node.statistics().results.get("error_l1_lookup", 0) >= 1)
    assert node.l2_heads.safe == c["a5"]
    setup.l1_switch.down = False
    await wait_for(lambda: len(el.fcus) == 2)
    assert el.fcus == [("a10", "a5", "a5"), ("a10", "a8", "a8")]


async def test_own_api_reports_what_a_light_node_reports(nursery):
    setup, source, el, node = await start(nursery, enable_admin=True)
    c = setup.chains
    current = setup.l1.by_number(3).ref
    source.set(status(c["a7"], c["a6"], c["a4"], current_l1=current))
    await wait_for(lambda: node.l2_heads.safe == c["a6"])
    await wait_for(lambda: node.head_l1.number == setup.l1.head.number)
    async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
        st = await rpc.call("optimism_syncStatus")
        assert list(st) == [*L1_KEYS, *L2_KEYS]
        assert st["unsafe_l2"] == c["a10"].to_json() and st["local_safe_l2"] == c["a7"].to_json()
        assert st["safe_l2"] == c["a6"].to_json() and st["finalized_l2"] == c["a4"].to_json()
        assert st["current_l1"] == current.to_json() and st["head_l1"]["number"] == setup.l1.head.number
        assert (await rpc.call("optimism_rollupConfig"))["l2_chain_id"] == 901
        assert (await rpc.call("optimism_version")).endswith("-opfleet")
        assert await rpc.call("admin_sequencerActive") is False
        # Another light node can follow this one with push: the long poll answers on the change.
        answers = []

        async def long_poll():
            answers.append(await rpc.call("opfleet_waitSyncStatus", {"safe_l2": st["safe_l2"]["hash"]}, 5000))

        with trio.fail_after(2):
            async with trio.open_nursery() as waiting:
                waiting.start_soon(long_poll)
                await trio.sleep(0.1)
                assert answers == []  # nothing changed yet: still waiting
                source.set(status(c["a9"], c["a8"], c["a4"], current_l1=current))
        assert answers[0]["safe_l2"]["number"] == 8
        unchanged = await rpc.call("opfleet_waitSyncStatus", {"safe_l2": answers[0]["safe_l2"]["hash"]}, 50)
        assert unchanged["safe_l2"] == answers[0]["safe_l2"]  # answered at the timeout
    async with httpx.AsyncClient() as http:
        health = await http.get(f"http://127.0.0.1:{node.rpc_port}/healthz")
        metrics = (await http.get(f"http://127.0.0.1:{node.metrics_port}/metrics")).text
    assert health.json()["version"].endswith("-opfleet")
    assert 'op_node_follow_source_requests_total{result="success"}' in metrics
    assert 'op_node_refs_number{layer="l2",type="l2_safe"} 8' in metrics
    assert 'op_node_refs_number{layer="l2",type="l2_unsafe"} 10' in metrics
    assert "opfleet_follow_consensus_ok 1" in metrics
    # each client's requests, counted at the L1 head poll (the first one ran at start)
    assert 'op_node_rpc_client_requests_total{client="l1",method="eth_getBlockByNumber"}' in metrics
    assert 'op_node_rpc_client_requests_total{client="engine",method="eth_getBlockByNumber"}' in metrics


async def test_several_sources_follow_the_majority_and_set_a_liar_aside(nursery):
    setup = await Setup().start(nursery)
    c = setup.chains
    c.extend("a", c.genesis, 20)
    c.extend("x", c["a5"], 10)
    sources = [await FakeSource(setup.rollup).start(nursery) for _ in range(3)]
    honest_chain = [c[f"a{n}"] for n in range(1, 21)]
    for s in sources:
        s.set(status(c.genesis), honest_chain)
    el = await FakeEL(setup.chains).start(nursery)
    el.have(honest_chain[:10])
    config = setup.config([s.url for s in sources], el, ban_period=0.3)
    with Records() as logs:
        node = await nursery.start(LightNode(config).run)
        await wait_for(lambda: all(s.status is not None for s in node.sources))
        a, b, liar = sources
        a.set(status(c["a9"], c["a8"], c["a4"]))
        b.set(status(c["a8"], c["a8"], c["a4"]))
        liar.set(status(c["x9"], c["x8"], c["a4"]), [c[f"x{n}"] for n in range(6, 16)])
        # k = 2 of 3: at height 9 only a and the liar (who disagree); at 8, a, b and the liar's x8:
        # a8 by a majority, the liar set aside.
        await wait_for(lambda: node.l2_heads.safe == c["a8"])
        assert node.l2_heads.local_safe == c["a8"]
        a.set(status(c["a9"], c["a9"], c["a4"]))
        b.set(status(c["a9"], c["a9"], c["a4"]))
        await wait_for(lambda: node.l2_heads.local_safe == c["a9"] and node.l2_heads.safe == c["a9"])
        await wait_for(lambda: el.fcus[-1] == ("a10", "a9", "a4"))
        set_aside = [r for r in logs.records if "set aside" in r.getMessage()]
        assert set_aside and set_aside[0].fields["source"] == liar.url

        # One honest source down, and the liar back from the side line (after 0.3 s): a split with
        # no majority. The safe head holds and the alarm is raised.
        b.switch.down = True
        await wait_for(lambda: node.metrics.consensus_ok.get() == 0, timeout=5)
        a.set(status(c["a11"], c["a11"], c["a4"]))
        await wait_for(lambda: node.sources[0].status.local_safe_l2 == c["a11"])
        await trio.sleep(0.1)
        assert node.l2_heads.safe == c["a9"] and node.metrics.consensus_ok.get() == 0
        assert len(logs.warnings("no majority")) == 1
        # The liar comes back honest: a majority again, and the node moves on.
        liar.set(status(c["a11"], c["a11"], c["a4"]), honest_chain)
        await wait_for(lambda: node.l2_heads.safe == c["a11"], timeout=5)
        assert node.metrics.consensus_ok.get() == 1


@pytest.mark.parametrize("push", [True, False])
async def test_a_source_answering_all_zero_heads_is_not_ready_not_lying(nursery, push):
    # op-node answers optimism_syncStatus with all-zero heads between its RPC server starting and
    # its first engine reset: nothing to follow yet, not an L1 mismatch.
    setup = await Setup().start(nursery)
    source = await FakeSource(setup.rollup, push=push).start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    c = setup.chains
    c.extend("a", c.genesis, 10)
    el.have([c[f"a{n}"] for n in range(1, 11)])
    source.set(SyncStatus())  # all zero
    with Records() as logs:
        node = await nursery.start(LightNode(setup.config([source.url], el, poll_interval=0.05)).run)
        await wait_for(lambda: node.statistics().results.get("error_fetch_status", 0) >= 3)
        assert node.statistics().l1_checks.ticks == 0  # no L1 check of a zero ref
        await trio.sleep(0.2)
        source.set(status(c["a6"], c["a5"], c["a2"]))  # ready
        await wait_for(lambda: node.l2_heads.safe == c["a5"])
    results = node.statistics().results
    assert "error_l1_mismatch" not in results and "error_l1_lookup" not in results
    lines = [r.getMessage() for r in logs.records if r.levelno >= logging.INFO and "not ready" in r.getMessage()]
    assert len(lines) == 1, lines  # one line for the outage
    assert not logs.warnings("Follow source")


async def test_own_sync_status_is_an_error_until_the_el_heads_are_read_never_zero_heads(nursery):
    setup = await Setup().start(nursery)
    source = await FakeSource(setup.rollup).start(nursery)
    source.set(status(setup.chains.genesis))
    el = await FakeEL(setup.chains).start(nursery)
    setup.chains.extend("a", setup.chains.genesis, 5)
    el.have([setup.chains[f"a{n}"] for n in range(1, 6)])
    el.switch.down = True
    node = await nursery.start(LightNode(setup.config([source.url], el)).run)
    async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
        with pytest.raises(RpcCallError, match="not ready"):
            await rpc.call("optimism_syncStatus")
        el.switch.down = False
        await wait_for(lambda: node.statistics().forkchoice_updates >= 1)
        st = await rpc.call("optimism_syncStatus")
    assert st["unsafe_l2"]["number"] == 5 and st["safe_l2"]["hash"] == "0x" + setup.chains.genesis.hash.hex()


async def test_own_sync_status_has_the_el_heads_from_the_first_answer(nursery):
    setup = await Setup().start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    setup.chains.extend("a", setup.chains.genesis, 5)
    el.have([setup.chains[f"a{n}"] for n in range(1, 6)])
    node = await nursery.start(LightNode(setup.config([dead_url()], el)).run)
    async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
        st = await rpc.call("optimism_syncStatus")  # at once: the heads were read before serving
    assert st["unsafe_l2"]["number"] == 5


async def test_a_light_node_keeps_no_safe_head_database(nursery):
    """op-node's answer without ``--safedb.path``, byte for byte, to every L1 block (a light node
    derives nothing, so it has no safe-head database to read); a bad number is still -32602."""
    setup = await Setup().start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    node = await nursery.start(LightNode(setup.config([dead_url()], el)).run)
    async with httpx.AsyncClient() as http:
        for number in ("0x0", "0x5"):
            body = {"jsonrpc": "2.0", "id": 1, "method": "optimism_safeHeadAtL1Block", "params": [number]}
            answer = await http.post(f"http://127.0.0.1:{node.rpc_port}", json=body)
            assert answer.content == (b'{"jsonrpc":"2.0","id":1,"error":{"code":-32000,'
                                      b'"message":"safe head database not enabled"}}\n'), answer.content
        body = {"jsonrpc": "2.0", "id": 2, "method": "optimism_safeHeadAtL1Block", "params": [5]}
        answer = (await http.post(f"http://127.0.0.1:{node.rpc_port}", json=body)).json()
    assert answer["error"]["code"] == -32602


async def test_healthz_is_readiness_livez_is_liveness(nursery):
    """/healthz answers 503 until the node has its chain and a source answers a sane status, and
    again while every source is down (its safe head is held); /livez stays 200 throughout."""
    setup = await Setup().start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    source = await FakeSource(setup.rollup).start(nursery)
    source.switch.down = True  # every upstream down from the start
    node = await nursery.start(LightNode(setup.config([source.url], el)).run)
    base = f"http://127.0.0.1:{node.rpc_port}"
    async with httpx.AsyncClient() as http:
        await wait_for(lambda: node.statistics().results.get("error_fetch_status", 0) >= 1)
        down = await http.get(base + "/healthz")
        alive = await http.get(base + "/livez")
        assert down.status_code == 503 and alive.status_code == 200, down.text
        body = down.json()
        assert body["ready"] is False and body["version"].endswith("-opfleet")
        assert body["reason"].startswith("not ready: no follow source answers") and "error_fetch_status" in body["reason"]
        assert alive.json()["version"].endswith("-opfleet")
        # and `opfleet status URL` says so (exit 12), where it used to say healthy
        from opfleet.monitor import AlarmKind, FleetMonitor, NodeSpec, Verdict

        async with FleetMonitor([NodeSpec("light", base)]) as monitor:
            snap = await monitor.poll_once()
        assert snap.verdict is Verdict.UNREACHABLE, snap.alarms
        assert [a.kind for a in snap.alarms] == [AlarmKind.NOT_READY]
        assert "no follow source answers" in snap.alarms[0].message
        source.set(status(setup.chains.genesis))
        source.switch.down = False
        await wait_for(lambda: node.sources[0].status is not None)
        ready = await http.get(base + "/healthz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        source.switch.down = True  # every source down again: not ready, still alive
        await wait_for(lambda: node.sources[0].status is None)
        assert (await http.get(base + "/healthz")).status_code == 503
        assert (await http.get(base + "/livez")).status_code == 200
    async with JsonRpcClient(base) as rpc:
        info = await rpc.call("opfleet_nodeInfo")
    assert info == {"role": "light", "follows": [source.url]}


async def test_healthz_is_not_ready_before_the_heads_are_read(nursery):
    setup = await Setup().start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    el.switch.down = True  # the EL is down at start: no chain yet
    source = await FakeSource(setup.rollup).start(nursery)
    source.set(status(setup.chains.genesis))
    node = await nursery.start(LightNode(setup.config([source.url], el)).run)
    async with httpx.AsyncClient() as http:
        health = await http.get(f"http://127.0.0.1:{node.rpc_port}/healthz")
    assert health.status_code == 503 and "heads have not been read" in health.json()["reason"]
