"""A light node's L1 heads: what it reads from its own L1, which it derives nothing from.

Its L1 serves the heads it reports and the follow-source sanity checks (a light sequencer's
origin selection makes its own reads). The heads are polled at op-node's
``--l1.http-poll-interval`` default, 12 s, in one batch (latest, safe, finalized). The checks
read our L1 on every tick, as op-node does: the L1 origins of the source's local-safe, safe and
finalized heads and its ``current_l1``, each distinct number once, all in ONE batched request
(:meth:`L1Heads.lookup`). Only refs at or below our L1's finalized block are remembered
(:class:`~opfleet.node.follow.FinalizedL1`): no reorg can replace them. So a tick costs one HTTP
request carrying one call per distinct L1 number above our L1's finalized block, and none when
every number is finalized; :class:`L1CheckStatistics` and the ``opfleet_follow_l1_check_*_total``
counters count ticks, calls and requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import trio

from opfleet.errors import BlockNotFoundError, DecodeError, NodeError, TemporaryError
from opfleet.node.follow import FinalizedL1, FinalizedL1Statistics
from opfleet.node.light_config import LightMetrics
from opfleet.node.outage import Outage
from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF, BlockID, L1BlockRef
from opfleet.protocol.ethjson import header_from_json
from opfleet.protocol.hexjson import hex_quantity
from opfleet.providers.l1 import L1Provider

log = logging.getLogger("opfleet.light")

__all__ = ["L1CheckStatistics", "L1Heads"]


@dataclass(frozen=True, slots=True)
class L1CheckStatistics:
    """What the sanity checks cost our L1: statuses checked, calls and HTTP requests made."""

    ticks: int = 0
    calls: int = 0
    """JSON-RPC calls (one per distinct L1 number not known final)."""
    requests: int = 0
    """HTTP requests: at most one per tick (one batch)."""

    @property
    def calls_per_tick(self) -> float:
        return self.calls / self.ticks if self.ticks else 0.0

    @property
    def requests_per_tick(self) -> float:
        return self.requests / self.ticks if self.ticks else 0.0


class L1Heads:
    """Our L1's latest, safe and finalized blocks (:meth:`watch` polls them), the last source
    ``current_l1`` the follow loop accepted (:meth:`derived`), and the sanity checks' lookups
    (:meth:`lookup`). ``on_polled`` runs after each good poll (the node refreshes its request
    metrics at that pace)."""

    def __init__(self, l1: L1Provider, metrics: LightMetrics, *, poll_interval: float, backoff_base: float,
                 backoff_cap: float, on_polled: Callable[[], None]):
        self.l1 = l1
        self.head = self.safe = self.finalized = ZERO_L1_BLOCK_REF
        self.current = ZERO_L1_BLOCK_REF
        """The last validated source ``current_l1`` (never above :attr:`head`)."""
        self._metrics = metrics
        self._poll_interval = poll_interval
        self._backoff = (backoff_base, backoff_cap)
        self._on_polled = on_polled
        self._verified = FinalizedL1()
        self._checks = L1CheckStatistics()

    @property
    def checks(self) -> L1CheckStatistics:
        return self._checks

    def verified_statistics(self) -> FinalizedL1Statistics:
        return self._verified.statistics()

    async def watch(self) -> None:
        """Poll the heads every ``poll_interval`` until cancelled; an outage is retried with backoff."""
        outage = Outage("L1 head polling", *self._backoff, logger=log)
        while True:
            try:
                await self.poll()
            except NodeError as exc:
                await trio.sleep(outage.failed(exc))
                continue
            outage.ok()
            for name, ref in (("l1_head", self.head), ("l1_safe", self.safe), ("l1_finalized", self.finalized)):
                self._metrics.ref("l1", name, ref)
            self._on_polled()
            await trio.sleep(self._poll_interval)

    async def poll(self) -> None:
        """One batched request: ``latest``, ``safe`` and ``finalized``."""
        params = ("latest", "safe", "finalized")
        answers = await self.l1.client.batch([("eth_getBlockByNumber", [p, False]) for p in params])
        head, safe, finalized = (self._parse_ref(raw, label) for raw, label in zip(answers, params))
        if head is None or safe is None or finalized is None:
            raise BlockNotFoundError(f"{self.l1.client.endpoint}: our L1 has no latest/safe/finalized block yet")
        self._verified.set_finalized(finalized)
        self.head, self.safe, self.finalized = head, safe, finalized
        if self.current.number > head.number:
            self.current = head  # our L1 went back below it: no more than our head is known derived

    def derived(self, current_l1: L1BlockRef) -> None:
        """The follow loop accepted a status whose ``current_l1`` is this (checked on our L1)."""
        self.current = current_l1
        self._metrics.ref("l1", "l1_derived", current_l1)
        if current_l1.number > self.head.number:
            # The sanity check has just read it from our L1: it is the newest block of our L1
            # we know, so our head moves up to it rather than trail current_l1 until the next
            # head poll (we never report a current_l1 above our head_l1).
            self.head = current_l1
            self._metrics.ref("l1", "l1_head", self.head)

    async def lookup(self, blocks: Sequence[BlockID]) -> dict[int, L1BlockRef | BaseException]:
        """Our L1's canonical refs at the numbers of ``blocks`` for one tick's sanity checks: read
        from our L1 in ONE batched request, except refs at or below its finalized block that it
        already answered (:class:`FinalizedL1`)."""
        missing = sorted({b.number for b in blocks if not self._verified.confirms(b)})
        found: dict[int, L1BlockRef | BaseException] = {}
        for b in blocks:
            if b.number not in missing:
                found[b.number] = self._verified.get(b.number) or NodeError("evicted")
        checks = self._checks
        self._checks = replace(checks, ticks=checks.ticks + 1, calls=checks.calls + len(missing),
                               requests=checks.requests + (1 if missing else 0))
        self._metrics.l1_check_ticks.inc()
        if not missing:
            return found
        self._metrics.l1_check_calls.inc(len(missing))
        self._metrics.l1_check_requests.inc()
        calls = [("eth_getBlockByNumber", [hex_quantity(n), False]) for n in missing]
        try:
            answers = await self.l1.client.batch(calls, return_errors=True)
        except NodeError as exc:
            return found | {n: exc for n in missing}
        for n, raw in zip(missing, answers):
            if isinstance(raw, BaseException):
                found[n] = raw
                continue
            try:
                ref = self._parse_ref(raw, hex_quantity(n))
            except NodeError as exc:
                found[n] = exc
                continue
            if ref is None:
                found[n] = BlockNotFoundError(f"{self.l1.client.endpoint}: L1 block {n} not found")
            else:
                self._verified.add(ref)
                found[n] = ref
        return found

    def _parse_ref(self, raw: Any, what: str) -> L1BlockRef | None:
        if raw is None:
            return None
        try:
            ref = header_from_json(raw).ref
        except DecodeError as exc:
            raise TemporaryError(f"{self.l1.client.endpoint}: malformed L1 block {what}: {exc}") from None
        if what.startswith("0x") and ref.number != int(what, 16):
            raise TemporaryError(f"asked our L1 for block {int(what, 16)}, got block {ref.number}")
        return ref
