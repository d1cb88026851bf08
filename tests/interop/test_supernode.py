"""The whole supernode with two chains against loopback devnet parts (interop_helpers): both chains
derive in one process, each is served under /<chainID> (ref section 3.2), verification holds the
safe head until every message's initiating chain has caught up, and the root methods answer in
op-supernode's shapes (sections 3.3, 3.4)."""

from __future__ import annotations

import re

import httpx
import pytest
import trio

from interop_helpers import A, B, same_chain, start_interop_devnet, wait_for
from opfleet.interop.superroot import super_root_v1
from opfleet.interop.supernode import Supernode
from opfleet.protocol.sync_status import L1_KEYS, L2_KEYS
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.l2 import L2Provider


async def test_two_chains_derive_verify_and_serve_under_their_chain_id(nursery):
    net = await start_interop_devnet(nursery)
    a, b = net.chains[A], net.chains[B]
    await net.build(count=2)
    await net.build({A: (a.emit(b"hello from A"),)})  # A3 log 0 initiates
    a3 = a.engine.by_number(3)
    await net.build({B: (b.execute(a, 3, 0, b"hello from A"),)})  # B4 executes A3's message: valid
    await net.build(count=2)
    await net.post_batches(B)  # only B's batches on L1: B derives, but its message waits for A

    node: Supernode = await nursery.start(Supernode(net.config()).run)
    await wait_for(lambda: node.sync_statuses()[B].local_safe_l2.number == 6)
    await trio.sleep(0.2)
    held = node.sync_statuses()
    assert held[B].safe_l2.number == 0 and held[A].local_safe_l2.number == 0  # held until A is known
    assert a3.transactions[1].receipt.logs  # the devnet convention emitted the initiating log

    await net.post_batches(A)
    await wait_for(lambda: all(s.safe_l2.number == 6 for s in node.sync_statuses().values()))
    same_chain(a.ours, a.engine, 6)
    same_chain(b.ours, b.engine, 6)
    stats = node.statistics()
    assert [c.blocks_invalidated for c in stats.chains] == [0, 0] and stats.verification_rounds >= 6
    indexed_exec = node.chains[B].logdb.block_logs(4).logs[0].executing
    assert indexed_exec is not None and indexed_exec.identifier.block_number == 3

    base = f"http://127.0.0.1:{node.rpc_port}"
    for path in (f"/{A}", f"/{A}/", f"/{B}/"):
        async with JsonRpcClient(base + path) as rpc:
            status = await rpc.call("optimism_syncStatus")
            assert list(status) == [*L1_KEYS, *L2_KEYS]
            cid = int(path.strip("/"))
            engine = net.chains[cid].engine
            assert status["safe_l2"]["hash"] == "0x" + engine.by_number(6).hash.hex()
            assert status["local_safe_l2"] == status["safe_l2"]
            assert (await rpc.call("optimism_rollupConfig"))["l2_chain_id"] == cid
            assert (await rpc.call("opfleet_nodeInfo"))["role"] == "supernode"  # for status --discover
    async with httpx.AsyncClient() as http:
        ws = await http.post(f"{base}/{A}/ws", json={"jsonrpc": "2.0", "id": 1, "method": "optimism_version"})
        assert ws.status_code == 200 and ws.json()["result"].endswith("-opfleet")  # rest of the path passed on
        unknown = await http.post(f"{base}/999", json={"jsonrpc": "2.0", "id": 1, "method": "optimism_syncStatus"})
        assert unknown.status_code == 404
        health = await http.get(f"{base}/{B}/healthz")
        assert health.status_code == 200 and health.json()["version"].endswith("-opfleet")

    async with JsonRpcClient(base) as root:
        sn = await root.call("supernode_syncStatus")
        assert list(sn) == ["chains", "chain_ids", "current_l1", "safe_timestamp", "local_safe_timestamp",
                            "finalized_timestamp"]
        assert sn["chain_ids"] == [str(A), str(B)] and set(sn["chains"]) == {str(A), str(B)}
        assert sn["safe_timestamp"] == a.engine.by_number(6).timestamp == sn["local_safe_timestamp"]
        assert list(sn["chains"][str(B)]) == [*L1_KEYS, *L2_KEYS]
        beats = {await root.call("heartbeat_check") for _ in range(8)}
        assert all(re.fullmatch(r"0x[0-9a-f]{8}", beat) for beat in beats) and len(beats) > 1  # 4 random bytes

        ts = a.engine.by_number(5).timestamp
        sr = await root.call("superroot_atTimestamp", hex(ts))
        outputs = {}
        for cid, chain in net.chains.items():
            async with JsonRpcClient(chain.engine.rpc_url) as l2:
                output, _ = await L2Provider(l2, chain.rollup).output_v0(5)
            outputs[cid] = output.output_root()
            assert sr["optimistic_at_timestamp"][str(cid)]["output_root"] == "0x" + outputs[cid].hex()
        assert sr["data"]["super_root"] == "0x" + super_root_v1(ts, outputs).hex()
        assert sr["data"]["super"]["chains"] == [{"ChainID": str(cid), "Output": "0x" + outputs[cid].hex()}
                                                 for cid in (A, B)]
        ahead = await root.call("superroot_atTimestamp", hex(ts + 100))  # no chain derived it yet
        assert "data" not in ahead and ahead["optimistic_at_timestamp"] == {}
        assert ahead["chain_ids"] == [str(A), str(B)] and ahead["current_l1"] == sr["current_l1"]
        with pytest.raises(RpcCallError) as bad:
            await root.call("superroot_atTimestamp", ts)
        assert bad.value.code == -32602


async def test_the_el_safe_label_is_the_verified_head_not_local_safe(nursery):
    """op-supernode safety-labels.md: the execution client's "safe" block is the cross-safe
    (verified) head; a block derived but waiting for its message's initiating chain is not safe."""
    net = await start_interop_devnet(nursery)
    a, b = net.chains[A], net.chains[B]
    await net.build(count=2)
    await net.build({A: (a.emit(b"hi"),)})  # A3 log 0
    await net.build({B: (b.execute(a, 3, 0, b"hi"),)}, count=3)  # B4 executes it
    await net.post_batches(B)
    node: Supernode = await nursery.start(Supernode(net.config()).run)
    await wait_for(lambda: node.sync_statuses()[B].local_safe_l2.number == 6)
    await trio.sleep(0.2)
    assert node.chains[B].node.driver.local_safe_head.number == 6
    assert b.ours.safe.number == 0 and b.ours.head.number == 6  # derived, but not verified: not safe

    await net.post_batches(A)
    await wait_for(lambda: b.ours.safe.number == 6 and a.ours.safe.number == 6)
    assert b.ours.safe.hash == node.chains[B].verified.hash == b.engine.by_number(6).hash
    assert b.ours.finalized.number <= b.ours.safe.number
