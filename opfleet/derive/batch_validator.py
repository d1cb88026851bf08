"""Batch Validator (Holocene): check each singular batch in order, no buffering.

Every candidate from the batch stream is checked with the singular-batch rules (Holocene
outcomes): accepted batches go on at once; ``past`` batches are skipped; a ``drop`` flushes
the rest of the channel and span batch. When the stream runs dry and the epoch's sequencing
window has expired, empty batches are derived.

Spec: ``specs/protocol/holocene/derivation.md`` ("Batch Queue", "Fast Channel Invalidation");
op-node ``batch_stage.go``; kona ``stages/batch/batch_validator.rs``. As op-node, a batch's
parent hash is checked (kona overwrites it with the parent's: see the reference's DIVERGENCE).
"""

from __future__ import annotations

import logging
from collections import Counter

from opfleet.derive.batches import BatchOrigins, BatchValidity, check_singular_batch
from opfleet.derive.errors import CriticalError, EndOfData, NotEnoughData
from opfleet.derive.interfaces import (
    BatchStreamProvider,
    FlushChannel,
    Reset,
    Signal,
    Stage,
)
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.rollup_config import RollupConfig

log = logging.getLogger("opfleet.derive")


class BatchValidator(Stage[BatchStreamProvider]):
    """Holocene batch stage. ``dropped`` counts batches by rule (``past`` ones included)."""

    name = "batch validator"

    def __init__(self, prev: BatchStreamProvider, rollup_config: RollupConfig):
        super().__init__(prev)
        self.rollup_config = rollup_config
        self.origins = BatchOrigins(rollup_config)
        self.dropped: Counter[str] = Counter()
        self.empty_batches = 0

    async def next_batch(self, parent: L2BlockRef) -> tuple[SingularBatch, bool]:
        """The next valid batch for ``parent``; from Holocene every batch ends its span for
        safety purposes (blocks become safe at once), so the flag is always true.

        Spec: specs/protocol/holocene/derivation.md, Batch Queue; op-node ``BatchStage.NextBatch``.
        """
        origin = self.current_origin()
        origins = self.origins
        origins.update(origin, parent)
        if origins.origin_behind(origin, parent) or parent.l1_origin.number == origin.number:
            # Batches read up to the safe head's L1 origin can only be past ones: drain them.
            await self.prev.skip_batch()
            raise NotEnoughData("batch validator: draining up to the safe head's L1 origin")
        if len(origins.l1_blocks) < 2:
            raise CriticalError(
                f"batch validator: expected the safe head's L1 origin and a later block buffered "
                f"(origin {origin.number}, safe head origin {parent.l1_origin.number})"
            )
        origins.check_epoch(parent)
        try:
            batch = await self.prev.next_batch(parent, origins.l1_blocks)
        except EndOfData:
            empty = origins.next_empty_batch(True, parent)
            if empty is None:
                raise
            self.empty_batches += 1
            return empty, True
        check = check_singular_batch(self.rollup_config, origins.l1_blocks, parent, batch, origin)
        if check.validity is BatchValidity.ACCEPT:
            return batch, True
        if check.validity is BatchValidity.FUTURE:
            raise CriticalError("impossible outcome 'future' for a Holocene batch")
        if check.validity is not BatchValidity.UNDECIDED:
            self.dropped[check.reason] += 1
        log.warning("batch at timestamp %d: %s (%s)",
                    batch.timestamp, check.validity.value, check.reason)
        if check.validity is BatchValidity.DROP:
            self.prev.signal(FlushChannel())
        raise NotEnoughData("batch validator: batch not usable")

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, Reset):
            self.origins.reset(signal.l1_base)
