"""The devnet's light nodes keep the tip through op-node's block gossip alone.

The light sequencer signs and publishes each block it builds; every light node peers with it,
validates each block as op-node does and inserts it; ``--l2.follow.payloads`` (the devnet gives
every light node the sequencer's EL) only pulls while gossip brings nothing, here at the start.
"""

from __future__ import annotations

import pytest
import trio

from e2e_helpers import start_fleet, wait_for

pytestmark = pytest.mark.slow


async def test_light_nodes_keep_the_tip_by_gossip(nursery):
    devnet = await start_fleet(nursery, lights=2, tx_interval=0.1)
    seq = devnet.sequencer
    assert seq.gossip is not None and seq.gossip.can_publish
    await wait_for(lambda: all(light.gossip is not None and light.gossip.inserter.statistics().inserted >= 3
                               for light in devnet.lights), timeout=30, what="gossiped blocks in every light node")
    pulled = [light.puller.statistics().blocks_imported for light in devnet.lights]
    inserted = [light.gossip.inserter.statistics().inserted for light in devnet.lights]
    worst = 0
    start = seq.heads()[0].number
    while seq.heads()[0].number < start + 6:
        tip = seq.heads()[0].number
        worst = max([worst] + [tip - light.heads()[0].number for light in devnet.lights])
        await trio.sleep(0.05)
    assert worst <= 1, f"a light node fell {worst} blocks behind the sequencer"
    for i, light in enumerate(devnet.lights):
        assert light.puller.statistics().blocks_imported == pulled[i], "the payload puller ran while gossip flowed"
        assert light.gossip.inserter.statistics().inserted >= inserted[i] + 5
        assert light.gossip.gossip.statistics().rejected == 0
        # the block a light node calls unsafe is the sequencer's
        head = light.heads()[0]
        assert devnet.sequencer_engine.by_number(head.number).hash == head.hash


async def test_without_gossip_the_payload_puller_keeps_them_at_the_tip(nursery):
    devnet = await start_fleet(nursery, lights=1, gossip=False)
    assert devnet.sequencer.gossip is None and devnet.lights[0].gossip is None
    await wait_for(lambda: devnet.lights[0].heads()[0].number >= 4, timeout=30, what="the puller")
    assert devnet.lights[0].puller.statistics().blocks_imported >= 4


async def test_sources_take_unsafe_blocks_from_gossip_and_derivation_consolidates_them(nursery):
    devnet = await start_fleet(nursery, sources=2, lights=0)
    await wait_for(lambda: all(s.gossip is not None and s.gossip.inserter.statistics().inserted >= 6
                               for s in devnet.sources), timeout=30, what="gossiped blocks in every source")
    await wait_for(lambda: all(s.driver.safe_head.number >= 4 for s in devnet.sources), timeout=30,
                   what="derivation")
    for source, engine in zip(devnet.sources, devnet.source_engines):
        driver = source.driver
        assert driver.unsafe_head.number > driver.safe_head.number  # ahead of what L1 has given it
        assert devnet.sequencer_engine.by_number(driver.unsafe_head.number).hash == driver.unsafe_head.hash
        # the derived safe blocks are the gossiped ones (consolidated, not rebuilt)
        assert engine.by_number(driver.safe_head.number).hash == \
            devnet.sequencer_engine.by_number(driver.safe_head.number).hash
        assert driver.statistics().unsafe_reorgs == 0


async def test_gossip_carries_the_fleet_across_a_live_fork(nursery):
    from opfleet.devnet.schedule import parse_fork_schedule

    devnet = await start_fleet(nursery, lights=1, forks=parse_fork_schedule(["karst=+4s"]))
    activation = (devnet.rollup.karst_time - devnet.rollup.genesis.l2_time) // devnet.rollup.block_time
    light = devnet.lights[0]
    await wait_for(lambda: light.heads()[0].number >= activation + 3, timeout=40, what="the light node past Karst")
    stats = light.gossip.gossip.statistics()
    assert stats.rejected == 0 and light.gossip.inserter.statistics().invalid == 0
    assert light.gossip.inserter.statistics().last_number >= activation + 3  # gossiped past the fork
    head = light.heads()[0]
    assert devnet.sequencer_engine.by_number(head.number).hash == head.hash


async def test_opp2p_peer_stats_and_self_as_op_node_serves_them(nursery):
    from opfleet.providers.jsonrpc import JsonRpcClient

    devnet = await start_fleet(nursery, sources=1, lights=2)
    await wait_for(lambda: devnet.sequencer.gossip.gossip.statistics().peers == 3, what="every node peered")
    await trio.sleep(1.0)  # subscriptions exchanged
    async with JsonRpcClient(devnet.endpoint("sequencer").url) as rpc:
        stats = await rpc.call("opp2p_peerStats")
        me = await rpc.call("opp2p_self")
    assert stats["connected"] == 3 and stats["blocksTopicV4"] == 3 and stats["banned"] == 0
    assert me["peerID"] == devnet.sequencer.gossip.gossip.peer_id and me["chainID"] == devnet.rollup.l2_chain_id
    assert "/meshsub/1.1.0" in me["protocols"] and me["addresses"]
    async with JsonRpcClient(devnet.endpoint("light-1").url) as rpc:
        assert (await rpc.call("opp2p_peerStats"))["connected"] == 1


async def test_opp2p_methods_do_not_exist_without_p2p(nursery):
    from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError

    devnet = await start_fleet(nursery, lights=1, gossip=False)
    async with JsonRpcClient(devnet.endpoint("light-1").url) as rpc:
        with pytest.raises(RpcCallError) as info:
            await rpc.call("opp2p_peerStats")
    assert info.value.code == -32601
