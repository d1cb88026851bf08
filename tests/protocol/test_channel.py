"""Channels, channel bank and Holocene channel assembler.

Spec: specs/protocol/derivation.md ("Channel Bank"), fjord/granite/holocene derivation.md.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.protocol.channel import (
    FJORD_MAX_CHANNEL_BANK_SIZE,
    FJORD_MAX_RLP_BYTES_PER_CHANNEL,
    MAX_CHANNEL_BANK_SIZE,
    MAX_RLP_BYTES_PER_CHANNEL,
    Channel,
    ChannelAssembler,
    ChannelBank,
    FrameRejection,
    channel_timed_out,
    channel_timeout,
    max_channel_bank_size,
    max_rlp_bytes_per_channel,
)
from opfleet.protocol.frame import FRAME_OVERHEAD, MAX_FRAME_LEN, Frame

A = b"\xaa" * 16
B = b"\xbb" * 16
ID = b"\xff" * 16
MEGABYTE = b"\x00" * MAX_FRAME_LEN  # shared by many frames: sizes count, memory does not


def frame(channel: bytes, number: int, data: bytes = b"", is_last: bool = False) -> Frame:
    return Frame(channel, number, data, is_last)


def split(channel: bytes, data: bytes, parts: int) -> list[Frame]:
    """Cut ``data`` into ``parts`` frames of ``channel``; the last one closes it."""
    step = -(-len(data) // parts) if data else 0
    return [
        frame(channel, i, data[i * step : (i + 1) * step], i == parts - 1) for i in range(parts)
    ]


def always(_time: int) -> bool:
    return True


# --- limits and timeouts ----------------------------------------------------------------------


def test_fork_dependent_limits():
    assert max_rlp_bytes_per_channel(False) == MAX_RLP_BYTES_PER_CHANNEL == 10_000_000
    assert max_rlp_bytes_per_channel(True) == FJORD_MAX_RLP_BYTES_PER_CHANNEL == 100_000_000
    assert max_channel_bank_size(False) == MAX_CHANNEL_BANK_SIZE == 100_000_000
    assert max_channel_bank_size(True) == FJORD_MAX_CHANNEL_BANK_SIZE == 1_000_000_000
    assert channel_timeout(300, False) == 300
    assert channel_timeout(300, True) == 50


def test_channel_timed_out_is_strictly_after_open_plus_timeout():
    assert not channel_timed_out(100, 300, 400)
    assert channel_timed_out(100, 300, 401)
    assert not channel_timed_out(100, 50, 150)
    assert channel_timed_out(100, 50, 151)


# --- Channel.add_frame -------------------------------------------------------------------------

# Frame-validity table of kona crates/protocol/protocol/src/channel.rs (test_frame_validity):
# (frames, expected rejection per frame, size after each frame).
KONA_CASES = [
    ([frame(b"\xee" * 16, 0)], [FrameRejection.WRONG_CHANNEL], [0]),
    (
        [frame(ID, 2, b"four", True), frame(ID, 1, b"", True)],
        [None, FrameRejection.SECOND_CLOSING_FRAME],
        [204, 204],
    ),
    ([frame(ID, 2, b"four"), frame(ID, 2, b"seven")], [None, FrameRejection.DUPLICATE], [204, 204]),
    (
        [frame(ID, 2, b"four", True), frame(ID, 2, b"seven", True)],
        [None, FrameRejection.SECOND_CLOSING_FRAME],
        [204, 204],
    ),
    (
        [frame(ID, 2, b"four", True), frame(ID, 10, b"seven")],
        [None, FrameRejection.PAST_END],
        [204, 204],
    ),
    ([frame(ID, 0, b"seven"), frame(ID, 1, b"four", True)], [None, None], [205, 409]),
    ([frame(ID, 1, b"seven__"), frame(ID, 2, b"four")], [None, None], [207, 411]),
]


@pytest.mark.parametrize("frames, rejections, sizes", KONA_CASES)
def test_channel_add_frame_table(frames, rejections, sizes):
    channel = Channel(ID, open_block_number=5)
    for f, rejection, size in zip(frames, rejections, sizes):
        assert channel.add_frame(f) == rejection
        assert channel.size == size


def test_channel_concatenates_frames_in_number_order():
    channel = Channel(ID, 0)
    assert channel.add_frame(frame(ID, 1, b"four", True)) is None
    assert not channel.is_ready()
    with pytest.raises(ValueError):
        channel.data()
    assert channel.add_frame(frame(ID, 0, b"seven")) is None
    assert channel.is_ready()
    assert channel.data() == b"sevenfour"
    assert channel.open_block_number == 0


def test_closing_frame_prunes_higher_frames_and_resets_size_like_op_node():
    channel = Channel(ID, 0)
    for number in (0, 3, 5):
        assert channel.add_frame(frame(ID, number, b"x" * number)) is None
    assert channel.size == 3 * FRAME_OVERHEAD + 8
    assert channel.add_frame(frame(ID, 2, b"zz", True)) is None
    # Frames 3 and 5 are gone: a frame numbered 3 is now past the end.
    assert channel.add_frame(frame(ID, 3, b"again")) == FrameRejection.PAST_END
    assert channel.frame_count == 2
    # op-node and kona subtract every buffered frame while pruning: only frame 2 is counted.
    assert channel.size == FRAME_OVERHEAD + 2
    assert channel.add_frame(frame(ID, 1, b"y")) is None
    assert channel.size == 2 * FRAME_OVERHEAD + 3
    assert channel.is_ready()
    assert channel.data() == b"yzz"


def test_closing_frame_below_nothing_higher_keeps_size():
    channel = Channel(ID, 0)
    channel.add_frame(frame(ID, 0, b"ab"))
    channel.add_frame(frame(ID, 1, b"c", True))
    assert channel.size == 2 * FRAME_OVERHEAD + 3


def test_closed_channel_with_a_gap_is_not_ready():
    channel = Channel(ID, 0)
    channel.add_frame(frame(ID, 0, b"a"))
    channel.add_frame(frame(ID, 2, b"c", True))
    assert channel.closed and not channel.is_ready()


def test_in_order_channel_rejects_gaps():
    channel = Channel(ID, 0, require_in_order=True)
    assert channel.add_frame(frame(ID, 1)) == FrameRejection.OUT_OF_ORDER
    assert channel.add_frame(frame(ID, 0)) is None
    assert channel.add_frame(frame(ID, 2, is_last=True)) == FrameRejection.OUT_OF_ORDER
    assert channel.add_frame(frame(ID, 1, is_last=True)) is None
    assert channel.is_ready()


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 8), st.randoms(use_true_random=False))
def test_channel_assembles_the_same_data_in_any_frame_order(data, parts, rng):
    frames = split(ID, data, parts)
    order = list(frames)
    rng.shuffle(order)
    # Re-sent duplicates anywhere must not change the result.
    order.insert(rng.randrange(len(order) + 1), frames[rng.randrange(parts)])
    channel = Channel(ID, 0)
    for f in order:
        channel.add_frame(f)
    assert channel.is_ready()
    assert channel.data() == b"".join(f.data for f in frames)
    assert channel.size == sum(f.size for f in frames)


# --- ChannelBank -------------------------------------------------------------------------------


def test_bank_pre_canyon_reads_only_the_head_channel():
    bank = ChannelBank(rollup_channel_timeout=300)
    assert bank.ingest_frame(frame(A, 0, b"a0"), 10, 1000) is None
    for f in split(B, b"complete", 2):
        assert bank.ingest_frame(f, 10, 1000) is None
    assert bank.channel_ids == [A, B]
    assert bank.read(10, 1000) is None  # B is ready but A (head) is not
    bank.ingest_frame(frame(A, 1, b"a1", True), 11, 1012)
    assert bank.read(11, 1012) == b"a0a1"
    assert bank.read(11, 1012) == b"complete"
    assert bank.read(11, 1012) is None
    assert len(bank) == 0


def test_bank_canyon_reads_the_first_ready_channel_in_fifo_order():
    bank = ChannelBank(rollup_channel_timeout=300, is_canyon=always)
    bank.ingest_frame(frame(A, 0, b"a0"), 10, 1000)
    for f in split(B, b"complete", 2):
        bank.ingest_frame(f, 10, 1000)
    assert bank.read(10, 1000) == b"complete"
    assert bank.channel_ids == [A]


def test_bank_drops_frames_of_timed_out_channels_and_timed_out_heads():
    bank = ChannelBank(rollup_channel_timeout=300)
    bank.ingest_frame(frame(A, 0, b"old"), 100, 0)
    bank.ingest_frame(frame(B, 0, b"new", True), 350, 0)
    assert bank.read(350, 0) is None  # A at head, not ready, not yet timed out
    assert bank.ingest_frame(frame(A, 1, b"late", True), 401, 0) == FrameRejection.TIMED_OUT
    assert bank.read(401, 0) == b"new"  # A timed out and was removed from the head
    assert bank.channel_ids == []


def test_bank_uses_granite_timeout_at_origin_time():
    granite_at = 5000
    bank = ChannelBank(rollup_channel_timeout=300, is_granite=lambda t: t >= granite_at)
    bank.ingest_frame(frame(A, 0, b"a"), 100, 4000)
    assert bank.ingest_frame(frame(A, 1, b"b"), 151, 4999) is None  # pre-Granite: 300 blocks
    assert bank.ingest_frame(frame(A, 2, b"c", True), 151, 5000) == FrameRejection.TIMED_OUT
    assert bank.read(151, 5000) is None
    assert len(bank) == 0


def test_bank_rejected_frame_is_reported():
    bank = ChannelBank(rollup_channel_timeout=300)
    bank.ingest_frame(frame(A, 0, b"a"), 1, 0)
    assert bank.ingest_frame(frame(A, 0, b"again"), 1, 0) == FrameRejection.DUPLICATE


def test_bank_read_channel_id_can_be_reused():
    bank = ChannelBank(rollup_channel_timeout=300)
    bank.ingest_frame(frame(A, 0, b"one", True), 1, 0)
    assert bank.read(1, 0) == b"one"
    bank.ingest_frame(frame(A, 0, b"two", True), 2, 0)
    assert bank.channel(A).open_block_number == 2
    assert bank.read(2, 0) == b"two"


@pytest.mark.parametrize("fjord", [False, True])
def test_bank_prunes_whole_head_channels_above_the_size_limit(fjord):
    bank = ChannelBank(rollup_channel_timeout=300, is_fjord=lambda t: fjord)
    per_frame = MAX_FRAME_LEN + FRAME_OVERHEAD
    for number in range(60):
        assert bank.ingest_frame(frame(A, number, MEGABYTE), 1, 0) is None
    for number in range(39):
        assert bank.ingest_frame(frame(B, number, MEGABYTE), 1, 0) is None
    assert bank.total_size == 99 * per_frame <= MAX_CHANNEL_BANK_SIZE
    bank.ingest_frame(frame(B, 39, MEGABYTE), 1, 0)  # 100 * 1_000_200 > 100_000_000
    if fjord:
        assert bank.channel_ids == [A, B]
    else:
        assert bank.channel_ids == [B]
        assert bank.total_size == 40 * per_frame


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.integers(1, 6), st.randoms(use_true_random=False))
def test_bank_emits_a_channel_once_its_last_missing_frame_arrives(data, parts, rng):
    frames = split(A, data, parts)
    rng.shuffle(frames)
    bank = ChannelBank(rollup_channel_timeout=300)
    for f in frames[:-1]:
        assert bank.ingest_frame(f, 7, 0) is None
        assert bank.read(7, 0) is None
    bank.ingest_frame(frames[-1], 7, 0)
    assert bank.read(7, 0) == data


# --- ChannelAssembler (Holocene) ----------------------------------------------------------------


def test_assembler_emits_on_the_closing_frame():
    assembler = ChannelAssembler(rollup_channel_timeout=300)
    frames = split(A, b"hello world", 3)
    assert assembler.ingest_frame(frames[0], 1, 0) is None
    assert assembler.ingest_frame(frames[1], 1, 0) is None
    assert assembler.ingest_frame(frames[2], 2, 0) == b"hello world"
    assert assembler.channel is None


def test_assembler_drops_non_first_frames_without_a_channel():
    assembler = ChannelAssembler(rollup_channel_timeout=300)
    assert assembler.ingest_frame(frame(A, 1, b"x", True), 1, 0) is None
    assert assembler.channel is None


def test_assembler_first_frame_replaces_an_unfinished_channel():
    assembler = ChannelAssembler(rollup_channel_timeout=300)
    assembler.ingest_frame(frame(A, 0, b"stale"), 1, 0)
    assembler.ingest_frame(frame(B, 0, b"fresh"), 1, 0)
    assert assembler.channel.channel_id == B
    assert assembler.ingest_frame(frame(A, 1, b"!", True), 1, 0) is None  # other channel
    assert assembler.ingest_frame(frame(B, 1, b"!", True), 1, 0) == b"fresh!"


def test_assembler_requires_frames_in_order_across_calls():
    # op-node's requireInOrder: the frame queue cannot reorder frames from different txs.
    assembler = ChannelAssembler(rollup_channel_timeout=300)
    assembler.ingest_frame(frame(A, 0, b"a"), 1, 0)
    assert assembler.ingest_frame(frame(A, 2, b"c", True), 1, 0) is None
    assert assembler.channel.frame_count == 1
    assert assembler.ingest_frame(frame(A, 1, b"b"), 2, 0) is None
    assert assembler.ingest_frame(frame(A, 2, b"c", True), 2, 0) == b"abc"


def test_assembler_drops_timed_out_channel_before_the_next_frame():
    assembler = ChannelAssembler(rollup_channel_timeout=300, is_granite=lambda t: t >= 100)
    assembler.ingest_frame(frame(A, 0, b"a"), 10, 0)
    assert assembler.ingest_frame(frame(A, 1, b"b", True), 61, 100) is None  # 10 + 50 < 61
    assert assembler.channel is None
    assembler.ingest_frame(frame(B, 0, b"a"), 10, 0)
    assert assembler.ingest_frame(frame(B, 1, b"b", True), 310, 99) == b"ab"  # 300 pre-Granite


@pytest.mark.parametrize("fjord", [False, True])
def test_assembler_drops_oversized_channel(fjord):
    assembler = ChannelAssembler(rollup_channel_timeout=300, is_fjord=lambda t: fjord)
    for number in range(10):  # 10 * 1_000_200 > 10_000_000 on the tenth frame
        assert assembler.ingest_frame(frame(A, number, MEGABYTE), 1, 0) is None
    assert (assembler.channel is not None) == fjord
    result = assembler.ingest_frame(frame(A, 10, b"end", True), 1, 0)
    if fjord:
        assert result == MEGABYTE * 10 + b"end"
    else:
        assert result is None


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 5), st.randoms(use_true_random=False))
def test_assembler_only_completes_channels_sent_in_order(data, parts, rng):
    frames = split(A, data, parts)
    order = list(frames)
    rng.shuffle(order)
    assembler = ChannelAssembler(rollup_channel_timeout=300)
    results = [assembler.ingest_frame(f, 1, 0) for f in order]
    emitted = [r for r in results if r is not None]
    if order == frames:
        assert emitted == [data]
        assert results[-1] == data
    else:
        assert emitted == []
