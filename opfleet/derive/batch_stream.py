"""Batch Stream (Holocene): expand span batches into singular batches, checking their prefix.

Singular batches pass straight through. A span batch is checked with the span-prefix rules
(its blocks are checked one by one later, as singular batches, by the batch validator): a
``drop`` flushes the rest of the channel, ``past`` skips the span only. An accepted span is
handed out one singular batch per call, each with the current parent as its parent hash; a
block whose L1 origin is not known, or older than the parent's, makes the span invalid
(drop and flush, not a critical error).

Spec: ``specs/protocol/holocene/derivation.md`` ("Span Batches", "Fast Channel
Invalidation"); kona ``stages/batch/batch_stream.rs``; op-node ``BatchStage`` (which does this
and the validation in one stage).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence

from opfleet.derive.batches import (
    BatchValidity,
    check_span_batch_prefix,
    span_singular_batches,
)
from opfleet.derive.errors import CriticalError, NotEnoughData
from opfleet.derive.interfaces import (
    BatchProvider,
    FlushChannel,
    L2ChainProvider,
    Reset,
    Signal,
    Stage,
)
from opfleet.errors import DecodeError
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.rollup_config import RollupConfig

log = logging.getLogger("opfleet.derive")


class BatchStream(Stage[BatchProvider]):
    """Holocene span-batch stage. ``dropped`` counts span batches by rule."""

    name = "batch stream"

    def __init__(self, prev: BatchProvider, rollup_config: RollupConfig, l2: L2ChainProvider):
        super().__init__(prev)
        self.rollup_config = rollup_config
        self.l2 = l2
        self._span: list[SingularBatch] = []
        self.dropped: Counter[str] = Counter()

    @property
    def span_in_progress(self) -> bool:
        """Whether singular batches of a span batch are still waiting."""
        return bool(self._span)

    def adopt_span(self, batches: Sequence[SingularBatch]) -> None:
        """Continue a span batch the pre-Holocene batch queue had started (at activation)."""
        self._span = list(batches)

    def _next_from_span(self, parent: L2BlockRef) -> SingularBatch | None:
        if not self._span:
            return None
        if self._span[0].timestamp != parent.timestamp + self.rollup_config.block_time:
            log.warning("parent does not match the next span block: dropping the rest of the span")
            self.dropped["span_rest_after_rejected_block"] += 1
            self._span = []
            return None
        return dataclasses.replace(self._span.pop(0), parent_hash=parent.hash)

    async def next_batch(
        self, parent: L2BlockRef, l1_blocks: Sequence[L1BlockRef]
    ) -> SingularBatch:
        """The next singular batch candidate for ``parent``.

        Spec: specs/protocol/holocene/derivation.md, Span Batches.
        """
        cached = self._next_from_span(parent)
        if cached is not None:
            return cached
        batch = await self.prev.next_batch()
        if isinstance(batch, SingularBatch):
            return batch
        inclusion = self.current_origin()
        check, _ = await check_span_batch_prefix(
            self.rollup_config, l1_blocks, parent, batch, inclusion, self.l2
        )
        if check.validity is BatchValidity.FUTURE:
            raise CriticalError("impossible outcome 'future' for a Holocene span batch")
        if check.validity is not BatchValidity.ACCEPT:
            self.dropped[check.reason] += 1
            log.warning("span batch at timestamp %d: %s (%s)",
                        batch.timestamp, check.validity.value, check.reason)
            if check.validity is BatchValidity.DROP:
                self.signal(FlushChannel())
            raise NotEnoughData("batch stream: span batch not usable")
        try:
            self._span = span_singular_batches(batch, l1_blocks, parent)
        except DecodeError as exc:
            self.dropped["span block origin"] += 1
            log.warning("dropping span batch: %s", exc)
            self.signal(FlushChannel())
            raise NotEnoughData("batch stream: span batch dropped") from None
        first = self._next_from_span(parent)
        assert first is not None  # the prefix checks guarantee a block after the parent
        return first

    async def skip_batch(self) -> None:
        await self.prev.skip_batch()

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, (Reset, FlushChannel)):
            self._span = []
