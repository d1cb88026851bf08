"""The engine driver: derived payload attributes in, L2 heads out (op-node's engine controller).

Heads (op-node ``EngineController``; op-service ``op-service/eth/sync_status.go``):

- ``unsafe``: the tip of the execution layer's chain;
- ``pending_safe``: the last block derived from L1 (the parent of the next attributes);
- ``local_safe`` / ``safe``: ``pending_safe`` once its span batch is complete (before Holocene
  a span batch may still be dropped half way); equal to each other before interop;
- ``finalized``: the highest safe block derived from an L1 block at or below L1 finalized.

For each :class:`~opfleet.derive.AttributesWithParent`:

1. If an unsafe block already sits at ``parent + 1``, **consolidate**: when the block matches
   the attributes (parent hash, timestamp, prevRandao, fee recipient, the byte-equal
   transaction list, gas limit, withdrawals, parent beacon root, and from Holocene the
   EIP-1559 parameters / min base fee in ``extraData``) it simply becomes safe.
2. Otherwise **build**: ``engine_forkchoiceUpdated(parent, attributes)`` → ``engine_getPayload``
   → ``engine_newPayload`` → ``engine_forkchoiceUpdated`` making it the unsafe (and safe) head,
   method versions by timestamp (``opfleet.providers.engine``).
3. An INVALID payload (or attributes the engine refuses, -38003): from Holocene the block is
   replaced by its deposits-only version and the rest of the channel is flushed
   (``FlushChannel``); before Holocene the attributes are dropped and derivation continues
   with the next batch. A deposits-only block that is invalid too is critical.

A SYNCING/ACCEPTED answer or an unreachable engine is a :class:`~opfleet.errors.TemporaryError`;
the attributes are kept and retried by the next :meth:`EngineDriver.step`.

Spec: ``specs/protocol/derivation.md`` ("Engine Queue", "Resetting the Pipeline"),
``specs/protocol/exec-engine.md``, ``specs/protocol/holocene/derivation.md`` ("Engine Queue");
op-node ``op-node/rollup/engine``, ``op-node/rollup/finality``.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from opfleet.derive.interfaces import AttributesWithParent, ChainProvider, FlushChannel
from opfleet.derive.pipeline import Pipeline, StepKind, StepResult
from opfleet.derive.reset import SyncStart, find_sync_start
from opfleet.engine.l2_chain import EngineL2Chain, FullL2Block
from opfleet.errors import CriticalError, DecodeError, ResetError, TemporaryError
from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF, L1BlockRef, L2BlockRef
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE
from opfleet.protocol.engine_api import ForkchoiceState, ForkchoiceUpdatedResult, PayloadAttributes, PayloadStatus
from opfleet.protocol.hexjson import hex_data, parse_data, parse_quantity
from opfleet.protocol.l1_block_info import l2_block_ref_from_transactions
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.engine import EngineClient, InvalidForkchoiceState, InvalidPayloadAttributes
from opfleet.providers.jsonrpc import RpcCallError

log = logging.getLogger("opfleet.engine")
_T = TypeVar("_T")

MAX_FINALITY_ENTRIES = 4096
"""(L1 block, safe L2 head) pairs kept for finality (op-node keeps a bounded buffer too)."""

_DEPOSIT_PREFIX = bytes([DEPOSIT_TX_TYPE])


class ProcessOutcome(enum.Enum):
    """What :meth:`EngineDriver.process` did with one set of attributes."""

    CONSOLIDATED = "consolidated"
    BUILT = "built"
    DEPOSITS_ONLY = "deposits_only"
    DROPPED = "dropped"


class InvalidPayloadError(Exception):
    """The engine refused the block these attributes describe (internal to the driver)."""


def ref_from_transactions(
    rollup_config: RollupConfig,
    block_hash: bytes,
    number: int,
    parent_hash: bytes,
    timestamp: int,
    transactions: Sequence[bytes],
) -> L2BlockRef:
    """The :class:`L2BlockRef` of a block from its EIP-2718 transactions
    (:func:`~opfleet.protocol.l1_block_info.l2_block_ref_from_transactions`); a block that breaks
    the rule is critical."""
    try:
        return l2_block_ref_from_transactions(rollup_config, block_hash=block_hash, number=number,
                                              parent_hash=parent_hash, timestamp=timestamp,
                                              transactions=transactions)
    except DecodeError as exc:
        raise CriticalError(str(exc)) from None


def expected_extra_data(rollup_config: RollupConfig, attributes: PayloadAttributes) -> bytes | None:
    """The ``extraData`` the engine writes for these attributes (None before Holocene, where
    op-node does not compare it). All-zero ``eip1559Params`` select the chain's Canyon
    constants, as op-geth does.

    Spec: specs/protocol/holocene/exec-engine.md, jovian/exec-engine.md.
    """
    cfg, ts = rollup_config, attributes.timestamp
    if not cfg.is_holocene(ts):
        return None
    params = attributes.eip1559_params or bytes(8)
    if params == bytes(8):
        op = cfg.chain_op_config
        denominator = (op.eip1559_denominator_canyon or op.eip1559_denominator) if op else 250
        elasticity = op.eip1559_elasticity if op else 6
        params = denominator.to_bytes(4, "big") + elasticity.to_bytes(4, "big")
    if cfg.is_jovian(ts):
        return b"\x01" + params + (attributes.min_base_fee or 0).to_bytes(8, "big")
    return b"\x00" + params


def attributes_mismatch(
    rollup_config: RollupConfig, attributes: PayloadAttributes, parent: L2BlockRef, block: FullL2Block
) -> str | None:
    """Why ``block`` is not the block ``attributes`` describe on ``parent`` (None: it is).

    Spec: specs/protocol/derivation.md, Engine Queue (consolidation); op-node
    ``AttributesMatchBlock``.
    """
    a, header = attributes, block.header
    if header.parent_hash != parent.hash:
        return f"parent hash {hex_data(header.parent_hash)} != {hex_data(parent.hash)}"
    if header.timestamp != a.timestamp:
        return f"timestamp {header.timestamp} != {a.timestamp}"
    if header.mix_hash != a.prev_randao:
        return "prevRandao differs"
    if block.fee_recipient != a.suggested_fee_recipient:
        return f"fee recipient {hex_data(block.fee_recipient)} != {hex_data(a.suggested_fee_recipient)}"
    if len(block.transactions) != len(a.transactions):
        return f"{len(block.transactions)} transactions != {len(a.transactions)}"
    for i, (got, want) in enumerate(zip(block.transactions, a.transactions)):
        if got != want:
            return f"transaction {i} differs"
    if a.gas_limit is not None and header.gas_limit != a.gas_limit:
        return f"gas limit {header.gas_limit} != {a.gas_limit}"
    if (a.withdrawals is None) != (block.withdrawals is None):
        return "withdrawals presence differs"
    if a.withdrawals is not None and block.withdrawals is not None and len(a.withdrawals) != len(block.withdrawals):
        return "withdrawals differ"
    if a.parent_beacon_block_root != header.parent_beacon_block_root:
        return "parent beacon block root differs"
    extra = expected_extra_data(rollup_config, a)
    if extra is not None and block.extra_data != extra:
        return f"extraData {hex_data(block.extra_data)} != {hex_data(extra)} (eip1559Params / minBaseFee)"
    return None


def deposits_only(attributes: PayloadAttributes) -> PayloadAttributes:
    """The same attributes without the batch's transactions (Holocene block replacement)."""
    txs = tuple(tx for tx in attributes.transactions if tx[:1] == _DEPOSIT_PREFIX)
    return dataclasses.replace(attributes, transactions=txs, no_tx_pool=True)


@dataclass(frozen=True, slots=True)
class DriverStatistics:
    """A snapshot of the driver (RPC, metrics and the TUI read it)."""

    unsafe: L2BlockRef
    pending_safe: L2BlockRef
    local_safe: L2BlockRef
    safe: L2BlockRef
    finalized: L2BlockRef
    blocks_built: int
    blocks_consolidated: int
    deposit_only_blocks: int
    attributes_dropped: int
    unsafe_reorgs: int
    resets: int
    engine_syncing: int
    """SYNCING/ACCEPTED answers seen (each retried later)."""


class EngineDriver:
    """Drive one execution client with the derivation pipeline's output.

    ``on_safe(derived_from, safe_head)`` is called whenever the safe head moves, with the L1
    block it was derived from, before the forkchoice update that labels it safe (op-node's
    ``SafeDerivedEvent``; the safe-head database listens).
    """

    def __init__(
        self,
        rollup_config: RollupConfig,
        *,
        engine: EngineClient,
        l2: EngineL2Chain,
        l1: ChainProvider,
        pipeline: Pipeline,
        on_safe: Callable[[L1BlockRef, L2BlockRef], None] | None = None,
        denied: Callable[[L2BlockRef], Sequence[bytes] | None] | None = None,
        safe_label: Callable[[L2BlockRef], L2BlockRef | None] | None = None,
    ):
        self.rollup_config = rollup_config
        # Interop (a supernode): ``safe_label(safe)`` names the block the EL is told is safe, the
        # verified (cross-safe) head at or below our safe head; None keeps our safe head.
        self.safe_label = safe_label
        # Interop (a supernode): ``denied(ref)`` returns the deposits to append when a freshly
        # built block was found invalid by cross-chain verification, None when it is allowed.
        self.denied = denied
        self.engine = engine
        self.l2 = l2
        self.l1 = l1
        self.pipeline = pipeline
        self.on_safe = on_safe
        genesis = rollup_config.genesis
        zero = L2BlockRef(genesis.l2.hash, genesis.l2.number, bytes(32), genesis.l2_time, genesis.l1, 0)
        self.unsafe_head = self.pending_safe_head = self.local_safe_head = zero
        self.safe_head = self.finalized_head = zero
        self.started = False
        self._pending: AttributesWithParent | None = None
        self._finality: deque[tuple[L1BlockRef, L2BlockRef]] = deque(maxlen=MAX_FINALITY_ENTRIES)
        self._counts = {k: 0 for k in ("built", "consolidated", "deposit_only", "dropped", "reorgs", "resets",
                                        "syncing")}

    # --- start-up and resets ----------------------------------------------------------------------

    async def _label(self, label: str, fallback: L2BlockRef | None) -> L2BlockRef:
        try:
            return await self.l2.l2_block_ref(label)
        except TemporaryError:
            if fallback is None:
                raise
            return fallback

    async def start(self) -> SyncStart:
        """Read the heads from the execution layer, find the sync start, reset the pipeline.

        Killing and restarting the node therefore resumes from what the EL has. Spec:
        specs/protocol/derivation.md, Resetting the Pipeline.
        """
        unsafe = await self.l2.l2_block_ref("latest")
        genesis = await self.l2.l2_block_ref(self.rollup_config.genesis.l2.number)
        safe = await self._label("safe", genesis)
        finalized = await self._label("finalized", genesis)
        start = await find_sync_start(self.rollup_config, self.l1, self.l2, safe, finalized=finalized)
        safe = start.safe_head
        if finalized.number > safe.number:
            finalized = safe
        self.unsafe_head = unsafe if unsafe.number >= safe.number else safe
        self.pending_safe_head = self.local_safe_head = self.safe_head = safe
        self.finalized_head = finalized
        self._pending = None
        self._finality.clear()
        self.pipeline.reset(start.l1_base, start.system_config)
        self._counts["resets"] += 1
        self.started = True
        log.info("Derivation pipeline reset", extra={"fields": {
            "l1_base": _id(start.l1_base), "safe": _id(safe), "unsafe": _id(self.unsafe_head),
            "finalized": _id(finalized)}})
        return start

    # --- stepping ---------------------------------------------------------------------------------

    async def step(self) -> StepResult:
        """Apply attributes held back by a temporary failure, else step the pipeline once and
        apply what it prepared. Raises TemporaryError / ResetError / CriticalError."""
        if not self.started:
            raise ResetError("the engine driver has not been started")
        if self._pending is not None:
            attributes = self._pending
            await self.process(attributes)
            return StepResult(StepKind.PREPARED_ATTRIBUTES, self.pipeline.origin, attributes)
        result = await self.pipeline.step(self.pending_safe_head)
        if result.kind is StepKind.PREPARED_ATTRIBUTES:
            assert result.attributes is not None
            self._pending = result.attributes
            await self.process(result.attributes)
        elif result.kind is StepKind.EOF and result.origin is not None:
            # Idle at the L1 head: everything safe is derived from L1 up to the origin. This also
            # re-creates a finality entry for the safe head after a reset (op-node
            # ``Finalizer.onDerivationIdle``).
            if not self._finality or self._finality[-1][1].hash != self.safe_head.hash:
                self._record_finality(result.origin, self.safe_head)
        return result

    async def process(self, attributes: AttributesWithParent) -> ProcessOutcome:
        """Consolidate or build the block of ``attributes`` (see the module docstring)."""
        self._pending = attributes
        parent = attributes.parent
        if parent.hash != self.pending_safe_head.hash:
            self._pending = None
            raise ResetError(f"attributes build on L2 block {parent.number} ({hex_data(parent.hash)}), "
                             f"but the pending safe head is {self.pending_safe_head.number}")
        outcome = None
        if self.unsafe_head.number > parent.number:
            existing = await self._engine_call(self.l2.full_block(parent.number + 1))
            why = attributes_mismatch(self.rollup_config, attributes.attributes, parent, existing)
            if why is None and self.denied is not None and self.denied(existing.ref) is not None:
                why = "the block is denied by interop verification"
            if why is None:
                await self._promote(existing.ref, attributes, new_unsafe=False)
                outcome = ProcessOutcome.CONSOLIDATED
            else:
                self._counts["reorgs"] += 1
                log.warning("L2 reorg: existing unsafe block does not match derived attributes", extra={"fields": {
                    "number": parent.number + 1, "unsafe": hex_data(existing.ref.hash), "reason": why}})
        if outcome is None:
            outcome = await self._build_or_replace(attributes)
        self._pending = None
        self._counts[{ProcessOutcome.CONSOLIDATED: "consolidated", ProcessOutcome.BUILT: "built",
                      ProcessOutcome.DEPOSITS_ONLY: "deposit_only", ProcessOutcome.DROPPED: "dropped"}[outcome]] += 1
        return outcome

    async def _build_or_replace(self, attributes: AttributesWithParent) -> ProcessOutcome:
        try:
            ref = await self._build(attributes.attributes, attributes.parent)
        except InvalidPayloadError as exc:
            if not self.rollup_config.is_holocene(attributes.timestamp):
                log.warning("Dropping invalid attributes (pre-Holocene)", extra={"fields": {
                    "number": attributes.parent.number + 1, "err": str(exc)}})
                return ProcessOutcome.DROPPED
            log.warning("Payload invalid: replacing it with a deposits-only block (Holocene)", extra={"fields": {
                "number": attributes.parent.number + 1, "err": str(exc)}})
            self.pipeline.attributes_queue.signal(FlushChannel())
            replacement = dataclasses.replace(attributes, attributes=deposits_only(attributes.attributes),
                                              is_last_in_span=True)
            self._pending = replacement
            try:
                ref = await self._build(replacement.attributes, attributes.parent)
            except InvalidPayloadError as again:
                raise CriticalError(f"deposits-only block {attributes.parent.number + 1} is invalid: {again}") from None
            await self._promote(ref, replacement, new_unsafe=True)
            return ProcessOutcome.DEPOSITS_ONLY
        extra = self.denied(ref) if self.denied is not None else None
        if extra is not None:
            return await self._replace_denied(attributes, ref, tuple(extra))
        await self._promote(ref, attributes, new_unsafe=True)
        return ProcessOutcome.BUILT

    async def _replace_denied(self, attributes: AttributesWithParent, denied: L2BlockRef,
                              extra: tuple[bytes, ...]) -> ProcessOutcome:
        """Interop block replacement: the deposits of ``attributes`` plus ``extra`` (the
        optimistic-block deposit) instead of the denied block (specs/interop/derivation.md,
        "Replacing Invalid Blocks")."""
        log.warning("Replacing a block with an invalid executing message by its deposits-only version",
                    extra={"fields": {"number": denied.number, "denied": hex_data(denied.hash)}})
        trimmed = deposits_only(attributes.attributes)
        replacement = dataclasses.replace(
            attributes, attributes=dataclasses.replace(trimmed, transactions=trimmed.transactions + extra),
            is_last_in_span=True)
        self._pending = replacement
        try:
            ref = await self._build(replacement.attributes, attributes.parent)
        except InvalidPayloadError as exc:
            raise CriticalError(f"replacement of block {denied.number} is invalid: {exc}") from None
        await self._promote(ref, replacement, new_unsafe=True)
        return ProcessOutcome.DEPOSITS_ONLY

    async def _engine_call(self, call: Awaitable[_T]) -> _T:
        """Await an Engine API call, turning its failures into the driver's error kinds."""
        try:
            return await call
        except InvalidForkchoiceState as exc:
            raise ResetError(f"engine refused the forkchoice state: {exc}") from None
        except RpcCallError as exc:
            if isinstance(exc, InvalidPayloadAttributes):
                raise
            raise TemporaryError(f"engine call failed: {exc}") from None

    def _syncing(self, what: str, status: PayloadStatus) -> TemporaryError:
        self._counts["syncing"] += 1
        return TemporaryError(f"engine answered {status.value} to {what}; retrying later")

    async def _build(self, attrs: PayloadAttributes, parent: L2BlockRef) -> L2BlockRef:
        try:
            started = await self._labelled(parent, self.safe_head, self.finalized_head, attrs)
        except InvalidPayloadAttributes as exc:
            raise InvalidPayloadError(str(exc)) from None
        status = started.payload_status.status
        if status in (PayloadStatus.INVALID, PayloadStatus.INVALID_BLOCK_HASH):
            raise InvalidPayloadError(started.payload_status.validation_error or status.value)
        if status is not PayloadStatus.VALID:
            raise self._syncing("engine_forkchoiceUpdated", status)
        if started.payload_id is None:
            raise TemporaryError("engine_forkchoiceUpdated returned no payload id")
        envelope = await self._engine_call(self.engine.get_payload(started.payload_id, timestamp=attrs.timestamp))
        payload = envelope.execution_payload
        beacon_root = envelope.parent_beacon_block_root or attrs.parent_beacon_block_root
        imported = await self._engine_call(self.engine.new_payload(payload, parent_beacon_block_root=beacon_root))
        if imported.status in (PayloadStatus.INVALID, PayloadStatus.INVALID_BLOCK_HASH):
            raise InvalidPayloadError(imported.validation_error or imported.status.value)
        if imported.status is not PayloadStatus.VALID:
            raise self._syncing("engine_newPayload", imported.status)
        try:
            txs = tuple(parse_data(tx, None, "transaction") for tx in payload.get("transactions") or ())
            ref = ref_from_transactions(
                self.rollup_config, envelope.block_hash,
                parse_quantity(payload.get("blockNumber"), "blockNumber"),
                parse_data(payload.get("parentHash"), 32, "parentHash"), envelope.timestamp, txs)
        except DecodeError as exc:
            raise TemporaryError(f"engine_getPayload: malformed payload: {exc}") from None
        if ref.parent_hash != parent.hash or ref.number != parent.number + 1:
            raise TemporaryError(f"engine built block {ref.number} on the wrong parent")
        return ref

    async def _promote(self, ref: L2BlockRef, attributes: AttributesWithParent, *, new_unsafe: bool) -> None:
        """Make ``ref`` pending-safe (and safe if its span is complete) on the engine, then here
        (heads change only once the engine accepted them, so readers never run ahead of it)."""
        old_safe = self.safe_head
        unsafe = ref if new_unsafe or self.unsafe_head.number < ref.number else self.unsafe_head
        safe = ref if attributes.is_last_in_span else self.safe_head
        if safe != old_safe and self.on_safe is not None and not attributes.derived_from.is_zero():
            # Recorded before the forkchoice update, as op-node does: a restart that finds the
            # old safe head on the EL truncates the entry (SafeHeadReset) and derives it again.
            self.on_safe(attributes.derived_from, safe)
        await self._forkchoice(unsafe, safe, self.finalized_head)
        self.unsafe_head, self.pending_safe_head = unsafe, ref
        if attributes.is_last_in_span:
            self.local_safe_head = self.safe_head = ref
        if new_unsafe:
            log.info("Inserted new L2 unsafe block", extra={"fields": _ref_fields(ref)})
        if self.safe_head != old_safe:
            self._record_finality(attributes.derived_from, self.safe_head)
            log.debug("Derived safe L2 block", extra={"fields": {
                **_ref_fields(self.safe_head), "derived_from": _id(attributes.derived_from)}})

    async def forkchoice_update(self) -> None:
        """``engine_forkchoiceUpdatedV3`` with the current heads (no attributes)."""
        await self._forkchoice(self.unsafe_head, self.safe_head, self.finalized_head)

    async def _labelled(self, head: L2BlockRef, safe: L2BlockRef, finalized: L2BlockRef,
                        attrs: PayloadAttributes | None = None) -> ForkchoiceUpdatedResult:
        """``engine_forkchoiceUpdated``; with ``safe_label`` the EL's safe label is the verified
        head (op-supernode ``safety-labels.md``) and finalized never above it. A label the EL
        refuses (left on a reorged-out branch until the supernode rewinds it) falls back to ours."""
        plain = ForkchoiceState(head.hash, safe.hash, finalized.hash)
        version = {"version": 3} if attrs is None else {}
        label = self.safe_label(safe) if self.safe_label is not None else None
        if label is not None and label.number <= safe.number and label.hash != safe.hash:
            capped = finalized if finalized.number <= label.number else label
            try:
                return await self._engine_call(self.engine.forkchoice_updated(
                    ForkchoiceState(head.hash, label.hash, capped.hash), attrs, **version))
            except ResetError as exc:
                log.debug("Safe label refused, sending our safe head: %s", exc)
        return await self._engine_call(self.engine.forkchoice_updated(plain, attrs, **version))

    async def _forkchoice(self, head: L2BlockRef, safe: L2BlockRef, finalized: L2BlockRef) -> None:
        result = await self._labelled(head, safe, finalized)
        status = result.payload_status.status
        if status in (PayloadStatus.INVALID, PayloadStatus.INVALID_BLOCK_HASH):
            raise ResetError(f"engine reports the forkchoice head {hex_data(head.hash)} invalid")
        if status is not PayloadStatus.VALID:
            raise self._syncing("engine_forkchoiceUpdated", status)

    # --- finality ---------------------------------------------------------------------------------

    def _record_finality(self, derived_from: L1BlockRef, safe: L2BlockRef) -> None:
        if self._finality and self._finality[-1][0].hash == derived_from.hash:
            self._finality[-1] = (derived_from, safe)
        else:
            self._finality.append((derived_from, safe))

    async def finalize(self, l1_finalized: L1BlockRef) -> bool:
        """Move the finalized head to the highest safe block derived from L1 at or below
        ``l1_finalized``; returns whether it moved (op-node ``finality.Finalizer``).

        Entries are keyed by the L1 block they were derived from, which an L1 reorg may have
        removed since. Before finalizing, the chosen entry's L1 block is checked against the
        canonical chain (``l1_finalized`` itself, or the L1 block at that height: a cache hit
        in the L1 provider below finalized). If it was reorged out, the safe chain built on it
        is stale too: the entry and every later one are dropped and :class:`ResetError` asks
        for a pipeline reset (which clears the rest); nothing is finalized.
        """
        entry: tuple[L1BlockRef, L2BlockRef] | None = None
        for l1_block, l2_block in self._finality:
            if l1_block.number > l1_finalized.number:
                break
            entry = (l1_block, l2_block)
        if entry is None or entry[1].number <= self.finalized_head.number:
            return False
        derived_from, best = entry
        if best.number > self.safe_head.number:
            return False
        if not await self._is_canonical_l1(derived_from, l1_finalized):
            stale = [e for e in self._finality if e[0].number >= derived_from.number]
            for _ in stale:
                self._finality.pop()
            log.warning("Finality: safe head derived from a reorged-out L1 block; not finalizing", extra={"fields": {
                "l1_block": _id(derived_from), "l2_block": _id(best), "l1_finalized": _id(l1_finalized)}})
            raise ResetError(f"L2 block {best.number} was derived from L1 block {_id(derived_from)}, "
                             f"which is no longer canonical (finalized L1 is {_id(l1_finalized)})")
        await self._forkchoice(self.unsafe_head, self.safe_head, best)
        self.finalized_head = best
        while self._finality and self._finality[0][1].number < best.number:
            self._finality.popleft()
        log.info("Finalized L2 block", extra={"fields": {**_ref_fields(best), "l1_finalized": _id(l1_finalized)}})
        return True

    async def _is_canonical_l1(self, block: L1BlockRef, l1_finalized: L1BlockRef) -> bool:
        if block.number == l1_finalized.number:
            return block.hash == l1_finalized.hash
        return (await self.l1.block_ref(block.number)).hash == block.hash

    def finality_entries(self) -> tuple[tuple[L1BlockRef, L2BlockRef], ...]:
        """The (derived-from L1 block, safe L2 head) pairs waiting for L1 finality, oldest first."""
        return tuple(self._finality)

    # --- views ------------------------------------------------------------------------------------

    def sync_status(
        self,
        *,
        head_l1: L1BlockRef = ZERO_L1_BLOCK_REF,
        safe_l1: L1BlockRef = ZERO_L1_BLOCK_REF,
        finalized_l1: L1BlockRef = ZERO_L1_BLOCK_REF,
    ) -> SyncStatus:
        """The node's ``optimism_syncStatus`` (pre-interop: cross = local)."""
        return SyncStatus(
            current_l1=self.pipeline.origin or ZERO_L1_BLOCK_REF,
            head_l1=head_l1,
            safe_l1=safe_l1,
            finalized_l1=finalized_l1,
            unsafe_l2=self.unsafe_head,
            safe_l2=self.safe_head,
            finalized_l2=self.finalized_head,
            pending_safe_l2=self.pending_safe_head,
            cross_unsafe_l2=self.unsafe_head,
            local_safe_l2=self.local_safe_head,
        )

    def statistics(self) -> DriverStatistics:
        c = self._counts
        return DriverStatistics(
            unsafe=self.unsafe_head, pending_safe=self.pending_safe_head, local_safe=self.local_safe_head,
            safe=self.safe_head, finalized=self.finalized_head, blocks_built=c["built"],
            blocks_consolidated=c["consolidated"], deposit_only_blocks=c["deposit_only"],
            attributes_dropped=c["dropped"], unsafe_reorgs=c["reorgs"], resets=c["resets"],
            engine_syncing=c["syncing"],
        )


def _id(ref: L1BlockRef | L2BlockRef) -> str:
    return f"{hex_data(ref.hash)}:{ref.number}"


def _ref_fields(ref: L2BlockRef) -> dict[str, object]:
    """op-node's log fields for an L2 block."""
    return {"hash": hex_data(ref.hash), "number": ref.number, "timestamp": ref.timestamp,
            "l1_origin": f"{hex_data(ref.l1_origin.hash)}:{ref.l1_origin.number}",
            "seq": ref.sequence_number}
