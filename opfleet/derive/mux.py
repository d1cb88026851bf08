"""The switches between pre-Holocene and Holocene stages.

The channel mux runs the channel bank or the channel assembler; the batch mux runs the batch
queue or the batch stream and validator. A reset picks by the L1 base's time (so an L1 reorg
back before Holocene switches back); the Holocene activation signal switches forward,
dropping the bank's channels and the queue's buffered batches but keeping the batch stage's
L1 origin window and any span batch in progress, as op-node's muxes do.

Spec: ``specs/protocol/holocene/derivation.md`` ("Activation"); op-node ``channel_mux.go``,
``batch_mux.go``; kona ``stages/channel/channel_provider.rs``, ``stages/batch/batch_provider.rs``.
"""

from __future__ import annotations

import copy

from opfleet.derive.batch_queue import BatchQueue
from opfleet.derive.batch_stream import BatchStream
from opfleet.derive.batch_validator import BatchValidator
from opfleet.derive.channel_assembler import ChannelAssembler
from opfleet.derive.channel_bank import ChannelBank
from opfleet.derive.interfaces import (
    Activation,
    BatchProvider,
    FlushChannel,
    FrameProvider,
    L2ChainProvider,
    Reset,
    Signal,
    Stage,
)
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.rollup_config import RollupConfig

HOLOCENE = "holocene"


class ChannelMux(Stage[FrameProvider]):
    """Channel stage: :class:`ChannelBank` before Holocene, :class:`ChannelAssembler` after."""

    name = "channel mux"

    def __init__(self, prev: FrameProvider, rollup_config: RollupConfig):
        super().__init__(prev)
        self.rollup_config = rollup_config
        self.bank = ChannelBank(prev, rollup_config)
        self.assembler = ChannelAssembler(prev, rollup_config)
        self._active: ChannelBank | ChannelAssembler = self.bank

    @property
    def holocene(self) -> bool:
        """Whether the Holocene channel assembler is in use."""
        return self._active is self.assembler

    async def next_channel(self) -> bytes:
        return await self._active.next_channel()

    def on_signal(self, signal: Signal) -> None:
        # Passed down once (by Stage.signal); the inner stages share ``prev`` and only clear
        # themselves.
        if isinstance(signal, Reset):
            self.bank.clear()
            self.assembler.clear()
            holocene = self.rollup_config.is_holocene(signal.l1_base.timestamp)
            self._active = self.assembler if holocene else self.bank
        elif isinstance(signal, Activation) and signal.fork == HOLOCENE:
            self.bank.clear()
            self._active = self.assembler


class BatchMux(Stage[BatchProvider]):
    """Batch stage: :class:`BatchQueue` before Holocene, :class:`BatchStream` then
    :class:`BatchValidator` after."""

    name = "batch mux"

    def __init__(self, prev: BatchProvider, rollup_config: RollupConfig, l2: L2ChainProvider):
        super().__init__(prev)
        self.rollup_config = rollup_config
        self.queue = BatchQueue(prev, rollup_config, l2)
        self.stream = BatchStream(prev, rollup_config, l2)
        self.validator = BatchValidator(self.stream, rollup_config)
        self._active: BatchQueue | BatchValidator = self.queue

    @property
    def holocene(self) -> bool:
        """Whether the Holocene batch stream and validator are in use."""
        return self._active is self.validator

    async def next_batch(self, parent: L2BlockRef) -> tuple[SingularBatch, bool]:
        return await self._active.next_batch(parent)

    def on_signal(self, signal: Signal) -> None:
        if isinstance(signal, Reset):
            self.queue.origins.reset(signal.l1_base)
            self.queue.clear()
            self.stream.adopt_span(())
            self.validator.origins.reset(signal.l1_base)
            holocene = self.rollup_config.is_holocene(signal.l1_base.timestamp)
            self._active = self.validator if holocene else self.queue
        elif isinstance(signal, Activation) and signal.fork == HOLOCENE:
            if self._active is self.queue:
                self.validator.origins = copy.copy(self.queue.origins)
                self.validator.origins.l1_blocks = list(self.queue.origins.l1_blocks)
                self.stream.adopt_span(self.queue.take_span())
                self.queue.clear()
                self._active = self.validator
        elif isinstance(signal, FlushChannel):
            self.stream.adopt_span(())
