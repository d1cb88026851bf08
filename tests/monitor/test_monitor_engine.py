"""FleetMonitor against loopback fake nodes: every alarm of issue 7 (healthy, lagging, stalled,
divergent, down, garbage, slow, source tier down, follow failures) plus supernode routes."""

from __future__ import annotations

import json

import trio
from monitor_helpers import FakeNode, FakeSupernode, dead_url, serve

from opfleet.monitor import AlarmKind, FleetMonitor, NodeSpec, Role, Verdict
from opfleet.monitor.analysis import Thresholds


def kinds(snapshot, node=None):
    return {a.kind for a in snapshot.alarms if node is None or a.node == node}


async def start(nursery, fakes: dict[str, FakeNode]) -> dict[str, str]:
    return {name: await serve(nursery, fake.server) for name, fake in fakes.items()}


async def test_healthy_fleet_reports_every_head_and_chain(nursery):
    fakes = {"src": FakeNode(120), "light": FakeNode(119, safe=110)}
    urls = await start(nursery, fakes)
    specs = [NodeSpec("src", urls["src"], Role.SOURCE),
             NodeSpec("light", urls["light"], Role.LIGHT, follows=("src",))]
    async with FleetMonitor(specs, timeout=2) as monitor:
        snap = await monitor.poll_once()
    assert snap.healthy and snap.verdict is Verdict.HEALTHY and not snap.divergences
    light = snap.node("light")
    assert light.chain == "10"  # learned from optimism_rollupConfig
    assert set(light.heads) == {"unsafe", "cross_unsafe", "local_safe", "safe", "finalized",
                                "current_l1", "head_l1"}
    assert light.heads["unsafe"].number == 119 and light.heads["safe"].number == 110
    assert light.lag_unsafe.blocks == 1 and light.lag_unsafe.seconds == 2.0
    assert light.source_lag_safe.blocks == 0 and light.latency is not None and light.latency > 0
    assert list(snap.groups) == ["10"] and list(snap.groups["10"]) == [Role.SOURCE, Role.LIGHT]
    doc = json.loads(json.dumps(snap.to_json()))
    assert doc["schema"] == 1 and doc["verdict"] == "healthy"
    assert [n["name"] for n in doc["nodes"]] == ["src", "light"]
    assert doc["nodes"][1]["sync_status"] == fakes["light"].status().to_json()


async def test_lagging_behind_fleet_and_behind_own_source(nursery):
    fakes = {"a": FakeNode(200, safe=190), "b": FakeNode(150, safe=140), "c": FakeNode(200, safe=150)}
    urls = await start(nursery, fakes)
    specs = [NodeSpec("a", urls["a"], Role.SOURCE), NodeSpec("b", urls["b"], Role.SOURCE),
             NodeSpec("c", urls["c"], Role.LIGHT, follows=("a",))]
    async with FleetMonitor(specs, thresholds=Thresholds(max_unsafe_lag=10, max_safe_lag=30)) as m:
        snap = await m.poll_once()
    assert kinds(snap, "a") == set()
    assert kinds(snap, "b") == {AlarmKind.LAGGING}
    assert snap.node("b").lag_unsafe.blocks == 50 and snap.node("b").lag_safe.blocks == 50
    c = snap.node("c")
    assert kinds(snap, "c") == {AlarmKind.LAGGING} and c.source_lag_safe.blocks == 40
    assert c.alarms[0].message == "c: safe 40 blocks behind the fleet's best"
    assert snap.verdict is Verdict.LAGGING


async def test_divergence_at_the_lower_nodes_height_is_found_by_lookup(nursery):
    # b forked from a at block 95; b is behind, so a must be asked for its block at b's heads
    fakes = {"a": FakeNode(110, safe=90), "b": FakeNode(100, safe=90, fork=1, fork_from=95)}
    urls = await start(nursery, fakes)
    specs = [NodeSpec("a", urls["a"], Role.SOURCE), NodeSpec("b", urls["b"], Role.SOURCE)]
    async with FleetMonitor(specs) as monitor:
        first = await monitor.poll_once()
        assert not first.divergences  # no shared height yet: nothing claimed
        second = await monitor.poll_once()
    assert "optimism_outputAtBlock" in fakes["a"].calls
    assert second.verdict is Verdict.DIVERGENT
    (div,) = [d for d in second.divergences if d.number == 100]
    assert set(div.hashes) == {"a", "b"} and div.hashes["a"] != div.hashes["b"]
    assert AlarmKind.DIVERGENT in kinds(second, "a") and AlarmKind.DIVERGENT in kinds(second, "b")
    assert second.to_json()["divergences"][0]["hashes"]["b"].startswith("0x")


async def test_same_chain_at_different_heights_is_not_divergent(nursery):
    fakes = {"a": FakeNode(130, safe=100), "b": FakeNode(101, safe=90)}
    urls = await start(nursery, fakes)
    specs = [NodeSpec(n, u, Role.SOURCE) for n, u in urls.items()]
    async with FleetMonitor(specs) as monitor:
        for _ in range(3):
            snap = await monitor.poll_once()
    assert not snap.divergences and AlarmKind.DIVERGENT not in kinds(snap)
    assert monitor.statistics().lookups >= 1  # it did compare at b's heads


async def test_down_and_garbage_nodes(nursery):
    fakes = {"ok": FakeNode(100), "junk": FakeNode(100)}
    fakes["junk"].garbage = {"unsafe_l2": "nope"}
    urls = await start(nursery, fakes)
    specs = [NodeSpec("ok", urls["ok"]), NodeSpec("junk", urls["junk"]), NodeSpec("down", dead_url())]
    async with FleetMonitor(specs, timeout=1) as monitor:
        snap = await monitor.poll_once()
    assert kinds(snap, "ok") == set()
    assert kinds(snap, "junk") == {AlarmKind.GARBAGE} and "sync status" in snap.node("junk").error
    assert kinds(snap, "down") == {AlarmKind.UNREACHABLE} and not snap.node("down").reachable
    assert snap.verdict is Verdict.UNREACHABLE
    assert "\n" not in snap.node("down").error


async def test_slow_node_does_not_delay_the_others(nursery):
    fakes = {"fast": FakeNode(100), "slow": FakeNode(100)}
    fakes["slow"].delay = 30
    urls = await start(nursery, fakes)
    specs = [NodeSpec(n, u) for n, u in urls.items()]
    async with FleetMonitor(specs, timeout=0.3) as monitor:
        t0 = trio.current_time()
        snap = await monitor.poll_once()
        elapsed = trio.current_time() - t0
    assert elapsed < 1.5
    assert snap.node("fast").reachable and snap.node("fast").latency < 0.3
    assert kinds(snap, "slow") == {AlarmKind.UNREACHABLE} and "0.3s" in snap.node("slow").error


async def test_run_publishes_while_a_node_hangs(nursery):
    fakes = {"fast": FakeNode(100), "slow": FakeNode(100)}
    urls = await start(nursery, fakes)
    specs = [NodeSpec(n, u) for n, u in urls.items()]
    seen = []
    monitor = FleetMonitor(specs, interval=0.05, timeout=5, on_snapshot=seen.append)
    channel = monitor.subscribe()
    await nursery.start(monitor.run)
    fakes["slow"].delay = 30  # from now on the slow node hangs for far longer than the test
    fakes["fast"].advance(5)
    with trio.fail_after(2):
        while True:
            snap = await channel.receive()
            if snap.node("fast").heads["unsafe"].number == 105:
                break
    assert snap.node("slow").reachable  # still its last good answer: no timeout yet
    assert len(seen) >= 2 and seen[-1] is monitor.snapshot()
    assert len(snap.node("fast").history) >= 2
    assert any(c.head == "unsafe" and c.new_number == 105 for c in snap.node("fast").changes)
    nursery.cancel_scope.cancel()


async def test_stall_by_observation(nursery):
    fakes = {"a": FakeNode(100), "b": FakeNode(100)}
    urls = await start(nursery, fakes)
    specs = [NodeSpec(n, u) for n, u in urls.items()]
    now = [1000.0]
    thresholds = Thresholds(stall_unsafe_blocks=5, stall_safe_blocks=50)
    async with FleetMonitor(specs, thresholds=thresholds, clock=lambda: now[0]) as monitor:
        await monitor.poll_once()
        for _ in range(6):  # 12 s: a keeps moving, b does not
            now[0] += 2
            fakes["a"].advance(1, safe=False)
            snap = await monitor.poll_once()
    assert snap.node("b").stalled_heads == ("unsafe",)
    assert AlarmKind.STALLED in kinds(snap, "b") and AlarmKind.STALLED not in kinds(snap, "a")
    assert snap.node("a").stalled_heads == ()  # its safe head is still inside its window


async def test_stall_by_age_in_one_shot(nursery):
    # one poll, no history: the unsafe head is far older than the node's own L1 head
    fakes = {"a": FakeNode(100, l1_head=400)}
    urls = await start(nursery, fakes)
    async with FleetMonitor([NodeSpec("a", urls["a"])], thresholds=Thresholds(stall_unsafe_blocks=30)) as m:
        snap = await m.poll_once()
    assert snap.node("a").stalled_heads == ("unsafe",) and snap.verdict is Verdict.STALLED


async def test_source_tier_down_puts_light_tier_at_risk(nursery):
    fakes = {"light-1": FakeNode(100), "light-2": FakeNode(100)}
    urls = await start(nursery, fakes)
    specs = [NodeSpec("src-a", dead_url(), Role.SOURCE, chain="10"),
             NodeSpec("src-b", dead_url(), Role.SOURCE, chain="10"),
             NodeSpec("light-1", urls["light-1"], Role.LIGHT, chain="10", follows=("src-a",)),
             NodeSpec("light-2", urls["light-2"], Role.LIGHT, chain="10")]
    async with FleetMonitor(specs, timeout=1) as monitor:
        snap = await monitor.poll_once()
    assert AlarmKind.SOURCE_DOWN in kinds(snap, "light-1") and AlarmKind.SOURCE_DOWN in kinds(snap, "light-2")
    (fleet_wide,) = [a for a in snap.alarms if a.node is None]
    assert fleet_wide.kind is AlarmKind.SOURCE_DOWN and "2 light node(s) at risk" in fleet_wide.message


async def test_follow_failures_from_metrics(nursery):
    light = FakeNode(100)
    light.follow_results = {"success": 10, "error_l1_mismatch": 0}
    url = await serve(nursery, light.server)
    specs = [NodeSpec("light", url, Role.LIGHT, metrics_url=url + "/metrics")]
    async with FleetMonitor(specs) as monitor:
        first = await monitor.poll_once()
        assert first.node("light").follow_results == {"success": 10.0, "error_l1_mismatch": 0.0}
        light.follow_results = {"success": 12, "error_l1_mismatch": 3}
        second = await monitor.poll_once()
        light.follow_results = {"success": 14, "error_l1_mismatch": 3}
        third = await monitor.poll_once()
    assert AlarmKind.FOLLOW_FAILING not in kinds(first)
    alarm = next(a for a in second.alarms if a.kind is AlarmKind.FOLLOW_FAILING)
    assert "error_l1_mismatch +3" in alarm.message
    assert AlarmKind.FOLLOW_FAILING not in kinds(third)  # recovered: no new failures


async def test_supernode_root_expands_into_routes(nursery):
    chains = {901: FakeNode(50, chain_id=901), 902: FakeNode(70, chain_id=902)}
    root = await serve(nursery, FakeSupernode(chains).server)
    light = FakeNode(50, chain_id=901)
    light_url = await serve(nursery, light.server)
    specs = [NodeSpec("super", root, Role.SUPERNODE),
             NodeSpec("light", light_url, Role.LIGHT, follows=("super",))]
    async with FleetMonitor(specs) as monitor:
        snap = await monitor.poll_once()
    assert [n.name for n in snap.nodes] == ["super/901", "super/902", "light"]
    assert snap.node("super/902").chain == "902" and snap.node("super/902").spec.url == root + "/902"
    assert snap.node("light").source_lag_safe.blocks == 0  # resolved to its chain's route
    assert snap.healthy, snap.alarms  # chains 901 and 902 are not compared with each other
    assert set(snap.groups) == {"901", "902"}


async def test_bare_url_of_a_supernode_root_is_detected(nursery):
    root = await serve(nursery, FakeSupernode({7: FakeNode(5, chain_id=7)}).server)
    async with FleetMonitor([NodeSpec("x", root)]) as monitor:
        snap = await monitor.poll_once()
    assert [n.name for n in snap.nodes] == ["x/7"] and snap.nodes[0].reachable


def test_engine_runs_as_a_trio_guest_of_asyncio():
    """The TUI's arrangement: asyncio hosts, the monitor runs in trio guest mode, snapshots arrive
    through on_snapshot, and pause/refresh/set_interval are called from the asyncio side."""
    import asyncio

    from monitor_helpers import ThreadedFleet

    fake = FakeNode(100)
    with ThreadedFleet({"a": fake}) as urls:

        async def host() -> list:
            loop = asyncio.get_running_loop()
            got: list = []
            arrived = asyncio.Event()

            def on_snapshot(snap) -> None:
                got.append(snap)
                arrived.set()

            monitor = FleetMonitor([NodeSpec("a", urls["a"])], interval=30, timeout=2,
                                   on_snapshot=on_snapshot)
            done = loop.create_future()

            trio.lowlevel.start_guest_run(
                monitor.run, run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                done_callback=lambda outcome: done.set_result(outcome))
            await asyncio.wait_for(arrived.wait(), 5)
            arrived.clear()
            fake.advance(3)
            monitor.refresh()  # from the host: the 30 s interval is not waited for
            await asyncio.wait_for(arrived.wait(), 5)
            monitor.set_interval(0.05)
            monitor.pause()
            await asyncio.sleep(0.3)
            paused_count = len(got)
            await asyncio.sleep(0.3)
            assert len(got) == paused_count  # nothing published while paused
            monitor.pause(False)
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 5)
            monitor.stop()
            (await done).unwrap()
            return got

        got = asyncio.run(host())
    assert got[0].node("a").heads["unsafe"].number == 100
    assert got[1].node("a").heads["unsafe"].number == 103


async def test_a_derive_only_source_stalls_on_its_safe_head_only(nursery):
    # the source's unsafe head is its safe head: still for longer than the unsafe window is
    # normal (a batch every few minutes); only a safe head still past the safe window is a stall
    fakes = {"seq": FakeNode(400, safe=250, l1_head=68, current_l1=66),
             "src": FakeNode(250, safe=250, l1_head=68, current_l1=66)}
    urls = await start(nursery, fakes)
    specs = [NodeSpec("seq", urls["seq"], Role.SEQUENCER), NodeSpec("src", urls["src"], Role.SOURCE)]
    now = [1000.0]
    thresholds = Thresholds(stall_unsafe_blocks=5, stall_safe_blocks=20)
    async with FleetMonitor(specs, thresholds=thresholds, clock=lambda: now[0]) as monitor:
        await monitor.poll_once()
        for _ in range(6):  # 12 s: past the unsafe window (10 s), inside the safe one (40 s)
            now[0] += 2
            fakes["seq"].advance(1, safe=False)
            snap = await monitor.poll_once()
        assert snap.healthy, snap.alarms
        assert snap.node("src").lag_unsafe.blocks > 150 and snap.node("src").stalled_heads == ()
        for _ in range(15):
            now[0] += 2
            fakes["seq"].advance(1, safe=False)
            snap = await monitor.poll_once()
    assert snap.node("src").stalled_heads == ("safe",)
    assert [a.message for a in snap.alarms if a.node == "src"] == ["src: safe head not moving"]


async def test_a_supernode_route_is_judged_by_local_safe_and_safe(nursery):
    # route 901 derives (unsafe = local-safe) 150 blocks behind the sequencer's tip: healthy;
    # another route whose local-safe and cross-safe trail the best ones on the chain is lagging
    chains = {901: FakeNode(250, safe=250, chain_id=901)}
    root = await serve(nursery, FakeSupernode(chains).server)
    other = FakeNode(210, safe=200, local_safe=210, chain_id=901)
    seq = FakeNode(400, safe=250, chain_id=901)
    urls = await start(nursery, {"other": other, "seq": seq})
    specs = [NodeSpec("super", root, Role.SUPERNODE), NodeSpec("other", urls["other"] + "/901", Role.SUPERNODE),
             NodeSpec("seq", urls["seq"], Role.SEQUENCER)]
    async with FleetMonitor(specs) as monitor:
        snap = await monitor.poll_once()
    assert kinds(snap, "super/901") == set(), snap.alarms
    assert snap.node("super/901").lag_unsafe.blocks == 150  # reported, never an alarm
    (alarm,) = [a for a in snap.alarms if a.node == "other"]
    assert alarm.message == "other: local-safe 40 blocks and safe 50 blocks behind the fleet's best"


async def test_not_ready_answers_are_not_garbage(nursery):
    from opfleet.rpc.server import RpcError

    fake = FakeNode(100)
    url = await serve(nursery, fake.server)

    async def not_ready():
        raise RpcError(-32000, "not ready: the execution client's heads have not been read yet")

    fake.server.register("optimism_syncStatus", not_ready)
    async with FleetMonitor([NodeSpec("n", url)]) as monitor:
        snap = await monitor.poll_once()
    (alarm,) = snap.alarms
    assert alarm.kind is AlarmKind.NOT_READY and "heads have not been read" in alarm.message
    assert snap.verdict is Verdict.UNREACHABLE


async def test_hostile_readiness_and_node_info_answers(nursery):
    """A /healthz 503 with a garbage, oversized or reasonless body is still NOT READY, one short
    line; a nodeInfo that is not one leaves the role to the heads; a 200 or 404 says nothing."""
    fakes = {name: FakeNode(100, safe=100) for name in ("garbage", "huge", "odd", "ok", "missing", "deep")}
    fakes["garbage"].health = (503, "not json at all")

    async def too_deep(request):  # nested deeper than the JSON parser goes: garbage like any other
        from opfleet.rpc.server import HttpResponse

        return HttpResponse(503, b"[" * 10_000, "application/json")

    fakes["deep"].server.router.route("/healthz", too_deep)
    fakes["huge"].health = (503, {"reason": "not ready: " + "x" * 1_000_000})
    fakes["odd"].health = (503, {"reason": ["a", "list"]})
    fakes["ok"].health = (200, {"version": "x", "ready": True})
    fakes["missing"].health = (404, {"error": "no such path"})
    urls = await start(nursery, fakes)

    async def bad_info():
        return {"role": {"nested": "object"}, "follows": "not a list"}

    fakes["ok"].server.register("opfleet_nodeInfo", bad_info)
    specs = [NodeSpec(name, url) for name, url in urls.items()]
    async with FleetMonitor(specs, timeout=5) as monitor:
        snap = await monitor.poll_once()
    for name in ("garbage", "huge", "odd", "deep"):
        (alarm,) = [a for a in snap.alarms if a.node == name]
        assert alarm.kind is AlarmKind.NOT_READY and len(alarm.message) < 300 and "\n" not in alarm.message
    assert snap.node("garbage").alarms[0].message == "garbage: not ready: its /healthz answers 503"
    assert snap.node("ok").healthy and snap.node("ok").role is Role.SOURCE  # read from its heads
    assert snap.node("missing").healthy  # a node without /healthz at all


async def test_healthz_is_asked_only_of_nodes_that_report_readiness(nursery):
    fakes = {"op-node": FakeNode(100, safe=100), "opfleet": FakeNode(100, safe=100)}
    fakes["opfleet"].health = (200, {"version": "x", "ready": True})
    urls = await start(nursery, fakes)
    async with FleetMonitor([NodeSpec(n, u, Role.SOURCE) for n, u in urls.items()]) as monitor:
        for _ in range(3):
            await monitor.poll_once()
        fakes["opfleet"].health = (503, {"version": "x", "ready": False, "reason": "not ready: test"})
        snap = await monitor.poll_once()
    assert fakes["op-node"].calls.count("/healthz") == 1  # {"version"} only: not a readiness probe
    assert fakes["opfleet"].calls.count("/healthz") == 4
    assert [a.message for a in snap.alarms] == ["opfleet: not ready: test"]
