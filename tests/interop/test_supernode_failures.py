"""The supernode's failure behaviour (issue 6 item 4), each against the loopback two-chain devnet:
a forged executing message (the block is replaced, a light node follows the replacement), one
chain's EL down (the other keeps deriving and serving; that route answers 503), a restart (the
verified state and the log databases resume), and an L1 reorg under both chains."""

from __future__ import annotations

import dataclasses

import httpx
import trio
from interop_helpers import JWT_SECRET, A, B, new_engine, same_chain, start_interop_devnet, wait_for

from opfleet.interop.supernode import Supernode
from opfleet.node.light import LightConfig, LightNode
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE, invalidated_block_deposit
from opfleet.protocol.engine_api import ForkchoiceState
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.providers.l2 import L2Provider


def safe(node: Supernode, cid: int) -> int:
    return node.sync_statuses()[cid].safe_l2.number


async def test_forged_message_replaces_the_block_and_a_light_node_follows(nursery):
    net = await start_interop_devnet(nursery)
    a, b = net.chains[A], net.chains[B]
    await net.build(count=2)
    await net.build({A: (a.emit(b"real"),)})  # A3 log 0
    await net.build({B: (b.execute(a, 3, 0, b"forged"),)})  # B4 claims a payload A3 never emitted
    await net.build(count=2)
    await net.post_batches()
    node: Supernode = await nursery.start(Supernode(net.config()).run)

    # A light node following /902 (copies blocks from the supernode's EL for chain B: no p2p here).
    light_el = new_engine(net.l1, B)
    await nursery.start(light_el.serve_auth, "127.0.0.1", 0)
    await nursery.start(light_el.serve_rpc, "127.0.0.1", 0)
    light = await nursery.start(LightNode(LightConfig(
        rollup_config=b.rollup, sources=(f"http://127.0.0.1:{node.rpc_port}/{B}",), l1_url=net.l1_server.url,
        l2_url=light_el.auth_url, jwt_secret=JWT_SECRET, poll_interval=0.05, push_wait=0.2,
        payloads_url=b.ours.rpc_url, payloads_interval=0.05, l1_poll_interval=0.05, rpc_port=0,
        backoff_base=0.01, backoff_cap=0.05)).run)

    await wait_for(lambda: safe(node, B) == 6 and safe(node, A) == 6)
    assert node.statistics().chains[1].blocks_invalidated == 1
    same_chain(a.ours, a.engine, 6)  # chain A is untouched
    replaced, original = b.ours.by_number(4), b.engine.by_number(4)
    assert replaced.hash != original.hash and b.ours.by_number(3).hash == b.engine.by_number(3).hash
    async with JsonRpcClient(b.engine.rpc_url) as rpc:
        preimage = (await L2Provider(rpc, b.rollup).output_v0(4))[0].marshal()
    deposits = [t.raw for t in original.transactions if t.raw[0] == DEPOSIT_TX_TYPE]
    assert replaced.raw_transactions == [*deposits, invalidated_block_deposit(preimage).encode()]
    assert b.ours.by_number(5).parent_hash == replaced.hash  # the rest of the span builds on it
    assert node.chains[B].logdb.denied(4, original.hash) == preimage

    await wait_for(lambda: light.l2_heads.safe.number == 6)
    assert light.l2_heads.safe.hash == b.ours.by_number(6).hash
    assert light_el.by_number(4).hash == replaced.hash


async def test_one_chain_el_down_other_keeps_deriving_and_its_route_answers_503(nursery):
    net = await start_interop_devnet(nursery, serve_ours=(A,))
    await net.build(count=6)
    await net.post_batches()
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = net.config(chains=(net.settings(A), dataclasses.replace(net.settings(B), l2_url=dead)))
    node: Supernode = await nursery.start(Supernode(config).run)
    await wait_for(lambda: node.sync_statuses()[A].local_safe_l2.number == 6)
    same_chain(net.chains[A].ours, net.chains[A].engine, 6)
    base = f"http://127.0.0.1:{node.rpc_port}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "optimism_syncStatus"}
    async with httpx.AsyncClient() as http:
        started = trio.current_time()
        down = await http.post(f"{base}/{B}", json=body)
        waited = trio.current_time() - started
        up = await http.post(f"{base}/{A}", json=body)
        root = await http.post(base, json={**body, "method": "supernode_syncStatus"})
    assert down.status_code == 503 and waited >= 0.3  # the gate timeout
    assert down.text.startswith(f"chain RPC not ready: chain {B}: execution client unreachable")
    assert up.status_code == 200 and up.json()["result"]["local_safe_l2"]["number"] == 6
    assert root.status_code == 200 and root.json()["result"]["chains"][str(B)]["local_safe_l2"]["number"] == 0
    # Interop: A's messages could come from B, whose blocks are unknown, so A's safe head waits.
    assert node.sync_statuses()[A].safe_l2.number == 0
    assert [c.ready for c in node.statistics().chains] == [True, False]


async def test_restart_resumes_verified_state_and_log_databases(nursery, tmp_path):
    net = await start_interop_devnet(nursery)
    a, b = net.chains[A], net.chains[B]
    await net.build({A: (a.emit(b"one"),)})
    await net.build({B: (b.execute(a, 1, 0, b"one"),)}, count=6)
    await net.post_batches()
    config = net.config(data_dir=tmp_path)
    async with trio.open_nursery() as first:
        node = await first.start(Supernode(config).run)
        await wait_for(lambda: safe(node, A) == 7 and safe(node, B) == 7)
        first.cancel_scope.cancel()
    await net.build({A: (a.emit(b"two"),)})
    await net.build({B: (b.execute(a, 8, 0, b"two"),)}, count=5)
    await net.post_batches()
    async with trio.open_nursery() as second:
        node = await second.start(Supernode(config).run)
        assert node.chains[A].verified.number == 7 and node.chains[B].verified.number == 7  # from disk
        await wait_for(lambda: safe(node, A) == 13 and safe(node, B) == 13)
        stats = node.statistics()
        assert [c.blocks_indexed for c in stats.chains] == [6, 6]  # only the new blocks were indexed
        assert [c.node.driver.statistics().blocks_built for c in node.chains.values()] == [6, 6]
        assert node.chains[B].logdb.block_logs(9).logs[0].executing.identifier.block_number == 8
        second.cancel_scope.cancel()
    same_chain(a.ours, a.engine, 13)
    same_chain(b.ours, b.engine, 13)


async def test_l1_reorg_under_both_chains_rewinds_and_reverifies(nursery):
    net = await start_interop_devnet(nursery)
    a, b = net.chains[A], net.chains[B]
    await net.build(count=7)  # L1 block 1 is the origin of L2 6..11
    await net.build({A: (a.emit(b"doomed"),)})  # A8
    await net.build({B: (b.execute(a, 8, 0, b"doomed"),)}, count=4)  # B9 executes it
    await net.post_batches()  # L1 block 3
    node: Supernode = await nursery.start(Supernode(net.config()).run)
    await wait_for(lambda: safe(node, A) == 12 and safe(node, B) == 12)
    old = {cid: c.ours.by_number(12).hash for cid, c in net.chains.items()}

    # L1 blocks 1..3 are replaced (block 1 a second later: another hash), so L2 6..12 lose their
    # origin on both chains. The sequencers rebuild from block 5 (no messages this time) and batch.
    net.l1.reorg(3, 1, timestamps=[net.l1.by_number(1).timestamp + 1])
    for chain in net.chains.values():
        parent = chain.engine.by_number(5)
        async with EngineClient(chain.engine.auth_url, JWT_SECRET, forks=chain.rollup) as engine:
            await engine.forkchoice_updated(ForkchoiceState(parent.hash, parent.hash, chain.engine.genesis.hash))
        chain.sequencer.rewind()
        chain.batched = 5
    net.l1.mine()
    await net.build(count=7)
    await net.post_batches()
    await wait_for(lambda: all(node.sync_statuses()[cid].safe_l2.hash == c.engine.by_number(12).hash
                               for cid, c in net.chains.items()), timeout=30)
    for cid, chain in net.chains.items():
        same_chain(chain.ours, chain.engine, 12)
        assert chain.ours.by_number(12).hash != old[cid]
        assert node.chains[cid].logdb.block(12).hash == chain.engine.by_number(12).hash
    assert node.chains[B].logdb.block_logs(9).logs == ()  # the reorged-out message is gone from the index
    assert [c.blocks_invalidated for c in node.statistics().chains] == [0, 0]
