"""The proxy tier in the fleet monitor: ``--discover`` recognises opfleet proxy and proxyd, status
shows the consensus heads, the pinned backend, bans and a halt (alarm, exit 13)."""

from __future__ import annotations

import json

import trio

from fakes import Clock, FakeBackend, cl_config, serve_backends
from opfleet.monitor.engine import FleetMonitor
from opfleet.monitor.fleet import discover
from opfleet.monitor.model import AlarmKind, NodeSpec, Role, Verdict
from opfleet.proxy.poller import ConsensusPoller
from opfleet.proxy.server import ProxyServer
from opfleet.rpc.server import HttpResponse, HttpServer


async def cycle(poller, clock, step=1.0):
    clock.now += step
    for name in poller.names:
        await poller.update_backend(name)
    await poller.update_group()


async def test_discover_and_status_show_the_proxy_tier():
    clock = Clock(__import__("time").time())
    backends = [FakeBackend(f"node{i}", clock) for i in (1, 2, 3)]
    async with serve_backends(*backends):
        mapped = {m: "node" for m in ("optimism_syncStatus", "optimism_outputAtBlock", "optimism_version")}
        poller = ConsensusPoller(cl_config(backends, mappings=mapped), clock=clock)
        server = ProxyServer(poller)
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.serve, "127.0.0.1", 0)
            url = f"http://127.0.0.1:{port}"
            await cycle(poller, clock)

            specs, problems = await discover([url])
            assert problems == [] and specs[0].role is Role.PROXY and specs[0].name == "proxy-1"

            monitor = FleetMonitor([NodeSpec("proxy-1", url, Role.PROXY)], timeout=5)
            snapshot = await monitor.poll_once()
            node = snapshot.nodes[0]
            assert node.proxy is not None and node.proxy.pinned == "node1" and not node.proxy.halted
            assert node.proxy.consensus_group == ("node1", "node2", "node3")
            assert node.proxy.heads["safe"] == 100
            assert not any(a.kind is AlarmKind.PROXY_HALTED for a in snapshot.alarms)
            document = json.loads(json.dumps(snapshot.to_json()))
            assert document["nodes"][0]["proxy"]["pinned"] == "node1"

            # a split halts the proxy: the monitor alarms, verdict divergent (exit 13)
            for b in backends:
                b.advance(1)
            backends[1].liar = True
            backends[2].liar = True
            await cycle(poller, clock)
            snapshot = await monitor.poll_once()
            node = snapshot.nodes[0]
            assert node.proxy.halted and node.proxy.summary() == "HALTED"
            assert [a.kind for a in node.alarms if a.kind is AlarmKind.PROXY_HALTED]
            assert snapshot.verdict is Verdict.DIVERGENT

            # recovery: a liar outvoted is banned and shown
            backends[2].liar = False
            await cycle(poller, clock)
            snapshot = await monitor.poll_once()
            node = snapshot.nodes[0]
            assert not node.proxy.halted and node.proxy.banned == ("node2",)
            assert node.proxy.summary() == "pin node1 · banned node2"
            await monitor.aclose()
            nursery.cancel_scope.cancel()
        await poller.aclose()


async def test_discover_recognises_proxyd_by_its_whitelist_refusal():
    """proxyd answers a method missing from rpc_method_mappings with -32601 and HTTP 403."""
    backend = FakeBackend("node1", Clock(__import__("time").time()))

    async def proxyd(request):
        call = json.loads(request.body)
        if call.get("method") == "optimism_syncStatus":
            return HttpResponse.json({"jsonrpc": "2.0", "id": call["id"], "result": backend.status()})
        return HttpResponse.json({"jsonrpc": "2.0", "id": call["id"],
                                  "error": {"code": -32601, "message": "rpc method is not whitelisted"}}, 403)

    async with trio.open_nursery() as nursery:
        port = await nursery.start(HttpServer(proxyd).serve, "127.0.0.1", 0)
        specs, problems = await discover([f"http://127.0.0.1:{port}"])
        assert problems == [] and specs[0].role is Role.PROXY
        nursery.cancel_scope.cancel()


async def test_not_ready_proxy_is_not_garbage():
    clock = Clock(__import__("time").time())
    backends = [FakeBackend("node1", clock)]
    async with serve_backends(*backends):
        poller = ConsensusPoller(cl_config(backends), clock=clock)
        async with trio.open_nursery() as nursery:
            port = await nursery.start(ProxyServer(poller).serve, "127.0.0.1", 0)
            monitor = FleetMonitor([NodeSpec("proxy-1", f"http://127.0.0.1:{port}", Role.PROXY)], timeout=5)
            snapshot = await monitor.poll_once()
            assert [a.kind for a in snapshot.nodes[0].alarms] == [AlarmKind.NOT_READY]
            # from its -32025 answer or its /healthz 503, whichever the monitor read last
            assert "no consensus among" in snapshot.nodes[0].alarms[0].message
            await monitor.aclose()
            nursery.cancel_scope.cancel()
        await poller.aclose()


def test_tui_row_and_status_table_show_pin_bans_and_halt():
    from rich.console import Console

    from opfleet.cli.status import render_table
    from opfleet.monitor.model import FleetSnapshot, NodeSnapshot, ProxyState
    from opfleet.monitor.tui._view import node_cells

    spec = NodeSpec("proxy-1", "http://127.0.0.1:1", Role.PROXY, chain="901", follows=("source-1", "source-2"))
    ok = NodeSnapshot(spec=spec, proxy=ProxyState(pinned="source-1", banned=("source-2",),
                                                  consensus_group=("source-1",), backends=("source-1", "source-2")))
    assert node_cells(ok)[0].plain == "proxy-1 ← source-1,source-2 · pin source-1 · banned source-2"
    halted = NodeSnapshot(spec=spec, proxy=ProxyState(halted=True, backends=("source-1", "source-2")))
    assert node_cells(halted)[0].plain.endswith("· HALTED")
    console = Console(width=200, record=True)
    console.print(render_table(FleetSnapshot(taken_at=0.0, nodes=(halted,))))
    assert "proxy-1 · HALTED" in console.export_text()
    assert ProxyState.from_json({"backends": "x"}) is None and ProxyState.from_json(None) is None
