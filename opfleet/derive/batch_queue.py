"""Batch Queue (before Holocene): buffer batches, take them in order, fill gaps with empty ones.

Batches are checked when they arrive (invalid ones are dropped at once) and buffered in
inclusion order; each call rechecks the buffer in order against the current safe head and
takes the first acceptable one (``future`` batches stay buffered, ``undecided`` stops the
scan). When nothing is acceptable and the epoch's sequencing window has expired, empty
batches are derived. Span batches are expanded into singular batches handed out one per call.

Spec: ``specs/protocol/derivation.md`` ("Batch Queue"), ``specs/protocol/delta/span-batches.md``
("Batch Queue"); op-node ``batch_queue.go``; kona ``stages/batch/batch_queue.rs``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter

from opfleet.derive.batches import BatchOrigins, BatchValidity, check_batch, span_singular_batches
from opfleet.derive.errors import CriticalError, EndOfData, NotEnoughData
from opfleet.derive.interfaces import Batch, BatchProvider, L2ChainProvider, Reset, Signal, Stage
from opfleet.errors import DecodeError
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.rollup_config import RollupConfig

log = logging.getLogger("opfleet.derive")


class BatchQueue(Stage[BatchProvider]):
    """Pre-Holocene batch stage.

    ``dropped`` counts dropped batches by the rule that dropped them; ``empty_batches``
    counts derived empty batches.
    """

    name = "batch queue"

    def __init__(self, prev: BatchProvider, rollup_config: RollupConfig, l2: L2ChainProvider):
        super().__init__(prev)
        self.rollup_config = rollup_config
        self.l2 = l2
        self.origins = BatchOrigins(rollup_config)
        self._batches: list[tuple[Batch, L1BlockRef]] = []
        self._next_span: list[SingularBatch] = []
        self.dropped: Counter[str] = Counter()
        self.empty_batches = 0

    @property
    def buffered(self) -> int:
        """Batches waiting in the queue."""
        return len(self._batches)

    def take_span(self) -> list[SingularBatch]:
        """Hand over the unread rest of the current span batch (at Holocene activation)."""
        span, self._next_span = self._next_span, []
        return span

    def _next_from_span(self, parent: L2BlockRef) -> SingularBatch | None:
        if not self._next_span:
            return None
        if self._next_span[0].timestamp != parent.timestamp + self.rollup_config.block_time:
            # The engine rejected an earlier block of this span: the rest cannot apply.
            log.warning("parent does not match the next span block: dropping the rest of the span")
            self.dropped["span_rest_after_rejected_block"] += len(self._next_span)
            self._next_span = []
            return None
        batch = self._next_span.pop(0)
        return dataclasses.replace(batch, parent_hash=parent.hash)

    async def next_batch(self, parent: L2BlockRef) -> tuple[SingularBatch, bool]:
        """The next batch to build on ``parent`` and whether it ends its span batch.

        Spec: specs/protocol/derivation.md, Batch Queue; op-node ``BatchQueue.NextBatch``.
        """
        from_span = self._next_from_span(parent)
        if from_span is not None:
            return from_span, not self._next_span
        prev_origin = self.current_origin()
        self.origins.update(prev_origin, parent)
        behind = self.origins.origin_behind(prev_origin, parent)
        out_of_data = False
        try:
            batch = await self.prev.next_batch()
        except EndOfData:
            out_of_data = True
        else:
            if not behind:
                await self._add_batch(batch, parent)
        if behind:
            # Drain what the pipeline reads before reaching the safe head's L1 origin.
            if out_of_data:
                raise EndOfData("batch queue: origin behind the safe head")
            raise NotEnoughData("batch queue: origin behind the safe head")
        found = await self._derive_next_batch(out_of_data, parent)
        if found is None:
            if out_of_data:
                raise EndOfData("batch queue: no batch for the next block yet")
            raise NotEnoughData("batch queue: no batch for the next block yet")
        if isinstance(found, SingularBatch):
            return found, True
        try:
            self._next_span = span_singular_batches(found, self.origins.l1_blocks, parent)
        except DecodeError as exc:
            raise CriticalError(f"accepted span batch cannot be expanded: {exc}") from None
        first = self._next_from_span(parent)
        assert first is not None  # an accepted span batch has a block after the parent
        return first, not self._next_span

    async def _add_batch(self, batch: Batch, parent: L2BlockRef) -> None:
        assert self.origins.origin is not None
        inclusion = self.origins.origin
        check = await check_batch(
            self.rollup_config, self.origins.l1_blocks, parent, batch, inclusion, self.l2
        )
        if check.validity in (BatchValidity.DROP, BatchValidity.PAST):
            self.dropped[check.reason] += 1
            log.warning("dropping batch at timestamp %d: %s", _timestamp(batch), check.reason)
            return
        self._batches.append((batch, inclusion))

    async def _derive_next_batch(self, out_of_data: bool, parent: L2BlockRef) -> Batch | None:
        self.origins.check_epoch(parent)
        remaining: list[tuple[Batch, L1BlockRef]] = []
        accepted: Batch | None = None
        for i, (batch, inclusion) in enumerate(self._batches):
            check = await check_batch(
                self.rollup_config, self.origins.l1_blocks, parent, batch, inclusion, self.l2
            )
            if check.validity is BatchValidity.FUTURE:
                remaining.append((batch, inclusion))
            elif check.validity is BatchValidity.ACCEPT:
                accepted = batch
                remaining.extend(self._batches[i + 1 :])
                break
            elif check.validity is BatchValidity.UNDECIDED:
                remaining.extend(self._batches[i:])
                self._batches = remaining
                return None
            else:
                self.dropped[check.reason] += 1
                log.warning("dropping batch at timestamp %d: %s", _timestamp(batch), check.reason)
        self._batches = remaining
        if accepted is not None:
            return accepted
        empty = self.origins.next_empty_batch(out_of_data, parent)
        if empty is not None:
            self.empty_batches += 1
        return empty

    def clear(self) -> None:
        self._batches.clear()
        self._next_span.clear()

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, Reset):
            self.origins.reset(signal.l1_base)
            self.clear()


def _timestamp(batch: Batch) -> int:
    return batch.timestamp
