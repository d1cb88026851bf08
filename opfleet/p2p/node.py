"""A chain's block gossip: the libp2p host, gossipsub on the block topics, op-node's validator.

:class:`BlockGossip` joins every block topic of the chain (``/optimism/<chainID>/0..3/blocks``),
validates each message with :func:`opfleet.protocol.gossip.validate` (one seen-blocks cache per
topic, as op-node's one validator per topic), hands accepted envelopes to ``on_block`` and
publishes our own blocks signed with ``--p2p.sequencer.key``. Peers come from ``--p2p.static``
(redialled when the connection ends) and from whoever dials ``--p2p.listen.tcp``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from opfleet.config import defaults
from opfleet.p2p.gossipsub import GossipParams, GossipSub, Message
from opfleet.p2p.host import Connection, Host
from opfleet.p2p.identity import Identity, load_or_create, peer_id_text
from opfleet.p2p.wire import Multiaddr, WireError
from opfleet.protocol import gossip as g
from opfleet.protocol.crypto import private_key_to_address

log = logging.getLogger("opfleet.p2p")


@dataclass(frozen=True)
class P2PConfig:
    """op-node's p2p flags that opfleet implements (``op-node/p2p/cli`` names)."""

    listen_ip: str = defaults.P2P_LISTEN_IP
    listen_tcp: int | None = defaults.P2P_LISTEN_TCP
    """None: do not listen (dial static peers only)."""
    static: Sequence[str] = ()
    priv_path: Path | None = None
    priv_raw: bytes | None = None
    sequencer_key: bytes | None = None
    ban_peers: bool = True
    ban_threshold: float = defaults.P2P_BAN_THRESHOLD
    ban_duration: float = defaults.P2P_BAN_DURATION
    agent: str = "opfleet"

    def identity(self) -> Identity:
        if self.priv_raw is not None:
            return Identity(self.priv_raw)
        if self.priv_path is not None:
            return load_or_create(self.priv_path)
        return Identity.generate()

    def static_addrs(self) -> list[Multiaddr]:
        out = []
        for text in self.static:
            addr = Multiaddr.parse(text)
            if addr.peer_id is None:
                raise ValueError(f"static peer {text!r} lacks /p2p/<peer id>")
            out.append(addr)
        return out


@dataclass
class GossipMetrics:
    """op-node's names: ``op_node_p2p_peer_count``, ``op_node_p2p_gossip_events_total{type}``,
    ``op_node_unsafe_payloads_total`` (op-node: ``unsafe_payloads`` event)."""

    # A metrics registry and its metrics (opfleet.rpc.metrics, a layer above p2p: duck-typed).
    registry: Any | None = None
    _peer_count: Any = field(init=False, default=None)
    _events: Any = field(init=False, default=None)
    _payloads: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        r = self.registry
        if r is None:
            return
        self._peer_count = r.gauge("op_node_p2p_peer_count", "Count of currently connected p2p peers")
        self._events = r.counter("op_node_p2p_gossip_events_total", "Count of gossip events by type", ["type"])
        self._payloads = r.counter("op_node_unsafe_payloads_total", "unsafe payloads received by gossip")

    def peers(self, n: int) -> None:
        if self._peer_count is not None:
            self._peer_count.set(n)

    def event(self, kind: str) -> None:
        if self._events is not None:
            self._events.inc(type=kind)

    def payload(self) -> None:
        if self._payloads is not None:
            self._payloads.inc()


@dataclass(frozen=True)
class GossipStats:
    peer_id: str
    peers: int
    mesh: dict[str, int]
    accepted: int
    ignored: int
    rejected: int
    duplicates: int
    published: int
    banned: int
    last_reason: str


OnBlock = Callable[[g.Envelope, str], Awaitable[None]]


class BlockGossip:
    """Block gossip for one chain; see the module docstring.

    ``signer`` returns the unsafe-block signer address to accept (None: ignore every block, as
    op-node does before it knows one). ``on_block`` is awaited, in order, for each accepted block.
    """

    def __init__(self, config: P2PConfig, rollup, *, signer: Callable[[], bytes | None], on_block: OnBlock | None = None,
                 metrics: GossipMetrics | None = None, clock: Callable[[], float] = time.time,
                 max_version: g.BlockVersion = g.BlockVersion.V4, params: GossipParams | None = None,
                 payload_by_number=None):
        self.config = config
        self.rollup = rollup
        self.chain_id = rollup.l2_chain_id
        self.identity = config.identity()
        self._signer = signer
        self.on_block = on_block
        self._clock = clock
        self.metrics = metrics or GossipMetrics()
        self.topics = g.block_topics(self.chain_id, max_version=max_version)
        self._seen = {t: g.SeenBlocks() for t in self.topics}
        self._queue_send, self._queue_recv = trio.open_memory_channel[tuple[g.Envelope, str]](256)
        self.last_reason = ""
        p = params or GossipParams()
        p = GossipParams(**{**p.__dict__, "slot": float(rollup.block_time or 2), "ban_peers": config.ban_peers,
                            "ban_threshold": config.ban_threshold, "ban_duration": config.ban_duration})
        self.host = Host(self.identity, agent=config.agent, on_connect=self._on_connect,
                         on_disconnect=self._on_disconnect, gater=lambda peer: self.router.gater(peer))
        self.router = GossipSub(self.host, topics=list(self.topics), message_id=g.message_id,
                                validator=self._validate, deliver=self._deliver, params=p)
        self.sequencer_address = private_key_to_address(config.sequencer_key) if config.sequencer_key else None
        self.sync_server = None
        if payload_by_number is not None:
            from opfleet.p2p.sync import SyncServer

            self.sync_server = SyncServer(self.host, rollup, payload_by_number, clock=clock)
        self._last_from: bytes | None = None

    @property
    def peer_id(self) -> str:
        return self.identity.peer_id_text

    def multiaddrs(self) -> list[str]:
        return self.host.multiaddrs()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        statics = cfg.static_addrs()
        async with trio.open_nursery() as nursery:
            listen = (cfg.listen_ip, cfg.listen_tcp) if cfg.listen_tcp is not None else None
            await nursery.start(self.host.run, listen)
            await nursery.start(self.router.run)
            nursery.start_soon(self._consume)
            for addr in statics:
                nursery.start_soon(self.host.keep_connected, addr)
            log.info("P2P started", extra={"fields": {
                "peer_id": self.peer_id, "listen": ",".join(self.multiaddrs()) or "none",
                "static_peers": len(statics), "l2_chain_id": self.chain_id}})
            task_status.started(self)

    # --- gossip hooks ------------------------------------------------------------------------------

    async def _on_connect(self, conn: Connection) -> None:
        self.metrics.peers(len(self.host.connections))
        await self.router.on_connect(conn)

    def _on_disconnect(self, conn: Connection) -> None:
        self.router.on_disconnect(conn)
        self.metrics.peers(len(self.host.connections))

    def _validate(self, peer: bytes, topic: str, data: bytes):
        result = g.validate(data, version=self.topics[topic], chain_id=self.chain_id, signer=self._signer(),
                            now=self._clock(), seen=self._seen[topic],
                            is_jovian=getattr(self.rollup, "is_jovian", None))
        if result.verdict is not g.Verdict.ACCEPT:
            self.last_reason = result.reason
            log.log(logging.WARNING if result.verdict is g.Verdict.REJECT else logging.DEBUG,
                    f"Gossiped block {'rejected' if result.verdict is g.Verdict.REJECT else 'ignored'}: {result.reason}",
                    extra={"fields": {"peer": peer_id_text(peer), "topic": topic}})
            self.metrics.event("REJECT_MESSAGE" if result.verdict is g.Verdict.REJECT else "IGNORE_MESSAGE")
        return result.verdict, result.envelope

    def _deliver(self, peer: bytes, msg: Message, envelope: g.Envelope) -> None:
        self._last_from = peer
        self.metrics.event("DELIVER_MESSAGE")
        self.metrics.payload()
        try:
            self._queue_send.send_nowait((envelope, peer_id_text(peer)))
        except trio.WouldBlock:
            log.warning("gossip: block queue full, block %d dropped", envelope.number)

    async def _consume(self) -> None:
        async for envelope, peer in self._queue_recv:
            if self.on_block is not None:
                try:
                    await self.on_block(envelope, peer)
                except Exception as exc:  # the node logs its own failures; gossip goes on
                    log.warning("gossip: block %d from %s not inserted: %s", envelope.number, peer, exc)

    async def fetch(self, number: int) -> g.Envelope | None:
        """Block ``number`` by op-node's req/resp sync from a peer (the last one that gossiped us a
        block first); None when no peer has it. The payload is unsigned: check where it fits."""
        from opfleet.p2p.sync import request_payload

        peers = sorted(self.host.connections.values(), key=lambda c: c.peer_id != self._last_from)
        for conn in peers[:3]:
            try:
                return await request_payload(conn, self.rollup, number)
            except (trio.TooSlowError, g.GossipError, WireError, trio.BrokenResourceError, trio.ClosedResourceError,
                    trio.EndOfChannel, OSError) as exc:
                log.debug("payload_by_number %d from %s: %s", number, conn.peer, exc)
        return None

    # --- publishing --------------------------------------------------------------------------------

    def publish(self, envelope: g.Envelope) -> bytes:
        """Sign ``envelope`` with the sequencer key and publish it on its fork's topic."""
        if self.config.sequencer_key is None:
            raise RuntimeError("publishing needs --p2p.sequencer.key")
        version = g.block_version(self.rollup, envelope.timestamp)
        data = g.encode_message(envelope, version, self.chain_id, self.config.sequencer_key)
        topic = g.blocks_topic(self.chain_id, version)
        if topic not in self.topics:
            raise RuntimeError(f"no topic for payload version {version.name}")
        # our own blocks count as seen, so an echo from a peer is a duplicate, not a second block
        self._seen[topic].mark(envelope.number, envelope.block_hash)
        msg_id = self.router.publish(topic, data)
        self.metrics.event("PUBLISH_MESSAGE")
        return msg_id

    def statistics(self) -> GossipStats:
        s = self.router.statistics()
        return GossipStats(self.peer_id, len(self.host.connections), s.mesh, s.messages_accepted,
                           s.messages_ignored, s.messages_rejected, s.duplicates, s.published, s.banned,
                           self.last_reason)
