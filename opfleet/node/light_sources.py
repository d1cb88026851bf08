"""A light node's follow sources: one watcher per source, and the consensus over them.

**Per tick, one request to each source.** When the source is opfleet, that request is the long
poll ``opfleet_waitSyncStatus(known, timeout_ms)`` (:mod:`opfleet.rpc.optimism`): it answers as
soon as the source's local-safe, safe, finalized or ``current_l1`` is another block than the one
we know, so a safe-head change reaches us in one round trip instead of up to one poll interval.
Support is detected by the first call itself (an empty ``known`` answers at once); a source that
answers -32601 (op-node, a supernode route, proxyd) is polled with ``optimism_syncStatus`` every
``--l2.follow.source.poll-interval`` (default 2 x block time, op-node's upstream-sync ticker).

Each status goes through op-node's sanity checks (:mod:`opfleet.node.follow`, the L1 lookups
through :meth:`opfleet.node.light_l1.L1Heads.lookup`), counted in
``op_node_follow_source_requests_total{result=...}``; with several sources
:mod:`opfleet.node.consensus` picks what a majority agrees on (:meth:`SourceWatch.choose_target`).

Failures: a source that is down or slow (``--l2.follow.source.rpc-timeout``) is retried with
backoff and logged once per outage. A source on another chain (``optimism_rollupConfig``: L2
chain id or genesis) is refused at first contact with a :class:`~opfleet.errors.ConfigError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import trio

from opfleet.errors import ConfigError, DecodeError, NodeError
from opfleet.log import mask_url
from opfleet.node.consensus import agree
from opfleet.node.follow import FollowResult, FollowTarget, L1Lookup, all_zero, check_status_batch
from opfleet.node.light_config import LightConfig, LightMetrics
from opfleet.node.outage import Outage
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.rollup_api import ChainIdentity
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.l1 import LRUCache
from opfleet.providers.rollup_node import RollupNodeClient

log = logging.getLogger("opfleet.light")

__all__ = ["POLL", "PUSH", "SourceState", "SourceWatch"]

PUSH = "push"
POLL = "poll"


@dataclass
class SourceState:
    """What the node knows about one source (read by statistics and the consensus)."""

    url: str
    client: JsonRpcClient
    mode: str | None = None
    """``push``, ``poll``, or None until the first answer."""
    status: SyncStatus | None = None
    """The last status that passed the sanity checks; None while down or insane."""
    last_result: FollowResult | None = None
    not_ready: SyncStatus | None = None
    """Its last status, while that one had all-zero heads (it has not read its chain yet)."""
    chain_checked: bool = False
    results: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return mask_url(self.url)

    @property
    def node(self) -> RollupNodeClient:
        """The rollup-node API over :attr:`client` (which this state owns and closes)."""
        return RollupNodeClient(rpc=self.client)


class SourceWatch:
    """The sources of ``config`` (their clients are made here; the node closes them), watched
    by :meth:`watch_or_stop`, one task each; :meth:`choose_target` is the consensus over their
    last sane statuses, and :meth:`wait_changed` waits for one to change. ``lookup_l1`` reads
    our L1 for the sanity checks."""

    def __init__(self, config: LightConfig, metrics: LightMetrics, lookup_l1: L1Lookup):
        self.sources = [SourceState(url, JsonRpcClient(url, timeout=config.source_rpc_timeout, name="follow source"))
                        for url in config.sources]
        self.fatal: ConfigError | None = None
        """Why a source was refused (the node raises it once its tasks have stopped)."""
        self._config = config
        self._metrics = metrics
        self._lookup_l1 = lookup_l1
        self._changed = trio.Event()
        self._set_aside: dict[str, float] = {}
        self._ref_cache: LRUCache[tuple[str, int, bytes], L2BlockRef] = LRUCache(256)
        self._no_majority = False
        self._no_majority_count = 0
        self._results: dict[str, int] = {}

    # --- what the node reads ----------------------------------------------------------------------

    @property
    def results(self) -> dict[str, int]:
        """Sanity-check outcomes over every source, by op-node's result label (a copy)."""
        return dict(self._results)

    @property
    def modes(self) -> dict[str, str | None]:
        return {s.url: s.mode for s in self.sources}

    @property
    def no_majority_count(self) -> int:
        """How many times the sources fell into disagreement with no majority."""
        return self._no_majority_count

    def readiness(self) -> str | None:
        """None while a source answers a status that passed the sanity checks, else why not."""
        if any(source.status is not None for source in self.sources):
            return None
        states = ", ".join(f"{s.label} {s.last_result.value if s.last_result else 'no answer yet'}"
                           for s in self.sources)
        return f"not ready: no follow source answers a sane status ({states})"

    def wake(self) -> None:
        """Wake :meth:`wait_changed` as if a source had changed."""
        self._changed.set()

    async def wait_changed(self, timeout: float) -> None:
        """Return when a source's status changed since the last call, or after ``timeout``."""
        with trio.move_on_after(timeout):
            await self._changed.wait()
        self._changed = trio.Event()

    # --- watching one source ----------------------------------------------------------------------

    async def watch_or_stop(self, source: SourceState, scope: trio.CancelScope) -> None:
        """:meth:`watch`; a source on another chain cancels ``scope`` and is kept in :attr:`fatal`."""
        try:
            await self.watch(source)
        except ConfigError as exc:
            if self.fatal is None:
                self.fatal = exc  # the node raises it: the CLI prints it as one line
            scope.cancel()

    async def watch(self, source: SourceState) -> None:
        cfg = self._config
        outage = Outage(f"Follow source {source.label}", cfg.backoff_base, cfg.backoff_cap, logger=log)
        insane = Outage(f"Follow source {source.label} sanity checks", cfg.backoff_base,
                        min(cfg.backoff_cap, cfg.effective_poll_interval), logger=log)
        while True:
            try:
                if not source.chain_checked:
                    await self._check_chain(source)
                status = await self._fetch(source)
            except (NodeError, DecodeError) as exc:
                self._count(source, FollowResult.ERROR_FETCH_STATUS)
                self._source_result(source, None, FollowResult.ERROR_FETCH_STATUS)
                await trio.sleep(outage.failed(exc))
                continue
            outage.ok()
            if all_zero(status):
                # Not ready (it answered before reading its chain): nothing to check or follow.
                # Counted like a failed fetch, logged once; a pushing source is asked to answer
                # as soon as its heads change, a polled one is polled again at the interval.
                self._count(source, FollowResult.ERROR_FETCH_STATUS)
                self._source_result(source, None, FollowResult.ERROR_FETCH_STATUS)
                if source.not_ready is None:
                    log.info("Follow source not ready: its heads are all zero (it has not read its chain yet); "
                             "waiting for it", extra={"fields": {"source": source.label}})
                source.not_ready = status
                await trio.sleep(cfg.effective_poll_interval if source.mode == POLL else cfg.backoff_base)
                continue
            if source.not_ready is not None:
                source.not_ready = None
                log.debug("Follow source ready", extra={"fields": {"source": source.label}})
            check = await check_status_batch(status, self._lookup_l1)
            self._count(source, check.result)
            if not check.ok:
                # Tick skipped, as op-node does. A pushing source is asked again after a backoff
                # (the next request does not wait: we know no good status of it); a polled one
                # at the next poll, never sooner.
                self._source_result(source, None, check.result)
                delay = insane.failed(NodeError(f"{check.result.value}: {check.reason}"))
                await trio.sleep(cfg.effective_poll_interval if source.mode == POLL else delay)
                continue
            insane.ok()
            self._source_result(source, status, check.result)
            if source.mode == POLL:
                await trio.sleep(cfg.effective_poll_interval)

    async def _check_chain(self, source: SourceState) -> None:
        """Refuse a source on another chain: its rollup config's L2 chain id and genesis must be ours."""
        try:
            theirs = await source.node.chain_identity()
        except DecodeError:  # not even an object: nothing says it is our chain
            raise ConfigError(f"follow source {source.label} is on another chain: optimism_rollupConfig did not "
                              "answer an object", key="l2.follow.source") from None
        except RpcCallError as exc:
            if not exc.is_method_not_found:
                raise
            log.warning("Follow source has no optimism_rollupConfig: cannot check it is on our chain",
                        extra={"fields": {"source": source.label}})
            source.chain_checked = True
            return
        problem = _chain_mismatch(theirs, self._config.rollup_config)
        if problem is not None:
            raise ConfigError(f"follow source {source.label} is on another chain: {problem}", key="l2.follow.source")
        source.chain_checked = True

    def _count(self, source: SourceState, result: FollowResult) -> None:
        self._metrics.follow_requests.inc(result=result.value)
        self._results[result.value] = self._results.get(result.value, 0) + 1
        source.results[result.value] = source.results.get(result.value, 0) + 1

    async def _fetch(self, source: SourceState) -> SyncStatus:
        """One request: the long poll when the source pushes (or might), else ``optimism_syncStatus``."""
        if source.mode != POLL:
            basis = source.status or source.not_ready
            known = basis if source.mode == PUSH else None  # none known: it answers at once
            wait_ms = int(self._config.effective_push_wait * 1000) if known is not None else 0
            try:
                status = await source.node.wait_sync_status(known, wait_ms)
            except RpcCallError as exc:
                if not exc.is_method_not_found:
                    raise
                source.mode = POLL
                self._metrics.source_push.set(0, source=source.label)
                log.info("Follow source cannot push: polling it", extra={"fields": {
                    "source": source.label, "interval": f"{self._config.effective_poll_interval:g}s"}})
            else:
                if source.mode is None:
                    log.info("Follow source pushes changes", extra={"fields": {"source": source.label}})
                    self._metrics.source_push.set(1, source=source.label)
                source.mode = PUSH
                return status
        return await source.node.sync_status()

    def _source_result(self, source: SourceState, status: SyncStatus | None, result: FollowResult) -> None:
        source.status = status
        source.last_result = result
        self._metrics.source_up.set(1 if status is not None else 0, source=source.label)
        self._changed.set()

    # --- consensus --------------------------------------------------------------------------------

    async def _ref_at(self, url: str, number: int, reported: L2BlockRef) -> L2BlockRef:
        key = (url, number, reported.hash)
        cached = self._ref_cache.get(key)
        if cached is not None:
            return cached
        source = next(s for s in self.sources if s.url == url)
        ref = (await source.node.output_at_block(number)).block_ref
        self._ref_cache.put(key, ref)
        return ref

    async def choose_target(self) -> FollowTarget | None:
        """What the sources' last sane statuses agree on (None: no status, or no majority); sets
        aside for ``ban_period`` seconds a source that disagrees with the majority."""
        cfg = self._config
        now = trio.current_time()
        for url, until in list(self._set_aside.items()):
            if until <= now:
                del self._set_aside[url]
                log.info("Follow source readmitted to the consensus", extra={"fields": {"source": mask_url(url)}})
        statuses = {s.url: s.status for s in self.sources}
        failed: set[str] = set()

        async def ref_at(url: str, number: int, reported: L2BlockRef) -> L2BlockRef:
            try:
                return await self._ref_at(url, number, reported)
            except (NodeError, DecodeError) as exc:
                failed.add(url)
                raise _LookupFailed(url, exc) from None

        for _ in range(len(self.sources) + 1):
            try:
                result = await agree({u: s for u, s in statuses.items() if u not in failed}, ref_at,
                                     set_aside=tuple(self._set_aside), sync_threshold=cfg.sync_threshold)
                break
            except _LookupFailed as exc:
                log.debug("Follow source block lookup failed", extra={"fields": {"source": mask_url(exc.url),
                                                                                  "err": str(exc.error)}})
        else:
            return None
        for url in result.disagreeing:
            self._set_aside[url] = now + cfg.ban_period
            log.warning("Follow source set aside: it disagrees with the majority", extra={"fields": {
                "source": mask_url(url), "reason": result.reasons.get(url, ""),
                "for": f"{cfg.ban_period:g}s"}})
        if result.no_majority != self._no_majority:
            self._no_majority = result.no_majority
            self._metrics.consensus_ok.set(0 if result.no_majority else 1)
            if result.no_majority:
                self._no_majority_count += 1
                log.warning("Follow sources disagree and no majority agrees: holding the safe head",
                            extra={"fields": {"candidates": len(result.candidates)}})
            else:
                log.info("Follow sources agree again")
        return result.target


class _LookupFailed(Exception):
    def __init__(self, url: str, error: BaseException):
        self.url, self.error = url, error


def _chain_mismatch(theirs: ChainIdentity, ours: RollupConfig) -> str | None:
    """Why a source's ``optimism_rollupConfig`` is not our chain (None: same chain, or it does not say)."""
    if theirs.l2_chain_id is not None and theirs.l2_chain_id != ours.l2_chain_id:
        return f"its L2 chain id is {theirs.l2_chain_id}, ours is {ours.l2_chain_id}"
    their_hash = theirs.l2_genesis_hash
    if their_hash is not None and their_hash != "0x" + ours.genesis.l2.hash.hex():
        return f"its L2 genesis is {their_hash}, ours is 0x{ours.genesis.l2.hash.hex()}"
    return None
