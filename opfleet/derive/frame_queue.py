"""Frame Queue: the frames of each data item, all or nothing; Holocene prunes them.

Spec: ``specs/protocol/derivation.md`` ("Frame Queue", "Frame Format"),
``specs/protocol/holocene/derivation.md`` ("Frame Queue"); op-node ``frame_queue.go``; kona
``stages/frame_queue.rs``.
"""

from __future__ import annotations

import logging
from collections import Counter, deque

from opfleet.derive.errors import NotEnoughData
from opfleet.derive.interfaces import DataProvider, Reset, Signal, Stage
from opfleet.errors import DecodeError
from opfleet.protocol.frame import Frame, parse_frames, prune_frame_queue
from opfleet.protocol.rollup_config import RollupConfig

log = logging.getLogger("opfleet.derive")


class FrameQueue(Stage[DataProvider]):
    """Parses data items into frames and hands them out one by one.

    The queue is refilled (with one data item) only when empty. A data item that does not
    parse is dropped whole. From Holocene (by the origin's time) the new frames are pruned to
    the in-order, contiguous ones (``prune_frame_queue``).

    ``dropped`` counts ``"unparseable_data"`` (data items) and ``"holocene_pruned"`` (frames).
    """

    name = "frame queue"

    def __init__(self, prev: DataProvider, rollup_config: RollupConfig):
        super().__init__(prev)
        self.rollup_config = rollup_config
        self._frames: deque[Frame] = deque()
        self.frames_read = 0
        self.dropped: Counter[str] = Counter()

    async def next_frame(self) -> Frame:
        """The next frame; :class:`NotEnoughData` after loading an item that gave none.

        Spec: specs/protocol/derivation.md, Frame Queue; holocene/derivation.md, Frame Queue.
        """
        if not self._frames:
            await self._load_frames()
        if not self._frames:
            raise NotEnoughData("frame queue: data item held no usable frames")
        return self._frames.popleft()

    async def _load_frames(self) -> None:
        data = await self.prev.next_data()
        try:
            frames = parse_frames(data)
        except DecodeError as exc:
            self.dropped["unparseable_data"] += 1
            log.warning("dropping batcher data that does not parse into frames: %s", exc)
            return
        origin = self.origin
        if origin is not None and self.rollup_config.is_holocene(origin.timestamp):
            kept = prune_frame_queue(frames)
            self.dropped["holocene_pruned"] += len(frames) - len(kept)
            frames = kept
        self.frames_read += len(frames)
        self._frames.extend(frames)

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, Reset):
            self._frames.clear()
