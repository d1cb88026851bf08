"""Channel reader: decompression rules by origin time, batch decoding, dropping a channel's rest.

Spec: specs/protocol/derivation.md "Channel Format", "Batch Format"; fjord/derivation.md
(brotli); delta/span-batches.md.
"""

from __future__ import annotations

import pytest
import rlp

from opfleet.derive.channel_reader import ChannelReader
from opfleet.derive.errors import EndOfData, NotEnoughData
from opfleet.derive.interfaces import FlushChannel, SpanBatch
from opfleet.protocol.batch.reader import encode_channel_batches
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.batch.span import RawSpanBatch
from opfleet.protocol.compression import compress_zlib
from opfleet.testing.derive import FakeL1Chain, FakeStage, channel_data, l2_transfer, make_rollup_config

HASH = b"\x11" * 32


def singular(ts: int, txs=()) -> SingularBatch:
    return SingularBatch(HASH, 0, b"\x22" * 32, ts, tuple(txs))


def reader(channels, **cfg) -> tuple[ChannelReader, FakeStage]:
    l1 = FakeL1Chain()
    config = make_rollup_config(l1, **cfg)
    prev = FakeStage(l1.ref(0), channels)
    return ChannelReader(prev, config), prev


async def read_all(r: ChannelReader) -> list:
    out = []
    while True:
        try:
            out.append(await r.next_batch())
        except NotEnoughData:
            continue
        except EndOfData:
            return out


async def test_batches_of_each_channel_in_order():
    first = channel_data([singular(10), singular(12, [l2_transfer(0)])])
    second = channel_data([singular(14)])
    r, _ = reader([first, second])
    assert await read_all(r) == [singular(10), singular(12, [l2_transfer(0)]), singular(14)]
    assert r.batches_read == 3


async def test_a_bad_batch_drops_the_rest_of_its_channel_only():
    raw = encode_channel_batches([singular(10)]) + rlp.encode(b"\x07unknown type") \
        + encode_channel_batches([singular(12)])
    r, _ = reader([compress_zlib(raw), channel_data([singular(14)])])
    assert await read_all(r) == [singular(10), singular(14)]
    assert r.dropped["channel_rest"] == 1


async def test_unknown_compression_drops_the_channel():
    r, _ = reader([b"\x02" + b"nonsense", channel_data([singular(14)])])
    assert await read_all(r) == [singular(14)]
    assert r.dropped["bad_compression"] == 1


@pytest.mark.parametrize("fjord, expected", [(False, []), (True, [singular(10)])])
async def test_brotli_only_from_fjord_by_origin_time(fjord, expected):
    r, _ = reader([channel_data([singular(10)], compression="brotli")], fjord_time=0 if fjord else None)
    assert await read_all(r) == expected


@pytest.mark.parametrize("delta", [False, True])
async def test_span_batches_only_from_delta_by_origin_time(delta):
    l1 = FakeL1Chain()
    cfg = make_rollup_config(l1, delta_time=0 if delta else None)
    genesis = cfg.genesis.l2_time
    txs = [l2_transfer(0), l2_transfer(1)]
    singles = [
        SingularBatch(HASH, 5, b"\x33" * 32, genesis + 2, (txs[0],)),
        SingularBatch(HASH, 6, b"\x44" * 32, genesis + 4, (txs[1],)),
    ]
    span = RawSpanBatch.from_singulars(
        singles, first_sequence_number=0, genesis_time=genesis, chain_id=cfg.l2_chain_id
    )
    r = ChannelReader(FakeStage(l1.ref(0), [channel_data([span, singular(99)])]), cfg)
    batches = await read_all(r)
    if not delta:
        assert batches == [singular(99)]
        assert r.dropped["span_before_delta"] == 1
        return
    derived, tail = batches
    assert tail == singular(99)
    assert isinstance(derived, SpanBatch)
    assert derived.parent_check == HASH[:20] and derived.l1_origin_check == (b"\x44" * 32)[:20]
    assert [(e.timestamp, e.epoch_num, e.transactions) for e in derived.elements] == [
        (genesis + 2, 5, (txs[0],)), (genesis + 4, 6, (txs[1],)),
    ]


async def test_flush_drops_the_rest_of_the_current_channel():
    r, prev = reader([channel_data([singular(10), singular(12)]), channel_data([singular(14)])])
    assert await r.next_batch() == singular(10)
    r.signal(FlushChannel())
    assert prev.signals == [FlushChannel()]
    assert await read_all(r) == [singular(14)]
    assert r.dropped["flushed"] == 1
