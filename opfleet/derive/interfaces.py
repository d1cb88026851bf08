"""The seams of the derivation pipeline: provider interfaces, signals, what the stages hand
each other (:class:`SpanBatch`, :data:`Batch`, :class:`AttributesWithParent`) and the
:class:`Stage` plumbing they share.

Providers are the only I/O. The pipeline needs three (kona ``traits/providers.rs``):

- :class:`ChainProvider` (L1 execution layer): a block ref by number, and a block with its raw
  transactions and receipts by hash. ``opfleet.providers.l1.L1Provider`` satisfies it as is.
- :class:`BlobProvider` (L1 beacon node): blobs by (index in block, versioned hash).
  ``opfleet.providers.beacon.BeaconClient`` satisfies it as is.
- :class:`L2ChainProvider` (L2 execution layer, the chain derived so far): a block ref, the
  system config and the transactions of an L2 block, by number.

Stages (spec order, each pulling from the one before)::

    L1Traversal     next_l1_block()                 -> L1BlockRef (once per origin)
    L1Retrieval     next_data()                     -> bytes (one batcher tx or blob)
    FrameQueue      next_frame()                    -> Frame
    ChannelMux      next_channel()                  -> bytes (ChannelBank | ChannelAssembler)
    ChannelReader   next_batch()                    -> SingularBatch | SpanBatch
    [BatchStream    next_batch(parent, l1_blocks)   -> SingularBatch          (Holocene)]
    BatchMux        next_batch(parent)              -> (SingularBatch, is_last_in_span)
                                                       (BatchQueue | BatchValidator)
    AttributesQueue next_attributes(parent)         -> AttributesWithParent

Every stage also has the common surface of :class:`OriginStage`: ``origin`` and
``advance_origin()`` (both handed down to L1 traversal, so the whole pipeline shares one L1
origin) and ``signal(sig)``, which passes the signal down first and then clears the stage's
own buffers; the stages above L1 traversal get it from :class:`Stage`. Pull methods are ``async`` because providers may block; the stages themselves
make no trio calls, so any async runner can drive them.

Spec: ``specs/protocol/derivation.md`` ("L2 Chain Derivation Pipeline"); op-node declares each
input interface next to its consumer (``NextDataProvider`` in ``frame_queue.go``); kona
``crates/protocol/derive/src/traits``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from opfleet.derive.errors import ResetError
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.batch.span import RawSpanBatch, SpanBatchElement
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.engine_api import PayloadAttributes
from opfleet.protocol.frame import Frame
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import SystemConfig

if TYPE_CHECKING:
    from opfleet.protocol.ethjson import L1Block, Receipt


# --- signals ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reset:
    """Restart derivation from ``l1_base`` with ``system_config`` (the config of the L2 block
    the pipeline restarts from). Every stage empties its buffers; the channel and batch muxes
    pick the pre-Holocene or Holocene stage by ``l1_base.timestamp``.

    Spec: ``specs/protocol/derivation.md`` ("Resetting the Pipeline").
    """

    l1_base: L1BlockRef
    system_config: SystemConfig


@dataclass(frozen=True, slots=True)
class Activation:
    """A fork that changes the stages activated at L1 origin ``origin`` (only ``"holocene"``).

    Emitted by L1 traversal when the origin crosses the fork time. The channel mux switches
    to the channel assembler (dropping the channel bank); the batch mux switches to the batch
    stream and validator, keeping the buffered L1 origins but dropping buffered batches.

    Spec: ``specs/protocol/holocene/derivation.md`` ("Activation"); op-node ``ForkTransformer``.
    """

    fork: str
    origin: L1BlockRef


@dataclass(frozen=True, slots=True)
class FlushChannel:
    """Holocene: drop the rest of the channel being read (and of the span batch being expanded).

    Only the channel reader and the batch stages act on it; lower stages pass it down and
    keep their state (op-node ``FlushChannel``; kona's assembler also drops its staging
    channel, which op-node does not).

    Spec: ``specs/protocol/holocene/derivation.md`` ("Fast Channel Invalidation").
    """


Signal = Reset | Activation | FlushChannel


# --- what the stages hand out -----------------------------------------------------------------

_CHECK_LENGTH = 20


@dataclass(frozen=True, slots=True)
class SpanBatch:
    """A decoded span batch with its per-block values derived (timestamps, L1 origin numbers,
    transactions rebuilt with the L2 chain id).

    Spec: ``specs/protocol/delta/span-batches.md`` ("Span batch format"); op-node ``SpanBatch``.
    """

    parent_check: bytes
    l1_origin_check: bytes
    elements: tuple[SpanBatchElement, ...]

    def __post_init__(self) -> None:
        if not self.elements:
            raise ValueError("a span batch has at least one block")

    @classmethod
    def from_raw(cls, raw: RawSpanBatch, rollup_config: RollupConfig) -> SpanBatch:
        """Derive the per-block values of a decoded span batch (raises :class:`DecodeError`)."""
        elements = raw.derive(
            rollup_config.genesis.l2_time, rollup_config.block_time, rollup_config.l2_chain_id
        )
        return cls(raw.parent_check, raw.l1_origin_check, tuple(elements))

    @property
    def timestamp(self) -> int:
        """The first block's timestamp."""
        return self.elements[0].timestamp

    @property
    def last_timestamp(self) -> int:
        return self.elements[-1].timestamp

    @property
    def start_epoch_num(self) -> int:
        return self.elements[0].epoch_num

    @property
    def end_epoch_num(self) -> int:
        return self.elements[-1].epoch_num

    def check_parent_hash(self, block_hash: bytes) -> bool:
        return block_hash[:_CHECK_LENGTH] == self.parent_check

    def check_origin_hash(self, block_hash: bytes) -> bool:
        return block_hash[:_CHECK_LENGTH] == self.l1_origin_check


Batch = SingularBatch | SpanBatch
"""A batch as the channel reader hands it out."""


@dataclass(frozen=True, slots=True)
class AttributesWithParent:
    """Payload attributes for the block after ``parent``.

    ``is_last_in_span`` says whether the block ends its span batch (only then may the safe
    head move past it before Holocene); ``derived_from`` is the L1 block the pipeline was
    reading when it produced the attributes.
    """

    attributes: PayloadAttributes
    parent: L2BlockRef
    is_last_in_span: bool
    derived_from: L1BlockRef

    @property
    def timestamp(self) -> int:
        return self.attributes.timestamp


# --- providers --------------------------------------------------------------------------------


class ChainProvider(Protocol):
    """The L1 execution layer as derivation reads it (kona ``ChainProvider``).

    ``block_ref(number)`` raises ``opfleet.errors.BlockNotFoundError`` when the
    block does not exist yet (the pipeline then waits at the L1 head); other failures are
    :class:`~opfleet.errors.TemporaryError`. ``block_with_receipts(block)`` returns the block
    (by hash, or the canonical one by number) with its raw EIP-2718 transactions
    (``L1Block.transactions`` set) and every receipt of the block, in order; by number it
    raises ``BlockNotFoundError`` too. L1 traversal reads each new L1 block by number with
    this one call (one batched request), so later by-hash reads should hit a cache.
    """

    async def block_ref(self, number: int, /) -> L1BlockRef: ...

    async def block_with_receipts(
        self, block: int | bytes, /
    ) -> tuple[L1Block, Sequence[Receipt]]: ...


class BlobProvider(Protocol):
    """The L1 beacon node (kona ``BlobProvider``).

    Returns the blobs for ``(index in the L1 block, versioned hash)`` pairs, in request order,
    each checked against its hash; a missing blob is a :class:`~opfleet.errors.TemporaryError`
    (derivation must wait, never skip).
    """

    async def get_blobs(
        self, ref: L1BlockRef, indexed_hashes: Sequence[tuple[int, bytes]], /
    ) -> list[bytes]: ...


class L2ChainProvider(Protocol):
    """The L2 chain derived so far, by block number (kona ``L2ChainProvider``).

    Used for span-batch overlap checks (refs and transactions of safe blocks), the attributes
    builder (the parent block's system config) and sync start (refs and system configs).
    Failures are :class:`~opfleet.errors.TemporaryError`. ``l2_transactions_by_number``
    returns the block's transactions as EIP-2718 bytes, deposits included.
    """

    async def l2_block_ref(self, number: int, /) -> L2BlockRef: ...

    async def system_config_by_number(self, number: int, /) -> SystemConfig: ...

    async def l2_transactions_by_number(self, number: int, /) -> Sequence[bytes]: ...


class DataAvailabilityProvider(Protocol):
    """Where L1 retrieval gets the batcher data of one L1 block (kona
    ``DataAvailabilityProvider``): every data item (a batcher transaction's calldata or one
    decoded blob) in block order. See :mod:`opfleet.derive.data_sources`.
    """

    async def data_for_block(self, ref: L1BlockRef, batcher_address: bytes, /) -> list[bytes]: ...


# --- stages -----------------------------------------------------------------------------------


class OriginStage(Protocol):
    """The surface every stage shares (kona ``OriginProvider``, ``OriginAdvancer``,
    ``SignalReceiver``)."""

    @property
    def origin(self) -> L1BlockRef | None:
        """The L1 block currently traversed (``None`` before the first reset)."""
        ...

    async def advance_origin(self) -> Activation | None:
        """Move to the next L1 block; return the fork activation that this crossed, if any."""
        ...

    def signal(self, signal: Signal) -> None:
        """Pass ``signal`` down, then act on it."""
        ...


class L1BlockProvider(OriginStage, Protocol):
    """What L1 retrieval pulls from: L1 traversal."""

    @property
    def system_config(self) -> SystemConfig:
        """The system config as of the current origin (its batcher authenticates batcher txs)."""
        ...

    async def next_l1_block(self) -> L1BlockRef: ...


class DataProvider(OriginStage, Protocol):
    """What the frame queue pulls from: L1 retrieval."""

    async def next_data(self) -> bytes: ...


class FrameProvider(OriginStage, Protocol):
    """What the channel stages pull from: the frame queue."""

    async def next_frame(self) -> Frame: ...


class ChannelProvider(OriginStage, Protocol):
    """What the channel reader pulls from: the channel bank or assembler (behind the mux)."""

    async def next_channel(self) -> bytes: ...


class BatchProvider(OriginStage, Protocol):
    """What the batch stages pull from: the channel reader (decoded batches)."""

    async def next_batch(self) -> Batch: ...

    async def skip_batch(self) -> None:
        """Read and discard one batch (used while the origin is behind the safe head)."""
        ...


class BatchStreamProvider(OriginStage, Protocol):
    """What the Holocene batch validator pulls from: the batch stream (span batches expanded
    into singular batches, prefix-checked against ``l1_blocks``)."""

    @property
    def span_in_progress(self) -> bool: ...

    async def next_batch(
        self, parent: L2BlockRef, l1_blocks: Sequence[L1BlockRef]
    ) -> SingularBatch: ...

    async def skip_batch(self) -> None: ...


class SingularBatchProvider(OriginStage, Protocol):
    """What the attributes queue pulls from: the batch queue or validator (behind the mux).

    Returns the next valid batch for ``parent`` and whether it is the last one of its span
    batch (always true for singular batches and from Holocene).
    """

    async def next_batch(self, parent: L2BlockRef) -> tuple[SingularBatch, bool]: ...


class AttributesProvider(OriginStage, Protocol):
    """The top of the pipeline: the attributes queue."""

    async def next_attributes(self, parent: L2BlockRef) -> AttributesWithParent: ...


PrevStage = TypeVar("PrevStage", bound=OriginStage)


class Stage(Generic[PrevStage]):
    """The plumbing of every stage above L1 traversal: ``origin`` and ``advance_origin()`` are
    the previous stage's, and :meth:`signal` passes a signal down before this stage acts on it
    (:meth:`on_signal`), so the lowest stage always sees it first.

    ``name`` is how errors call the stage. Spec: ``specs/protocol/derivation.md`` ("L2 Chain
    Derivation Pipeline"); kona ``OriginProvider``, ``OriginAdvancer``, ``SignalReceiver``.
    """

    name: ClassVar[str]

    def __init__(self, prev: PrevStage) -> None:
        self.prev = prev

    @property
    def origin(self) -> L1BlockRef | None:
        return self.prev.origin

    async def advance_origin(self) -> Activation | None:
        return await self.prev.advance_origin()

    def current_origin(self) -> L1BlockRef:
        """The origin, which a reset sets: :class:`ResetError` before the first one."""
        origin = self.prev.origin
        if origin is None:
            raise ResetError(f"{self.name} has no origin: reset the pipeline first")
        return origin

    def signal(self, signal: Signal) -> None:
        self.prev.signal(signal)
        self.on_signal(signal)

    def on_signal(self, signal: Signal) -> None:
        """Act on ``signal`` once the stages below have (clear this stage's buffers)."""
