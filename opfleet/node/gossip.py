"""Unsafe blocks over op-node's gossip network, for light nodes, sources and the light sequencer.

- :class:`SignerWatch`: the chain's unsafe-block signer as op-node reads it, the L1
  SystemConfig's storage slot ``keccak256("systemconfig.unsafeblocksigner")``, read at start and
  every ``reload`` seconds (op-node ``--l1.runtime-config-reload-interval``, 10 min;
  ``op-node/node/runtime_config.go``). op-node checks the slot with ``eth_getProof`` against the
  block's state root; we read it with ``eth_getStorageAt`` from the L1 endpoint we already trust.
- :class:`GossipInserter`: each accepted block goes to the execution client with
  ``engine_newPayload``; a VALID one is handed to the node (``on_head``), which makes it the
  unsafe head with a forkchoice update under its engine lock, as op-node does with a gossiped
  payload. A block whose parent the EL lacks waits (a few, by parent hash) while the missing
  blocks are asked from peers by op-node's req/resp sync (``payload_by_number``), each accepted
  only if it is the parent the waiting block names (op-node's quarantine), at most
  :data:`MAX_GAP` blocks down.
- :class:`NodeGossip` also serves our EL's blocks to peers that ask (op-node's sync server).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from opfleet.engine.driver import ref_from_transactions
from opfleet.errors import NodeError
from opfleet.protocol import gossip as g
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.engine_api import PayloadStatus
from opfleet.providers.engine import EngineClient

log = logging.getLogger("opfleet.gossip")

UNSAFE_BLOCK_SIGNER_SLOT = "0x65a7ed542fb37fe237fdfbdd70b31598523fe5b32879e307bae27a0bd9581c08"
RUNTIME_CONFIG_RELOAD = 600.0
MAX_WAITING = 160
"""Blocks kept waiting for their parent (more than :data:`MAX_GAP`, so a filled gap drains whole)."""
MAX_GAP = 64
INSERTED, WAITING, REFUSED = "inserted", "waiting", "refused"


class SignerWatch:
    """The unsafe-block signer address from L1 (see the module docstring); None until read."""

    def __init__(self, l1_client, system_config_address: bytes, *, reload: float = RUNTIME_CONFIG_RELOAD,
                 fixed: bytes | None = None):
        self._l1 = l1_client
        self._address = "0x" + system_config_address.hex()
        self._reload = reload
        self.address: bytes | None = fixed

    def __call__(self) -> bytes | None:
        return self.address

    async def read(self) -> bytes | None:
        raw = await self._l1.call("eth_getStorageAt", self._address, UNSAFE_BLOCK_SIGNER_SLOT, "latest")
        value = bytes.fromhex(raw[2:].rjust(64, "0"))[-20:]
        if value != self.address:
            log.info("Loaded the unsafe block signer from L1", extra={"fields": {"p2p_seq_address": "0x" + value.hex()}})
        self.address = value
        return value

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        started = failing = False
        while True:
            try:
                await self.read()
                failing = False
            except (NodeError, ValueError, TypeError, AttributeError) as exc:
                if not failing:  # once per outage
                    log.warning(f"Unsafe block signer not read from L1, retrying: {exc}")
                failing = True
            if not started:
                started = True
                task_status.started()
            await trio.sleep(self._reload if self.address is not None else 5.0)


@dataclass
class InserterStatistics:
    received: int
    inserted: int
    invalid: int
    waiting: int
    last_number: int
    fetched: int = 0
    """Blocks fetched by req/resp sync to fill a gap below a gossiped block."""


class GossipInserter:
    """Insert gossiped blocks into our EL; see the module docstring."""

    def __init__(self, rollup, engine: EngineClient, on_head: Callable[[L2BlockRef], Awaitable[None]],
                 *, on_inserted: Callable[[g.Envelope, str], None] | None = None,
                 fetch: Callable[[int], Awaitable[g.Envelope | None]] | None = None):
        self.rollup = rollup
        self.fetch = fetch
        self.engine = engine
        self.on_head = on_head
        self.on_inserted = on_inserted
        self._waiting: OrderedDict[bytes, tuple[g.Envelope, str]] = OrderedDict()
        self._counts = {"received": 0, "inserted": 0, "invalid": 0, "fetched": 0}
        self._fill_after = 0.0
        self._last = 0
        self._lock = trio.Lock()

    def statistics(self) -> InserterStatistics:
        c = self._counts
        return InserterStatistics(c["received"], c["inserted"], c["invalid"], len(self._waiting), self._last,
                                  c["fetched"])

    async def on_block(self, envelope: g.Envelope, peer: str) -> None:
        self._counts["received"] += 1
        async with self._lock:
            outcome = await self._insert(envelope, peer)
            if outcome == INSERTED:
                await self._drain(envelope.block_hash)
            elif outcome == WAITING and self.fetch is not None and trio.current_time() >= self._fill_after:
                await self._fill_gap(envelope)

    async def _drain(self, parent: bytes) -> None:
        """Insert the waiting children of ``parent``, in order."""
        while parent in self._waiting:
            child, from_peer = self._waiting.pop(parent)
            if await self._insert(child, from_peer) != INSERTED:
                break
            parent = child.block_hash

    async def _fill_gap(self, child: g.Envelope) -> None:
        """Fetch the missing ancestors of ``child`` (waiting) by number, each checked against the
        hash its child names, until one connects to what our EL holds."""
        fetch = self.fetch
        if fetch is None:  # no req/resp: the gap stays until gossip fills it
            return
        by_hash = {e.block_hash: e for e, _ in self._waiting.values()}
        lowest = child
        while bytes.fromhex(lowest.payload["parentHash"][2:]) in by_hash:
            lowest = by_hash[bytes.fromhex(lowest.payload["parentHash"][2:])]
        expected = bytes.fromhex(lowest.payload["parentHash"][2:])
        for number in range(lowest.number - 1, max(lowest.number - 1 - MAX_GAP, -1), -1):
            fetched = await fetch(number)
            if fetched is None or fetched.block_hash != expected:
                log.debug("gap below block %d not filled (block %d %s)", lowest.number, number,
                          "not found" if fetched is None else "is not the parent")
                self._fill_after = trio.current_time() + float(self.rollup.block_time or 2)
                return
            self._counts["fetched"] += 1
            outcome = await self._insert(fetched, "req/resp sync")
            if outcome == INSERTED:
                await self._drain(fetched.block_hash)
                return
            if outcome == REFUSED:
                return
            expected = bytes.fromhex(fetched.payload["parentHash"][2:])

    async def _insert(self, envelope: g.Envelope, peer: str) -> str:
        p = envelope.payload
        status = await self.engine.new_payload(p, parent_beacon_block_root=envelope.parent_beacon_block_root)
        if status.status in (PayloadStatus.INVALID, PayloadStatus.INVALID_BLOCK_HASH):
            self._counts["invalid"] += 1
            log.warning("gossiped block %d from %s refused by our EL: %s", envelope.number, peer,
                        status.validation_error or status.status.value)
            return REFUSED
        if status.status is not PayloadStatus.VALID:
            parent = bytes.fromhex(p["parentHash"][2:])
            self._waiting[parent] = (envelope, peer)
            while len(self._waiting) > MAX_WAITING:
                self._waiting.popitem(last=False)
            log.debug("gossiped block %d waits for its parent (EL answered %s)", envelope.number, status.status.value)
            return WAITING
        txs = [bytes.fromhex(t[2:]) for t in p.get("transactions") or []]
        ref = ref_from_transactions(self.rollup, envelope.block_hash, envelope.number,
                                    bytes.fromhex(p["parentHash"][2:]), envelope.timestamp, txs)
        self._counts["inserted"] += 1
        self._last = envelope.number
        await self.on_head(ref)
        if self.on_inserted is not None:
            self.on_inserted(envelope, peer)
        return INSERTED


# --- wiring into a node ---------------------------------------------------------------------------


class NodeGossip:
    """A node's gossip: the :class:`~opfleet.p2p.BlockGossip`, the signer watch and the inserter.

    ``insert`` False (an active sequencer) validates and forwards blocks without inserting them:
    the sequencer's EL holds the chain it builds.
    """

    def __init__(self, p2p_config, rollup, *, l1_client, engine: EngineClient,
                 on_head: Callable[[L2BlockRef], Awaitable[None]], registry=None, insert: bool = True):
        from opfleet.p2p import BlockGossip, GossipMetrics

        self.signer = SignerWatch(l1_client, rollup.l1_system_config_address)
        self.rollup, self.engine = rollup, engine
        self.gossip = BlockGossip(p2p_config, rollup, signer=self.signer, metrics=GossipMetrics(registry),
                                  payload_by_number=self._payload_by_number)
        self.inserter = GossipInserter(rollup, engine, on_head, on_inserted=self._inserted, fetch=self.gossip.fetch)
        if insert:
            self.gossip.on_block = self.inserter.on_block
        self.block_time = float(rollup.block_time or 2)
        self.last_block_at = -1e18
        self.published = 0

    @property
    def can_publish(self) -> bool:
        return self.gossip.config.sequencer_key is not None

    async def _payload_by_number(self, number: int) -> g.Envelope | None:
        """Our EL's block ``number`` for a peer's req/resp request (op-node's sync server)."""
        from opfleet.node.payloads import payload_from_block

        try:
            block = await self.engine.client.call("eth_getBlockByNumber", hex(number), True)
            if not block:
                return None
            payload, root, _ = payload_from_block(block, self.rollup)
        except (NodeError, ValueError) as exc:
            log.debug("payload_by_number %d not served: %s", number, exc)
            return None
        return g.Envelope(payload, root)

    def peer_stats(self) -> dict[str, int]:
        """op-node's ``opp2p_peerStats`` (``p2p/rpc_server.go`` PeerStats; no discovery table)."""
        router = self.gossip.router
        chain = self.rollup.l2_chain_id

        def on(version: g.BlockVersion) -> int:
            topic = g.blocks_topic(chain, version)
            return sum(topic in peer.topics for peer in router.peers.values())

        connected = len(self.gossip.host.connections)
        return {"connected": connected, "table": 0, "blocksTopic": on(g.BlockVersion.V1),
                "blocksTopicV2": on(g.BlockVersion.V2), "blocksTopicV3": on(g.BlockVersion.V3),
                "blocksTopicV4": on(g.BlockVersion.V4), "banned": len(router.banned), "known": connected}

    def self_info(self) -> dict:
        """op-node's ``opp2p_self`` (PeerInfo) as far as opfleet has its fields (no ENR, no node id)."""
        host = self.gossip.host
        return {"peerID": self.gossip.peer_id, "nodeID": "", "userAgent": host.agent, "protocolVersion": "",
                "ENR": "", "addresses": self.gossip.multiaddrs(), "protocols": sorted(host.handlers),
                "connectedness": 0, "direction": 0, "protected": False, "chainID": self.rollup.l2_chain_id,
                "latency": 0, "gossipBlocks": True, "scores": {}}

    def _inserted(self, envelope: g.Envelope, peer: str) -> None:
        self.last_block_at = trio.current_time()

    def quiet(self) -> bool:
        """No gossiped block inserted for three block times (the payload puller's cue)."""
        return trio.current_time() - self.last_block_at > 3 * self.block_time

    def publish_payload(self, payload: dict, parent_beacon_block_root: bytes | None) -> None:
        """The sequencer's hook: gossip each block it built (op-node publishes after sealing)."""
        try:
            self.gossip.publish(g.Envelope(dict(payload), parent_beacon_block_root))
            self.published += 1
        except Exception as exc:  # gossip never stops the sequencer
            log.warning("built block not gossiped: %s", exc)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.signer.run)
            await nursery.start(self.gossip.run)
            task_status.started(self)


async def pull_when_gossip_is_quiet(run_puller: Callable[[], Awaitable[None]], gossip: NodeGossip) -> None:
    """Keep ``--l2.follow.payloads`` as the fallback: pull only while gossip brings no blocks."""
    while True:
        while not gossip.quiet():
            await trio.sleep(gossip.block_time)
        log.info("no gossiped blocks for %.0fs: pulling payloads", 3 * gossip.block_time)
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_puller)
                while gossip.quiet():
                    await trio.sleep(gossip.block_time)
                scope.cancel()
        log.info("gossiped blocks arrive again: payload pulling paused")
