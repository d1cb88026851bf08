"""A light node's following: op-node's follow decisions applied to our execution client.

The follow loop waits for a source to change (:meth:`~opfleet.node.light_sources.SourceWatch.wait_changed`),
takes what the sources agree on, applies op-node's decision table (:func:`~opfleet.node.follow.follow_step`)
under :attr:`Follower.engine_lock` (shared with the payload puller, gossip and the sequencer, so
engine calls never interleave) and sends ``engine_forkchoiceUpdatedV3`` with head = unsafe,
safe = the source's ``safe_l2``, finalized = its ``finalized_l2`` (ref section 1.5), skipping one
identical to the last sent. Blocks imported by the payload puller (``--l2.follow.payloads``) or
gossip become the unsafe head (:meth:`Follower.on_pulled_head`); a light sequencer
(``--sequencer.enabled``) builds on our heads with the follower as its
:class:`~opfleet.node.sequencer.SequencerHost`.

Failures: our EL down only stalls the heads, retried with backoff and logged once per outage; an
InvalidForkchoiceState answer is logged and retried when the heads change, not a reset (where we
deliberately differ from op-node).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import TYPE_CHECKING

import trio

from opfleet.engine.l2_chain import EngineL2Chain
from opfleet.errors import BlockNotFoundError, NodeError
from opfleet.node.follow import FollowAction, FollowTarget, Heads, follow_step
from opfleet.node.light_config import LightConfig, LightMetrics
from opfleet.node.light_l1 import L1Heads
from opfleet.node.light_sources import SourceWatch
from opfleet.node.outage import Outage
from opfleet.node.payloads import PayloadPuller
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.engine_api import ForkchoiceState, PayloadStatus
from opfleet.providers.engine import EngineClient, InvalidForkchoiceState
from opfleet.providers.jsonrpc import JsonRpcClient

if TYPE_CHECKING:
    from opfleet.node.gossip import NodeGossip
    from opfleet.node.sequencer import Sequencer

log = logging.getLogger("opfleet.light")

__all__ = ["Follower"]


class Follower:
    """Our heads and the engine calls that move them. ``payloads`` (``--l2.follow.payloads``)
    gives it a :class:`PayloadPuller`; :meth:`start_sequencer` a :class:`Sequencer`."""

    def __init__(self, config: LightConfig, metrics: LightMetrics, *, engine: EngineClient, l2: EngineL2Chain,
                 sources: SourceWatch, l1: L1Heads, payloads: JsonRpcClient | None = None):
        self.engine_lock = trio.Lock()
        self.sequencer: Sequencer | None = None
        """The light sequencer, once :meth:`start_sequencer` has started it."""
        self.puller = None if payloads is None else PayloadPuller(
            config.rollup_config, remote=payloads, engine=engine, l2=l2, on_head=self.on_pulled_head,
            interval=config.payloads_interval or config.rollup_config.block_time / 2)
        self._config = config
        self._metrics = metrics
        self._engine = engine
        self._l2 = l2
        self._sources = sources
        self._l1 = l1
        self._heads = Heads()
        self._heads_ready = trio.Event()
        self._status_event = trio.Event()
        self._last_fcu: ForkchoiceState | None = None
        self._fcu_syncing = False  # the EL answered SYNCING to _last_fcu: it lacks our unsafe head
        self._retry_in: float | None = None
        self._el_error: BaseException | None = None
        self._el_outage = Outage("Execution client", config.backoff_base, config.backoff_cap, logger=log)
        self._actions: dict[str, int] = {}
        self._forkchoice_updates = 0

    # --- what the node reads ----------------------------------------------------------------------

    @property
    def l2_heads(self) -> Heads:
        return self._heads

    @property
    def heads_ready(self) -> bool:
        """Whether our heads have been read from the EL (until then we report none)."""
        return self._heads_ready.is_set()

    @property
    def actions(self) -> dict[str, int]:
        """Decision-table rows taken (a copy)."""
        return dict(self._actions)

    @property
    def forkchoice_updates(self) -> int:
        return self._forkchoice_updates

    def request_reset(self) -> None:
        """Send the forkchoice state again on the next tick."""
        self._last_fcu = None
        self._sources.wake()

    async def wait_status_change(self, timeout: float) -> None:
        """Return when the heads change or after ``timeout``."""
        with trio.move_on_after(timeout):
            await self._status_event.wait()

    # --- SequencerHost ----------------------------------------------------------------------------

    def heads(self) -> tuple[L2BlockRef, L2BlockRef, L2BlockRef]:
        """(unsafe, safe, finalized), for the sequencer."""
        h = self._heads
        return h.unsafe, h.safe, h.finalized

    def on_sequenced(self, ref: L2BlockRef) -> None:
        """The sequencer built ``ref`` and made it the EL's head (with our safe and finalized)."""
        self._set_heads(replace(self._heads, unsafe=ref))
        self._last_fcu = ForkchoiceState(ref.hash, self._heads.safe.hash, self._heads.finalized.hash)

    async def start_sequencer(self, nursery: trio.Nursery, gossip: NodeGossip | None) -> None:
        """Build blocks on our heads once they are read from the EL; a gossip that can sign
        (``--p2p.sequencer.key``) publishes each block built."""
        from opfleet.node.sequencer import Sequencer, SequencerConfig, run_sequencer

        cfg = self._config
        await self._heads_ready.wait()  # the sequencer builds on the heads read from the EL
        self.sequencer = Sequencer(cfg.rollup_config, engine=self._engine, l1=self._l1.l1, l2=self._l2,
                                   config=cfg.sequencer_config or SequencerConfig(),
                                   clock=cfg.sequencer_clock, blob_schedule=cfg.blob_schedule)
        if gossip is not None and gossip.can_publish:
            self.sequencer.on_built = gossip.publish_payload  # --p2p.sequencer.key
        await nursery.start(run_sequencer, self.sequencer, self)

    # --- heads ------------------------------------------------------------------------------------

    def _set_heads(self, heads: Heads) -> None:
        if heads == self._heads:
            return
        self._heads = heads
        for name, ref in (("l2_unsafe", heads.unsafe), ("l2_cross_unsafe", heads.unsafe),
                          ("l2_local_safe", heads.local_safe), ("l2_safe", heads.safe),
                          ("l2_finalized", heads.finalized), ("l2_backup_unsafe", heads.backup_unsafe)):
            self._metrics.ref("l2", name, ref)
        self._status_event.set()
        self._status_event = trio.Event()

    async def _init_heads(self) -> None:
        """Start from what the EL has (a restart resumes), as op-node's engine controller does
        (unless the node read them already, before serving RPC)."""
        while not self.heads_ready:
            try:
                await self.read_heads()
            except NodeError as exc:
                await trio.sleep(self._el_outage.failed(exc))
                continue
            self._el_outage.ok()

    async def read_heads(self) -> None:
        """One attempt at reading our heads from the EL; raises NodeError."""
        unsafe = await self._l2.l2_block_ref("latest")
        genesis = await self._l2.l2_block_ref(self._config.rollup_config.genesis.l2.number)
        safe = await self._label("safe", genesis)
        finalized = await self._label("finalized", genesis)
        if self.heads_ready:
            return
        self._set_heads(Heads(unsafe=unsafe, local_safe=safe, safe=safe, finalized=finalized))
        self._heads_ready.set()
        log.info("Heads read from the execution client", extra={"fields": {
            "unsafe": unsafe.number, "safe": safe.number, "finalized": finalized.number}})

    async def _label(self, label: str, fallback: L2BlockRef) -> L2BlockRef:
        try:
            return await self._l2.l2_block_ref(label)
        except BlockNotFoundError:
            return fallback

    # --- the follow loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow the sources until cancelled."""
        await self._init_heads()
        while True:
            await self._sources.wait_changed(self._retry_in if self._retry_in is not None else math.inf)
            target = await self._sources.choose_target()
            async with self.engine_lock:
                if target is not None:
                    await self._apply(target)
                await self._sync_forkchoice()

    async def _el_block_at(self, number: int) -> L2BlockRef:
        try:
            return await self._l2.l2_block_ref(number)
        except BlockNotFoundError:
            raise
        except NodeError as exc:
            self._el_error = exc
            raise

    async def _apply(self, target: FollowTarget) -> None:
        before = self._heads
        action, heads = await follow_step(before, target, self._el_block_at, sequencing=self.sequencer is not None)
        self._actions[action.value] = self._actions.get(action.value, 0) + 1
        if action is FollowAction.LOOKUP_ERROR:
            self._retry_in = self._el_outage.failed(self._el_error or NodeError("EL lookup failed"))
            return
        if action is FollowAction.FORCE_RESET:
            log.warning("Our unsafe chain conflicts with the source's local-safe block: resetting onto it",
                        extra={"fields": {"number": target.local_safe.number,
                                          "source_block": "0x" + target.local_safe.hash.hex()}})
            if self.sequencer is not None:
                self.sequencer.reset()
        elif action is FollowAction.CONFLICT:
            log.warning("Our unsafe chain conflicts with the source's local-safe block: reorging onto it",
                        extra={"fields": {"number": target.local_safe.number,
                                          "source_block": "0x" + target.local_safe.hash.hex()}})
        if not target.current_l1.is_zero():
            self._l1.derived(target.current_l1)
        self._set_heads(heads)
        if self.puller is not None and action.moves_unsafe:
            self.puller.wake()
        if heads.safe != before.safe:
            log.info("Following the source's safe head", extra={"fields": {
                "safe": heads.safe.number, "local_safe": heads.local_safe.number,
                "finalized": heads.finalized.number, "unsafe": heads.unsafe.number, "row": action.value}})

    async def _sync_forkchoice(self, *, resend_syncing: bool = False) -> None:
        """``engine_forkchoiceUpdatedV3`` with our heads, unless identical to the last one sent
        (sent again with ``resend_syncing`` if the EL answered that one SYNCING: it may have the
        head now)."""
        if not self.heads_ready:
            return
        h = self._heads
        state = ForkchoiceState(h.unsafe.hash, h.safe.hash, h.finalized.hash)
        if state == self._last_fcu and not (resend_syncing and self._fcu_syncing):
            if self._el_outage.failures == 0:
                self._retry_in = None
            return
        try:
            result = await self._engine.forkchoice_updated(state, version=3)
        except InvalidForkchoiceState as exc:
            log.warning(f"Execution client refused the forkchoice state (retried when the heads change): {exc}")
            self._last_fcu = state
            self._fcu_syncing = False
            self._retry_in = None
            return
        except NodeError as exc:
            self._retry_in = self._el_outage.failed(exc)
            return
        self._el_outage.ok()
        self._retry_in = None
        self._last_fcu = state
        self._fcu_syncing = result.payload_status.status is PayloadStatus.SYNCING
        self._forkchoice_updates += 1
        self._metrics.forkchoice_updates.inc()
        if result.payload_status.status in (PayloadStatus.INVALID, PayloadStatus.INVALID_BLOCK_HASH):
            log.warning("Execution client reports our unsafe head invalid", extra={"fields": {
                "unsafe": h.unsafe.number, "err": result.payload_status.validation_error or ""}})

    # --- blocks imported by the puller or gossip --------------------------------------------------

    async def on_pulled_head(self, ref: L2BlockRef) -> None:
        """The puller (or gossip) imported blocks up to ``ref``: make it the unsafe head.

        Our unsafe head is never moved down to it. Below our unsafe head, ``ref`` is a step of a
        catch-up: our unsafe head is the source's local-safe block (the "source ahead" row), which
        the EL answered SYNCING to, and the puller is how the EL gets there. Our heads stay as they
        are (so the safe head is never reported above the unsafe one, and the decision table sees
        the block it is syncing to); the EL's head alone moves to ``ref``, with safe and finalized
        labels only where they are at or below it, so the EL grows its canonical chain block by
        block as in any sync, and a restart resumes from there."""
        async with self.engine_lock:
            unsafe = self._heads.unsafe
            if ref.number >= unsafe.number:
                if ref != unsafe:
                    self._set_heads(replace(self._heads, unsafe=ref))
                await self._sync_forkchoice(resend_syncing=True)
            elif self._fcu_syncing:
                await self._forkchoice_catching_up(ref)

    async def _forkchoice_catching_up(self, ref: L2BlockRef) -> None:
        """Move the EL's head to ``ref``, a block below our unsafe head it has just imported."""
        h = self._heads
        zero = bytes(32)
        state = ForkchoiceState(ref.hash, h.safe.hash if h.safe.number <= ref.number else zero,
                                h.finalized.hash if h.finalized.number <= ref.number else zero)
        try:
            await self._engine.forkchoice_updated(state, version=3)
        except InvalidForkchoiceState as exc:
            log.debug(f"Execution client refused a catch-up forkchoice state: {exc}")
            return
        except NodeError as exc:
            self._retry_in = self._el_outage.failed(exc)
            return
        self._el_outage.ok()
        self._forkchoice_updates += 1
        self._metrics.forkchoice_updates.inc()
