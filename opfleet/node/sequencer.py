"""The sequencer: build an unsafe L2 block every block time (op-node ``op-node/rollup/sequencing``).

A reusable component: a light node (``opfleet light --sequencer.enabled``) hosts it today, a
source node or the devnet can host it the same way. Public API::

    SequencerConfig(max_safe_lag=0, l1_confs=4, recover_mode=False, poll_interval=1.0, ...)
    Sequencer(rollup_config, *, engine, l1, l2, config=SequencerConfig(), clock=time.time,
              tx_source=None, blob_schedule=None)
        await build_block(parent, *, safe, finalized) -> L2BlockRef   one block on ``parent``
        await prepare_attributes(parent) -> (PayloadAttributes, L1BlockRef)   what it would build
        await select_origin(parent) -> L1BlockRef                       the L1 origin it would use
        next_block_time(parent) -> int                                   parent.timestamp + block_time
        reset()                                                          drop cached L1 origins
        statistics() -> SequencerStatistics
    SequencerHost (Protocol): engine_lock, heads() -> (unsafe, safe, finalized), on_sequenced(ref)
    await run_sequencer(sequencer, host, *, fast=False, task_status=...)
    select_l1_origin(rollup_config, parent, current, next_origin) -> L1BlockRef   (pure)
    must_be_empty(rollup_config, origin, timestamp) -> bool                        (pure)

**One block** (:meth:`Sequencer.build_block`), as op-node's sequencer does it:

1. L1 origin (``specs/protocol/derivation.md`` "L1 origin selection"; op-node
   ``L1OriginSelector``): adopt the next L1 block once its timestamp is ``<=`` the new L2
   timestamp and it is ``l1_confs`` blocks below our L1 head; otherwise keep the parent's
   origin, unless that would pass the max sequencer drift (Fjord: 1800 s; before, the rollup
   config's), in which case the next origin is required: not known yet -> no block
   (:class:`~opfleet.errors.TemporaryError`, retried), known but still in the future -> an
   empty block on the old origin. An origin is never newer than the L2 timestamp.
2. Attributes from :class:`~opfleet.derive.attributes.AttributesBuilder`, the very code
   derivation runs, so the batched block consolidates on every verifier: L1-info deposit,
   user deposits of a new origin (first block of the epoch only), upgrade transactions on an
   activation block, ``gasLimit``/``eip1559Params``/``minBaseFee`` from the system config.
3. ``noTxPool``: false (the execution client's tx pool fills the block) except past the
   sequencer drift, on the activation block of a fork with upgrade transactions
   (:func:`~opfleet.protocol.upgrades.has_upgrade_transactions`; Jovian, Karst and Interop
   activation blocks must be empty), and in recover mode. Optional :class:`TxSource` transactions follow the forced ones.
4. ``engine_forkchoiceUpdated(parent, safe, finalized, attributes)`` -> ``engine_getPayload``
   -> ``engine_newPayload`` -> ``engine_forkchoiceUpdated(head=new)``, method versions by
   timestamp (:class:`~opfleet.providers.engine.EngineClient`).

Errors: an unreachable engine or L1, SYNCING answers and a missing next origin are
:class:`~opfleet.errors.TemporaryError`; a refused forkchoice state, refused attributes, an
INVALID payload or an L1 origin that is no longer canonical are
:class:`~opfleet.errors.ResetError` (the host's view of the chain is stale: re-read heads).

**The loop** (:func:`run_sequencer`): while the wall clock (``clock``) is before
``next_block_time(unsafe)`` it waits (re-checking every ``poll_interval`` so a host reset or a
test clock jump is seen); then, holding ``host.engine_lock`` so follow ticks and builds never
interleave, it re-reads the heads and builds; ``host.on_sequenced(ref)`` sets the host's
unsafe head. ``fast=True`` (tests, devnet catch-up) skips the wait. With ``max_safe_lag > 0``
it builds nothing while ``unsafe.number >= safe.number + max_safe_lag`` (op-node
``--sequencer.max-safe-lag``: one warning when it stalls, one line when it resumes). Outages
are retried with backoff and logged once (one warning, one recovery line).

**Reconciling** with a source's safe chain is the host's job (op-node ``FollowSource``,
"Conflict, light sequencer": ``forceReset(unsafe=crossUnsafe=localSafe=eLS, crossSafe=eS,
finalized=eF)``): holding ``engine_lock``, the host sets its heads, sends the forkchoice
update and calls :meth:`Sequencer.reset`; the next build starts from ``host.heads()``.
No build is ever in flight outside the lock, so nothing else needs cancelling.

Differences from op-node, on purpose: the block is built when its timestamp is reached (op-node
starts building one block time early and seals at the timestamp; the DevEngine builds
instantly and an execution client fills the block from its pool at ``getPayload``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import trio

from opfleet.derive.attributes import AttributesBuilder
from opfleet.engine.l2_chain import EngineL2Chain
from opfleet.errors import AuthenticationError, BlockNotFoundError, DecodeError, ResetError, TemporaryError
from opfleet.node.outage import Outage
from opfleet.protocol.block_ref import L1BlockRef, L2BlockRef
from opfleet.protocol.engine_api import ForkchoiceState, PayloadAttributes, PayloadStatus
from opfleet.protocol.hexjson import hex_data, parse_data, parse_quantity
from opfleet.protocol.l1_block_info import BlobSchedule
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.upgrades import has_upgrade_transactions
from opfleet.providers.engine import EngineClient, InvalidForkchoiceState, InvalidPayloadAttributes
from opfleet.providers.jsonrpc import RpcCallError
from opfleet.providers.l1 import L1Provider

__all__ = [
    "Sequencer",
    "SequencerConfig",
    "SequencerHost",
    "SequencerStatistics",
    "TxSource",
    "must_be_empty",
    "run_sequencer",
    "select_l1_origin",
]

log = logging.getLogger("opfleet.sequencer")
_T = TypeVar("_T")

@dataclass(frozen=True, slots=True)
class SequencerConfig:
    """How the sequencer paces itself (op-node ``--sequencer.*`` flags)."""

    max_safe_lag: int = 0
    """``--sequencer.max-safe-lag``: build nothing while ``unsafe >= safe + lag`` (0 = off)."""
    l1_confs: int = 4
    """``--sequencer.l1-confs``: an L1 origin must be this many blocks below the L1 head."""
    recover_mode: bool = False
    """``--sequencer.recover``: empty blocks (no tx pool), adopting each L1 origin as soon as possible."""
    poll_interval: float = 1.0
    """Longest wait before re-checking the clock and the host's heads."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0


class TxSource(Protocol):
    """Extra transactions for a block, placed after the forced (deposit/upgrade) ones.

    Optional: by default the execution client's own tx pool fills blocks (``noTxPool=false``).
    Not consulted for blocks that must be empty.
    """

    async def transactions(self, parent: L2BlockRef, timestamp: int) -> Sequence[bytes]: ...


class SequencerHost(Protocol):
    """What :func:`run_sequencer` needs from the node hosting it (a light or source node)."""

    engine_lock: trio.Lock
    """Held around a build and the head update, so follow ticks and builds never interleave."""

    def heads(self) -> tuple[L2BlockRef, L2BlockRef, L2BlockRef]:
        """``(unsafe, safe, finalized)``: the block to build on and the forkchoice labels."""
        ...

    def on_sequenced(self, ref: L2BlockRef) -> None:
        """A block was built and is the engine's head: make it the host's unsafe head."""
        ...


@dataclass(frozen=True, slots=True)
class SequencerStatistics:
    blocks_built: int
    origin_changes: int
    """Blocks that started a new epoch (adopted a new L1 origin)."""
    empty_blocks: int
    """Blocks built with ``noTxPool`` (sequencer drift, fork activation, recover mode)."""
    errors: int
    """Failed builds (each retried)."""
    resets: int
    last_built: L2BlockRef | None
    waiting_for_safe: bool
    """Stalled by ``max_safe_lag``."""


# --- pure rules -----------------------------------------------------------------------------------


def must_be_empty(rollup_config: RollupConfig, origin: L1BlockRef, timestamp: int) -> bool:
    """Whether an L2 block at ``timestamp`` on ``origin`` is past the max sequencer drift, so it
    may hold no transactions but deposits (``specs/protocol/derivation.md``, batch validity;
    ``specs/protocol/fjord/derivation.md`` for the constant drift)."""
    return timestamp > origin.timestamp + rollup_config.max_sequencer_drift(origin.timestamp)


def select_l1_origin(
    rollup_config: RollupConfig, parent: L2BlockRef, current: L1BlockRef, next_origin: L1BlockRef | None
) -> L1BlockRef:
    """The L1 origin of the block after ``parent`` (op-node ``L1OriginSelector.FindL1Origin``).

    ``current`` is the parent's origin, ``next_origin`` the following L1 block if it is known
    and confirmed enough (else None). Raises :class:`TemporaryError` when the drift forces a
    new origin that is not known yet.
    """
    timestamp = parent.timestamp + rollup_config.block_time
    if next_origin is not None and timestamp >= next_origin.timestamp:
        return next_origin
    if not must_be_empty(rollup_config, current, timestamp):
        return current
    if next_origin is None:
        raise TemporaryError(
            f"L2 block at {timestamp} would pass the max sequencer drift of L1 origin {current.number} "
            f"(at {current.timestamp}) and the next L1 block is not available yet")
    return current  # the next origin is still in the future: an empty block on the old one


# --- the sequencer --------------------------------------------------------------------------------


class Sequencer:
    """Builds blocks on the execution client; see the module docstring."""

    def __init__(
        self,
        rollup_config: RollupConfig,
        *,
        engine: EngineClient,
        l1: L1Provider,
        l2: EngineL2Chain,
        config: SequencerConfig = SequencerConfig(),
        clock: Callable[[], float] = time.time,
        tx_source: TxSource | None = None,
        blob_schedule: BlobSchedule | None = None,
    ):
        self.rollup_config = rollup_config
        self.engine, self.l1, self.l2 = engine, l1, l2
        self.config = config
        self.clock = clock
        self.tx_source = tx_source
        self.builder = AttributesBuilder(rollup_config, l1, l2, blob_schedule=blob_schedule)
        self._next_origin: L1BlockRef | None = None  # confirmed child of some origin, reused until adopted
        self._blocks = self._origin_changes = self._empty = self._errors = self._resets = 0
        self._last: L2BlockRef | None = None
        self.waiting_for_safe = False
        self.on_built: Callable[[dict[str, Any], bytes | None], None] | None = None
        """Called with each sealed payload and its beacon root (the light node gossips it)."""

    def next_block_time(self, parent: L2BlockRef) -> int:
        return parent.timestamp + self.rollup_config.block_time

    def reset(self) -> None:
        """Forget cached L1 origins (after the host reset its heads, or an L1 reorg)."""
        self._next_origin = None
        self._resets += 1

    def statistics(self) -> SequencerStatistics:
        return SequencerStatistics(self._blocks, self._origin_changes, self._empty, self._errors, self._resets,
                                   self._last, self.waiting_for_safe)

    # --- origin -----------------------------------------------------------------------------------

    async def _current_origin(self, parent: L2BlockRef) -> L1BlockRef:
        try:
            current = await self.l1.block_ref(parent.l1_origin.hash)
        except BlockNotFoundError:
            raise ResetError(f"L1 origin {parent.l1_origin.number} (0x{parent.l1_origin.hash.hex()}) of L2 block "
                             f"{parent.number} is not on L1") from None
        if current.number != parent.l1_origin.number:
            raise ResetError(f"L1 block 0x{current.hash.hex()} is #{current.number}, "
                             f"not #{parent.l1_origin.number} as L2 block {parent.number} says")
        return current

    async def _confirmed_next(self, current: L1BlockRef) -> L1BlockRef | None:
        """The L1 block after ``current`` once it is ``l1_confs`` below the head (op-node
        ``confDepth``), else None. Cached: a confirmed block is asked for once."""
        cached = self._next_origin
        if cached is not None and cached.parent_hash == current.hash:
            return cached
        wanted = current.number + 1
        head = await self.l1.block_ref("latest")
        if head.number < wanted + self.config.l1_confs:
            return None
        try:
            nxt = await self.l1.block_ref(wanted)
        except BlockNotFoundError:
            return None
        if nxt.parent_hash != current.hash:
            raise ResetError(f"L1 origin {current.number} (0x{current.hash.hex()}) was reorged out: "
                             f"L1 block {wanted} has parent 0x{nxt.parent_hash.hex()}")
        self._next_origin = nxt
        return nxt

    async def select_origin(self, parent: L2BlockRef) -> L1BlockRef:
        """The L1 origin for the block after ``parent`` (see :func:`select_l1_origin`)."""
        current = await self._current_origin(parent)
        return select_l1_origin(self.rollup_config, parent, current, await self._confirmed_next(current))

    # --- attributes -------------------------------------------------------------------------------

    def _no_tx_pool(self, origin: L1BlockRef, timestamp: int) -> bool:
        cfg = self.rollup_config
        return (self.config.recover_mode or must_be_empty(cfg, origin, timestamp)
                or has_upgrade_transactions(cfg, timestamp))

    async def prepare_attributes(self, parent: L2BlockRef) -> tuple[PayloadAttributes, L1BlockRef]:
        """The payload attributes of the block after ``parent``, and its L1 origin."""
        origin = await self.select_origin(parent)
        attributes = await self.builder.prepare_payload_attributes(parent, origin.id)
        no_tx_pool = self._no_tx_pool(origin, attributes.timestamp)
        extra: tuple[bytes, ...] = ()
        if not no_tx_pool and self.tx_source is not None:
            extra = tuple(await self.tx_source.transactions(parent, attributes.timestamp))
        return dataclasses.replace(attributes, no_tx_pool=no_tx_pool,
                                   transactions=attributes.transactions + extra), origin

    # --- building ---------------------------------------------------------------------------------

    async def _engine(self, call: Awaitable[_T]) -> _T:
        """Await an Engine API call, turning its failures into the sequencer's error kinds."""
        try:
            return await call
        except (InvalidForkchoiceState, InvalidPayloadAttributes) as exc:
            raise ResetError(f"engine refused the sequencer's block: {exc}") from None
        except AuthenticationError:
            raise
        except RpcCallError as exc:
            raise TemporaryError(f"engine call failed: {exc}") from None

    @staticmethod
    def _check(what: str, status: PayloadStatus, error: str | None = None) -> None:
        if status in (PayloadStatus.INVALID, PayloadStatus.INVALID_BLOCK_HASH):
            raise ResetError(f"engine answered {status.value} to {what}" + (f": {error}" if error else ""))
        if status is not PayloadStatus.VALID:
            raise TemporaryError(f"engine answered {status.value} to {what}; retrying later")

    async def build_block(self, parent: L2BlockRef, *, safe: L2BlockRef, finalized: L2BlockRef) -> L2BlockRef:
        """Build the block after ``parent``, import it and make it the engine's head; its ref.

        Spec: ``specs/protocol/exec-engine.md`` (block building); op-node ``sequencing.Sequencer``.
        """
        try:
            ref, empty = await self._build(parent, safe, finalized)
        except Exception:
            self._errors += 1
            raise
        self._blocks += 1
        self._origin_changes += ref.sequence_number == 0
        self._empty += empty
        self._last = ref
        log.info("Sequenced new L2 block", extra={"fields": {
            "l2_unsafe": f"0x{ref.hash.hex()[:6]}..{ref.hash.hex()[-4:]}:{ref.number}", "l2_time": ref.timestamp,
            "l1_origin": ref.l1_origin.number, "seq": ref.sequence_number, "no_tx_pool": empty}})
        return ref

    async def _build(self, parent: L2BlockRef, safe: L2BlockRef, finalized: L2BlockRef) -> tuple[L2BlockRef, bool]:
        attrs, origin = await self.prepare_attributes(parent)
        state = ForkchoiceState(parent.hash, safe.hash, finalized.hash)
        started = await self._engine(self.engine.forkchoice_updated(state, attrs))
        self._check("engine_forkchoiceUpdated", started.payload_status.status, started.payload_status.validation_error)
        if started.payload_id is None:
            raise TemporaryError("engine_forkchoiceUpdated with attributes returned no payload id")
        envelope = await self._engine(self.engine.get_payload(started.payload_id, timestamp=attrs.timestamp))
        payload = envelope.execution_payload
        try:
            number = parse_quantity(payload.get("blockNumber"), "blockNumber")
            parent_hash = parse_data(payload.get("parentHash"), 32, "parentHash")
            block_hash = envelope.block_hash
        except DecodeError as exc:
            raise TemporaryError(f"engine_getPayload: malformed payload: {exc}") from None
        if parent_hash != parent.hash or number != parent.number + 1 or envelope.timestamp != attrs.timestamp:
            raise TemporaryError(f"engine built block {number} on {hex_data(parent_hash)}, not on L2 block "
                                 f"{parent.number} ({hex_data(parent.hash)})")
        imported = await self._engine(self.engine.new_payload(
            payload, parent_beacon_block_root=envelope.parent_beacon_block_root or attrs.parent_beacon_block_root))
        self._check("engine_newPayload", imported.status, imported.validation_error)
        seq = 0 if origin.hash != parent.l1_origin.hash else parent.sequence_number + 1
        ref = L2BlockRef(block_hash, number, parent.hash, attrs.timestamp, origin.id, seq)
        done = await self._engine(self.engine.forkchoice_updated(ForkchoiceState(ref.hash, safe.hash, finalized.hash)))
        self._check("engine_forkchoiceUpdated", done.payload_status.status, done.payload_status.validation_error)
        if self.on_built is not None:  # op-node publishes each block once its EL holds it
            self.on_built(payload, envelope.parent_beacon_block_root or attrs.parent_beacon_block_root)
        return ref, attrs.no_tx_pool


# --- the loop -------------------------------------------------------------------------------------


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, (TemporaryError, ResetError, RpcCallError, AuthenticationError))


async def run_sequencer(
    sequencer: Sequencer,
    host: SequencerHost,
    *,
    fast: bool = False,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Build a block every block time on ``host``'s unsafe head until cancelled (module docstring)."""
    cfg = sequencer.config
    outage = Outage("Sequencer", cfg.backoff_base, cfg.backoff_cap, logger=log)
    task_status.started()
    while True:
        heads = host.heads()
        if _lagging(sequencer, heads):
            await trio.sleep(cfg.poll_interval)
            continue
        if not fast:
            delay = sequencer.next_block_time(heads[0]) - sequencer.clock()
            if delay > 0:
                await trio.sleep(min(delay, cfg.poll_interval))
                continue
        try:
            async with host.engine_lock:
                if host.heads() != heads:
                    continue  # a follow tick moved the heads while we waited for the lock: re-plan
                unsafe, safe, finalized = heads
                ref = await sequencer.build_block(unsafe, safe=safe, finalized=finalized)
                host.on_sequenced(ref)
        except Exception as exc:  # outages only
            if not _is_outage(exc):
                raise
            if isinstance(exc, ResetError):
                sequencer.reset()
            await trio.sleep(outage.failed(exc))
            continue
        outage.ok()
        await trio.sleep(0)


def _lagging(sequencer: Sequencer, heads: tuple[L2BlockRef, L2BlockRef, L2BlockRef]) -> bool:
    """op-node's ``--sequencer.max-safe-lag`` check, logged once per stall."""
    lag = sequencer.config.max_safe_lag
    unsafe, safe, _ = heads
    stalled = lag > 0 and unsafe.number >= safe.number + lag
    if stalled != sequencer.waiting_for_safe:
        sequencer.waiting_for_safe = stalled
        if stalled:
            log.warning("Sequencer paused: the unsafe head is too far ahead of the safe head",
                        extra={"fields": {"unsafe": unsafe.number, "safe": safe.number, "max_safe_lag": lag}})
        else:
            log.info("Sequencer resumed: the safe head caught up",
                     extra={"fields": {"unsafe": unsafe.number, "safe": safe.number}})
    return stalled

