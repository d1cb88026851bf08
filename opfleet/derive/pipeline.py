"""The derivation pipeline: the stages built bottom-up in spec order, stepped by a driver.

::

    pipeline = Pipeline(rollup_config, chain=l1, l2=l2_chain, blobs=beacon)
    start = await find_sync_start(rollup_config, l1, l2_chain, safe_head)
    pipeline.reset(start.l1_base, start.system_config)
    while True:
        result = await pipeline.step(safe_head)
        if result.kind is StepKind.PREPARED_ATTRIBUTES:
            safe_head = await engine.process(result.attributes)   # the driver's job
        elif result.kind is StepKind.EOF:
            await wait_for_new_l1_head()

``step`` raises :class:`~opfleet.errors.TemporaryError` (retry later),
:class:`~opfleet.errors.ResetError` (reset, as after a reorg) and
:class:`~opfleet.errors.CriticalError` (stop); see :mod:`opfleet.derive.errors`.

Spec: ``specs/protocol/derivation.md`` ("L2 Chain Derivation Pipeline", "Resetting the
Pipeline"); op-node ``pipeline.go`` (``DerivationPipeline.Step``); kona ``pipeline/core.rs``.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from opfleet.derive.attributes import AttributesBuilder, AttributesQueue
from opfleet.derive.channel_reader import ChannelReader
from opfleet.derive.data_sources import EthereumDataSource
from opfleet.derive.errors import EndOfData, NotEnoughData, ResetError
from opfleet.derive.frame_queue import FrameQueue
from opfleet.derive.interfaces import (
    AttributesWithParent,
    BlobProvider,
    ChainProvider,
    DataAvailabilityProvider,
    L2ChainProvider,
    Reset,
)
from opfleet.derive.l1_retrieval import L1Retrieval
from opfleet.derive.l1_traversal import L1Traversal
from opfleet.derive.mux import BatchMux, ChannelMux
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.l1_block_info import BlobSchedule
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import SystemConfig


class StepKind(enum.Enum):
    """What one :meth:`Pipeline.step` did."""

    PREPARED_ATTRIBUTES = "prepared_attributes"
    """``StepResult.attributes`` holds the next block's attributes."""
    ADVANCED_ORIGIN = "advanced_origin"
    """Every stage drained the L1 origin; the pipeline moved to the next L1 block."""
    NOT_ENOUGH_DATA = "not_enough_data"
    """A stage made progress without output: step again at once."""
    EOF = "eof"
    """The pipeline is at the L1 head: step again once L1 has a new block."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """The outcome of one step and the pipeline's L1 origin after it."""

    kind: StepKind
    origin: L1BlockRef | None
    attributes: AttributesWithParent | None = None


def _frozen(counter: Counter[str]) -> Mapping[str, int]:
    return MappingProxyType({k: v for k, v in counter.items() if v})


@dataclass(frozen=True, slots=True)
class PipelineStatistics:
    """A snapshot of a :class:`Pipeline` (what RPC, metrics and the TUI read)."""

    origin: L1BlockRef | None
    holocene_stages: bool
    """Whether the Holocene channel assembler and batch stream/validator are in use."""
    resets: int
    l1_blocks_traversed: int
    data_items_read: int
    frames_read: int
    channels_read: int
    batches_read: int
    empty_batches: int
    attributes_prepared: int
    buffered_channels: int
    """Channels in the pre-Holocene channel bank."""
    buffered_batches: int
    """Batches waiting in the pre-Holocene batch queue."""
    data_dropped: Mapping[str, int]
    """Data items dropped, by reason (unparseable batcher data, undecodable blobs)."""
    frames_dropped: Mapping[str, int]
    channels_dropped: Mapping[str, int]
    batches_dropped: Mapping[str, int]
    """Batches dropped (or skipped as past), by the rule that decided."""


class Pipeline:
    """The derivation pipeline for one rollup.

    ``chain``/``blobs``/``l2`` are the providers (see :mod:`opfleet.derive.interfaces`);
    ``data_source`` replaces the L1 calldata/blob source (e.g. a plugin's); ``blob_schedule``
    gives the L1's blob fee schedule when the L1 is not a known public chain.
    """

    def __init__(
        self,
        rollup_config: RollupConfig,
        *,
        chain: ChainProvider,
        l2: L2ChainProvider,
        blobs: BlobProvider | None = None,
        data_source: DataAvailabilityProvider | None = None,
        blob_schedule: BlobSchedule | None = None,
    ):
        cfg = rollup_config
        self.rollup_config = cfg
        self.traversal = L1Traversal(chain, cfg)
        self.data_source = data_source or EthereumDataSource(cfg, chain, blobs)
        self.retrieval = L1Retrieval(self.traversal, self.data_source)
        self.frame_queue = FrameQueue(self.retrieval, cfg)
        self.channel_mux = ChannelMux(self.frame_queue, cfg)
        self.channel_reader = ChannelReader(self.channel_mux, cfg)
        self.batch_mux = BatchMux(self.channel_reader, cfg, l2)
        self.builder = AttributesBuilder(cfg, chain, l2, blob_schedule=blob_schedule)
        self.attributes_queue = AttributesQueue(self.batch_mux, self.builder, cfg)
        self._resets = 0

    @property
    def origin(self) -> L1BlockRef | None:
        """The L1 block the pipeline is reading."""
        return self.attributes_queue.origin

    def reset(self, l1_base: L1BlockRef, system_config: SystemConfig) -> None:
        """Restart from ``l1_base`` with ``system_config``, emptying every stage
        (see :func:`opfleet.derive.reset.find_sync_start` for choosing them).

        Spec: specs/protocol/derivation.md, Resetting the Pipeline.
        """
        self.attributes_queue.signal(Reset(l1_base, system_config))
        self._resets += 1

    async def step(self, safe_head: L2BlockRef) -> StepResult:
        """Try to derive the attributes of the block after ``safe_head``; see :class:`StepKind`.

        Spec: specs/protocol/derivation.md, L2 Chain Derivation Pipeline; op-node
        ``DerivationPipeline.Step``.
        """
        if self.origin is None:
            raise ResetError("the derivation pipeline has not been reset yet")
        try:
            attributes = await self.attributes_queue.next_attributes(safe_head)
        except NotEnoughData:
            return StepResult(StepKind.NOT_ENOUGH_DATA, self.origin)
        except EndOfData:
            try:
                activation = await self.attributes_queue.advance_origin()
            except EndOfData:
                return StepResult(StepKind.EOF, self.origin)
            if activation is not None:
                self.attributes_queue.signal(activation)
            return StepResult(StepKind.ADVANCED_ORIGIN, self.origin)
        return StepResult(StepKind.PREPARED_ATTRIBUTES, self.origin, attributes)

    async def next_attributes(
        self, safe_head: L2BlockRef, *, max_steps: int | None = None
    ) -> AttributesWithParent | None:
        """Step until attributes are ready (returned) or the L1 head is reached (``None``).

        ``max_steps`` bounds the loop (``None``: unbounded); past it, ``None`` is returned too.
        """
        steps = 0
        while max_steps is None or steps < max_steps:
            steps += 1
            result = await self.step(safe_head)
            if result.kind is StepKind.PREPARED_ATTRIBUTES:
                return result.attributes
            if result.kind is StepKind.EOF:
                return None
        return None

    def statistics(self) -> PipelineStatistics:
        """An immutable snapshot of the pipeline's counters."""
        channels_dropped: Counter[str] = Counter()
        frames_dropped: Counter[str] = Counter()
        for stage in (self.channel_mux.bank, self.channel_mux.assembler):
            for reason, count in stage.dropped.items():
                (channels_dropped if reason.startswith("channels_") else frames_dropped)[
                    reason.removeprefix("channels_")
                ] += count
        frames_dropped["holocene_pruned"] += self.frame_queue.dropped["holocene_pruned"]
        for reason in ("bad_compression", "channel_rest", "flushed"):
            channels_dropped[reason] += self.channel_reader.dropped[reason]
        batches_dropped: Counter[str] = Counter()
        before_delta = self.channel_reader.dropped["span_before_delta"]
        batches_dropped["span batch before Delta"] += before_delta
        mux = self.batch_mux
        for counter in (mux.queue.dropped, mux.stream.dropped, mux.validator.dropped):
            batches_dropped.update(counter)
        data_dropped: Counter[str] = Counter()
        data_dropped["unparseable_data"] += self.frame_queue.dropped["unparseable_data"]
        if isinstance(self.data_source, EthereumDataSource):
            data_dropped.update(self.data_source.skipped)
        return PipelineStatistics(
            origin=self.origin,
            holocene_stages=self.batch_mux.holocene,
            resets=self._resets,
            l1_blocks_traversed=self.traversal.blocks_traversed,
            data_items_read=self.retrieval.items_read,
            frames_read=self.frame_queue.frames_read,
            channels_read=(
                self.channel_mux.bank.channels_read + self.channel_mux.assembler.channels_read
            ),
            batches_read=self.channel_reader.batches_read,
            empty_batches=mux.queue.empty_batches + mux.validator.empty_batches,
            attributes_prepared=self.attributes_queue.attributes_prepared,
            buffered_channels=self.channel_mux.bank.channel_count,
            buffered_batches=mux.queue.buffered,
            data_dropped=_frozen(data_dropped),
            frames_dropped=_frozen(frames_dropped),
            channels_dropped=_frozen(channels_dropped),
            batches_dropped=_frozen(batches_dropped),
        )
