"""Channel Assembler (from Holocene): one staging channel, frames strictly in order.

A stage around the pure :class:`opfleet.protocol.channel.ChannelAssembler`: each call ingests
one frame and returns the channel once its closing frame arrives.

Spec: ``specs/protocol/holocene/derivation.md`` ("Channel Stage"); op-node
``channel_assembler.go``; kona ``stages/channel/channel_assembler.rs``.
"""

from __future__ import annotations

import logging
from collections import Counter

from opfleet.derive.errors import NotEnoughData
from opfleet.derive.interfaces import Activation, FrameProvider, Reset, Signal, Stage
from opfleet.protocol.channel import ChannelAssembler as _Assembler
from opfleet.protocol.rollup_config import RollupConfig

log = logging.getLogger("opfleet.derive")


def _never(_time: int) -> bool:
    return False


class ChannelAssembler(Stage[FrameProvider]):
    """Holocene channel stage.

    ``dropped`` counts dropped frames (``"not_next_frame"``: no open channel, another channel, out
    of order, duplicate) and dropped channels (``"channels_timed_out"``, ``"channels_replaced"``
    by a new first frame, ``"channels_too_large"``).
    """

    name = "channel assembler"

    def __init__(self, prev: FrameProvider, rollup_config: RollupConfig):
        super().__init__(prev)
        self.rollup_config = rollup_config
        self._assembler = _Assembler(
            rollup_channel_timeout=rollup_config.channel_timeout,
            is_fjord=rollup_config.is_fjord,
            is_granite=_never,  # applied through the timeout value, see ChannelBank
        )
        self.channels_read = 0
        self.dropped: Counter[str] = Counter()

    async def next_channel(self) -> bytes:
        """Ingest one frame; the channel's bytes once complete, else :class:`NotEnoughData`.

        Spec: specs/protocol/holocene/derivation.md, Channel Stage.
        """
        frame = await self.prev.next_frame()
        origin = self.current_origin()
        cfg = self.rollup_config
        timeout = cfg.channel_timeout_at(origin.timestamp)
        self._assembler.rollup_channel_timeout = timeout
        staged = self._assembler.channel
        if staged is not None and staged.timed_out(timeout, origin.number):
            self.dropped["channels_timed_out"] += 1
            staged = None
        elif staged is not None and frame.frame_number == 0:
            self.dropped["channels_replaced"] += 1
        # The frame fits the staging channel if it opens a new one or is exactly the next frame.
        fits = frame.frame_number == 0 or (
            staged is not None
            and staged.channel_id == frame.channel_id
            and staged.frame_count == frame.frame_number
        )
        data = self._assembler.ingest_frame(frame, origin.number, origin.timestamp)
        if data is not None:
            self.channels_read += 1
            return data
        if not fits:
            self.dropped["not_next_frame"] += 1
            log.warning("channel assembler: dropping frame %d of channel 0x%s",
                        frame.frame_number, frame.channel_id.hex())
        elif self._assembler.channel is None:
            self.dropped["channels_too_large"] += 1
        raise NotEnoughData("channel assembler: frame ingested")

    def clear(self) -> None:
        """Drop the staging channel."""
        self._assembler.reset()

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, (Reset, Activation)):
            self.clear()

