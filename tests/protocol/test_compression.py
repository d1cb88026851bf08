"""Channel compression: detection, streaming zlib/brotli, limits and bombs."""

from __future__ import annotations

import tracemalloc
import zlib
from pathlib import Path

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.compression import (
    BROTLI,
    MAX_RLP_BYTES_PER_CHANNEL,
    MAX_RLP_BYTES_PER_CHANNEL_FJORD,
    ZLIB,
    compress_brotli,
    compress_zlib,
    decompress_channel,
    detect_compression,
    max_rlp_bytes_per_channel,
)
from opfleet.protocol.frame import parse_frames
from opfleet.protocol.transactions import decode_transaction

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "batches"


def _hex_vector(name: str) -> bytes:
    return bytes.fromhex((VECTORS / name).read_text().strip())


def test_real_complete_channel_decompresses():
    # Vector: batches/op-mainnet-span-channel-zlib.hex (README: 1,409,463 decompressed bytes).
    channel = _hex_vector("op-mainnet-span-channel-zlib.hex")
    result = decompress_channel(channel, MAX_RLP_BYTES_PER_CHANNEL_FJORD, fjord_active=True)
    assert result.compression == ZLIB
    assert len(result.data) == 1_409_463
    assert result.complete and not result.exceeded_limit and result.error is None
    assert result.data[4] == 1  # span batch type after the 4-byte RLP string header


def test_real_unterminated_channel_decompresses_to_the_end_of_input():
    # Vector: batches/op-mainnet-batcher-tx-signed.hex: its frame is an unterminated zlib stream
    # (README: 240,308 decompressed bytes); plain zlib.decompress rejects it.
    tx = decode_transaction(_hex_vector("op-mainnet-batcher-tx-signed.hex"))
    frame = parse_frames(tx.data)[0]
    with pytest.raises(zlib.error):
        zlib.decompress(frame.data)
    result = decompress_channel(frame.data, MAX_RLP_BYTES_PER_CHANNEL, fjord_active=False)
    assert len(result.data) == 240_308
    assert not result.complete and result.error is None and not result.exceeded_limit


@pytest.mark.parametrize(
    "first, fjord, expected",
    [(0x78, False, ZLIB), (0x08, False, ZLIB), (0x1F, True, ZLIB), (0x01, True, BROTLI)],
)
def test_detect_compression(first, fjord, expected):
    assert detect_compression(bytes([first, 0]), fjord_active=fjord) == expected


@pytest.mark.parametrize("channel", [b"", b"\x00\x00", b"\x02abc", b"\x07", b"\x11"])
def test_unknown_compression_is_rejected(channel):
    with pytest.raises(DecodeError):
        detect_compression(channel, fjord_active=True)


def test_brotli_before_fjord_is_rejected():
    channel = compress_brotli(b"batch")
    with pytest.raises(DecodeError, match="before Fjord"):
        decompress_channel(channel, MAX_RLP_BYTES_PER_CHANNEL, fjord_active=False)
    assert decompress_channel(channel, 100, fjord_active=True).data == b"batch"


def test_limits_follow_fjord():
    assert max_rlp_bytes_per_channel(False) == 10_000_000
    assert max_rlp_bytes_per_channel(True) == 100_000_000


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3000), st.booleans())
def test_zlib_round_trip_terminated_or_not(data, terminated):
    channel = compress_zlib(data, terminated=terminated)
    result = decompress_channel(channel, len(data), fjord_active=False)
    assert result.data == data
    assert result.complete == terminated
    assert not result.exceeded_limit and result.error is None
    if not terminated:
        assert channel.endswith(b"\x00\x00\xff\xff")  # sync flush, as op-batcher leaves it


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=3000))
def test_brotli_round_trip(data):
    channel = compress_brotli(data)
    assert channel[0] == 1
    result = decompress_channel(channel, len(data), fjord_active=True)
    assert result.data == data and result.complete and not result.exceeded_limit


def test_output_stops_exactly_at_the_limit():
    data = bytes(range(256)) * 40
    for channel in (compress_zlib(data), compress_brotli(data)):
        exact = decompress_channel(channel, len(data), fjord_active=True)
        assert exact.data == data and not exact.exceeded_limit
        short = decompress_channel(channel, len(data) - 1, fjord_active=True)
        assert short.data == data[:-1] and short.exceeded_limit
        none = decompress_channel(channel, 0, fjord_active=True)
        assert none.data == b"" and none.exceeded_limit


@pytest.mark.parametrize("kind", ["zlib", "brotli"])
def test_decompression_bomb_stays_within_the_limit(kind):
    zeros = bytes(64_000_000)
    if kind == "zlib":
        channel = zlib.compress(zeros, 9)
    else:
        channel = b"\x01" + brotli.compress(zeros, quality=1)
    assert len(channel) < 200_000
    limit = 1_000_000
    tracemalloc.start()
    try:
        result = decompress_channel(channel, limit, fjord_active=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.data) == limit and result.exceeded_limit
    assert peak < 8 * limit  # bounded by the limit, nowhere near the 64 MB bomb


def test_corrupt_stream_keeps_the_data_before_the_error():
    data = bytes(range(256)) * 1000
    channel = compress_zlib(data, terminated=False)
    broken = channel + b"\xff" * 64  # not a valid deflate block
    result = decompress_channel(broken, 10**7, fjord_active=False)
    assert isinstance(result.error, DecodeError) and "zlib" in str(result.error)
    # Everything decoded before the corrupt byte is kept, as Go's flate reader hands it out.
    assert result.data == data
    assert result.error.offset == len(channel)

    bad_brotli = compress_brotli(data)[:-8] + b"\xff" * 8
    result = decompress_channel(bad_brotli, 10**7, fjord_active=True)
    assert isinstance(result.error, DecodeError) and "brotli" in str(result.error)


def test_bad_zlib_header_is_an_error_not_an_exception():
    # 0x7f: compression method 15 is accepted by the detector but no valid zlib header.
    result = decompress_channel(b"\x7f\x00garbage", 100, fjord_active=False)
    assert result.data == b"" and isinstance(result.error, DecodeError)


def test_data_after_a_terminated_zlib_stream_is_ignored():
    channel = compress_zlib(b"hello") + b"trailing junk"
    result = decompress_channel(channel, 100, fjord_active=False)
    assert result.data == b"hello" and result.complete and result.error is None
