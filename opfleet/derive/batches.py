"""Batch validity rules and the L1 origin window the batch stages share.

The rules return a :class:`BatchCheck`: one of the outcomes of the spec (drop, accept,
undecided, future; ``past`` from Holocene) and the rule that decided it. Holocene's outcome
changes are applied by the inclusion block's time: future batches are dropped, and batches
at or before the safe head are ``past`` (skipped silently) instead of dropped.

Spec: ``specs/protocol/derivation.md`` ("Batch Queue", "Batch format"),
``specs/protocol/delta/span-batches.md`` ("Batch Queue" rules),
``specs/protocol/holocene/derivation.md`` ("Batch Queue"), the ``isthmus``/``jovian``
derivation rules; op-node ``batches.go``, ``batch_queue.go`` (``baseBatchStage``); kona
``protocol/src/batch/{single,span}.rs``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from opfleet.derive.errors import CriticalError, ResetError, TemporaryError
from opfleet.derive.interfaces import Batch, L2ChainProvider, SpanBatch
from opfleet.errors import DecodeError
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.batch.span import SpanBatchElement
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.transactions import SET_CODE_TX_TYPE
from opfleet.protocol.upgrades import activation_block_must_be_empty

log = logging.getLogger("opfleet.derive")

class BatchValidity(enum.Enum):
    """Outcome of a batch check (op-node ``BatchValidity``)."""

    DROP = "drop"
    ACCEPT = "accept"
    UNDECIDED = "undecided"
    FUTURE = "future"
    PAST = "past"


@dataclass(frozen=True, slots=True)
class BatchCheck:
    """A validity outcome and the rule that produced it (for logs, statistics and tests)."""

    validity: BatchValidity
    reason: str = ""


ACCEPT = BatchCheck(BatchValidity.ACCEPT)


def _drop(reason: str) -> BatchCheck:
    return BatchCheck(BatchValidity.DROP, reason)


def _undecided(reason: str) -> BatchCheck:
    return BatchCheck(BatchValidity.UNDECIDED, reason)


def _check_transactions(
    rollup_config: RollupConfig, timestamp: int, transactions: Sequence[bytes]
) -> BatchCheck | None:
    """The per-transaction rules, and the empty-activation-block rule, for one L2 block."""
    if transactions and activation_block_must_be_empty(rollup_config, timestamp):
        return _drop("activation block must have no transactions")
    isthmus = rollup_config.is_isthmus(timestamp)
    for tx in transactions:
        if not tx:
            return _drop("empty transaction")
        if tx[0] == DEPOSIT_TX_TYPE:
            return _drop("deposit transaction in a batch")
        if tx[0] == SET_CODE_TX_TYPE and not isthmus:
            return _drop("set-code transaction before Isthmus")
    return None


def _check_drift(
    rollup_config: RollupConfig,
    timestamp: int,
    origin: L1BlockRef,
    has_txs: bool,
    origin_advanced: bool,
    next_origin: L1BlockRef | None,
) -> BatchCheck | None:
    """The sequencer-drift rule: past ``origin.time + max_drift`` only empty blocks that could
    not yet adopt the next L1 origin are allowed."""
    if timestamp <= origin.timestamp + rollup_config.max_sequencer_drift(origin.timestamp):
        return None
    if has_txs:
        return _drop("sequencer drift exceeded by a batch with transactions")
    if origin_advanced:
        return None
    if next_origin is None:
        return _undecided("need the next L1 origin to judge an empty batch past the drift")
    if timestamp >= next_origin.timestamp:
        return _drop("empty batch past the drift did not adopt the next L1 origin")
    return None


def check_singular_batch(
    rollup_config: RollupConfig,
    l1_blocks: Sequence[L1BlockRef],
    parent: L2BlockRef,
    batch: SingularBatch,
    inclusion: L1BlockRef,
) -> BatchCheck:
    """Validity of a singular batch on top of ``parent`` (the safe head).

    ``l1_blocks[0]`` is the current epoch (the parent's L1 origin, or one ahead), followed by
    the later L1 blocks seen so far; ``inclusion`` is the L1 block the batch was read from.

    Spec: specs/protocol/derivation.md, Batch Queue (singular batch rules); holocene/derivation.md.
    """
    cfg = rollup_config
    if not l1_blocks:
        return _undecided("no L1 blocks buffered")
    epoch = l1_blocks[0]
    holocene = cfg.is_holocene(inclusion.timestamp)
    next_timestamp = parent.timestamp + cfg.block_time
    if batch.timestamp > next_timestamp:
        if holocene:
            return _drop("future batch (Holocene)")
        return BatchCheck(BatchValidity.FUTURE, "batch for a later block")
    if batch.timestamp < next_timestamp:
        if holocene:
            return BatchCheck(BatchValidity.PAST, "batch at or before the safe head")
        return _drop("batch at or before the safe head")
    if batch.parent_hash != parent.hash:
        return _drop("parent hash does not match the safe head")
    if batch.epoch_num + cfg.seq_window_size < inclusion.number:
        return _drop("included after its sequencing window")
    if batch.epoch_num < epoch.number:
        return _drop("epoch older than the current epoch")
    if batch.epoch_num == epoch.number:
        origin = epoch
    elif batch.epoch_num == epoch.number + 1:
        if len(l1_blocks) < 2:
            return _undecided("batch advances the epoch, next L1 block not known yet")
        origin = l1_blocks[1]
    else:
        return _drop("epoch too far ahead")
    if batch.epoch_hash != origin.hash:
        return _drop("epoch hash does not match the L1 chain")
    if batch.timestamp < origin.timestamp:
        return _drop("L2 timestamp before its L1 origin")
    next_origin = l1_blocks[1] if len(l1_blocks) > 1 else None
    drift = _check_drift(
        cfg, batch.timestamp, origin, bool(batch.transactions),
        origin_advanced=origin.number != epoch.number, next_origin=next_origin,
    )
    if drift is not None:
        return drift
    return _check_transactions(cfg, batch.timestamp, batch.transactions) or ACCEPT


async def check_span_batch_prefix(
    rollup_config: RollupConfig,
    l1_blocks: Sequence[L1BlockRef],
    parent: L2BlockRef,
    batch: SpanBatch,
    inclusion: L1BlockRef,
    l2: L2ChainProvider,
) -> tuple[BatchCheck, L2BlockRef | None]:
    """The span-batch rules that do not look at individual blocks; also returns the span's
    parent block (the safe head, or an earlier safe block when the span overlaps the chain).

    Spec: specs/protocol/delta/span-batches.md ("Span batch validation"); holocene/derivation.md
    ("Span Batches"); op-node ``checkSpanBatchPrefix``.
    """
    cfg = rollup_config
    if not l1_blocks:
        return _undecided("no L1 blocks buffered"), None
    epoch = l1_blocks[0]
    start_epoch = batch.start_epoch_num
    batch_origin = epoch
    if start_epoch == epoch.number + 1:
        if len(l1_blocks) < 2:
            return _undecided("span batch advances the epoch, next L1 block not known yet"), None
        batch_origin = l1_blocks[1]
    if not cfg.is_delta(batch_origin.timestamp):
        return _drop("span batch with an L1 origin before Delta"), None
    holocene = cfg.is_holocene(inclusion.timestamp)
    next_timestamp = parent.timestamp + cfg.block_time
    if batch.timestamp > next_timestamp:
        if holocene:
            return _drop("future span batch (Holocene)"), None
        return BatchCheck(BatchValidity.FUTURE, "span batch for later blocks"), None
    if batch.last_timestamp < next_timestamp:
        if holocene:
            past = BatchCheck(BatchValidity.PAST, "span batch has no block after the safe head")
            return past, None
        return _drop("span batch has no block after the safe head"), None
    parent_block = parent
    if batch.timestamp < next_timestamp:
        if batch.timestamp > parent.timestamp:
            return _drop("span batch timestamp between the safe head and the next block"), None
        if (parent.timestamp - batch.timestamp) % cfg.block_time:
            return _drop("span batch timestamp not aligned to the safe chain"), None
        number = parent.number - (parent.timestamp - batch.timestamp) // cfg.block_time - 1
        try:
            parent_block = await l2.l2_block_ref(number)
        except TemporaryError as exc:
            return _undecided(f"cannot fetch overlapped L2 block {number}: {exc}"), None
    if not batch.check_parent_hash(parent_block.hash):
        return _drop("parent check does not match"), parent_block
    if start_epoch + cfg.seq_window_size < inclusion.number:
        return _drop("included after its sequencing window"), parent_block
    if start_epoch > parent_block.l1_origin.number + 1:
        return _drop("start epoch too far ahead"), parent_block
    end_epoch = batch.end_epoch_num
    for block in l1_blocks:
        if block.number == end_epoch:
            if not batch.check_origin_hash(block.hash):
                return _drop("L1 origin check does not match"), parent_block
            break
    else:
        return _undecided("need more L1 blocks to check the span's last origin"), parent_block
    if start_epoch < parent_block.l1_origin.number:
        return _drop("start epoch older than the parent's"), parent_block
    return ACCEPT, parent_block


def _new_blocks_with_origins(
    batch: SpanBatch, l1_blocks: Sequence[L1BlockRef], parent: L2BlockRef
) -> Iterator[tuple[int, SpanBatchElement, int]]:
    """The span's blocks after ``parent``, each as ``(index in the span, block, index of its L1
    origin in l1_blocks)``, lazily (so a rule on an earlier block decides first).

    Raises :class:`DecodeError` at a block whose epoch is older than the parent's or not among
    ``l1_blocks``. Spec: specs/protocol/delta/span-batches.md; op-node ``checkSpanBatch``,
    ``SpanBatch.GetSingularBatches``.
    """
    origin_index = 0
    for i, element in enumerate(batch.elements):
        if element.timestamp <= parent.timestamp:
            continue
        if element.epoch_num < parent.l1_origin.number:
            raise DecodeError(f"span block {i}: epoch {element.epoch_num} older than the parent's")
        for j in range(origin_index, len(l1_blocks)):
            if l1_blocks[j].number == element.epoch_num:
                origin_index = j
                break
        else:
            raise DecodeError(f"span block {i}: L1 origin {element.epoch_num} unknown "
                              "(not among the buffered L1 blocks)")
        yield i, element, origin_index


async def check_span_batch(
    rollup_config: RollupConfig,
    l1_blocks: Sequence[L1BlockRef],
    parent: L2BlockRef,
    batch: SpanBatch,
    inclusion: L1BlockRef,
    l2: L2ChainProvider,
) -> BatchCheck:
    """Full validity of a span batch (pre-Holocene batch queue): the prefix rules, every new
    block's origin, time and drift rules, and the overlap with the safe chain.

    Spec: specs/protocol/delta/span-batches.md ("Span batch validation"); op-node
    ``checkSpanBatch``.
    """
    cfg = rollup_config
    prefix, parent_block = await check_span_batch_prefix(
        cfg, l1_blocks, parent, batch, inclusion, l2
    )
    if prefix.validity is not BatchValidity.ACCEPT:
        return prefix
    assert parent_block is not None
    origin_advanced = batch.start_epoch_num == parent_block.l1_origin.number + 1
    try:
        for i, element, origin_index in _new_blocks_with_origins(batch, l1_blocks, parent):
            origin = l1_blocks[origin_index]
            if i > 0:
                origin_advanced = element.epoch_num > batch.elements[i - 1].epoch_num
            if element.timestamp < origin.timestamp:
                return _drop(f"block {i}: L2 timestamp before its L1 origin")
            next_origin = l1_blocks[origin_index + 1] if origin_index + 1 < len(l1_blocks) else None
            drift = _check_drift(
                cfg, element.timestamp, origin, bool(element.transactions), origin_advanced,
                next_origin,
            )
            if drift is not None:
                return drift
            bad = _check_transactions(cfg, element.timestamp, element.transactions)
            if bad is not None:
                return bad
    except DecodeError as exc:  # an epoch older than the parent's, or an unknown L1 origin
        return _drop(exc.reason)
    if batch.timestamp < parent.timestamp + cfg.block_time:
        for i in range(parent.number - parent_block.number):
            number = parent_block.number + i + 1
            try:
                safe_txs = await l2.l2_transactions_by_number(number)
                safe_ref = await l2.l2_block_ref(number)
            except TemporaryError as exc:
                return _undecided(f"cannot fetch overlapped L2 block {number}: {exc}")
            user_txs = [tx for tx in safe_txs if tx[:1] != bytes([DEPOSIT_TX_TYPE])]
            element = batch.elements[i]
            if list(element.transactions) != user_txs:
                return _drop(f"overlapped block {number}: transactions differ from the safe chain")
            if safe_ref.l1_origin.number != element.epoch_num:
                return _drop(f"overlapped block {number}: L1 origin differs from the safe chain")
    return ACCEPT


async def check_batch(
    rollup_config: RollupConfig,
    l1_blocks: Sequence[L1BlockRef],
    parent: L2BlockRef,
    batch: Batch,
    inclusion: L1BlockRef,
    l2: L2ChainProvider,
) -> BatchCheck:
    """:func:`check_singular_batch` or :func:`check_span_batch`, by the batch's type."""
    if isinstance(batch, SingularBatch):
        return check_singular_batch(rollup_config, l1_blocks, parent, batch, inclusion)
    return await check_span_batch(rollup_config, l1_blocks, parent, batch, inclusion, l2)


def span_singular_batches(
    batch: SpanBatch, l1_blocks: Sequence[L1BlockRef], parent: L2BlockRef
) -> list[SingularBatch]:
    """The span's blocks after ``parent`` as singular batches, epoch hashes from ``l1_blocks``.

    ``parent_hash`` is left zero: the batch stages set it to the current parent as each batch
    is handed out. Raises :class:`DecodeError` when a block's epoch is older than the
    parent's or not among ``l1_blocks`` (the span prefix checks do not rule that out).

    Spec: specs/protocol/delta/span-batches.md; op-node ``SpanBatch.GetSingularBatches``.
    """
    return [
        SingularBatch(
            parent_hash=bytes(32),
            epoch_num=element.epoch_num,
            epoch_hash=l1_blocks[origin_index].hash,
            timestamp=element.timestamp,
            transactions=element.transactions,
        )
        for _, element, origin_index in _new_blocks_with_origins(batch, l1_blocks, parent)
    ]


class BatchOrigins:
    """The L1 origin window shared by the batch queue and the Holocene batch validator.

    ``l1_blocks`` starts at the safe head's L1 origin and grows with each new pipeline
    origin; ``origin`` is the origin this stage last saw. Also derives the empty batches that
    fill an epoch once its sequencing window has expired.

    Spec: specs/protocol/derivation.md, Batch Queue; op-node ``baseBatchStage``.
    """

    def __init__(self, rollup_config: RollupConfig):
        self.rollup_config = rollup_config
        self.origin: L1BlockRef | None = None
        self.l1_blocks: list[L1BlockRef] = []

    def reset(self, base: L1BlockRef) -> None:
        # The base is kept as the first origin: it is the epoch to build on at genesis.
        self.origin = base
        self.l1_blocks = [base]

    def origin_behind(self, prev_origin: L1BlockRef, parent: L2BlockRef) -> bool:
        """Whether the pipeline has not reached the safe head's L1 origin yet."""
        return prev_origin.number < parent.l1_origin.number

    def update(self, prev_origin: L1BlockRef, parent: L2BlockRef) -> None:
        """Track a new pipeline origin and drop epochs older than the parent's L1 origin."""
        behind = self.origin_behind(prev_origin, parent)
        if self.origin != prev_origin:
            self.origin = prev_origin
            if not behind:
                self.l1_blocks.append(prev_origin)
            else:
                self.l1_blocks.clear()
        if self.l1_blocks and parent.l1_origin.number > self.l1_blocks[0].number:
            for i, block in enumerate(self.l1_blocks):
                if block.number == parent.l1_origin.number:
                    del self.l1_blocks[:i]
                    break

    def check_epoch(self, parent: L2BlockRef) -> None:
        """The buffered epoch must be the parent's L1 origin or the block after it."""
        if not self.l1_blocks:
            raise CriticalError("batch stage has no L1 origin buffered")
        epoch = self.l1_blocks[0]
        if parent.l1_origin != epoch.id and parent.l1_origin.number != epoch.number - 1:
            raise ResetError(
                f"buffered L1 epoch {epoch.number} does not match the safe head's L1 origin "
                f"{parent.l1_origin.number}"
            )

    def next_empty_batch(self, out_of_data: bool, parent: L2BlockRef) -> SingularBatch | None:
        """An empty batch once the current epoch's sequencing window has expired, else None.

        Forced when ``epoch + seq_window_size`` is behind the origin, or equal to it and the
        origin is drained. Fills the epoch until the next L1 origin's time (always at least
        the epoch's first block), then moves the window to the next epoch.

        Spec: specs/protocol/derivation.md, Batch Queue (empty batches); op-node
        ``deriveNextEmptyBatch``.
        """
        assert self.origin is not None
        epoch = self.l1_blocks[0]
        expiry = epoch.number + self.rollup_config.seq_window_size
        force = expiry < self.origin.number or (expiry == self.origin.number and out_of_data)
        if not force or len(self.l1_blocks) < 2:
            return None
        next_epoch = self.l1_blocks[1]
        next_timestamp = parent.timestamp + self.rollup_config.block_time
        first_of_epoch = epoch.number == parent.l1_origin.number + 1
        if next_timestamp < next_epoch.timestamp or first_of_epoch:
            return SingularBatch(
                parent_hash=parent.hash,
                epoch_num=epoch.number,
                epoch_hash=epoch.hash,
                timestamp=next_timestamp,
            )
        del self.l1_blocks[0]
        return None
