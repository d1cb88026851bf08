"""The whole pipeline over scripted L1 histories (pre-Holocene unless stated).

Spec: specs/protocol/derivation.md (whole pipeline); delta/span-batches.md; holocene/derivation.md.
"""

from __future__ import annotations

import dataclasses

import pytest
from derive_helpers import Rollup

from opfleet.derive.errors import ResetError
from opfleet.derive.pipeline import Pipeline, StepKind
from opfleet.derive.reset import find_sync_start
from opfleet.protocol.batch.span import RawSpanBatch
from opfleet.protocol.deposits import decode_deposit_tx, deposit_log
from opfleet.protocol.frame import encode_frames
from opfleet.testing.derive import (
    DEPOSIT_CONTRACT,
    OTHER_ADDRESS,
    OTHER_KEY,
    Batcher,
    Sequencer,
    batcher_update_log,
    channel_data,
    channel_id,
    gas_limit_update_log,
    l2_transfer,
    split_frames,
)

L1_GENESIS_TIME = 1_700_000_000  # FakeL1Chain's default


def span_of(rollup: Rollup, batches, *, first_sequence_number: int):
    return RawSpanBatch.from_singulars(
        batches, first_sequence_number=first_sequence_number,
        genesis_time=rollup.genesis_time, chain_id=rollup.cfg.l2_chain_id,
    )


async def test_calldata_batches_over_two_epochs_derive_the_sequenced_chain():
    r = Rollup()
    r.l1.mine()
    tx = l2_transfer(0)
    batches = r.seq.blocks_until(r.epoch(0), r.genesis_time + 10)  # blocks 1-5, epoch 0
    batches += [r.seq.block(r.epoch(1), [tx]), r.seq.block(r.epoch(1))]  # blocks 6-7, epoch 1
    r.post(batches)
    derived = await r.derive()
    assert [a.attributes.timestamp for a in derived] == [r.genesis_time + 2 * n for n in range(1, 8)]
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks
    assert derived[5].attributes.transactions[-1] == tx
    assert all(a.is_last_in_span for a in derived)
    assert {a.derived_from for a in derived} == {r.l1.ref(2)}
    stats = r.pipeline.statistics()
    assert (stats.channels_read, stats.batches_read, stats.attributes_prepared) == (1, 7, 7)
    assert stats.origin == r.l1.ref(2) and not stats.holocene_stages


async def test_deposits_only_in_the_first_block_of_the_epoch():
    r = Rollup()
    deposit = deposit_log(DEPOSIT_CONTRACT, from_address=b"\x11" * 20, to=b"\x22" * 20, mint=5, gas_limit=50_000)
    r.l1.mine(events=[deposit])
    r.post(r.seq.blocks_until(r.epoch(0), r.genesis_time + 10)
           + [r.seq.block(r.epoch(1)), r.seq.block(r.epoch(1))])
    derived = await r.derive()
    counts = [len(a.attributes.transactions) for a in derived]
    assert counts == [1, 1, 1, 1, 1, 2, 1]
    user_deposit = decode_deposit_tx(derived[5].attributes.transactions[1])
    assert user_deposit.from_address == b"\x11" * 20
    assert (user_deposit.to, user_deposit.mint) == (b"\x22" * 20, 5)


async def test_blob_batcher_data_derives_the_same_chain():
    r = Rollup(ecotone_time=0)
    r.l1.mine()
    batches = r.seq.blocks_until(r.epoch(0), r.genesis_time + 10)
    batches.append(r.seq.block(r.epoch(1), [l2_transfer(0)]))
    frames = split_frames(channel_id("blob channel"), channel_data(batches), max_frame_data=200)
    assert len(frames) > 1
    r.l1.mine([r.batcher.blob_tx([encode_frames([f]) for f in frames])])
    await r.derive()
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks


async def test_batcher_rotation_applies_from_the_block_holding_the_update():
    r = Rollup()
    new_batcher = Batcher(key=OTHER_KEY)
    r.post(r.seq.blocks_until(r.epoch(0), r.genesis_time + 4))  # blocks 1-2 by the old batcher
    later = r.seq.blocks_until(r.epoch(0), r.genesis_time + 8)  # blocks 3-4
    r.l1.mine([r.channel_tx(later)], events=[batcher_update_log(OTHER_ADDRESS)])
    assert len(await r.derive()) == 2  # the old batcher's tx in the rotation block is ignored
    r.post(later, batcher=new_batcher)
    assert len(await r.derive()) == 2
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks
    assert r.pipeline.traversal.system_config.batcher_address == OTHER_ADDRESS


async def test_gas_limit_change_takes_effect_with_the_new_epoch():
    r = Rollup()
    r.l1.mine(events=[gas_limit_update_log(45_000_000)])
    r.post(r.seq.blocks_until(r.epoch(0), r.genesis_time + 10) + [r.seq.block(r.epoch(1))])
    derived = await r.derive()
    assert [a.attributes.gas_limit for a in derived] == [30_000_000] * 5 + [45_000_000]
    assert (await r.l2.system_config_by_number(6)).gas_limit == 45_000_000


async def test_l1_reorg_under_the_origin_is_a_reset():
    r = Rollup()
    r.l1.mine_empty(2)
    await r.derive()
    assert r.pipeline.origin == r.l1.ref(2)
    r.l1.reorg(2)
    r.l1.mine_empty(2)
    with pytest.raises(ResetError, match="reorg"):
        await r.pipeline.step(r.l2.head)


async def test_sequencing_window_expiry_derives_empty_batches():
    r = Rollup(seq_window_size=4)
    r.l1.mine_empty(6)
    derived = await r.derive()
    # epoch 0 fills up to the next L1 time (5 blocks), epochs 1 and 2 get 6 each; epoch 2 is
    # forced because its window ends at the drained L1 head (2 + 4 == 6); epoch 3 is not.
    epochs = [b.ref.l1_origin.number for b in r.l2.blocks[1:]]
    assert epochs == [0] * 5 + [1] * 6 + [2] * 6
    assert all(len(a.attributes.transactions) == 1 for a in derived)
    assert r.pipeline.statistics().empty_batches == 17


async def test_bad_frames_out_of_order_and_duplicates():
    r = Rollup()
    batches = r.seq.blocks_until(r.epoch(0), r.genesis_time + 6)
    frames = split_frames(channel_id("c"), channel_data(batches), max_frame_data=40)
    assert len(frames) == 5
    r.l1.mine([
        r.batcher.frames_tx([frames[2], frames[0]]),  # out of order within one tx
        r.batcher.calldata_tx(b"\x00" + b"\x99" * 30),  # not a frame: dropped whole
        r.batcher.frames_tx(frames[3:]),
    ])
    r.l1.mine([r.batcher.frames_tx([frames[0], frames[1]])])  # frame 0 again
    await r.derive()
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks
    stats = r.pipeline.statistics()
    assert stats.frames_dropped["duplicate"] == 1
    assert stats.data_dropped["unparseable_data"] == 1
    assert stats.channels_read == 1


@pytest.mark.parametrize("last_frame_block, derived", [(11, 3), (12, 0)])
async def test_channel_timeout(last_frame_block, derived):
    r = Rollup()  # channel timeout 10
    frames = split_frames(
        channel_id("slow"), channel_data(r.seq.blocks_until(r.epoch(0), r.genesis_time + 6)),
        max_frame_data=60,
    )
    r.l1.mine([r.batcher.frames_tx(frames[:1])])  # the channel opens at L1 block 1
    r.l1.mine_empty(last_frame_block - 2)
    r.l1.mine([r.batcher.frames_tx(frames[1:])])
    blocks = [a for a in await r.derive() if len(a.attributes.transactions) > 0]
    from_batches = [a for a in blocks if a.derived_from.number == last_frame_block]
    assert len(from_batches) == derived
    if not derived:
        assert r.pipeline.statistics().channels_dropped["timed_out"] == 1


async def test_span_batch_accepted_and_expanded():
    r = Rollup(delta_time=0)
    r.l1.mine()
    singles = r.seq.blocks_until(r.epoch(0), r.genesis_time + 10) + [
        r.seq.block(r.epoch(1), [l2_transfer(0)]), r.seq.block(r.epoch(1), [l2_transfer(1)])
    ]
    r.post([span_of(r, singles, first_sequence_number=1)])
    derived = await r.derive()
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks
    assert [a.is_last_in_span for a in derived] == [False] * 6 + [True]


async def test_span_batch_overlapping_the_safe_chain():
    r = Rollup(delta_time=0)
    first = r.seq.blocks_until(r.epoch(0), r.genesis_time + 6)  # blocks 1-3
    rest = r.seq.blocks_until(r.epoch(0), r.genesis_time + 10)  # blocks 4-5
    r.post(first)
    await r.derive()
    assert r.l2.head.number == 3
    r.post([span_of(r, first[1:] + rest, first_sequence_number=2)])  # blocks 2-5
    derived = await r.derive()
    assert [a.attributes.timestamp for a in derived] == [r.genesis_time + 8, r.genesis_time + 10]
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks


async def test_span_batch_with_a_wrong_parent_is_dropped():
    r = Rollup(delta_time=0)
    singles = r.seq.blocks_until(r.epoch(0), r.genesis_time + 6)
    singles[0] = dataclasses.replace(singles[0], parent_hash=b"\xee" * 32)
    bad = span_of(r, singles, first_sequence_number=1)
    r.post([bad])
    assert await r.derive() == []
    assert r.pipeline.statistics().batches_dropped["parent check does not match"] == 1


async def test_future_batches_are_buffered_before_holocene():
    r = Rollup()
    one, two = r.seq.block(r.epoch(0)), r.seq.block(r.epoch(0))
    r.post([two])
    r.post([one])
    await r.derive()
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks


async def test_future_batches_are_dropped_from_holocene():
    r = Rollup(holocene_time=0)
    one, two = r.seq.block(r.epoch(0)), r.seq.block(r.epoch(0))
    r.post([two])
    r.post([one])
    await r.derive()
    assert r.l2.head == r.seq.blocks[1]
    stats = r.pipeline.statistics()
    assert stats.holocene_stages and stats.batches_dropped["future batch (Holocene)"] == 1


async def test_holocene_invalid_batch_flushes_the_rest_of_the_channel():
    r = Rollup(holocene_time=0)
    good = r.seq.block(r.epoch(0))
    b2, b3 = r.seq.block(r.epoch(0)), r.seq.block(r.epoch(0))
    bad = b2.__class__(b"\xab" * 32, b2.epoch_num, b2.epoch_hash, b2.timestamp, b2.transactions)
    r.post([good, bad, b3])
    await r.derive()
    assert r.l2.head == r.seq.blocks[1]  # b3 went with the flushed channel
    stats = r.pipeline.statistics()
    assert stats.batches_dropped["parent hash does not match the safe head"] == 1
    assert stats.channels_dropped["flushed"] == 1
    r.post([b2, b3])
    await r.derive()
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks


async def test_holocene_activation_switches_stages_mid_chain():
    r = Rollup(holocene_time=L1_GENESIS_TIME + 36)  # Holocene from L1 block 3 on
    r.post(r.seq.blocks_until(r.epoch(0), r.genesis_time + 4))  # L1 1: pre-Holocene stages
    r.l1.mine()
    assert len(await r.derive()) == 2
    assert not r.pipeline.statistics().holocene_stages
    r.post(r.seq.blocks_until(r.epoch(0), r.genesis_time + 8))  # L1 3: first Holocene block
    assert len(await r.derive()) == 2
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks
    assert r.pipeline.statistics().holocene_stages
    assert r.pipeline.channel_mux.holocene


async def test_jovian_activation_block_with_transactions_is_dropped():
    r = Rollup(holocene_time=0, isthmus_time=0, jovian_time=L1_GENESIS_TIME + 6)
    batches = r.seq.blocks_until(r.epoch(0), r.genesis_time + 4)
    r.post(batches + [r.seq.block(r.epoch(0), [l2_transfer(0)])])  # block 3 activates Jovian
    await r.derive()
    assert r.l2.head.number == 2
    assert r.pipeline.statistics().batches_dropped["activation block must have no transactions"] == 1


async def test_step_before_reset_asks_for_a_reset():
    r = Rollup()
    fresh = Pipeline(r.cfg, chain=r.l1, l2=r.l2)
    with pytest.raises(ResetError):
        await fresh.step(r.l2.head)


async def test_step_kinds():
    r = Rollup()
    r.post([r.seq.block(r.epoch(0))])
    kinds = []
    while True:
        result = await r.pipeline.step(r.l2.head)
        kinds.append(result.kind)
        if result.attributes is not None:
            r.l2.apply(result.attributes)
        if result.kind is StepKind.EOF:
            break
    assert kinds[0] is StepKind.ADVANCED_ORIGIN
    assert kinds.count(StepKind.PREPARED_ATTRIBUTES) == 1
    assert StepKind.NOT_ENOUGH_DATA in kinds
    assert await r.pipeline.next_attributes(r.l2.head) is None  # at the L1 head


async def test_recovering_from_an_l1_reorg_through_sync_start():
    r = Rollup(holocene_time=0)
    r.l1.mine()  # L1 1
    r.post(r.seq.blocks_until(r.epoch(0), r.genesis_time + 10) + [r.seq.block(r.epoch(1))])  # L1 2
    await r.derive()
    assert r.l2.head == r.seq.blocks[6]  # block 6 has L1 origin 1
    r.l1.reorg(1)
    r.l1.mine()  # L1 1', so block 6 lost its origin
    fork = Sequencer(r.cfg, head=r.seq.blocks[5])
    r.post([fork.block(r.epoch(1), [l2_transfer(7)])])  # L1 2'
    r.l1.mine()  # L1 3' reveals the reorg to the pipeline, which sits on the old L1 2
    with pytest.raises(ResetError, match="reorg"):
        await r.derive()
    start = await find_sync_start(r.cfg, r.l1, r.l2, r.l2.head)
    assert start.safe_head == r.seq.blocks[5] and start.l1_base == r.l1.ref(0)
    r.l2.truncate(start.safe_head.number)
    r.pipeline.reset(start.l1_base, start.system_config)
    await r.derive()
    assert [b.ref for b in r.l2.blocks[5:]] == fork.blocks
    assert r.pipeline.statistics().resets == 2


async def test_statistics_are_an_immutable_snapshot():
    r = Rollup()
    r.post([r.seq.block(r.epoch(0))])
    before = r.pipeline.statistics()
    await r.derive()
    after = r.pipeline.statistics()
    assert before.attributes_prepared == 0 and after.attributes_prepared == 1
    assert (after.l1_blocks_traversed, after.data_items_read, after.frames_read) == (1, 1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.resets = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        after.batches_dropped["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize("batch_type,compression,blobs", [
    ("singular", "zlib", False), ("span", "zlib", False), ("span", "brotli", True), ("singular", "brotli", True),
])
async def test_channels_from_the_devnet_channel_builder_derive_the_sequenced_chain(batch_type, compression, blobs):
    """One encoder for tests, devnet and benchmarks: Sequencer.channel uses the devnet batcher's
    ChannelBuilder; what it writes (several frames per channel) derives the sequenced chain."""
    r = Rollup(canyon_time=0, delta_time=0, ecotone_time=0, fjord_time=0)
    r.l1.mine()
    r.seq.blocks_until(r.epoch(0), r.genesis_time + 10)
    r.seq.block(r.epoch(1), [l2_transfer(0), l2_transfer(1)])
    r.seq.block(r.epoch(1), [l2_transfer(2)])
    channel = r.seq.channel(1, name=f"{batch_type} {compression}", batch_type=batch_type,
                            compression=compression, max_frame_size=200)
    assert len(channel.frames()) > 1 and len(channel) == 7
    if blobs:
        r.l1.mine([r.batcher.blob_tx(channel.tx_datas())])
    else:
        r.l1.mine([r.batcher.calldata_tx(data) for data in channel.tx_datas()])
    derived = await r.derive()
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks
    assert derived[-2].attributes.transactions[-2:] == (l2_transfer(0), l2_transfer(1))
    assert r.pipeline.statistics().channels_read == 1
