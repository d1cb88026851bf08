"""A light node following a real SourceNode over loopback (devnet L1 + dev engines): pushed safe
heads, blocks pulled from the sequencer's EL (--l2.follow.payloads), the same chain hash for hash,
and its own outputAtBlock answering from its own EL."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))
from engine_helpers import JWT_SECRET, new_engine, start_devnet  # noqa: E402

from light_helpers import Records, dead_url, wait_for  # noqa: E402
from opfleet.devnet.batcher import CALLDATA  # noqa: E402
from opfleet.devnet.engine import ForkTimes  # noqa: E402
from opfleet.node.light import LightConfig, LightNode  # noqa: E402
from opfleet.node.source import SourceConfig, SourceNode  # noqa: E402
from opfleet.providers.jsonrpc import JsonRpcClient  # noqa: E402
from test_source_node import grow, post_batches  # noqa: E402


def light_config(net, engine, sources, **overrides) -> LightConfig:
    fields = dict(rollup_config=net.rollup, sources=tuple(sources), l1_url=net.l1_server.url, l2_url=engine.auth_url,
                  jwt_secret=JWT_SECRET, payloads_url=net.sequencer_engine.rpc_url, payloads_interval=0.05,
                  l1_poll_interval=0.05, poll_interval=0.05, push_wait=1.0, rpc_port=0, backoff_base=0.01,
                  backoff_cap=0.05)
    fields.update(overrides)
    return LightConfig(**fields)


async def test_light_node_follows_a_source_node_and_pulls_the_unsafe_tip(nursery):
    net = await start_devnet(nursery)
    await grow(net, 12)
    await post_batches(net, CALLDATA, 1)
    source_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, source_engine)
    source = await nursery.start(SourceNode(SourceConfig(
        rollup_config=net.rollup, l1_url=net.l1_server.url, l2_url=source_engine.auth_url, jwt_secret=JWT_SECRET,
        l1_beacon_url=net.l1_server.url, l1_poll_interval=0.02, rpc_port=0, backoff_base=0.01,
        backoff_cap=0.05)).run)
    light_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, light_engine)
    light = await nursery.start(LightNode(light_config(net, light_engine, [f"http://127.0.0.1:{source.rpc_port}"])).run)

    await wait_for(lambda: light.l2_heads.safe.number == 12, timeout=20)
    assert light.statistics().source_modes == {f"http://127.0.0.1:{source.rpc_port}": "push"}
    # The payload puller brought the light EL to the sequencer's tip; the follow loop made block 12 safe.
    await wait_for(lambda: light_engine.head.number == net.sequencer_engine.head.number and light_engine.safe.number == 12)
    for n in range(13):
        assert light_engine.by_number(n).hash == net.sequencer_engine.by_number(n).hash
    assert light.l2_heads.safe == source.sync_status().safe_l2

    # The unsafe tip keeps moving while the source is the only one to know about safe blocks.
    await grow(net, 6)
    await wait_for(lambda: light.l2_heads.unsafe.number == 18 and light_engine.head.number == 18)
    async with JsonRpcClient(f"http://127.0.0.1:{light.rpc_port}") as rpc, \
            JsonRpcClient(f"http://127.0.0.1:{source.rpc_port}") as src:
        ours = await rpc.call("optimism_outputAtBlock", "0xc")
        theirs = await src.call("optimism_outputAtBlock", "0xc")
        assert ours["outputRoot"] == theirs["outputRoot"] and ours["blockRef"] == theirs["blockRef"]
        status = await rpc.call("optimism_syncStatus")
        assert status["unsafe_l2"]["number"] == 18 and status["safe_l2"]["number"] == 12

    # A new batch: the source derives it and pushes the new safe head at once.
    await post_batches(net, CALLDATA, 13)
    await wait_for(lambda: source.sync_status().safe_l2.number == 18, timeout=20)
    with trio.fail_after(1):
        await wait_for(lambda: light.l2_heads.safe.number == 18)
    await wait_for(lambda: light_engine.safe.number == 18)


async def test_source_down_safe_holds_while_the_unsafe_tip_moves(nursery):
    net = await start_devnet(nursery)
    light_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, light_engine)
    with Records() as logs:
        light = await nursery.start(LightNode(light_config(net, light_engine, [dead_url()])).run)
        await grow(net, 6)
        await wait_for(lambda: light_engine.head.number == 6 and light.l2_heads.unsafe.number == 6)
    assert light.l2_heads.safe.number == 0 and light_engine.safe.number == 0
    assert light.statistics().results["error_fetch_status"] >= 2
    assert len(logs.warnings("Follow source")) == 1


async def test_light_sequencer_builds_and_follows_the_safe_chain_derived_from_its_blocks(nursery):
    from devnet_helpers import BATCHER_KEY, INBOX, L2_BLOCK_TIME, L2_CHAIN_ID
    from opfleet.devnet.batcher import Batcher, BatcherConfig, ChannelConfig
    from opfleet.node.sequencer import SequencerConfig

    net = await start_devnet(nursery)
    net.l1.mine_blocks(3)
    source_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, source_engine)
    source = await nursery.start(SourceNode(SourceConfig(
        rollup_config=net.rollup, l1_url=net.l1_server.url, l2_url=source_engine.auth_url, jwt_secret=JWT_SECRET,
        l1_beacon_url=net.l1_server.url, l1_poll_interval=0.02, rpc_port=0, backoff_base=0.01,
        backoff_cap=0.05)).run)
    seq_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, seq_engine)
    now = [float(net.rollup.genesis.l2_time)]
    config = light_config(net, seq_engine, [f"http://127.0.0.1:{source.rpc_port}"], payloads_url=None,
                          sequencer_enabled=True, enable_admin=True, sequencer_clock=lambda: now[0],
                          sequencer_config=SequencerConfig(l1_confs=0, poll_interval=0.01, backoff_base=0.01,
                                                           backoff_cap=0.05))
    light = await nursery.start(LightNode(config).run)
    now[0] += 12 * L2_BLOCK_TIME  # twelve block times pass
    await wait_for(lambda: light.l2_heads.unsafe.number == 12 and seq_engine.head.number == 12)
    assert light.sequencer.statistics().blocks_built == 12 and light.l2_heads.safe.number == 0

    channel = ChannelConfig(genesis_time=net.l1.config.genesis_time, block_time=L2_BLOCK_TIME, chain_id=L2_CHAIN_ID,
                            max_frame_size=1_000)
    batcher = BatcherConfig(channel=channel, batch_inbox=INBOX, l1_chain_id=net.l1.config.chain_id,
                            batcher_key=BATCHER_KEY, data_availability=CALLDATA, start_block=1)
    async with JsonRpcClient(net.l1_server.url) as l1_rpc, JsonRpcClient(seq_engine.rpc_url) as l2_rpc:
        assert await Batcher(batcher, l1_rpc, l2_rpc).flush()
    net.l1.mine()
    # The source derives our blocks; we consolidate (match), never reset.
    await wait_for(lambda: light.l2_heads.safe.number == 12 and seq_engine.safe.number == 12, timeout=20)
    assert light.l2_heads.safe.hash == seq_engine.by_number(12).hash == source_engine.by_number(12).hash
    assert "force_reset" not in light.statistics().actions and light.statistics().actions["match"] >= 1
    now[0] += 2 * L2_BLOCK_TIME
    await wait_for(lambda: seq_engine.head.number == 14)
    async with JsonRpcClient(f"http://127.0.0.1:{light.rpc_port}") as rpc:
        assert await rpc.call("admin_sequencerActive") is True
        assert (await rpc.call("optimism_syncStatus"))["unsafe_l2"]["number"] == 14


def engine_ref(net, number: int):
    """The L2BlockRef of the sequencer's block ``number`` (L1 origin from its L1-info deposit)."""
    from opfleet.engine.driver import ref_from_transactions

    b = net.sequencer_engine.by_number(number)
    return ref_from_transactions(net.rollup, b.hash, b.number, b.parent_hash, b.timestamp,
                                 [t.raw for t in b.transactions])


async def test_a_light_node_started_behind_catches_up_to_the_tip_with_payloads(nursery):
    from light_helpers import FakeSource, status

    net = await start_devnet(nursery)
    await grow(net, 150)
    source = await FakeSource(net.rollup).start(nursery)
    source.set(status(engine_ref(net, 130), engine_ref(net, 128), engine_ref(net, 100)))
    light_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))  # a fresh engine: genesis only
    await net.serve_engine(nursery, light_engine)
    light = await nursery.start(LightNode(light_config(net, light_engine, [source.url])).run)
    seen: list[tuple[int, int, int]] = []

    async def watch() -> None:  # what the node reports, every few milliseconds of the catch-up
        while True:
            st = light.sync_status()
            seen.append((st.unsafe_l2.number, st.local_safe_l2.number, st.safe_l2.number))
            await trio.sleep(0.002)

    nursery.start_soon(watch)
    await wait_for(lambda: light_engine.head.number == 150 and light.l2_heads.unsafe.number == 150, timeout=30)
    await wait_for(lambda: light_engine.safe.number == 128 and light_engine.finalized.number == 100)
    for n in (1, 100, 128, 150):
        assert light_engine.by_number(n).hash == net.sequencer_engine.by_number(n).hash
    assert not [s for s in seen if s[2] > s[0] or s[1] > s[0]], "safe reported above unsafe"
    puller = light.puller.statistics()
    assert puller.blocks_imported == 150 and puller.invalid == 0  # each block once: no re-import loop
    # The chain moves on: the light node keeps up from the tip.
    await grow(net, 4)
    await wait_for(lambda: light_engine.head.number == 154 and light.l2_heads.unsafe.number == 154)


async def test_the_puller_follows_a_reorg_of_the_payloads_source(nursery):
    from light_helpers import FakeSource, status

    net = await start_devnet(nursery)
    await grow(net, 10)
    source = await FakeSource(net.rollup).start(nursery)
    source.set(status(engine_ref(net, 2)))
    light_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, light_engine)
    light = await nursery.start(LightNode(light_config(net, light_engine, [source.url])).run)
    await wait_for(lambda: light_engine.head.number == 10 and light.l2_heads.unsafe.number == 10)
    old_10 = light_engine.head.hash
    # The sequencer goes back to block 7 and builds another branch, one block longer.
    seq = net.sequencer_engine
    h = lambda b: "0x" + b.hash.hex()  # noqa: E731
    seq.forkchoice_updated({"headBlockHash": h(seq.by_number(7)), "safeBlockHash": h(seq.safe),
                            "finalizedBlockHash": h(seq.finalized)})
    net.sequencer.rewind()
    net.nonce -= 6  # blocks 8..10 held two transfers each
    await net.build(4, txs_per_block=1)
    assert seq.head.number == 11 and seq.by_number(10).hash != old_10
    await wait_for(lambda: light_engine.head.hash == seq.head.hash and light.l2_heads.unsafe.hash == seq.head.hash)
    for n in range(12):
        assert light_engine.by_number(n).hash == seq.by_number(n).hash
    stats = light.puller.statistics()
    assert stats.reorgs == 1 and stats.blocks_imported == 10 + 4
