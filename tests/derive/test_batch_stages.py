"""Batch queue (pre-Holocene), batch stream and validator (Holocene) and the mux, stage by stage.

Spec: specs/protocol/derivation.md "Batch Queue"; delta/span-batches.md "Batch Queue";
holocene/derivation.md "Batch Queue", "Span Batches", "Fast Channel Invalidation".
"""

from __future__ import annotations

import dataclasses

import pytest
from derive_helpers import Rollup

from opfleet.derive.batch_queue import BatchQueue
from opfleet.derive.batch_stream import BatchStream
from opfleet.derive.batch_validator import BatchValidator
from opfleet.derive.errors import EndOfData, NotEnoughData, ResetError
from opfleet.derive.interfaces import Activation, FlushChannel, Reset, SpanBatch
from opfleet.derive.mux import BatchMux
from opfleet.protocol.batch.span import RawSpanBatch
from opfleet.testing.derive import FakeStage, l2_transfer


def span(r: Rollup, singles, seq: int = 1) -> SpanBatch:
    raw = RawSpanBatch.from_singulars(
        singles, first_sequence_number=seq, genesis_time=r.genesis_time, chain_id=r.cfg.l2_chain_id
    )
    return SpanBatch.from_raw(raw, r.cfg)


async def pull(stage, parent):
    """Call until a batch comes out (or EndOfData)."""
    for _ in range(100):
        try:
            return await stage.next_batch(parent)
        except NotEnoughData:
            continue
    raise AssertionError("no batch")


def reset(stage, r: Rollup, number: int = 0):
    stage.signal(Reset(r.l1.ref(number), r.cfg.genesis.system_config))


async def test_queue_hands_out_span_blocks_one_by_one_with_the_last_flag():
    r = Rollup(delta_time=0)
    r.l1.mine()
    singles = r.seq.blocks_until(r.epoch(0), r.genesis_time + 6)
    prev = FakeStage(r.l1.ref(0), [], next_origins=[r.l1.ref(1)])
    queue = BatchQueue(prev, r.cfg, r.l2)
    reset(queue, r)
    with pytest.raises(EndOfData):
        await queue.next_batch(r.l2.head)
    await prev.advance_origin()
    prev.items.append(span(r, singles))
    flags = []
    parent = r.l2.head
    for expected, ref in zip(singles, r.seq.blocks[1:]):
        batch, last = await pull(queue, parent)
        assert batch == expected
        flags.append(last)
        parent = ref
    assert flags == [False, False, True]


async def test_queue_drops_the_span_rest_when_the_engine_rejected_a_block():
    r = Rollup(delta_time=0)
    r.l1.mine()
    singles = r.seq.blocks_until(r.epoch(0), r.genesis_time + 6)
    prev = FakeStage(r.l1.ref(1), [span(r, singles)])
    queue = BatchQueue(prev, r.cfg, r.l2)
    reset(queue, r, 1)
    queue.origins.l1_blocks = [r.l1.ref(0), r.l1.ref(1)]
    batch, last = await pull(queue, r.l2.head)
    assert batch == singles[0] and not last
    # the engine rejected block 1: the pipeline asks again on top of genesis
    with pytest.raises(EndOfData):
        await queue.next_batch(r.l2.head)
    assert queue.dropped["span_rest_after_rejected_block"] == 2


async def test_queue_discards_batches_while_the_origin_is_behind_the_safe_head():
    r = Rollup()
    r.l1.mine_empty(3)
    parent = dataclasses.replace(r.l2.head, l1_origin=r.l1.ref(2).id)  # safe head at epoch 2
    prev = FakeStage(r.l1.ref(0), [r.seq.block(r.epoch(0))])
    queue = BatchQueue(prev, r.cfg, r.l2)
    reset(queue, r)
    with pytest.raises(NotEnoughData):
        await queue.next_batch(parent)
    with pytest.raises(EndOfData):
        await queue.next_batch(parent)
    assert queue.buffered == 0


async def test_queue_epoch_mismatch_with_the_safe_head_is_a_reset():
    r = Rollup()
    r.l1.mine_empty(3)
    prev = FakeStage(r.l1.ref(3), [])
    queue = BatchQueue(prev, r.cfg, r.l2)
    reset(queue, r, 3)  # buffered epoch 3, but the safe head is at epoch 0
    parent = dataclasses.replace(r.l2.head, l1_origin=r.l1.ref(1).id)
    with pytest.raises(ResetError, match="epoch"):
        await queue.next_batch(parent)


async def test_validator_skips_past_batches_and_flushes_on_invalid_ones():
    r = Rollup(holocene_time=0)
    r.l1.mine()
    b1 = r.seq.block(r.epoch(0))
    invalid = dataclasses.replace(r.seq.block(r.epoch(0)), parent_hash=b"\x01" * 32)
    reader = FakeStage(r.l1.ref(1), [b1, invalid])
    stream = BatchStream(reader, r.cfg, r.l2)
    validator = BatchValidator(stream, r.cfg)
    validator.signal(Reset(r.l1.ref(0), r.cfg.genesis.system_config))
    validator.origins.l1_blocks = [r.l1.ref(0)]
    validator.origins.origin = r.l1.ref(0)
    batch, last = await pull(validator, r.l2.head)
    assert batch == b1 and last
    parent = r.seq.blocks[1]
    reader.items.appendleft(b1)  # a past batch: skipped without a flush
    with pytest.raises(NotEnoughData):
        await validator.next_batch(parent)
    assert not any(isinstance(s, FlushChannel) for s in reader.signals)
    with pytest.raises(NotEnoughData):
        await validator.next_batch(parent)
    assert isinstance(reader.signals[-1], FlushChannel)
    assert validator.dropped["batch at or before the safe head"] == 1
    assert validator.dropped["parent hash does not match the safe head"] == 1


async def test_stream_drops_an_invalid_span_with_a_flush_and_skips_a_past_one():
    r = Rollup(holocene_time=0)
    r.l1.mine()
    singles = r.seq.blocks_until(r.epoch(0), r.genesis_time + 4)
    past = span(r, singles)
    bad = span(r, [dataclasses.replace(singles[0], parent_hash=b"\x05" * 32), singles[1]])
    reader = FakeStage(r.l1.ref(1), [past, bad])
    stream = BatchStream(reader, r.cfg, r.l2)
    blocks = [r.l1.ref(0), r.l1.ref(1)]
    head = r.seq.blocks[2]
    r.l2.add_block(r.seq.blocks[1], [], r.cfg.genesis.system_config)
    r.l2.add_block(head, [], r.cfg.genesis.system_config)
    with pytest.raises(NotEnoughData):
        await stream.next_batch(head, blocks)
    assert reader.signals == []  # past: skipped only
    with pytest.raises(NotEnoughData):
        await stream.next_batch(r.seq.blocks[0], blocks)
    assert reader.signals == [FlushChannel()]


async def test_mux_activation_keeps_the_origin_window_and_the_span_in_progress():
    r = Rollup(delta_time=0, holocene_time=1_700_000_000 + 12)
    r.l1.mine()
    singles = r.seq.blocks_until(r.epoch(0), r.genesis_time + 6)
    reader = FakeStage(r.l1.ref(0), [], next_origins=[r.l1.ref(1)])
    mux = BatchMux(reader, r.cfg, r.l2)
    mux.signal(Reset(r.l1.ref(0), r.cfg.genesis.system_config))
    assert not mux.holocene
    with pytest.raises(EndOfData):
        await mux.next_batch(r.l2.head)
    await reader.advance_origin()
    reader.items.append(span(r, singles))
    first, _ = await pull(mux, r.l2.head)
    assert first == singles[0]
    mux.signal(Activation("holocene", r.l1.ref(1)))
    assert mux.holocene
    assert mux.validator.origins.l1_blocks == [r.l1.ref(0), r.l1.ref(1)]
    second, last = await pull(mux, r.seq.blocks[1])
    assert second == singles[1] and last  # from Holocene every block is final
    assert mux.stream.span_in_progress


async def test_validator_derives_empty_batches_when_the_window_expires():
    r = Rollup(holocene_time=0, seq_window_size=2)
    r.l1.mine_empty(3)
    reader = FakeStage(r.l1.ref(3), [])
    validator = BatchValidator(BatchStream(reader, r.cfg, r.l2), r.cfg)
    validator.signal(Reset(r.l1.ref(0), r.cfg.genesis.system_config))
    validator.origins.l1_blocks = [r.l1.ref(n) for n in range(4)]
    validator.origins.origin = r.l1.ref(3)
    batch, last = await validator.next_batch(r.l2.head)
    assert (batch.epoch_num, batch.timestamp, batch.transactions) == (0, r.genesis_time + 2, ())
    assert last
    assert validator.empty_batches == 1


async def test_queue_keeps_future_batches_and_takes_them_in_order():
    r = Rollup()
    r.l1.mine()
    one, two = r.seq.block(r.epoch(0), [l2_transfer(0)]), r.seq.block(r.epoch(0))
    reader = FakeStage(r.l1.ref(1), [two, one])
    queue = BatchQueue(reader, r.cfg, r.l2)
    reset(queue, r, 1)
    queue.origins.l1_blocks = [r.l1.ref(0), r.l1.ref(1)]
    with pytest.raises(NotEnoughData):
        await queue.next_batch(r.l2.head)
    assert queue.buffered == 1
    assert await queue.next_batch(r.l2.head) == (one, True)
    assert await queue.next_batch(r.seq.blocks[1]) == (two, True)
