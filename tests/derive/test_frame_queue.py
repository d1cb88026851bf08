"""Frame queue: all-or-nothing parsing per data item, refill only when empty, Holocene pruning.

Spec: specs/protocol/derivation.md "Frame Queue"; holocene/derivation.md "Frame Queue".
"""

from __future__ import annotations

import pytest

from opfleet.derive.errors import EndOfData, NotEnoughData
from opfleet.derive.frame_queue import FrameQueue
from opfleet.protocol.frame import Frame, encode_frames
from opfleet.testing.derive import FakeL1Chain, FakeStage, channel_id, make_rollup_config

A = channel_id("a")
B = channel_id("b")


def frame(cid: bytes, number: int, last: bool = False) -> Frame:
    return Frame(cid, number, f"{cid.hex()[:4]}:{number}".encode(), last)


def queue(items, *, holocene: bool) -> FrameQueue:
    l1 = FakeL1Chain()
    cfg = make_rollup_config(l1, holocene_time=0 if holocene else None)
    return FrameQueue(FakeStage(l1.ref(0), items), cfg)


async def drain(q: FrameQueue) -> list[Frame]:
    out = []
    while True:
        try:
            out.append(await q.next_frame())
        except NotEnoughData:
            continue
        except EndOfData:
            return out


async def test_frames_of_each_item_in_order_and_bad_items_dropped_whole():
    good = encode_frames([frame(A, 0), frame(A, 1, True)])
    truncated = encode_frames([frame(B, 0), frame(B, 1)])[:-3]  # the second frame is cut short
    unknown_version = b"\x01" + encode_frames([frame(B, 2)])[1:]
    q = queue([good, truncated, unknown_version, b""], holocene=False)
    assert await q.next_frame() == frame(A, 0)
    assert await q.next_frame() == frame(A, 1, True)
    for _ in range(3):
        with pytest.raises(NotEnoughData):
            await q.next_frame()
    with pytest.raises(EndOfData):
        await q.next_frame()
    assert q.dropped["unparseable_data"] == 3
    assert q.frames_read == 2


async def test_refills_only_when_empty():
    stage = FakeStage(None, [encode_frames([frame(A, 0), frame(A, 1)]), encode_frames([frame(B, 0)])])
    l1 = FakeL1Chain()
    stage.origin = l1.ref(0)
    q = FrameQueue(stage, make_rollup_config(l1))
    await q.next_frame()
    assert len(stage.items) == 1  # the second item is untouched while frames remain
    await q.next_frame()
    assert len(stage.items) == 1
    await q.next_frame()
    assert not stage.items


async def test_holocene_prunes_out_of_order_and_superseded_frames():
    data = encode_frames([frame(A, 0), frame(A, 2), frame(B, 1), frame(B, 0), frame(B, 1, True)])
    q = queue([data], holocene=True)
    assert await drain(q) == [frame(B, 0), frame(B, 1, True)]
    assert q.dropped["holocene_pruned"] == 3


async def test_no_pruning_before_holocene():
    frames = [frame(A, 0), frame(A, 2), frame(B, 1)]
    q = queue([encode_frames(frames)], holocene=False)
    assert await drain(q) == frames
