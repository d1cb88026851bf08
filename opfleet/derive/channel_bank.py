"""Channel Bank (before Holocene): buffer frames into channels, emit complete ones.

A stage around the pure :class:`opfleet.protocol.channel.ChannelBank`: each call first tries
to read a ready channel; if there is none it ingests one frame and asks to be called again.
The channel timeout comes from the rollup config at the origin's time (Granite shortens it).

Spec: ``specs/protocol/derivation.md`` ("Channel Bank"), ``fjord/derivation.md`` (bank size),
``granite/derivation.md`` (timeout), ``canyon`` read order; op-node ``channel_bank.go``;
kona ``stages/channel/channel_bank.rs``.
"""

from __future__ import annotations

import logging
from collections import Counter

from opfleet.derive.errors import NotEnoughData
from opfleet.derive.interfaces import Activation, FrameProvider, Reset, Signal, Stage
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.protocol.channel import ChannelBank as _Bank
from opfleet.protocol.rollup_config import RollupConfig

log = logging.getLogger("opfleet.derive")


def _never(_time: int) -> bool:
    return False


class ChannelBank(Stage[FrameProvider]):
    """Pre-Holocene channel stage.

    ``dropped`` counts dropped frames by :class:`~opfleet.protocol.channel.FrameRejection`
    name (``"duplicate"``, ``"timed_out"``...) and dropped channels as ``"channels_timed_out"``
    and ``"channels_pruned"`` (bank over its size limit).
    """

    name = "channel bank"

    def __init__(self, prev: FrameProvider, rollup_config: RollupConfig):
        super().__init__(prev)
        self.rollup_config = rollup_config
        # Granite is applied here through the timeout value (the rollup config may set its own
        # granite_channel_timeout), so the bank's own Granite switch stays off.
        self._bank = _Bank(
            rollup_channel_timeout=rollup_config.channel_timeout,
            is_canyon=rollup_config.is_canyon,
            is_fjord=rollup_config.is_fjord,
            is_granite=_never,
        )
        self.channels_read = 0
        self.dropped: Counter[str] = Counter()

    @property
    def channel_count(self) -> int:
        return len(self._bank)

    def _origin(self) -> L1BlockRef:
        origin = self.current_origin()
        self._bank.rollup_channel_timeout = self.rollup_config.channel_timeout_at(origin.timestamp)
        return origin

    async def next_channel(self) -> bytes:
        """A ready channel's bytes, or ingest one frame and raise :class:`NotEnoughData`.

        Spec: specs/protocol/derivation.md, Channel Bank ("Reading", "Loading frames").
        """
        origin = self._origin()
        before = len(self._bank)
        data = self._bank.read(origin.number, origin.timestamp)
        timed_out = before - len(self._bank) - (data is not None)
        self.dropped["channels_timed_out"] += timed_out
        if data is not None:
            self.channels_read += 1
            return data
        frame = await self.prev.next_frame()
        origin = self._origin()
        before = len(self._bank) + (self._bank.channel(frame.channel_id) is None)
        rejection = self._bank.ingest_frame(frame, origin.number, origin.timestamp)
        if rejection is not None:
            self.dropped[rejection.name.lower()] += 1
            log.warning("channel bank: dropping frame %d of channel 0x%s: %s",
                        frame.frame_number, frame.channel_id.hex(), rejection.value)
        else:
            self.dropped["channels_pruned"] += max(0, before - len(self._bank))
        raise NotEnoughData("channel bank: frame ingested")

    def clear(self) -> None:
        """Drop every buffered channel."""
        self._bank.reset()

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, (Reset, Activation)):
            self.clear()
