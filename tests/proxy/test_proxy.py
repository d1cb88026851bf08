"""opfleet proxy against loopback fake op-node backends: proxyd's CL consensus case by case
(reference opnode-rpc.md §4.2-4.3; ethereum-optimism/infra proxyd/consensus_poller*.go).

Cycles are driven by hand (``update_backend`` per backend, then ``update_group``), as proxyd's own
tests do with ``consensus_handler = "noop"``; a fake wall clock moves bans and ages."""

from __future__ import annotations

import json

import httpx
import pytest
import trio

from fakes import Clock, FakeBackend, block_hash, cl_config, serve_backends
from opfleet.proxy import Proxy
from opfleet.proxy.poller import ConsensusPoller
from opfleet.proxy.server import ProxyServer
from opfleet.rpc.server import HttpRequest


async def cycle(poller: ConsensusPoller, clock: Clock, step: float = 1.0) -> None:
    clock.now += step
    for name in poller.names:
        await poller.update_backend(name)
    await poller.update_group()


async def rpc(server: ProxyServer, method: str, *params, msg_id=1) -> tuple[int, dict]:
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": list(params)}).encode()
    response = await server(HttpRequest("POST", "/", body=body, headers=(("content-type", "application/json"),)))
    return response.status, json.loads(response.body)


def fleet(n: int, clock: Clock, **kw) -> list[FakeBackend]:
    return [FakeBackend(f"node{i + 1}", clock, **kw) for i in range(n)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(backends, clock, **kw) -> tuple[ConsensusPoller, ProxyServer]:
    poller = ConsensusPoller(cl_config(backends, **kw), clock=clock)
    return poller, ProxyServer(poller)


async def test_not_ready_before_the_first_cycle_then_pinned_raw_body(clock):
    backends = fleet(3, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        status, answer = await rpc(server, "optimism_syncStatus", msg_id="abc")
        assert status == 503
        assert answer == {"jsonrpc": "2.0", "id": "abc",
                          "error": {"code": -32025, "message": "optimism_syncStatus not available"}}
        # backends polled but no group cycle yet: still not ready
        for name in poller.names:
            await poller.update_backend(name)
        assert (await rpc(server, "optimism_syncStatus"))[0] == 503
        await poller.update_group()
        status, answer = await rpc(server, "optimism_syncStatus", msg_id=7)
        assert status == 200 and answer["id"] == 7
        assert answer["result"] == backends[0].status()  # the raw body, byte for byte the same data
        assert poller.statistics().consensus_group == ("node1", "node2", "node3")
        await poller.aclose()


async def test_backends_are_polled_with_peer_count_status_and_output_root(clock):
    backends = fleet(3, clock)
    async with serve_backends(*backends):
        poller, _ = make(backends, clock)
        await cycle(poller, clock)
        for b in backends:
            assert b.calls == ["opp2p_peerStats", "optimism_syncStatus", "optimism_outputAtBlock"]
        h = poller.heads
        assert (h.latest, h.safe, h.local_safe, h.finalized) == (110, 100, 100, 90)
        await poller.aclose()


async def test_skip_peer_count_and_min_peer_count(clock):
    backends = fleet(3, clock, peers=2)
    async with serve_backends(*backends):
        poller, server = make(backends, clock, min_peer_count=3)
        await cycle(poller, clock)
        assert poller.consensus_group == () and (await rpc(server, "optimism_syncStatus"))[0] == 503
        backends[0].peers = 0  # zero peers is an error: no state update at all
        skip, _ = make(backends, clock, skip_peer_count=True)
        await cycle(skip, clock)
        assert skip.consensus_group == ("node1", "node2", "node3")
        assert all("opp2p_peerStats" not in b.calls[-2:] for b in backends)
        await poller.aclose()
        await skip.aclose()


async def test_consensus_numbers_are_minimums_and_pin_is_lowest_current_l1(clock):
    backends = fleet(3, clock)
    backends[0].advance(3, l1=2)
    backends[2].advance(1, l1=0)
    backends[2].current_l1 -= 1  # lowest L1 position
    backends[2].head_l1 -= 1
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        await cycle(poller, clock)
        h = poller.heads
        assert (h.latest, h.safe, h.finalized) == (110, 100, 90)
        assert poller.pinned == "node3"
        _, answer = await rpc(server, "optimism_syncStatus")
        assert answer["result"]["backend"] == "node3"
        await poller.aclose()


async def test_liar_is_outvoted_and_banned(clock):
    backends = fleet(3, clock)
    backends[1].liar = True
    async with serve_backends(*backends):
        poller, server = make(backends, clock, consensus_ban_period="1m")
        await cycle(poller, clock)
        stats = poller.statistics()
        assert stats.consensus_group == ("node1", "node3")
        liar = next(b for b in stats.backends if b.name == "node2")
        assert liar.banned and liar.bans == {"output_root_mismatch": 1}
        assert poller.metrics.bans["output_root_mismatch"].get(backend_name="node2") == 1
        assert poller.metrics.banned.get(backend_name="node2") == 1
        # banned: not polled at all during the ban, back after it (and honest again)
        backends[1].calls.clear()
        await cycle(poller, clock, 30)
        assert backends[1].calls == []
        backends[1].liar = False
        await cycle(poller, clock, 31)
        assert poller.consensus_group == ("node1", "node2", "node3")
        await poller.aclose()


@pytest.mark.parametrize("liars", [1, 2])
async def test_no_majority_halts_then_recovers(clock, liars):
    """1-1 (two backends, one lies) and a 3-way split (three backends, two lie differently)."""
    backends = fleet(2 if liars == 1 else 3, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        await cycle(poller, clock)
        _, before = await rpc(server, "optimism_syncStatus")
        for b in backends:
            b.advance(2)
        for b in backends[1:1 + liars]:
            b.liar = True
        await cycle(poller, clock)
        stats = poller.statistics()
        assert stats.halted and stats.consensus_group == () and not any(b.banned for b in stats.backends)
        assert poller.metrics.halted.get(backend_group_name="node") == 1
        # frozen: the last agreed body and heads; general methods fail closed
        status, frozen = await rpc(server, "optimism_syncStatus")
        assert status == 200 and frozen["result"] == before["result"]
        assert poller.heads.safe == 100
        status, answer = await rpc(server, "optimism_version")
        assert status == 503 and answer["error"] == {
            "code": -32011, "message": "no backend is currently healthy to serve traffic"}
        # automatic recovery when a majority agrees again; nobody was banned
        for b in backends:
            b.liar = False
        await cycle(poller, clock)
        assert not poller.halted and poller.metrics.halted.get(backend_group_name="node") == 0
        assert poller.heads.safe == 102
        _, after = await rpc(server, "optimism_syncStatus")
        assert after["result"]["safe_l2"]["number"] == 102
        await poller.aclose()


async def test_restarting_backend_does_not_drag_consensus_back(clock):
    backends = fleet(3, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock, consensus_ban_period="1m")
        await cycle(poller, clock)
        backends[2].restart_low(by=30, l1=5)  # finalized 60 < consensus 90, local-safe 70 < 100
        await cycle(poller, clock)
        # its safe head went back: proxyd's tag check bans it at once
        assert {b.name: dict(b.bans) for b in poller.statistics().backends}["node3"] == {"unexpected_block_tags": 1}
        assert poller.consensus_group == ("node1", "node2")
        # after the ban (its remembered heads reset) it answers sanely but low: polled, not banned
        # again, yet not a candidate, so the consensus numbers and the served body stay put
        await cycle(poller, clock, 61)
        stats = {b.name: b for b in poller.statistics().backends}
        assert not stats["node3"].banned and stats["node3"].finalized == 60
        assert poller.consensus_group == ("node1", "node2")
        assert (poller.heads.safe, poller.heads.local_safe, poller.heads.finalized) == (100, 100, 90)
        _, answer = await rpc(server, "optimism_syncStatus")
        assert answer["result"]["safe_l2"]["number"] == 100
        # it catches up and rejoins
        backends[2].advance(30, l1=5)
        await cycle(poller, clock)
        assert poller.consensus_group == ("node1", "node2", "node3")
        await poller.aclose()


async def test_pin_is_monotonic_in_current_l1(clock):
    backends = fleet(2, clock)
    backends[1].advance(0, l1=3)  # node2 further along L1
    async with serve_backends(*backends):
        poller, server = make(backends, clock, skip_peer_count=True, consensus_min_peer_count=1)
        await cycle(poller, clock)
        assert poller.pinned == "node1"
        pinned_l1 = backends[0].current_l1
        # node1 falls back on L1 (an L1 reorg it saw first) but keeps its L2 heads: still a candidate,
        # yet below the last pin: the pin moves to node2 and never back below the floor
        backends[0].current_l1 -= 2
        backends[0].head_l1 -= 2
        await cycle(poller, clock)
        assert poller.consensus_group == ("node1", "node2")
        assert poller.pinned == "node2"
        _, answer = await rpc(server, "optimism_syncStatus")
        assert answer["result"]["current_l1"]["number"] >= pinned_l1
        # if nobody is at or above the floor, the old body stays (counted), never a lower one
        backends[1].current_l1 = backends[0].current_l1
        backends[1].head_l1 = backends[0].head_l1
        await cycle(poller, clock)
        _, answer = await rpc(server, "optimism_syncStatus")
        assert answer["result"]["current_l1"]["number"] == pinned_l1 + 3
        assert poller.metrics.no_pin.get(backend_group_name="node") == 1
        await poller.aclose()


async def test_in_sync_rules_l1_lag_and_head_age(clock):
    backends = fleet(3, clock)
    backends[0].head_l1 = backends[0].current_l1 + 11  # > consensus_cl_sync_threshold 10
    backends[1].head_l1_time = clock.now - 400  # older than 5m
    async with serve_backends(*backends):
        poller, _ = make(backends, clock)
        await cycle(poller, clock)
        assert poller.consensus_group == ("node3",)
        assert poller.metrics.in_sync.get(backend_name="node1") == 0
        assert poller.metrics.backend_l1_stale.get(backend_name="node2") == 1
        await poller.aclose()


async def test_zero_heads_rejected_and_safe_above_local_safe_banned(clock):
    backends = fleet(3, clock)
    backends[0].zero = True
    backends[1].local_safe = 99  # safe 100 > local_safe 99: invalid interop state
    async with serve_backends(*backends):
        poller, _ = make(backends, clock)
        await cycle(poller, clock)
        stats = {b.name: b for b in poller.statistics().backends}
        assert poller.consensus_group == ("node3",)
        assert not stats["node1"].banned and "not initialised" in stats["node1"].last_error
        assert stats["node2"].banned and stats["node2"].bans == {"interop_safe_gt_local_safe": 1}
        await poller.aclose()


async def test_unexpected_tags_ban_with_drift_threshold(clock):
    backends = fleet(3, clock)
    async with serve_backends(*backends):
        document_poller, _ = make(backends, clock)
        await cycle(document_poller, clock)
        backends[0].safe -= 3  # safe went back 3 blocks (local-safe still ahead: not the interop ban)
        backends[1].finalized = backends[1].safe + 1  # finalized above safe
        await cycle(document_poller, clock)
        stats = {b.name: b for b in document_poller.statistics().backends}
        assert stats["node1"].bans == {"unexpected_block_tags": 1}
        assert stats["node2"].bans == {"unexpected_block_tags": 1}
        await document_poller.aclose()


async def test_output_root_timeouts_ban_after_threshold(clock):
    backends = fleet(3, clock)
    backends[2].output_delay = 1.0
    async with serve_backends(*backends):
        config = cl_config(backends, consensus_cl_output_root_ban_threshold=2)
        config = type(config)(**{**{f: getattr(config, f) for f in config.__dataclass_fields__},
                                 "backends": tuple(type(b)(**{**{f: getattr(b, f) for f in b.__dataclass_fields__},
                                                              "timeout": 0.3}) for b in config.backends)})
        poller = ConsensusPoller(config, clock=clock)
        await cycle(poller, clock)
        stats = {b.name: b for b in poller.statistics().backends}
        assert not stats["node3"].banned and poller.consensus_group == ("node1", "node2", "node3")
        await cycle(poller, clock)
        stats = {b.name: b for b in poller.statistics().backends}
        assert stats["node3"].bans == {"output_root_timeout": 1}
        assert poller.consensus_group == ("node1", "node2")
        await poller.aclose()


async def test_other_methods_load_balanced_and_unmapped_refused(clock):
    backends = fleet(3, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        await cycle(poller, clock)
        served = set()
        for _ in range(40):
            status, answer = await rpc(server, "optimism_version")
            assert status == 200
            served.add(answer["result"])
        assert served == {"v1.0.0-node1", "v1.0.0-node2", "v1.0.0-node3"}
        # a backend's own JSON-RPC error passes through
        status, answer = await rpc(server, "optimism_rollupConfig")
        assert status == 200 and answer["error"] == {"code": -32000, "message": "rollup config not available"}
        # unmapped: proxyd's error, HTTP 403, never forwarded
        before = sum(len(b.calls) for b in backends)
        status, answer = await rpc(server, "eth_chainId")
        assert status == 403 and answer["error"] == {"code": -32601, "message": "rpc method is not whitelisted"}
        assert sum(len(b.calls) for b in backends) == before
        # a down backend in the group is skipped
        backends[0].down = backends[1].down = True
        for _ in range(5):
            assert (await rpc(server, "optimism_version"))[1]["result"] == "v1.0.0-node3"
        await poller.aclose()


async def test_malformed_requests(clock):
    backends = fleet(1, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        cases = [b"{", b"\xff\xfe", b'{"jsonrpc":"1.0","id":1,"method":"optimism_syncStatus"}',
                 b'{"jsonrpc":"2.0","id":1}', b'{"jsonrpc":"2.0","id":{},"method":"x"}', b"[]", b"7"]
        for body in cases:
            response = await server(HttpRequest("POST", "/", body=body))
            answer = json.loads(response.body)
            assert response.status == 400 and answer["error"]["code"] in (-32700, -32600), body
        for deep in (b"[" * 100_000, b'{"a":' * 100_000):  # nested deeper than the parser goes
            response = await server(HttpRequest("POST", "/", body=deep))
            assert response.status == 400 and json.loads(response.body)["error"]["code"] == -32700
        assert (await server(HttpRequest("GET", "/"))).status == 405
        batch = json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "optimism_syncStatus"},
                            {"jsonrpc": "2.0", "id": 2, "method": "eth_call"}]).encode()
        response = await server(HttpRequest("POST", "/", body=batch))
        answers = json.loads(response.body)
        assert response.status == 200 and [a["error"]["code"] for a in answers] == [-32025, -32601]
        await poller.aclose()


async def test_batch_limit(clock):
    backends = fleet(1, clock)
    async with serve_backends(*backends):
        config = cl_config(backends)
        config = type(config)(**{**{f: getattr(config, f) for f in config.__dataclass_fields__}, "batch_max_size": 2})
        poller = ConsensusPoller(config, clock=clock)
        server = ProxyServer(poller)
        batch = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "optimism_syncStatus"} for i in range(3)]).encode()
        response = await server(HttpRequest("POST", "/", body=batch))
        assert response.status == 413 and json.loads(response.body)["error"]["code"] == -32014
        await poller.aclose()


async def test_stale_body_not_served_once_nothing_is_in_consensus(clock):
    """Where we differ from proxyd (infra #627): no stale optimism_syncStatus when every backend
    is filtered out without a halt."""
    backends = fleet(2, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock, consensus_max_update_threshold="10s")
        await cycle(poller, clock)
        assert (await rpc(server, "optimism_syncStatus"))[0] == 200
        for b in backends:
            b.down = True
        await cycle(poller, clock, 11)  # no update for longer than max_update_threshold
        assert poller.consensus_group == ()
        status, answer = await rpc(server, "optimism_syncStatus")
        assert status == 503 and answer["error"]["code"] == -32025
        for b in backends:
            b.down = False
        await cycle(poller, clock)
        assert (await rpc(server, "optimism_syncStatus"))[0] == 200
        await poller.aclose()


async def test_unhealthy_backend_is_banned(clock):
    backends = fleet(3, clock)
    async with serve_backends(*backends):
        poller, _ = make(backends, clock)
        backends[0].down = True
        for _ in range(11):  # proxyd judges the error rate after 10 requests
            await poller.update_backend("node1")
        stats = {b.name: b for b in poller.statistics().backends}
        assert stats["node1"].bans == {"not_healthy": 1}
        await poller.aclose()


async def test_forced_candidate_is_never_banned(clock):
    backends = fleet(3, clock)
    backends[1].liar = True
    async with serve_backends(*backends):
        document = cl_config(backends)
        forced = tuple(type(b)(**{**{f: getattr(b, f) for f in b.__dataclass_fields__},
                                  "forced_candidate": b.name == "node2"}) for b in document.backends)
        config = type(document)(**{**{f: getattr(document, f) for f in document.__dataclass_fields__},
                                   "backends": forced})
        poller = ConsensusPoller(config, clock=clock)
        await cycle(poller, clock)
        assert "node2" in poller.consensus_group
        assert not any(b.banned for b in poller.statistics().backends if b.name == "node2")
        await poller.aclose()


async def test_long_poll_answers_on_change(clock):
    backends = fleet(2, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        assert (await rpc(server, "opfleet_waitSyncStatus", None, 100))[1]["error"]["code"] == -32025
        await cycle(poller, clock)
        _, now = await rpc(server, "opfleet_waitSyncStatus", {}, 5000)  # empty known: at once
        known = {"safe_l2": now["result"]["safe_l2"]["hash"]}
        got = {}

        async def waiter():
            got["answer"] = (await rpc(server, "opfleet_waitSyncStatus", known, 10_000))[1]
            got["at"] = trio.current_time()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await trio.sleep(0.05)
            assert "answer" not in got
            for b in backends:
                b.advance(1)
            changed_at = trio.current_time()
            await cycle(poller, clock)
        assert got["answer"]["result"]["safe_l2"]["number"] == 101
        assert got["at"] - changed_at < 1.0
        # timeout: the unchanged status after timeout_ms
        known = {"safe_l2": got["answer"]["result"]["safe_l2"]["hash"]}
        started = trio.current_time()
        _, same = await rpc(server, "opfleet_waitSyncStatus", known, "0x64")
        assert same["result"]["safe_l2"]["number"] == 101 and trio.current_time() - started >= 0.09
        status, bad = await rpc(server, "opfleet_waitSyncStatus", {"nonsense": "0x00"}, 10)
        assert status == 400 and bad["error"]["code"] == -32602
        await poller.aclose()


async def test_metrics_use_proxyd_names(clock):
    backends = fleet(3, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        await cycle(poller, clock)
        await rpc(server, "optimism_syncStatus")
        text = (await server(HttpRequest("GET", "/metrics"))).body.decode()
        for line in ('proxyd_group_consensus_safe_block{backend_group_name="node"} 100',
                     'proxyd_consensus_cl_group_local_safe_block{backend_group_name="node"} 100',
                     'proxyd_group_consensus_latest_block{backend_group_name="node"} 110',
                     'proxyd_consensus_cl_halted{backend_group_name="node"} 0',
                     'proxyd_consensus_backend_banned{backend_name="node1"} 0',
                     'proxyd_consensus_cl_group_pin_l1{backend_group_name="node",backend_name="node1"} 50',
                     'proxyd_consensus_cl_sync_status_cache_hit_total{backend_group_name="node"} 1'):
            assert line in text, line
        health = json.loads((await server(HttpRequest("GET", "/healthz"))).body)
        assert health["pinned"] == "node1" and health["consensus"]["safe"] == 100 and not health["halted"]
        await poller.aclose()


async def test_runs_over_http_with_its_own_loop():
    """The real thing: the poller's own loop and the HTTP server, wall clock."""
    import time

    clock = time.time
    backends = [FakeBackend(f"node{i}", clock) for i in (1, 2, 3)]
    async with serve_backends(*backends):
        proxy = Proxy(cl_config(backends, consensus_poller_interval="50ms"))
        async with trio.open_nursery() as nursery:
            await nursery.start(proxy.run)
            url = f"http://127.0.0.1:{proxy.rpc_port}"
            async with httpx.AsyncClient() as client:
                for _ in range(100):
                    answer = (await client.post(url, json={"jsonrpc": "2.0", "id": 1,
                                                           "method": "optimism_syncStatus"})).json()
                    if "result" in answer:
                        break
                    await trio.sleep(0.02)
                assert answer["result"]["safe_l2"]["hash"] == block_hash("canonical", 100)
                for b in backends:
                    b.advance(5)
                with trio.fail_after(5):
                    while answer["result"]["safe_l2"]["number"] != 105:
                        await trio.sleep(0.02)
                        answer = (await client.post(url, json={"jsonrpc": "2.0", "id": 1,
                                                               "method": "optimism_syncStatus"})).json()
                assert proxy.statistics().cycles > 1
            nursery.cancel_scope.cancel()


async def test_response_size_limit(clock):
    backends = fleet(1, clock)
    async with serve_backends(*backends):
        config = cl_config(backends)
        small = tuple(type(b)(**{**{f: getattr(b, f) for f in b.__dataclass_fields__},
                                 "max_response_size_bytes": 10}) for b in config.backends)
        config = type(config)(**{**{f: getattr(config, f) for f in config.__dataclass_fields__}, "backends": small})
        poller = ConsensusPoller(config, clock=clock)
        server = ProxyServer(poller)
        await cycle(poller, clock)
        status, answer = await rpc(server, "optimism_version")  # "v1.0.0-node1": 14 bytes of JSON
        assert status == 500 and answer["error"] == {"code": -32020, "message": "backend response too large"}
        await poller.aclose()


@pytest.mark.parametrize("garbage", [
    "0x1", [], {"unsafe_l2": None}, {"head_l1": {"number": 2**80}},
    {"unsafe_l2": {"number": -1, "hash": "0x1"}},
])
async def test_garbage_status_is_not_a_candidate(clock, garbage):
    backends = fleet(3, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        await cycle(poller, clock)
        body = backends[2].status()
        if isinstance(garbage, dict):
            body.update(garbage)
            garbage = body
        backends[2].garbage = garbage
        await cycle(poller, clock, 31)  # its last good answer ages past max_update_threshold
        assert poller.consensus_group == ("node1", "node2")
        stats = {b.name: b for b in poller.statistics().backends}
        assert "optimism_syncStatus" in stats["node3"].last_error
        assert (await rpc(server, "optimism_syncStatus"))[1]["result"]["backend"] in ("node1", "node2")
        await poller.aclose()


async def test_oversized_request_refused(clock):
    backends = fleet(1, clock)
    async with serve_backends(*backends):
        config = cl_config(backends)
        config = type(config)(**{**{f: getattr(config, f) for f in config.__dataclass_fields__},
                                 "max_body_size_bytes": 256})
        proxy = Proxy(config, clock=clock)
        async with trio.open_nursery() as nursery:
            await nursery.start(proxy.run)
            async with httpx.AsyncClient() as client:
                big = {"jsonrpc": "2.0", "id": 1, "method": "optimism_syncStatus", "params": ["x" * 1000]}
                response = await client.post(f"http://127.0.0.1:{proxy.rpc_port}", json=big)
                assert response.status_code == 413
            nursery.cancel_scope.cancel()


async def test_readiness_and_liveness(clock):
    backends = fleet(2, clock)
    async with serve_backends(*backends):
        poller, server = make(backends, clock)
        response = await server(HttpRequest("GET", "/healthz"))
        body = json.loads(response.body)
        assert response.status == 503 and body["ready"] is False and "yet" in body["reason"]
        assert (await server(HttpRequest("GET", "/livez"))).status == 200
        await cycle(poller, clock)
        response = await server(HttpRequest("GET", "/healthz"))
        assert response.status == 200 and json.loads(response.body)["ready"] is True
        # halted: the frozen status is still served, so still ready
        for b in backends:
            b.advance(1)
        backends[1].liar = True
        await cycle(poller, clock)
        assert poller.halted and (await server(HttpRequest("GET", "/healthz"))).status == 200
        await poller.aclose()
