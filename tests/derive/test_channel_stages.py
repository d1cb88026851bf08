"""Channel bank (pre-Holocene), channel assembler (Holocene) and the mux between them.

Spec: specs/protocol/derivation.md "Channel Bank"; granite/derivation.md (timeout);
holocene/derivation.md "Channel Stage", "Activation".
"""

from __future__ import annotations

import pytest

from opfleet.derive.channel_assembler import ChannelAssembler
from opfleet.derive.channel_bank import ChannelBank
from opfleet.derive.errors import EndOfData, NotEnoughData
from opfleet.derive.interfaces import Activation, FlushChannel, Reset
from opfleet.derive.mux import ChannelMux
from opfleet.protocol.frame import Frame
from opfleet.testing.derive import (
    GENESIS_SYSTEM_CONFIG,
    FakeL1Chain,
    FakeStage,
    channel_id,
    make_rollup_config,
)

A = channel_id("a")
B = channel_id("b")


def frame(cid: bytes, number: int, last: bool = False) -> Frame:
    return Frame(cid, number, f"{cid.hex()[:2]}{number};".encode(), last)


def setup(frames, **cfg):
    l1 = FakeL1Chain()
    l1.mine_empty(20)
    config = make_rollup_config(l1, **cfg)
    stage = FakeStage(l1.ref(1), frames)
    return l1, config, stage


async def read_channels(stage_under_test) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(await stage_under_test.next_channel())
        except NotEnoughData:
            continue
        except EndOfData:
            return out


async def test_bank_reassembles_out_of_order_frames_and_drops_duplicates():
    _, cfg, prev = setup([frame(A, 1), frame(A, 0), frame(A, 1), frame(A, 2, True)])
    bank = ChannelBank(prev, cfg)
    a = A.hex()[:2]
    assert await read_channels(bank) == [f"{a}0;{a}1;{a}2;".encode()]
    assert bank.dropped["duplicate"] == 1


async def test_bank_pre_canyon_reads_only_the_head_channel():
    frames = [frame(A, 0), frame(B, 0, True), frame(A, 1, True)]
    _, cfg, prev = setup(frames)
    bank = ChannelBank(prev, cfg)
    channels = await read_channels(bank)
    a, b = A.hex()[:2], B.hex()[:2]
    assert channels == [f"{a}0;{a}1;".encode(), f"{b}0;".encode()]  # B waits behind A


async def test_bank_from_canyon_reads_the_first_ready_channel():
    frames = [frame(A, 0), frame(B, 0, True), frame(A, 1, True)]
    _, cfg, prev = setup(frames, canyon_time=0)
    channels = await read_channels(ChannelBank(prev, cfg))
    a, b = A.hex()[:2], B.hex()[:2]
    assert channels == [f"{b}0;".encode(), f"{a}0;{a}1;".encode()]


@pytest.mark.parametrize("granite, timeout", [(False, 10), (True, 5)])
async def test_bank_channel_timeout(granite, timeout):
    l1, cfg, prev = setup([frame(A, 0)], granite_time=0 if granite else None)
    bank = ChannelBank(prev, cfg)
    with pytest.raises(NotEnoughData):
        await bank.next_channel()  # A opened at L1 block 1
    prev.origin = l1.ref(1 + timeout)  # not yet timed out: open + timeout == origin
    prev.items.append(frame(A, 1))
    with pytest.raises(NotEnoughData):
        await bank.next_channel()
    assert bank.channel_count == 1
    prev.origin = l1.ref(2 + timeout)  # now timed out
    prev.items.append(frame(A, 2, True))
    with pytest.raises(NotEnoughData):
        await bank.next_channel()
    assert bank.dropped["channels_timed_out"] == 1
    assert bank.dropped["timed_out"] == 0  # the channel went before the frame arrived
    assert await read_channels(bank) == []


async def test_assembler_needs_frames_in_order_from_frame_zero():
    frames = [frame(A, 1), frame(A, 0), frame(A, 2), frame(A, 1), frame(A, 1), frame(A, 2, True)]
    _, cfg, prev = setup(frames, holocene_time=0)
    assembler = ChannelAssembler(prev, cfg)
    a = A.hex()[:2]
    assert await read_channels(assembler) == [f"{a}0;{a}1;{a}2;".encode()]
    # frame 1 with no channel open, frame 2 before 1, the duplicate frame 1
    assert assembler.dropped["not_next_frame"] == 3


async def test_assembler_new_first_frame_replaces_an_unfinished_channel():
    frames = [frame(A, 0), frame(B, 0), frame(A, 1, True), frame(B, 1, True)]
    _, cfg, prev = setup(frames, holocene_time=0)
    assembler = ChannelAssembler(prev, cfg)
    b = B.hex()[:2]
    assert await read_channels(assembler) == [f"{b}0;{b}1;".encode()]
    assert assembler.dropped["channels_replaced"] == 1
    assert assembler.dropped["not_next_frame"] == 1  # A's frame 1 arrives for a dead channel


async def test_assembler_channel_timeout():
    l1, cfg, prev = setup([frame(A, 0)], holocene_time=0)  # Holocene implies Granite: timeout 5
    assembler = ChannelAssembler(prev, cfg)
    with pytest.raises(NotEnoughData):
        await assembler.next_channel()
    prev.origin = l1.ref(7)
    prev.items.append(frame(A, 1, True))
    with pytest.raises(NotEnoughData):
        await assembler.next_channel()
    assert assembler.dropped["channels_timed_out"] == 1


async def test_mux_picks_by_reset_time_and_switches_at_activation():
    l1, _, prev = setup([])
    cfg_h = make_rollup_config(l1, holocene_time=l1.ref(5).timestamp)
    mux = ChannelMux(prev, cfg_h)
    mux.signal(Reset(l1.ref(1), GENESIS_SYSTEM_CONFIG))
    assert not mux.holocene
    prev.items.extend([frame(A, 0)])
    with pytest.raises(NotEnoughData):
        await mux.next_channel()
    assert mux.bank.channel_count == 1
    mux.signal(FlushChannel())  # only the channel reader acts on a flush
    assert mux.bank.channel_count == 1
    mux.signal(Activation("holocene", l1.ref(5)))
    assert mux.holocene and mux.bank.channel_count == 0
    mux.signal(Reset(l1.ref(6), GENESIS_SYSTEM_CONFIG))
    assert mux.holocene
    mux.signal(Reset(l1.ref(2), GENESIS_SYSTEM_CONFIG))  # an L1 reorg back before Holocene
    assert not mux.holocene
    assert [type(s) for s in prev.signals] == [Reset, FlushChannel, Activation, Reset, Reset]
