"""The engine driver against DevEngine over loopback (Engine API with JWT, eth_ RPC).

Covers derivation.md "Engine Queue" (consolidation vs. building), holocene/derivation.md "Engine
Queue" (deposits-only replacement + FlushChannel), pre-Holocene dropping, SYNCING as a temporary
error, finality from L1 finalized, start-up from the EL heads (derivation.md "Resetting the
Pipeline"), and the optimism_syncStatus view.
"""

from __future__ import annotations

import dataclasses

import pytest
from engine_helpers import FakePipeline, new_engine, start_devnet, user_tx

from opfleet.derive.interfaces import AttributesWithParent, FlushChannel
from opfleet.derive.pipeline import StepKind, StepResult
from opfleet.devnet.engine import ForkTimes
from opfleet.engine import EngineDriver, EngineL2Chain, ProcessOutcome, attributes_mismatch, expected_extra_data
from opfleet.errors import CriticalError, ResetError, TemporaryError
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.providers.l1 import L1Provider


async def make_driver(net, engine, pipeline=None):
    l2 = EngineL2Chain(net.rpc(engine), net.rollup)
    l1 = L1Provider(JsonRpcClient(net.l1_server.url))
    driver = EngineDriver(net.rollup, engine=net.engine_client(engine), l2=l2, l1=l1,
                          pipeline=pipeline or FakePipeline())
    await driver.start()
    return driver


def wrap(driver, attrs, *, last=True, derived_from=None):
    return AttributesWithParent(attrs, driver.pending_safe_head, last, derived_from or driver.l1_ref)


async def test_builds_the_sequencers_chain_with_identical_hashes(nursery):
    net = await start_devnet(nursery)
    net.l1.mine_blocks(2)
    await net.build(8)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    driver = await make_driver(net, ours)
    driver.l1_ref = net.l1.head.ref
    for attrs in net.recorded:
        assert await driver.process(wrap(driver, attrs)) is ProcessOutcome.BUILT
    for n in range(1, 9):
        assert ours.by_number(n).hash == net.sequencer_engine.by_number(n).hash
    assert driver.safe_head.hash == driver.unsafe_head.hash == net.sequencer_engine.head.hash
    assert ours.safe.hash == net.sequencer_engine.head.hash  # the final FCU made it safe on the EL too
    stats = driver.statistics()
    assert (stats.blocks_built, stats.blocks_consolidated, stats.resets) == (8, 0, 1)
    # The ref comes from the L1-info deposit, as op-node's L2BlockToBlockRef.
    assert driver.safe_head == await EngineL2Chain(net.rpc(ours), net.rollup).l2_block_ref(8)


async def test_consolidates_existing_unsafe_blocks(nursery):
    net = await start_devnet(nursery)
    net.l1.mine_blocks(1)
    await net.build(5)
    driver = await make_driver(net, net.sequencer_engine)
    assert driver.unsafe_head.number == 5 and driver.safe_head.number == 0
    driver.l1_ref = net.l1.head.ref
    for attrs in net.recorded[:3]:
        assert await driver.process(wrap(driver, attrs)) is ProcessOutcome.CONSOLIDATED
    assert driver.safe_head.number == 3 and driver.unsafe_head.number == 5
    assert net.sequencer_engine.safe.number == 3 and net.sequencer_engine.head.number == 5
    assert driver.statistics().blocks_built == 0


async def test_not_last_in_span_moves_only_pending_safe(nursery):
    net = await start_devnet(nursery)
    await net.build(2)
    driver = await make_driver(net, net.sequencer_engine)
    driver.l1_ref = net.l1.head.ref
    await driver.process(wrap(driver, net.recorded[0], last=False))
    assert driver.pending_safe_head.number == 1 and driver.safe_head.number == 0
    status = driver.sync_status().to_json()
    assert status["pending_safe_l2"]["number"] == 1 and status["safe_l2"]["number"] == 0
    await driver.process(wrap(driver, net.recorded[1], last=True))
    assert driver.safe_head.number == driver.local_safe_head.number == 2


async def test_mismatching_unsafe_block_is_replaced(nursery):
    net = await start_devnet(nursery)
    await net.build(3)
    driver = await make_driver(net, net.sequencer_engine)
    driver.l1_ref = net.l1.head.ref
    await driver.process(wrap(driver, net.recorded[0]))
    other = dataclasses.replace(net.recorded[1], transactions=net.recorded[1].transactions[:1])  # no user txs
    block = await driver.l2.full_block(2)
    assert attributes_mismatch(net.rollup, other, driver.safe_head, block) == "3 transactions != 1"
    assert await driver.process(wrap(driver, other)) is ProcessOutcome.BUILT
    assert driver.unsafe_head.number == 2 and net.sequencer_engine.head.number == 2  # block 3 reorged out
    assert net.sequencer_engine.head.hash == driver.unsafe_head.hash
    assert driver.statistics().unsafe_reorgs == 1


async def test_invalid_payload_holocene_becomes_deposits_only(nursery):
    net = await start_devnet(nursery)
    await net.build(1)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    pipeline = FakePipeline()
    driver = await make_driver(net, ours, pipeline)
    driver.l1_ref = net.l1.head.ref
    bad = dataclasses.replace(net.recorded[0], transactions=(*net.recorded[0].transactions, user_tx(77)))
    assert await driver.process(wrap(driver, bad)) is ProcessOutcome.DEPOSITS_ONLY
    assert pipeline.signals == [FlushChannel()]
    block = ours.by_number(1)
    assert all(t.is_deposit for t in block.transactions) and driver.safe_head.hash == block.hash
    assert driver.statistics().deposit_only_blocks == 1


async def test_invalid_deposits_only_block_is_critical(nursery):
    net = await start_devnet(nursery)
    await net.build(1)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    driver = await make_driver(net, ours)
    driver.l1_ref = net.l1.head.ref
    attrs = net.recorded[0]
    broken = dataclasses.replace(attrs, timestamp=attrs.timestamp - 2 * net.rollup.block_time)  # before the parent
    with pytest.raises(CriticalError, match="deposits-only"):
        await driver.process(wrap(driver, broken))


async def test_invalid_payload_before_holocene_is_dropped(nursery):
    forks = ForkTimes.up_to("granite")
    net = await start_devnet(nursery, forks)
    await net.build(1)
    ours = new_engine(net.l1, forks)
    await net.serve_engine(nursery, ours)
    pipeline = FakePipeline()
    driver = await make_driver(net, ours, pipeline)
    driver.l1_ref = net.l1.head.ref
    bad = dataclasses.replace(net.recorded[0], transactions=(*net.recorded[0].transactions, user_tx(5)))
    assert await driver.process(wrap(driver, bad)) is ProcessOutcome.DROPPED
    assert ours.head.number == 0 and driver.safe_head.number == 0 and pipeline.signals == []
    assert await driver.process(wrap(driver, net.recorded[0])) is ProcessOutcome.BUILT
    assert ours.head.hash == net.sequencer_engine.head.hash


async def test_syncing_is_temporary_and_step_retries_the_same_attributes(nursery):
    net = await start_devnet(nursery)
    await net.build(1)
    ours = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, ours)
    pipeline = FakePipeline()
    driver = await make_driver(net, ours, pipeline)
    real = ours.forkchoice_updated
    ours.forkchoice_updated = lambda *a, **k: {"payloadStatus": {"status": "SYNCING", "latestValidHash": None,
                                                                   "validationError": None}, "payloadId": None}
    attrs = AttributesWithParent(net.recorded[0], driver.pending_safe_head, True, net.l1.head.ref)
    pipeline.results.append(StepResult(StepKind.PREPARED_ATTRIBUTES, net.l1.head.ref, attrs))
    with pytest.raises(TemporaryError, match="SYNCING"):
        await driver.step()
    assert driver.statistics().engine_syncing == 1 and ours.head.number == 0
    ours.forkchoice_updated = real
    result = await driver.step()  # the pipeline has nothing more: the held attributes are retried
    assert result.kind is StepKind.PREPARED_ATTRIBUTES and ours.head.hash == net.sequencer_engine.head.hash
    assert (await driver.step()).kind is StepKind.EOF


async def test_finality_follows_l1_finalized(nursery):
    net = await start_devnet(nursery)
    l1_blocks = net.l1.mine_blocks(3)
    await net.build(6)
    driver = await make_driver(net, net.sequencer_engine)
    for i, attrs in enumerate(net.recorded):
        await driver.process(AttributesWithParent(attrs, driver.pending_safe_head, True, l1_blocks[i // 2].ref))
    assert await driver.finalize(net.l1.genesis.ref) is False
    assert await driver.finalize(l1_blocks[1].ref) is True
    assert driver.finalized_head.number == 4 and net.sequencer_engine.finalized.number == 4
    assert await driver.finalize(l1_blocks[1].ref) is False
    assert await driver.finalize(l1_blocks[2].ref) is True and driver.finalized_head.number == 6


async def test_restart_resumes_from_the_execution_layers_heads(nursery):
    net = await start_devnet(nursery)
    net.l1.mine_blocks(2)
    await net.build(6)
    driver = await make_driver(net, net.sequencer_engine)
    driver.l1_ref = net.l1.head.ref
    for attrs in net.recorded[:4]:
        await driver.process(wrap(driver, attrs))
    pipeline = FakePipeline()
    again = await make_driver(net, net.sequencer_engine, pipeline)
    # Holocene: the safe head itself is the sync start; unsafe stays at the EL's tip.
    assert again.safe_head == driver.safe_head and again.unsafe_head.number == 6
    (l1_base, system_config), = pipeline.resets
    genesis_config = net.rollup.genesis.system_config
    assert l1_base.number == 0 and system_config.batcher_address == genesis_config.batcher_address
    assert system_config.gas_limit == genesis_config.gas_limit


async def test_sync_status_and_system_config_from_the_el(nursery):
    net = await start_devnet(nursery, ForkTimes.up_to("jovian"))
    net.l1.mine_blocks(1)
    await net.build(3)
    driver = await make_driver(net, net.sequencer_engine)
    status = driver.sync_status(head_l1=net.l1.head.ref, finalized_l1=net.l1.finalized.ref).to_json()
    assert list(status) == ["current_l1", "current_l1_finalized", "head_l1", "safe_l1", "finalized_l1",
                            "unsafe_l2", "safe_l2", "finalized_l2", "pending_safe_l2", "cross_unsafe_l2",
                            "local_safe_l2"]
    assert status["unsafe_l2"]["number"] == 3 and status["cross_unsafe_l2"] == status["unsafe_l2"]
    assert status["local_safe_l2"] == status["safe_l2"] and status["head_l1"]["number"] == 1
    for n in (1, 3):
        # eip1559 params read back from extraData are the Canyon defaults the EL wrote for zeros.
        read, sent = await driver.l2.system_config_by_number(n), net.sequencer.system_config
        assert (read.batcher_address, read.scalar, read.gas_limit, read.min_base_fee) == (
            sent.batcher_address, sent.scalar, sent.gas_limit, sent.min_base_fee)
        assert (read.eip1559_denominator, read.eip1559_elasticity) == (250, 6)
        block = await driver.l2.full_block(n)
        assert block.extra_data == expected_extra_data(net.rollup, net.recorded[n - 1])
        assert await driver.l2.l2_transactions_by_number(n) == tuple(net.recorded[n - 1].transactions)


async def test_finality_entry_from_a_reorged_out_l1_block_never_finalizes(nursery):
    net = await start_devnet(nursery)
    net.l1.mine_blocks(2)
    await net.build(4)
    driver = await make_driver(net, net.sequencer_engine)
    old_branch = net.l1.head.ref  # L1 #2: the safe blocks are derived from it
    for attrs in net.recorded:
        await driver.process(AttributesWithParent(attrs, driver.pending_safe_head, True, old_branch))
    assert driver.finality_entries() == ((old_branch, driver.safe_head),)
    net.l1.reorg(1)  # L1 #2 replaced by a sibling
    net.l1.mine_blocks(10)  # finalized L1 (8 behind the head) passes height 2 on the new branch
    assert net.l1.finalized.number > 2 and net.l1.by_number(2).hash != old_branch.hash
    with pytest.raises(ResetError, match="no longer canonical"):
        await driver.finalize(net.l1.finalized.ref)
    assert driver.finalized_head.number == 0 and net.sequencer_engine.finalized.number == 0
    assert driver.finality_entries() == ()  # the stale entry is gone: retrying finalizes nothing
    assert await driver.finalize(net.l1.finalized.ref) is False


async def test_reset_drops_finality_entries_and_idle_redoes_them(nursery):
    net = await start_devnet(nursery)
    l1_blocks = net.l1.mine_blocks(2)
    await net.build(4)
    driver = await make_driver(net, net.sequencer_engine)
    for attrs in net.recorded:
        await driver.process(AttributesWithParent(attrs, driver.pending_safe_head, True, l1_blocks[1].ref))
    assert len(driver.finality_entries()) == 1
    await driver.start()  # a reset: heads read back from the EL, entries dropped
    assert driver.safe_head.number == 4 and driver.finality_entries() == ()
    # Idle at the L1 head (EOF): the safe head is fully derived from L1 up to the origin.
    driver.pipeline.origin = l1_blocks[1].ref
    assert (await driver.step()).kind is StepKind.EOF
    assert await driver.step() and driver.finality_entries() == ((l1_blocks[1].ref, driver.safe_head),)
    assert await driver.finalize(l1_blocks[0].ref) is False  # derived from L1 #2, not yet finalized
    assert await driver.finalize(l1_blocks[1].ref) is True and driver.finalized_head.number == 4


async def test_one_l2_reader_one_cache_for_refs_and_full_blocks(nursery):
    net = await start_devnet(nursery)
    await net.build(2)
    rpc = net.rpc(net.sequencer_engine)
    l2 = EngineL2Chain(rpc, net.rollup)
    plain = await l2.l2_block(2)
    full = await l2.full_block(2)  # replaces the plain block in the cache, with the same ref
    assert full.ref == plain.ref and full.header == plain.header
    assert full.transactions == tuple(net.recorded[1].transactions)
    calls = rpc.statistics().requests_by_method.get("eth_getBlockByHash", 0)
    assert await l2.l2_block(full.header.hash) is full  # by hash: from the one cache, no request
    assert await l2.full_block(2) is full
    assert rpc.statistics().requests_by_method.get("eth_getBlockByHash", 0) == calls
    output, ref = await l2.output_v0(2)
    assert ref == full.ref and output.block_hash == full.header.hash
