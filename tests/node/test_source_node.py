"""The whole source node against the in-process devnet on loopback.

L1Server (EL + beacon API) and a sequencer-side DevEngine built by MiniSequencer with user
transactions; the devnet Batcher posts span batches to L1 as calldata and as blobs; our
SourceNode drives a second, empty DevEngine. Its safe chain must be the sequencer's, hash for
hash (derivation.md end to end), and its RPC must answer op-node's shapes
(op-node/node/api.go, op-service/eth/sync_status.go).
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_helpers import grow, post_batches, same_chain, source_config, wait_for  # noqa: E402

from devnet_helpers import INBOX  # noqa: E402
from engine_helpers import new_engine, start_devnet  # noqa: E402
from opfleet.devnet.batcher import BLOBS, CALLDATA
from opfleet.devnet.engine import ForkTimes
from opfleet.node.safedb import SafeHeadDB
from opfleet.node.source import SourceNode
from opfleet.protocol.sync_status import L1_KEYS, L2_KEYS
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.l2 import L2Provider


async def test_source_node_derives_the_sequencers_chain_and_serves_op_node_rpc(nursery):
    net = await start_devnet(nursery)
    await grow(net, 12)
    await post_batches(net, CALLDATA, 1)
    await grow(net, 12)
    await post_batches(net, BLOBS, 13)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    db = SafeHeadDB(None)
    node: SourceNode = await nursery.start(SourceNode(source_config(net, ours), safe_db=db).run)
    await wait_for(lambda: node.driver is not None and node.driver.safe_head.number >= 24)
    same_chain(ours, net.sequencer_engine, 24)
    assert ours.safe.number == 24 and node.driver.statistics().blocks_built == 24
    # L1 finalized trails by 8 blocks on the devnet: nothing derived from there yet, or some.
    await wait_for(lambda: node.sync_status().current_l1.number == net.l1.head.number)

    async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
        status = await rpc.call("optimism_syncStatus")
        assert list(status) == [*L1_KEYS, *L2_KEYS] and len(status) == 11
        assert status["safe_l2"]["hash"] == "0x" + net.sequencer_engine.by_number(24).hash.hex()
        assert status["local_safe_l2"] == status["safe_l2"] and status["head_l1"]["number"] == net.l1.head.number

        answer = await rpc.call("optimism_outputAtBlock", "0xc")
        async with JsonRpcClient(net.sequencer_engine.rpc_url) as seq_rpc:
            expected, ref = await L2Provider(seq_rpc, net.rollup).output_v0(12)
        assert answer["outputRoot"] == "0x" + expected.output_root().hex()
        assert answer["blockRef"] == ref.to_json() and list(answer["syncStatus"]) == list(status)
        with pytest.raises(RpcCallError) as number_param:
            await rpc.call("optimism_outputAtBlock", 12)
        assert number_param.value.code == -32602
        with pytest.raises(RpcCallError) as unknown:
            await rpc.call("optimism_outputAtBlock", "0x3e8")
        assert unknown.value.code == -32000 and "not found" in unknown.value.message

        # The blob batch's L1 block is recorded once fully derived: when the next L1 block arrives.
        batch_l1 = net.l1.head.number
        net.l1.mine()
        await wait_for(lambda: node.sync_status().current_l1.number == batch_l1 + 1)
        entry = await rpc.call("optimism_safeHeadAtL1Block", hex(batch_l1))
        assert entry["safeHead"] == {"hash": "0x" + net.sequencer_engine.by_number(24).hash.hex(), "number": 24}
        assert entry["l1Block"]["number"] == batch_l1
        genesis_entry = await rpc.call("optimism_safeHeadAtL1Block", "0x0")
        assert genesis_entry["safeHead"]["number"] == 0 and genesis_entry["l1Block"]["number"] == 0

        config = await rpc.call("optimism_rollupConfig")
        assert "granite_channel_timeout" not in config
        assert config["batch_inbox_address"] == "0x" + INBOX.hex()
        assert config["genesis"]["system_config"]["batcherAddr"].islower()
        assert (await rpc.call("optimism_version")).endswith("-opfleet")
        with pytest.raises(RpcCallError) as admin:
            await rpc.call("admin_sequencerActive")
        assert admin.value.code == -32601
    async with httpx.AsyncClient() as http:
        health = await http.get(f"http://127.0.0.1:{node.rpc_port}/healthz")
        metrics = (await http.get(f"http://127.0.0.1:{node.metrics_port}/metrics")).text
    assert health.json()["version"].endswith("-opfleet")
    assert 'op_node_refs_number{layer="l2",type="l2_safe"} 24' in metrics
    assert 'op_node_refs_number{layer="l1",type="l1_head"}' in metrics
    assert 'op_node_rpc_client_requests_total{client="l1",method="eth_getBlockByNumber"}' in metrics
    assert "op_node_derivation_errors_total" in metrics
    # Finality: once L1 finalized (8 behind the head on the devnet) passes the batches' L1 blocks.
    for _ in range(10):
        net.l1.mine()
    await wait_for(lambda: node.driver.finalized_head.number == 24)
    assert ours.finalized.number == 24 and node.sync_status().finalized_l2.number == 24


async def test_restart_resumes_from_the_execution_layer(nursery):
    net = await start_devnet(nursery)
    await grow(net, 12)
    await post_batches(net, CALLDATA, 1)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    db = SafeHeadDB(None)
    async with trio.open_nursery() as first:
        node = await first.start(SourceNode(source_config(net, ours), safe_db=db).run)
        await wait_for(lambda: node.driver is not None and node.driver.safe_head.number >= 12)
        first.cancel_scope.cancel()
    await grow(net, 12)
    await post_batches(net, BLOBS, 13)
    async with trio.open_nursery() as second:
        node = await second.start(SourceNode(source_config(net, ours, enable_admin=True), safe_db=db).run)
        await wait_for(lambda: node.driver is not None and node.driver.safe_head.number >= 24)
        assert node.driver.statistics().blocks_built == 12  # blocks 1..12 came from the EL, not rebuilt
        async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
            assert await rpc.call("admin_sequencerActive") is False
            await rpc.call("admin_resetDerivationPipeline")
            await wait_for(lambda: node.driver.statistics().resets == 2)
        await wait_for(lambda: node.driver.safe_head.number >= 24)
        second.cancel_scope.cancel()
    same_chain(ours, net.sequencer_engine, 24)


async def test_critical_error_stops_the_node_with_its_message(nursery):
    net = await start_devnet(nursery)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    wrong = net.rollup.__class__(**{**{f: getattr(net.rollup, f) for f in net.rollup.__dataclass_fields__},
                                    "genesis": net.rollup.genesis.__class__(
                                        net.rollup.genesis.l1, net.rollup.genesis.l2.__class__(b"\x01" * 32, 0),
                                        net.rollup.genesis.l2_time, net.rollup.genesis.system_config)})
    from opfleet.errors import CriticalError

    with trio.fail_after(10):
        with pytest.raises(CriticalError, match="wrong chain or rollup config"):
            await SourceNode(source_config(net, ours, rollup_config=wrong, metrics_enabled=False)).run()


async def test_unreachable_engine_is_retried_with_one_warning(nursery, log_records):
    net = await start_devnet(nursery)
    await grow(net, 6)
    await post_batches(net, CALLDATA, 1)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = source_config(net, ours, l2_url=dead, metrics_enabled=False)
    handler = log_records("opfleet.source")
    async with trio.open_nursery() as inner:
        await inner.start(SourceNode(config).run)
        await trio.sleep(0.5)
        inner.cancel_scope.cancel()
    warnings = [r for r in handler.records if r.levelname == "WARNING" and "failing" in r.getMessage()]
    assert len(warnings) == 1 and "Derivation failing" in warnings[0].getMessage()


async def test_l1_confs_keeps_derivation_behind_the_head(nursery):
    net = await start_devnet(nursery)
    await grow(net, 6)
    await post_batches(net, CALLDATA, 1)
    batch_l1 = net.l1.head.number
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    node = await nursery.start(SourceNode(source_config(net, ours, l1_confs=2, metrics_enabled=False)).run)
    await wait_for(lambda: node.driver.started and node.sync_status().current_l1.number == batch_l1 - 2)
    await trio.sleep(0.2)
    assert node.driver.safe_head.number == 0
    net.l1.mine_blocks(2)
    await wait_for(lambda: node.driver.safe_head.number == 6)
    assert node.sync_status().current_l1.number == batch_l1


async def test_sync_status_never_answers_all_zero_heads_once_the_el_has_a_chain(nursery):
    net = await start_devnet(nursery)
    await grow(net, 12)
    await post_batches(net, CALLDATA, 1)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    async with trio.open_nursery() as first:
        node = await first.start(SourceNode(source_config(net, ours, metrics_enabled=False)).run)
        await wait_for(lambda: node.driver is not None and node.driver.safe_head.number >= 12)
        first.cancel_scope.cancel()
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # Restarted with its L1 unreachable: derivation cannot start, but the EL's heads are known and
    # are what the node answers from its first answer on.
    config = source_config(net, ours, l1_url=dead, l1_beacon_url=dead, metrics_enabled=False)
    async with trio.open_nursery() as second:
        node = await second.start(SourceNode(config).run)
        async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
            status = await rpc.call("optimism_syncStatus")
        assert not node.driver.started
        assert status["unsafe_l2"]["hash"] == "0x" + ours.head.hash.hex()
        assert status["safe_l2"]["number"] == status["local_safe_l2"]["number"] == 12
        assert status["safe_l2"]["hash"] == "0x" + ours.by_number(12).hash.hex()
        second.cancel_scope.cancel()
    # Its EL unreachable as well: nothing is known, and the node says so instead of zero heads.
    config = source_config(net, ours, l1_url=dead, l1_beacon_url=dead, l2_url=dead, metrics_enabled=False)
    async with trio.open_nursery() as third:
        node = await third.start(SourceNode(config).run)
        async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
            with pytest.raises(RpcCallError, match="not ready"):
                await rpc.call("optimism_syncStatus")
            with pytest.raises(RpcCallError, match="not ready"):
                await rpc.call("opfleet_waitSyncStatus", None, 0)
        third.cancel_scope.cancel()
