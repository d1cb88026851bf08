"""A scripted rollup for pipeline tests: fake L1 and L2, a sequencer, a batcher, a pipeline."""

from __future__ import annotations

from collections.abc import Sequence

from opfleet.derive.interfaces import AttributesWithParent
from opfleet.derive.pipeline import Pipeline
from opfleet.protocol.batch.reader import Batch
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.testing.derive import (
    Batcher,
    FakeL1Chain,
    FakeL2Chain,
    Sequencer,
    channel_data,
    channel_id,
    derive_all,
    make_rollup_config,
    split_frames,
)


class Rollup:
    """L1 with 12 s blocks, L2 with 2 s blocks (6 per epoch) unless overridden."""

    def __init__(self, *, l1_block_time: int = 12, **cfg):
        self.l1 = FakeL1Chain(block_time=l1_block_time)
        self.cfg = make_rollup_config(self.l1, **cfg)
        self.l2 = FakeL2Chain(self.cfg)
        self.seq = Sequencer(self.cfg)
        self.batcher = Batcher()
        self.pipeline = Pipeline(self.cfg, chain=self.l1, l2=self.l2, blobs=self.l1.beacon)
        self.pipeline.reset(self.l1.ref(0), self.cfg.genesis.system_config)
        self._channels = 0

    @property
    def genesis_time(self) -> int:
        return self.cfg.genesis.l2_time

    def epoch(self, number: int) -> L1BlockRef:
        return self.l1.ref(number)

    def channel_tx(
        self,
        batches: Sequence[Batch],
        *,
        batcher: Batcher | None = None,
        compression: str = "zlib",
        max_frame_data: int = 1_000_000,
    ) -> bytes:
        self._channels += 1
        frames = split_frames(
            channel_id(f"channel {self._channels}"), channel_data(batches, compression=compression),
            max_frame_data=max_frame_data,
        )
        return (batcher or self.batcher).frames_tx(frames)

    def post(self, batches: Sequence[Batch], **kw) -> L1BlockRef:
        """Mine an L1 block holding one channel of ``batches``."""
        return self.l1.mine([self.channel_tx(batches, **kw)])

    async def derive(self) -> list[AttributesWithParent]:
        return await derive_all(self.pipeline, self.l2)
