"""Frames and batcher-tx data.

Spec: specs/protocol/derivation.md "Frame Format"; holocene/derivation.md "Frame Queue".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.frame import (
    DERIVATION_VERSION_0,
    FRAME_OVERHEAD,
    FRAME_V0_OVERHEAD_SIZE,
    MAX_FRAME_LEN,
    Frame,
    encode_frames,
    parse_frame,
    parse_frames,
    prune_frame_queue,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FRAMES_JSON = json.loads((VECTORS / "frames.json").read_text())
CHANNEL = bytes.fromhex("deadbeef" * 4)


def _hex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def _frame(channel: str, number: int, is_last: bool = False, data: bytes = b"") -> Frame:
    return Frame(channel.encode() * 16, number, data, is_last)


# --- vectors: tests/vectors/frames.json ------------------------------------------------------


@pytest.mark.parametrize("case", FRAMES_JSON["valid"], ids=lambda c: c["tx_data"][:40])
def test_frames_json_valid_vectors_parse_and_reencode(case):
    tx_data = _hex(case["tx_data"])
    frames = parse_frames(tx_data)
    expected = [
        {
            "channel_id": f["channel_id"],
            "frame_number": f["number"],
            "data": f["data"],
            "is_last": f["is_last"],
        }
        for f in case["frames"]
    ]
    assert [frame.to_json() for frame in frames] == expected
    assert encode_frames(frames) == tx_data


@pytest.mark.parametrize("case", FRAMES_JSON["invalid_whole_tx"], ids=lambda c: c["why"])
def test_frames_json_invalid_vectors_reject_whole_tx(case):
    with pytest.raises(DecodeError) as info:
        parse_frames(_hex(case["tx_data"]))
    assert info.value.offset is not None


def test_frames_json_invalid_offsets_point_at_the_bad_field():
    # Same frames.json cases, with the offset each must report.
    cases = {case["why"]: _hex(case["tx_data"]) for case in FRAMES_JSON["invalid_whole_tx"]}
    offsets = {
        "empty": 0,
        "unknown derivation version byte (1 = alt-DA commitment, not frames)": 0,
        "is_last byte not 0/1 (op-node rejects; kona treats !=1 as false)": 23,
        "data length exceeds remaining bytes": 23,
        "trailing bytes that do not form a frame (all frames of the tx rejected)": 24,
        "version byte only, no frames": 1,
    }
    for why, offset in offsets.items():
        with pytest.raises(DecodeError) as info:
            parse_frames(cases[why])
        assert info.value.offset == offset, why


def test_op_mainnet_batcher_tx_calldata_holds_one_closing_frame():
    # tests/vectors/batches/op-mainnet-batcher-tx-signed.hex: type-2 tx, field 7 is the calldata.
    raw = _hex((VECTORS / "batches" / "op-mainnet-batcher-tx-signed.hex").read_text().strip())
    assert raw[0] == 0x02
    calldata = rlp.decode(raw[1:])[7]
    assert len(calldata) == 119823
    frames = parse_frames(calldata)
    assert len(frames) == 1
    (frame,) = frames
    assert frame.channel_id.hex() == "ac329933f5efdcc35ccd284232a376d3"
    assert frame.frame_number == 0
    assert len(frame.data) == 119799
    assert frame.is_last is True
    assert frame.data[:2] == bytes.fromhex("78da")  # a zlib channel starts here
    assert len(calldata) == 1 + FRAME_V0_OVERHEAD_SIZE + len(frame.data)
    assert encode_frames(frames) == calldata


# --- single frames ---------------------------------------------------------------------------


def test_parse_frame_at_offset_returns_next_offset():
    frame = Frame(CHANNEL, 7, b"abc", False)
    blob = b"xx" + frame.encode() + b"yy"
    parsed, next_offset = parse_frame(blob, 2)
    assert parsed == frame
    assert next_offset == 2 + FRAME_V0_OVERHEAD_SIZE + 3
    assert blob[next_offset:] == b"yy"


def test_frame_layout_and_size():
    frame = Frame(CHANNEL, 0x0102, b"\xaa\xbb", True)
    assert frame.encode() == CHANNEL + b"\x01\x02" + b"\x00\x00\x00\x02" + b"\xaa\xbb" + b"\x01"
    assert frame.size == 2 + FRAME_OVERHEAD == 202
    assert frame.to_json() == {
        "channel_id": "0x" + "deadbeef" * 4,
        "frame_number": 258,
        "data": "0xaabb",
        "is_last": True,
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channel_id": b"\x00" * 15},
        {"channel_id": b"\x00" * 17},
        {"frame_number": -1},
        {"frame_number": 0x10000},
        {"data": b"\x00" * (MAX_FRAME_LEN + 1)},
    ],
)
def test_frame_rejects_unencodable_fields(kwargs):
    fields = {"channel_id": CHANNEL, "frame_number": 0, "data": b"", "is_last": False} | kwargs
    with pytest.raises(ValueError):
        Frame(**fields)


def test_max_frame_len_is_accepted_and_one_more_is_rejected():
    ok = Frame(CHANNEL, 0, b"\x01" * MAX_FRAME_LEN, True)
    assert parse_frames(encode_frames([ok])) == [ok]
    # Declared length MAX_FRAME_LEN + 1 is rejected at the length field (offset 1 + 16 + 2),
    # before the (absent) data is looked at.
    too_long = (MAX_FRAME_LEN + 1).to_bytes(4, "big")
    header = bytes([DERIVATION_VERSION_0]) + CHANNEL + b"\x00\x00" + too_long
    with pytest.raises(DecodeError, match="exceeds") as info:
        parse_frames(header + b"\x00" * 10)
    assert info.value.offset == 19


def test_huge_declared_length_is_rejected_without_allocation():
    tx = bytes([0]) + CHANNEL + b"\x00\x00" + b"\xff\xff\xff\xff" + b"\x00"
    with pytest.raises(DecodeError) as info:
        parse_frames(tx)
    assert info.value.offset == 19


def test_is_last_two_rejects_every_frame_of_the_tx():
    good = Frame(CHANNEL, 0, b"a", False).encode()
    bad = Frame(CHANNEL, 1, b"b", True).encode()[:-1] + b"\x02"
    with pytest.raises(DecodeError, match="is_last") as info:
        parse_frames(b"\x00" + good + bad)
    assert info.value.offset == 1 + len(good) + len(bad) - 1


def test_every_truncation_of_a_valid_tx_is_a_decode_error():
    tx = encode_frames([Frame(CHANNEL, 0, b"hello", False), Frame(CHANNEL, 1, b"world!", True)])
    for cut in range(len(tx)):
        if cut == 1 + FRAME_V0_OVERHEAD_SIZE + 5:
            assert len(parse_frames(tx[:cut])) == 1  # a clean frame boundary
            continue
        with pytest.raises(DecodeError):
            parse_frames(tx[:cut])


def test_trailing_bytes_after_frames_reject_the_tx():
    tx = encode_frames([Frame(CHANNEL, 0, b"x", True)])
    for trailing in (b"\x00", b"\x01" * 22, Frame(CHANNEL, 1, b"", False).encode()[:-1]):
        with pytest.raises(DecodeError) as info:
            parse_frames(tx + trailing)
        assert info.value.offset is not None and info.value.offset >= len(tx)


def test_encode_frames_needs_a_frame():
    with pytest.raises(ValueError):
        encode_frames([])


def test_parse_frames_accepts_memoryview_and_bytearray():
    tx = encode_frames([Frame(CHANNEL, 3, b"\x00\x01", False)])
    assert parse_frames(bytearray(tx)) == parse_frames(memoryview(tx)) == parse_frames(tx)
    assert type(parse_frames(memoryview(tx))[0].data) is bytes


# --- hypothesis ------------------------------------------------------------------------------

frames_strategy = st.builds(
    Frame,
    channel_id=st.binary(min_size=16, max_size=16),
    frame_number=st.integers(0, 0xFFFF),
    data=st.binary(max_size=300),
    is_last=st.booleans(),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(frames_strategy, min_size=1, max_size=6))
def test_encode_parse_round_trip(frames):
    tx = encode_frames(frames)
    assert tx[0] == DERIVATION_VERSION_0
    assert len(tx) == 1 + sum(FRAME_V0_OVERHEAD_SIZE + len(f.data) for f in frames)
    assert parse_frames(tx) == frames


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_is_frames_or_decode_error(data):
    try:
        frames = parse_frames(data)
    except DecodeError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)
    else:
        assert encode_frames(frames) == data


@settings(max_examples=100, deadline=None)
@given(st.lists(frames_strategy, min_size=1, max_size=3), st.data())
def test_flipping_a_byte_never_leaks_other_errors(frames, data):
    tx = bytearray(encode_frames(frames))
    index = data.draw(st.integers(0, len(tx) - 1))
    tx[index] ^= data.draw(st.integers(1, 255))
    try:
        parse_frames(bytes(tx))
    except DecodeError:
        pass


# --- Holocene frame-queue pruning -------------------------------------------------------------

# Cases of op-node op-node/rollup/derive/frame_queue_test.go TestPruneFrameQueue:
# "channel:number:" with a trailing "!" for is_last.
PRUNE_CASES = {
    "empty": ([], []),
    "one": (["a:2:"], ["a:2:"]),
    "one-last": (["a:2:!"], ["a:2:!"]),
    "last-new": (["a:2:!", "b:0:"], ["a:2:!", "b:0:"]),
    "last-ooo": (["a:2:!", "b:1:"], ["a:2:!"]),
    "middle-lastooo": (["b:1:", "a:2:!"], ["b:1:"]),
    "middle-first": (["b:1:", "a:0:"], ["a:0:"]),
    "last-first": (["b:1:!", "a:0:"], ["b:1:!", "a:0:"]),
    "same-last-ooo": (["b:1:!", "b:2:"], ["b:1:!"]),
    "ooo": (["b:1:", "b:3:"], ["b:1:"]),
    "other-ooo": (["b:1:", "c:3:"], ["b:1:"]),
    "other-ooo-last": (["b:1:", "c:3:", "b:2:!"], ["b:1:", "b:2:!"]),
    "first-discards-multiple": (["c:0:", "c:1:", "c:2:", "d:0:", "c:3:!"], ["d:0:"]),
    "complex": (
        ["b:1:", "b:2:!", "a:0:", "c:1:!", "a:1:", "a:2:!"]
        + ["c:0:", "c:1:", "d:0:", "c:2:!", "e:0:"],
        ["b:1:", "b:2:!", "a:0:", "a:1:", "a:2:!", "e:0:"],
    ),
}


def _short(text: str) -> Frame:
    channel, number, last = text.split(":")
    return _frame(channel, int(number), last == "!")


@pytest.mark.parametrize("name", PRUNE_CASES)
def test_prune_frame_queue_op_node_cases(name):
    given_frames, expected = PRUNE_CASES[name]
    assert prune_frame_queue([_short(f) for f in given_frames]) == [_short(f) for f in expected]


short_frames = st.builds(
    _frame, st.sampled_from("abc"), st.integers(0, 3), st.booleans(), st.just(b"")
)


@settings(max_examples=150, deadline=None)
@given(st.lists(short_frames, max_size=10))
def test_pruned_queue_obeys_holocene_rules_and_is_idempotent(frames):
    pruned = prune_frame_queue(frames)
    # A subsequence of the input, in order.
    it = iter(frames)
    assert all(any(f is g for g in it) for f in pruned)
    for prev, nxt in zip(pruned, pruned[1:]):
        if prev.channel_id == nxt.channel_id:
            assert not prev.is_last and nxt.frame_number == prev.frame_number + 1
        else:
            assert nxt.frame_number == 0 and prev.is_last
    assert prune_frame_queue(pruned) == pruned
