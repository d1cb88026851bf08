"""Reading batches from channels: RLP framing, the byte limit, errors and whole channels."""

from __future__ import annotations

from pathlib import Path

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.batch import (
    RawSpanBatch,
    SingularBatch,
    SpanBatchElement,
    channel_to_json,
    decode_batch,
    decode_channel,
    encode_batch,
    encode_channel_batches,
    read_batches,
    read_channel_batches,
)
from opfleet.protocol.compression import compress_brotli, compress_zlib, decompress_channel
from opfleet.protocol.frame import parse_frames
from opfleet.protocol.transactions import (
    Transaction,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "batches"
CHAIN = 10


def _hex_vector(name: str) -> bytes:
    return bytes.fromhex((VECTORS / name).read_text().strip())


def _singular(n: int, txs: tuple[bytes, ...] = ()) -> SingularBatch:
    return SingularBatch(bytes([n]) * 32, 100 + n, bytes([n + 1]) * 32, 1000 + 2 * n, txs)


def _span() -> RawSpanBatch:
    unsigned = Transaction(type=2, chain_id=CHAIN, nonce=1, gas=21000, to=b"\x01" * 20, data=b"hi")
    tx = encode_transaction(sign_transaction(unsigned, b"\x03" * 32))
    blocks = [SpanBatchElement(1010, 7, (tx,)), SpanBatchElement(1012, 8, ())]
    return RawSpanBatch.from_elements(blocks, 1000, CHAIN, b"\x0c" * 20, b"\x0d" * 20)


# --- vectors ----------------------------------------------------------------------------------


def test_real_channel_holds_one_span_batch_using_every_byte():
    # Vector: batches/op-mainnet-span-channel-zlib.hex (README: one span batch, all bytes used).
    compression, batches = decode_channel(_hex_vector("op-mainnet-span-channel-zlib.hex"))
    assert compression == "zlib"
    assert len(batches) == 1 and isinstance(batches[0], RawSpanBatch)
    assert (batches[0].block_count, batches[0].total_tx_count) == (143, 1766)


def test_real_batcher_tx_channel_pre_fjord():
    # Vector: batches/op-mainnet-batcher-tx-signed.hex: frame 0 is the whole (unterminated) channel
    # (README: 27 blocks, 209 txs: 36 legacy, 173 type 2; rel_timestamp 24269254, ...).
    tx = decode_transaction(_hex_vector("op-mainnet-batcher-tx-signed.hex"))
    frame = parse_frames(tx.data)[0]
    assert frame.channel_id.hex() == "ac329933f5efdcc35ccd284232a376d3" and frame.is_last
    compression, (batch,) = decode_channel(frame.data, fjord_active=False, chain_id=CHAIN)
    assert compression == "zlib"
    assert (batch.block_count, batch.total_tx_count) == (27, 209)
    assert (batch.rel_timestamp, batch.l1_origin_num) == (24269254, 19426585)
    assert batch.epoch_numbers()[0] == 19426582
    assert batch.parent_check.hex() == "4a78c6069d413ac5cd75401310076b7acbc10cea"
    assert batch.l1_origin_check.hex() == "4fcd7915716bdcf8ba963e591577721000dd2bf7"
    types = [decode_transaction(t).type for t in batch.full_transactions(CHAIN)]
    assert (types.count(0), types.count(2)) == (36, 173)
    elements = batch.derive(1686068903, 2, CHAIN)
    assert elements[0].timestamp == 1710338157  # README: ts with OP Mainnet genesis


# --- framing ----------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=6), st.sampled_from(["zlib", "zlib-open", "brotli"]))
def test_channel_round_trip(ids, algo):
    batches = [_singular(i, (bytes([i]) * i,)) for i in ids] + [_span()]
    raw = encode_channel_batches(batches)
    channel = {
        "zlib": lambda d: compress_zlib(d),
        "zlib-open": lambda d: compress_zlib(d, terminated=False),
        "brotli": compress_brotli,
    }[algo](raw)
    compression, decoded = decode_channel(channel, fjord_active=True)
    assert compression == algo.split("-")[0]
    assert decoded == batches
    assert list(read_batches(raw, len(raw))) == batches


def test_encode_batch_prefixes_the_type():
    assert encode_batch(_singular(1))[0] == 0
    assert encode_batch(_span())[0] == 1
    assert decode_batch(encode_batch(_span())) == _span()


def test_limit_accepts_batches_inside_and_fails_the_one_crossing_it():
    first, second = rlp.encode(encode_batch(_singular(1))), rlp.encode(encode_batch(_singular(2)))
    data = first + second
    assert list(read_batches(data, len(data))) == [_singular(1), _singular(2)]
    reader = read_batches(data, len(data) - 1)
    assert next(reader) == _singular(1)
    with pytest.raises(DecodeError, match="past the channel limit") as info:
        next(reader)
    assert info.value.offset == len(first)


def test_trailing_bytes_inside_a_batch_string_are_ignored():
    padded = encode_batch(_singular(3)) + b"\xde\xad"
    assert list(read_batches(rlp.encode(padded), 10**6)) == [_singular(3)]
    span_padded = encode_batch(_span()) + b"\x00\x01"
    assert list(read_batches(rlp.encode(span_padded), 10**6)) == [_span()]


@pytest.mark.parametrize(
    "item, reason",
    [
        (rlp.encode(b"\x02abc"), "unknown batch type 2"),
        (rlp.encode([b"\x00"]), "RLP byte string, got a list"),
        (rlp.encode(b""), "empty batch"),
        (b"\x81\x01", "non-canonical"),
        (b"\xb8\x01\x00", "non-canonical"),
        (b"\xb9\x00\x40" + b"\x00" * 64, "leading zero"),
        (b"\x85\x00\x01", "truncated batch"),
        (b"\xb9\x01", "truncated RLP length"),
        (rlp.encode(b"\x01\x80"), "rel_timestamp"),
    ],
)
def test_bad_batch_items_raise_with_offsets(item, reason):
    good = rlp.encode(encode_batch(_singular(1)))
    reader = read_batches(good + item, 10**6)
    assert next(reader) == _singular(1)
    with pytest.raises(DecodeError, match=reason) as info:
        next(reader)
    assert info.value.offset is not None and info.value.offset >= len(good)


def test_span_error_offsets_point_into_the_channel():
    item = rlp.encode(b"\x01" + b"\x05\x06" + b"\x00" * 40 + b"\x00")  # block_count 0
    with pytest.raises(DecodeError, match="no blocks") as info:
        list(read_batches(item, 10**6))
    assert info.value.offset == 1 + 1 + 2 + 40  # header, type byte, two uvarints, checks


def test_broken_stream_reports_the_stream_error_after_good_batches():
    raw = encode_channel_batches([_singular(1), _singular(2)])
    channel = compress_zlib(raw, terminated=False)
    cut = compress_zlib(raw[: len(raw) - 10], terminated=False)  # second batch cut short
    broken = cut + b"\xff\xff\xff"
    decompressed = decompress_channel(broken, 10**6, fjord_active=False)
    assert decompressed.error is not None
    reader = read_channel_batches(decompressed, 10**6)
    assert next(reader) == _singular(1)
    with pytest.raises(DecodeError, match="zlib"):
        next(reader)
    assert decode_channel(channel, fjord_active=False)[1] == [_singular(1), _singular(2)]


def test_decompressed_size_over_the_limit_ends_the_channel():
    raw = encode_channel_batches([_singular(1), _singular(2)])
    limit = len(raw) - 5
    decompressed = decompress_channel(compress_zlib(raw), limit, fjord_active=False)
    assert decompressed.exceeded_limit
    reader = read_channel_batches(decompressed, limit)
    assert next(reader) == _singular(1)
    with pytest.raises(DecodeError, match="past the channel limit"):
        next(reader)
    exact = decompress_channel(compress_zlib(raw), len(raw), fjord_active=False)
    assert list(read_channel_batches(exact, len(raw))) == [_singular(1), _singular(2)]
    # Exactly at the limit with more output pending: the next batch cannot fit.
    first = len(rlp.encode(encode_batch(_singular(1))))
    at_first = decompress_channel(compress_zlib(raw), first, fjord_active=False)
    with pytest.raises(DecodeError, match="past the limit"):
        list(read_channel_batches(at_first, first))


def test_decode_channel_is_strict_about_compression():
    raw = encode_channel_batches([_singular(1)])
    with pytest.raises(DecodeError, match="before Fjord"):
        decode_channel(compress_brotli(raw), fjord_active=False)
    with pytest.raises(DecodeError, match="unknown channel compression"):
        decode_channel(b"\x00" + raw)


def test_channel_to_json():
    channel = compress_zlib(encode_channel_batches([_singular(1), _span()]))
    out = channel_to_json(channel, chain_id=CHAIN)
    assert out["compression"] == "zlib"
    assert [b["type"] for b in out["batches"]] == [0, 1]
    expected = ["0x" + t.hex() for t in _span().full_transactions(CHAIN)]
    assert out["batches"][1]["transactions"] == expected


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_only_ever_raises_decode_error(garbage):
    try:
        for batch in read_batches(garbage, 150):
            if isinstance(batch, RawSpanBatch):
                batch.full_transactions(CHAIN)
    except DecodeError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_span_batches_only_ever_raise_decode_error(data):
    body = bytearray(_hex_vector("raw-span-batch-roundtrip.hex"))
    for _ in range(data.draw(st.integers(1, 4))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    try:
        batch = RawSpanBatch.decode(bytes(body))
        batch.derive(0, 2, CHAIN)
    except DecodeError:
        pass
