"""The supernode: derive every chain of an interop set in one process, verify cross-chain
messages, serve each chain's op-node API under ``/<chainID>``.

::

    Supernode.run()                      outer nursery, owns the shared clients
    ├── RPC server: ChainRouter           /<chainID>/... -> that chain's op-node API, / -> root methods
    ├── L1 watcher (ONE for the set)     head / safe / finalized -> every chain's SourceNode
    ├── per chain: SourceNode             shared L1 provider (one cache, concurrent reads coalesced)
    │                                     and BeaconClient, no own port,
    │                                     no own L1 watcher; its driver replaces denied blocks
    ├── per chain: health probe           the chain's EL answering? (else its route answers 503)
    └── interop loop                      index local-safe logs -> verify by timestamp -> promote

Verification (op-supernode ``supernode/activity/interop/``, ``specs/interop/messaging.md``):
each chain's local-safe blocks are indexed into its :class:`~opfleet.interop.logdb.LogDB`
(receipts from its EL). Timestamps are verified in order: ``T`` is the oldest unverified block
timestamp of any chain, verified once every chain has indexed up to ``T``, all blocks at ``T``
together (:func:`~opfleet.interop.verify.verify_timestamp`). A valid block becomes the chain's
verified head, reported as ``safe_l2`` (and bounding ``finalized_l2``) while ``local_safe_l2``
stays the chain's own derivation result (section 3.3). An invalid block goes on the chain's
deny list, the chain is rewound to its parent and re-derives it, and the driver replaces it by
its deposits plus the optimistic-block deposit (``specs/interop/derivation.md``). A reorg seen
while indexing (L1 reorg) rewinds the log database and every chain's verified head to the last
timestamp still known good. Blocks before the chain's interop activation carry no checks. On
first start a chain's finalized head is the anchor (verified by definition; messages from before
it are unknown, hence invalid).

The chain's EL is labelled as op-supernode labels it (``safety-labels.md``): ``safe`` is the
verified head (``finalized`` never above it), not local-safe; the driver sends it with every
forkchoice update and a verification sends one more. Not modelled: ``required_l1`` in
``superroot_atTimestamp`` is the block's L1 origin.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import trio

from opfleet.config import defaults
from opfleet.errors import DecodeError, TemporaryError
from opfleet.interop.logdb import LogDB
from opfleet.interop.messages import EXPIRY_WINDOW, decode_executing_message, payload_hash
from opfleet.interop.router import ChainRouter
from opfleet.interop.shared_l1 import SharedL1Provider
from opfleet.interop.superroot import ChainOutput, supernode_status_json, superroot_response_json
from opfleet.interop.verify import BlockLogs, IndexedLog, Problem, verify_timestamp
from opfleet.node.outage import Outage
from opfleet.node.safedb import SafeHeadDB
from opfleet.node.source import SourceConfig, SourceNode
from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF, L2BlockRef
from opfleet.protocol.deposits import invalidated_block_deposit
from opfleet.protocol.hexjson import hex_data
from opfleet.protocol.l1_block_info import BlobSchedule
from opfleet.protocol.log import Log
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.beacon import BeaconClient
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.providers.l1 import L1Provider
from opfleet.providers.l2 import L2Provider
from opfleet.rpc.metrics import Registry, serve_metrics
from opfleet.rpc.optimism import parse_hex_uint64, version_string
from opfleet.rpc.server import DEFAULT_ERROR, HttpServer, JsonRpcServer, RpcError, json_route
from opfleet.rpc.serving import ServingConfig

log = logging.getLogger("opfleet.supernode")

INDEX_BATCH = 64
"""Blocks indexed per chain per round (keeps one slow chain from starving verification)."""


@dataclass(frozen=True, slots=True)
class ChainSettings:
    """One chain of the set: its rollup config and execution client."""

    rollup_config: RollupConfig
    l2_url: str
    jwt_secret: bytes
    l1_confs: int = 0
    blob_schedule: BlobSchedule | None = None
    """The L1's blob fee schedule (``--vn.all.rollup.l1-chain-config``); None: the built-in one
    of a public L1."""

    @property
    def chain_id(self) -> int:
        return self.rollup_config.l2_chain_id


@dataclass(frozen=True, slots=True, kw_only=True)
class SupernodeConfig(ServingConfig):
    """Everything a supernode needs (``opfleet supernode`` fills it from settings)."""

    chains: tuple[ChainSettings, ...]
    l1_url: str
    l1_beacon_url: str | None = None
    l1_beacon_seconds_per_slot: int = 0
    l1_poll_interval: float = defaults.L1_HTTP_POLL_INTERVAL
    l1_max_batch_size: int = defaults.L1_RPC_MAX_BATCH_SIZE
    data_dir: str | Path | None = None
    """Per-chain ``<dir>/<chainID>/{logs.db,safedb.db}``; None keeps everything in memory."""
    gate_timeout: float = defaults.INTEROP_GATE_TIMEOUT
    interop_interval: float = 0.5
    """Longest wait between verification rounds (a new local-safe block wakes it sooner)."""
    health_interval: float = 2.0
    dependency_set: tuple[int, ...] | None = None
    """Chain IDs messages may come from; None = the chains of this supernode."""
    expiry_window: int = EXPIRY_WINDOW
    backoff_base: float = 0.5
    backoff_cap: float = 30.0


@dataclass(frozen=True, slots=True)
class ChainStatistics:
    chain_id: int
    local_safe: L2BlockRef
    verified: L2BlockRef | None
    indexed: L2BlockRef | None
    blocks_indexed: int
    blocks_invalidated: int
    ready: bool


@dataclass(frozen=True, slots=True)
class SupernodeStatistics:
    """A snapshot of the supernode (the bench and the TUI read it)."""

    chains: tuple[ChainStatistics, ...]
    l1_requests: int
    """JSON-RPC calls sent to L1 by the whole set (a batch item counts once)."""
    l1_http_requests: int
    beacon_requests: int
    verification_rounds: int


@dataclass
class _Chain:
    settings: ChainSettings
    node: SourceNode
    logdb: LogDB
    safe_db: SafeHeadDB
    verified: L2BlockRef | None = None
    healthy: bool = False
    health_error: str = "execution client not contacted yet"
    indexed: int = 0
    invalidated: int = 0
    index_failures: int = field(default=0)

    @property
    def chain_id(self) -> int:
        return self.settings.chain_id

    @property
    def l2(self) -> L2Provider:
        """The chain's execution client, read through its node's driver (TemporaryError before
        the node has one)."""
        driver = self.node.driver
        if driver is None:
            raise TemporaryError(f"chain {self.chain_id}: execution client not started")
        return driver.l2

    def not_ready(self) -> str | None:
        driver = self.node.driver
        if not self.healthy:
            return self.health_error
        if driver is None or not driver.started:
            return "derivation has not started"
        return None

    def interop_active(self, timestamp: int) -> bool:
        return self.settings.rollup_config.is_interop(timestamp)

    def view(self, status: SyncStatus) -> SyncStatus:
        """op-supernode's SuperAuthority: safe = verified head bounded by local-safe; finalized
        never above it. Before interop, local-safe is safe."""
        local = status.local_safe_l2
        if not self.interop_active(local.timestamp):
            return status
        verified = self.verified
        if verified is None:
            safe = status.finalized_l2 if status.finalized_l2.number <= local.number else local
        else:
            safe = verified if verified.number <= local.number else local
        finalized = status.finalized_l2 if status.finalized_l2.number <= safe.number else safe
        return replace(status, safe_l2=safe, finalized_l2=finalized)

    def safe_label(self, safe: L2BlockRef) -> L2BlockRef | None:
        """The block the chain's EL is told is safe: the verified head, not local-safe
        (op-supernode ``safety-labels.md``; the same bounds as :meth:`view`). None before interop."""
        if not self.interop_active(safe.timestamp):
            return None
        driver = self.node.driver
        label = self.verified if self.verified is not None else (driver.finalized_head if driver else None)
        return label if label is not None and label.number <= safe.number else None

    def denied(self, ref: L2BlockRef) -> tuple[bytes, ...] | None:
        preimage = self.logdb.denied(ref.number, ref.hash)
        return None if preimage is None else (invalidated_block_deposit(preimage).encode(),)


class Supernode:
    """A running supernode; see the module docstring."""

    def __init__(self, config: SupernodeConfig):
        if not config.chains:
            raise ValueError("a supernode needs at least one chain")
        ids = [c.chain_id for c in config.chains]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate chain IDs: {ids}")
        self.config = config
        self.dependency_set = frozenset(config.dependency_set or ids)
        self.chains: dict[int, _Chain] = {}
        self.router = ChainRouter(self._root_server(), gate_timeout=config.gate_timeout)
        self.rpc_port: int | None = None
        self.metrics_port: int | None = None
        self.metrics = Registry()
        self._refs = self.metrics.gauge("op_supernode_refs_number", "Per-chain L2 block numbers by safety level",
                                        ("chain", "type"))
        self._wake = trio.Event()
        self._rounds = 0
        self._l1_client: JsonRpcClient | None = None
        self._beacon: BeaconClient | None = None

    # --- running ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[Supernode] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        async with AsyncExitStack() as stack:
            self._l1_client = l1_client = await stack.enter_async_context(
                JsonRpcClient(cfg.l1_url, max_batch_size=cfg.l1_max_batch_size, name="L1"))
            l1 = SharedL1Provider(l1_client)
            if cfg.l1_beacon_url:
                self._beacon = await stack.enter_async_context(BeaconClient(
                    cfg.l1_beacon_url, seconds_per_slot=cfg.l1_beacon_seconds_per_slot or None))
            for settings in cfg.chains:
                chain = self._open_chain(settings, l1)
                stack.callback(chain.logdb.close)
                stack.callback(chain.safe_db.close)
            async with trio.open_nursery() as nursery:
                self.rpc_port = await nursery.start(HttpServer(self.router, name="supernode-rpc").serve,
                                                    cfg.rpc_addr, cfg.rpc_port)
                if cfg.metrics_enabled:
                    self.metrics_port = await nursery.start(serve_metrics, self.metrics, cfg.metrics_addr,
                                                            cfg.metrics_port)
                for chain in self.chains.values():
                    await nursery.start(chain.node.run)
                    nursery.start_soon(self._probe, chain)
                nursery.start_soon(self._watch_l1, l1)
                nursery.start_soon(self._interop_loop)
                log.info("Supernode started", extra={"fields": {
                    "rpc": f"http://{cfg.rpc_addr}:{self.rpc_port}",
                    "chains": ",".join(str(c) for c in sorted(self.chains))}})
                task_status.started(self)

    def _open_chain(self, settings: ChainSettings, l1: L1Provider) -> _Chain:
        cfg, cid = self.config, settings.chain_id
        base = Path(cfg.data_dir) / str(cid) if cfg.data_dir is not None else None
        logdb = LogDB(base / "logs.db" if base else None, chain_id=cid)
        safe_db = SafeHeadDB(base / "safedb.db" if base else None)
        source = SourceConfig(
            rollup_config=settings.rollup_config, l1_url=cfg.l1_url, l2_url=settings.l2_url,
            jwt_secret=settings.jwt_secret, l1_beacon_url=cfg.l1_beacon_url,
            l1_beacon_seconds_per_slot=cfg.l1_beacon_seconds_per_slot, l1_poll_interval=cfg.l1_poll_interval,
            l1_max_batch_size=cfg.l1_max_batch_size, l1_confs=settings.l1_confs, enable_admin=cfg.enable_admin,
            backoff_base=cfg.backoff_base, backoff_cap=cfg.backoff_cap, blob_schedule=settings.blob_schedule)
        chain: _Chain
        node = SourceNode(source, safe_db=safe_db, l1=l1, beacon=self._beacon, serve_rpc=False, watch_l1=False,
                          denied=lambda ref: chain.denied(ref), status_view=lambda s: chain.view(s),
                          safe_label=lambda ref: chain.safe_label(ref))
        chain = _Chain(settings, node, logdb, safe_db, verified=logdb.verified())
        self.chains[cid] = chain
        self.router.add_chain(cid, node.rpc_server(), chain.not_ready)
        return chain

    async def _watch_l1(self, l1: L1Provider) -> None:
        """One L1 head poll for the whole set (each SourceNode would otherwise poll its own)."""
        outage = Outage("L1 head polling", self.config.backoff_base, self.config.backoff_cap, logger=log)
        while True:
            try:
                head, safe, finalized = await l1.block_refs("latest", "safe", "finalized")
            except Exception as exc:  # an outage: retry with backoff, log once
                await trio.sleep(outage.failed(exc))
                continue
            outage.ok()
            for chain in self.chains.values():
                chain.node.set_l1_heads(head, safe, finalized)
            await trio.sleep(self.config.l1_poll_interval)

    async def _probe(self, chain: _Chain) -> None:
        """Is the chain's execution client answering? A down EL makes its route answer 503."""
        while True:
            driver = chain.node.driver
            if driver is not None:
                try:
                    await chain.l2.chain_id()
                except Exception as exc:  # any failure means "not serving"
                    if chain.healthy or chain.health_error.startswith("execution client not contacted"):
                        log.warning(f"Chain {chain.chain_id}: execution client unreachable: {exc}")
                    chain.healthy, chain.health_error = False, f"execution client unreachable ({exc})"
                else:
                    if not chain.healthy and not chain.health_error.startswith("execution client not contacted"):
                        log.info(f"Chain {chain.chain_id}: execution client recovered")
                    chain.healthy = True
            await trio.sleep(self.config.health_interval)

    # --- interop ----------------------------------------------------------------------------------

    async def _interop_loop(self) -> None:
        while True:
            for chain in self.chains.values():
                await self._index(chain)
            while await self._verify_next():
                pass
            self._update_metrics()
            with trio.move_on_after(self.config.interop_interval):
                await self._wake.wait()
            self._wake = trio.Event()

    def wake(self) -> None:
        """Run a verification round now (tests; a new local-safe block)."""
        self._wake.set()

    async def _index(self, chain: _Chain) -> None:
        """Append the chain's new local-safe blocks (with their logs) to its log database,
        rewinding it first if the chain reorged."""
        driver = chain.node.driver
        if driver is None or not driver.started or not chain.healthy or chain.node.rewind_pending:
            return  # (after an invalidation the heads show the old chain until the rewind is done)
        local = driver.local_safe_head
        try:
            latest = chain.logdb.latest()
            if latest is None:  # first start: the finalized head is the anchor, verified by definition
                anchor = driver.finalized_head
                await self._append(chain, anchor)
                self._set_verified(chain, anchor)
                return
            if latest.number >= local.number and chain.logdb.block(local.number) != local:
                if (await driver.l2.l2_block_ref(latest.number)).hash != latest.hash:
                    await self._rewind_index(chain)
                return
            for number in range(latest.number + 1, min(local.number, latest.number + INDEX_BATCH) + 1):
                ref = await driver.l2.l2_block_ref(number)
                tip = chain.logdb.latest()
                if tip is not None and ref.parent_hash != tip.hash:
                    await self._rewind_index(chain)
                    return
                await self._append(chain, ref)
            if chain.index_failures:
                log.info(f"Chain {chain.chain_id}: log indexing recovered")
                chain.index_failures = 0
        except Exception as exc:  # outages: the next round retries
            chain.index_failures += 1
            if chain.index_failures == 1:
                log.warning(f"Chain {chain.chain_id}: log indexing failing, retrying: {exc}")

    async def _append(self, chain: _Chain, ref: L2BlockRef) -> None:
        # eth_getLogs by block hash: the engine endpoint guarantees it (not eth_getBlockReceipts).
        try:
            logs = await chain.l2.block_logs(ref.hash)
        except DecodeError as exc:
            raise DecodeError(f"chain {chain.chain_id} block {ref.number}: malformed log: {exc}") from None
        chain.logdb.add_block(ref, _indexed_logs(logs, chain.chain_id, ref.number))
        chain.indexed += 1

    async def _rewind_index(self, chain: _Chain) -> None:
        """Walk back to the newest indexed block the EL still has, drop what is above it, and
        roll every chain's verified head back to that block's timestamp."""
        l2 = chain.l2
        latest = chain.logdb.latest()
        assert latest is not None
        number = latest.number
        while number > 0:
            ours = chain.logdb.block(number)
            if ours is not None and (await l2.l2_block_ref(number)).hash == ours.hash:
                break
            number -= 1
        common = chain.logdb.block(number)
        chain.logdb.rewind_to(number)
        log.warning(f"Chain {chain.chain_id}: reorg, log database rewound", extra={"fields": {
            "from": latest.number, "to": number}})
        if common is not None:
            self._rewind_verified(common.timestamp)

    def _rewind_verified(self, timestamp: int) -> None:
        for chain in self.chains.values():
            if chain.verified is not None and chain.verified.timestamp > timestamp:
                back = chain.logdb.last_at_or_before(timestamp)
                if back is not None:
                    self._set_verified(chain, back)

    def _set_verified(self, chain: _Chain, ref: L2BlockRef) -> None:
        chain.logdb.set_verified(ref)
        chain.verified = ref
        chain.node.request_relabel()  # the EL's safe label follows the verified head

    async def _verify_next(self) -> bool:
        """Verify the oldest unverified timestamp if every chain has indexed up to it; whether
        anything was decided."""
        nexts: dict[int, BlockLogs] = {}
        for cid, chain in self.chains.items():
            if chain.verified is None:
                return False  # a chain not indexed yet: its messages are unknown
            block = chain.logdb.block_logs(chain.verified.number + 1)
            if block is not None:
                nexts[cid] = block
        if not nexts:
            return False
        ts = min(b.timestamp for b in nexts.values())
        for chain in self.chains.values():
            latest = chain.logdb.latest()
            if latest is None or latest.timestamp < ts:
                return False
        round_blocks = {cid: b for cid, b in nexts.items() if b.timestamp == ts}
        checked = {cid: b for cid, b in round_blocks.items() if self.chains[cid].interop_active(ts)}
        problems = verify_timestamp(checked, dependency_set=self.dependency_set, lookup=self._lookup,
                                    expiry_window=self.config.expiry_window)
        self._rounds += 1
        for cid, block in round_blocks.items():
            chain = self.chains[cid]
            if cid in problems:
                await self._invalidate(chain, block, problems[cid])
            else:
                ref = chain.logdb.block(block.number)
                assert ref is not None
                self._set_verified(chain, ref)
        return True

    def _lookup(self, chain_id: int, number: int, log_index: int) -> tuple[int, IndexedLog] | None:
        chain = self.chains.get(chain_id)
        return None if chain is None else chain.logdb.find_log(number, log_index)

    async def _invalidate(self, chain: _Chain, block: BlockLogs, problems: Sequence[Problem]) -> None:
        """Deny the block, drop it from the index and make the chain re-derive it (replaced)."""
        driver = chain.node.driver
        assert driver is not None
        log.warning(f"Chain {chain.chain_id}: block {block.number} has an invalid executing message; "
                    f"replacing it: {problems[0]}", extra={"fields": {"hash": hex_data(block.hash),
                                                                       "problems": len(problems)}})
        try:
            output, ref = await driver.l2.output_v0(block.hash)
        except Exception as exc:  # the EL went away or reorged: the next round retries
            log.warning(f"Chain {chain.chain_id}: cannot read block {block.number} to replace it: {exc}")
            return
        if ref.hash != block.hash:
            return
        if chain.logdb.denied(block.number, block.hash) is None:
            chain.invalidated += 1
        chain.logdb.deny(block.number, block.hash, output.marshal())
        chain.logdb.rewind_to(block.number - 1)
        parent = chain.logdb.block(block.number - 1)
        assert parent is not None
        chain.node.request_rewind(parent)

    def _update_metrics(self) -> None:
        for cid, chain in self.chains.items():
            status = chain.node.sync_status()
            for name, ref in (("l2_local_safe", status.local_safe_l2), ("l2_safe", status.safe_l2),
                              ("l2_unsafe", status.unsafe_l2), ("l2_finalized", status.finalized_l2)):
                self._refs.set(ref.number, chain=str(cid), type=name)

    # --- views ------------------------------------------------------------------------------------

    def statistics(self) -> SupernodeStatistics:
        chains = tuple(ChainStatistics(
            chain_id=cid, local_safe=c.node.sync_status().local_safe_l2, verified=c.verified,
            indexed=c.logdb.latest(), blocks_indexed=c.indexed, blocks_invalidated=c.invalidated,
            ready=c.not_ready() is None) for cid, c in sorted(self.chains.items()))
        l1 = self._l1_client.statistics() if self._l1_client else None
        beacon = self._beacon.statistics() if self._beacon else None
        beacon_requests = sum(getattr(beacon, "requests_by_path", {}).values()) if beacon else 0
        return SupernodeStatistics(
            chains=chains,
            l1_requests=sum(l1.requests_by_method.values()) if l1 else 0,
            l1_http_requests=l1.http_requests if l1 else 0,
            beacon_requests=beacon_requests,
            verification_rounds=self._rounds,
        )

    def sync_statuses(self) -> dict[int, SyncStatus]:
        return {cid: chain.node.sync_status() for cid, chain in self.chains.items()}

    def _root_server(self) -> JsonRpcServer:
        async def supernode_syncStatus() -> dict[str, Any]:
            statuses = self.sync_statuses()
            current = min((s.current_l1 for s in statuses.values()), key=lambda r: r.number,
                          default=ZERO_L1_BLOCK_REF)
            return supernode_status_json(statuses, current_l1=current.id)

        async def superroot_atTimestamp(timestamp: Any) -> dict[str, Any]:
            return await self.superroot_at(parse_hex_uint64(timestamp))

        async def heartbeat_check() -> str:
            return "0x" + secrets.token_hex(4)  # op-supernode heartbeat: 4 random bytes (hexutil.Bytes)

        return JsonRpcServer(
            {"supernode_syncStatus": supernode_syncStatus, "superroot_atTimestamp": superroot_atTimestamp,
             "heartbeat_check": heartbeat_check},
            extra_routes={"/healthz": json_route({"version": version_string()})},
            name="supernode-root")

    async def superroot_at(self, timestamp: int) -> dict[str, Any]:
        """``superroot_atTimestamp``: every chain's output at ``timestamp`` and, when all are
        verified, the SuperRoot V1 (op-service ``eth/superroot_at_timestamp.go``,
        ``eth/super_root.go``). A chain without a local-safe block at ``timestamp`` yet is left
        out of the outputs and the answer has no super root, as op-supernode's (not an error)."""
        statuses = self.sync_statuses()
        outputs: dict[int, ChainOutput] = {}
        for cid, chain in sorted(self.chains.items()):
            rollup, driver = chain.settings.rollup_config, chain.node.driver
            status = statuses[cid]
            if timestamp < rollup.genesis.l2_time:
                raise RpcError(DEFAULT_ERROR, f"chain {cid}: timestamp {timestamp} is before its genesis")
            number = rollup.genesis.l2.number + (timestamp - rollup.genesis.l2_time) // rollup.block_time
            if driver is None or not driver.started or number > status.local_safe_l2.number:
                continue  # not derived yet
            try:
                output, ref = await driver.l2.output_v0(number)
            except Exception as exc:  # one clear line for the caller
                raise RpcError(DEFAULT_ERROR, f"chain {cid}: cannot read the output of block {number}: {exc}") from None
            outputs[cid] = ChainOutput(output, ref.l1_origin, number <= status.safe_l2.number)
        current = min((s.current_l1 for s in statuses.values()), key=lambda r: r.number, default=ZERO_L1_BLOCK_REF)
        return superroot_response_json(
            timestamp=timestamp, current_l1=current.id,
            safe_timestamp=min(s.safe_l2.timestamp for s in statuses.values()),
            local_safe_timestamp=min(s.local_safe_l2.timestamp for s in statuses.values()),
            finalized_timestamp=min(s.finalized_l2.timestamp for s in statuses.values()),
            outputs=outputs, chain_ids=self.chains)


def _indexed_logs(logs: Sequence[Log], chain_id: int, number: int) -> list[IndexedLog]:
    """A block's logs (:meth:`L2Provider.block_logs`: each with its index), in log-index order."""
    out = []
    for entry in logs:
        index = entry.log_index or 0
        try:
            executing = decode_executing_message(entry)
        except DecodeError as exc:
            log.warning(f"Chain {chain_id} block {number}: malformed ExecutingMessage log ignored: {exc}")
            executing = None
        out.append(IndexedLog(index, entry.address, payload_hash(entry.topics, entry.data), executing))
    out.sort(key=lambda entry: entry.log_index)
    return out


