"""gossipsub v1.1 (``/meshsub/1.1.0``, also 1.0.0) with op-node's parameters and message rules.

Specs: libp2p ``pubsub/gossipsub/gossipsub-v1.0.md`` and ``gossipsub-v1.1.md`` (RPC protobuf,
mesh with GRAFT/PRUNE and backoff, IHAVE/IWANT gossip from a message cache, the validation
results ACCEPT/IGNORE/REJECT). op-node's settings (``op-node/p2p/gossip.go``
``BuildGlobalGossipParams``/``NewGossipSub``): D=8, Dlo=6, Dhi=12, Dlazy=6, heartbeat 500 ms,
history length 12 and gossip 3 heartbeats, seen-message TTL 130 heartbeats, messages up to
10 MiB, ``StrictNoSign`` (messages carry no from/seqno/signature/key), no peer exchange, a
subscription allowlist of the block topics, op-node's message-id function.

Peer scoring keeps the component that op-node's "light" scoring makes decisive
(``op-node/p2p/peer_params.go``): invalid message deliveries, topic weight 0.8, weight -140.4475,
squared, decaying to 1% over 50 epochs; a peer at or under the ban threshold (op-node's
``--p2p.ban.threshold`` default -100) is disconnected and banned for ``--p2p.ban.duration``
(default 1 h).
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from opfleet.config import defaults
from opfleet.p2p.host import Connection, Host
from opfleet.p2p.wire import BufferedReader, WireError, pb_bytes, pb_fields, pb_varint, uvarint
from opfleet.p2p.yamux import YamuxStream
from opfleet.protocol.gossip import MAX_GOSSIP_SIZE, Verdict

MESHSUB_11 = "/meshsub/1.1.0"
MESHSUB_10 = "/meshsub/1.0.0"
PROTOCOLS = [MESHSUB_11, MESHSUB_10]

log = logging.getLogger("opfleet.p2p.gossip")


@dataclass(frozen=True)
class GossipParams:
    d: int = 8
    d_lo: int = 6
    d_hi: int = 12
    d_lazy: int = 6
    heartbeat: float = 0.5
    history_length: int = 12
    history_gossip: int = 3
    seen_ttl: float = 130 * 0.5
    prune_backoff: float = 60.0
    max_ihave_ids: int = 5000
    outbound_queue: int = 256
    # scoring (op-node "light")
    slot: float = 2.0
    invalid_weight: float = 0.8 * -140.4475
    ban_threshold: float = defaults.P2P_BAN_THRESHOLD
    ban_duration: float = defaults.P2P_BAN_DURATION
    ban_peers: bool = True

    @property
    def invalid_decay(self) -> float:
        """Per-slot decay reaching 1% after 50 epochs (``ScoreDecay(invalidDecayPeriod, slot)``)."""
        return 0.01 ** (1 / (50 * 6))


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    data: bytes


@dataclass(eq=False)
class _Peer:
    conn: Connection
    topics: set[str] = field(default_factory=set)
    send: trio.MemorySendChannel | None = None
    recv: trio.MemoryReceiveChannel | None = None
    invalid: float = 0.0

    @property
    def score(self) -> float:
        return 0.8 * -140.4475 * self.invalid ** 2 if self.invalid else 0.0


# --- RPC protobuf ---------------------------------------------------------------------------------


def encode_rpc(*, subscriptions: Sequence[tuple[bool, str]] = (), publish: Sequence[Message] = (),
               ihave: Sequence[tuple[str, Sequence[bytes]]] = (), iwant: Sequence[bytes] = (),
               graft: Sequence[str] = (), prune: Sequence[tuple[str, int]] = ()) -> bytes:
    out = b""
    for sub, topic in subscriptions:
        out += pb_bytes(1, pb_varint(1, int(sub)) + pb_bytes(2, topic))
    for m in publish:
        out += pb_bytes(2, pb_bytes(2, m.data) + pb_bytes(4, m.topic))
    control = b""
    for topic, ids in ihave:
        control += pb_bytes(1, pb_bytes(1, topic) + b"".join(pb_bytes(2, i) for i in ids))
    if iwant:
        control += pb_bytes(2, b"".join(pb_bytes(1, i) for i in iwant))
    for topic in graft:
        control += pb_bytes(3, pb_bytes(1, topic))
    for topic, backoff in prune:
        control += pb_bytes(4, pb_bytes(1, topic) + pb_varint(3, backoff))
    if control:
        out += pb_bytes(3, control)
    return out


@dataclass
class RPC:
    subscriptions: list[tuple[bool, str]] = field(default_factory=list)
    publish: list[tuple[Message, bool]] = field(default_factory=list)  # (message, carries author fields)
    ihave: list[tuple[str, list[bytes]]] = field(default_factory=list)
    iwant: list[bytes] = field(default_factory=list)
    graft: list[str] = field(default_factory=list)
    prune: list[tuple[str, int | None]] = field(default_factory=list)


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise WireError("expected a string field")
    return value.decode("utf-8", "replace")


def decode_rpc(data: bytes) -> RPC:
    rpc = RPC()
    for num, value in pb_fields(data):
        if not isinstance(value, bytes):
            continue
        if num == 1:
            sub, topic = False, ""
            for n, v in pb_fields(value):
                if n == 1 and isinstance(v, int):
                    sub = bool(v)
                elif n == 2:
                    topic = _text(v)
            rpc.subscriptions.append((sub, topic))
        elif num == 2:
            body, topic, authored = b"", "", False
            for n, v in pb_fields(value):
                if n == 2 and isinstance(v, bytes):
                    body = v
                elif n == 4:
                    topic = _text(v)
                elif n in (1, 3, 5, 6):
                    authored = True
            rpc.publish.append((Message(topic, body), authored))
        elif num == 3:
            for n, v in pb_fields(value):
                if not isinstance(v, bytes):
                    continue
                if n == 1:
                    topic, ids = "", []
                    for n2, v2 in pb_fields(v):
                        if n2 == 1:
                            topic = _text(v2)
                        elif n2 == 2 and isinstance(v2, bytes):
                            ids.append(v2)
                    rpc.ihave.append((topic, ids))
                elif n == 2:
                    rpc.iwant += [v2 for n2, v2 in pb_fields(v) if n2 == 1 and isinstance(v2, bytes)]
                elif n == 3:
                    rpc.graft += [_text(v2) for n2, v2 in pb_fields(v) if n2 == 1]
                elif n == 4:
                    topic, backoff = "", None
                    for n2, v2 in pb_fields(v):
                        if n2 == 1:
                            topic = _text(v2)
                        elif n2 == 3 and isinstance(v2, int):
                            backoff = v2
                    rpc.prune.append((topic, backoff))
    return rpc


# --- the router -----------------------------------------------------------------------------------

Validator = Callable[[bytes, str, bytes], "tuple[Verdict, Any]"]
"""``(peer id, topic, data) -> (verdict, decoded)``; called once per new message; ``decoded`` goes
to ``deliver`` with an accepted message."""


@dataclass
class GossipStatistics:
    peers: int
    mesh: dict[str, int]
    messages_accepted: int
    messages_ignored: int
    messages_rejected: int
    duplicates: int
    published: int
    banned: int


class GossipSub:
    """The gossipsub router on a :class:`Host`; ``deliver`` gets every ACCEPTed message once."""

    def __init__(self, host: Host, *, topics: list[str], message_id: Callable[[str, bytes], bytes],
                 validator: Validator, deliver: Callable[[bytes, Message, Any], None],
                 params: GossipParams | None = None, clock: Callable[[], float] = time.monotonic):
        self.host = host
        self.params = params or GossipParams()
        self.topics = list(topics)
        self._allowed = set(topics)
        self._message_id = message_id
        self._validator = validator
        self._deliver = deliver
        self._clock = clock
        self.peers: dict[bytes, _Peer] = {}
        self.mesh: dict[str, set[bytes]] = {t: set() for t in topics}
        self._backoff: dict[tuple[bytes, str], float] = {}
        self._seen: dict[bytes, float] = {}
        self._mcache: dict[bytes, Message] = {}
        self._windows: deque[list[tuple[bytes, str]]] = deque([[]])
        self.banned: dict[bytes, float] = {}
        self._counts = {"accept": 0, "ignore": 0, "reject": 0, "duplicate": 0, "published": 0}
        for proto in PROTOCOLS:
            host.set_handler(proto, self._inbound_stream)

    # --- lifecycle ---------------------------------------------------------------------------------

    def gater(self, peer: bytes) -> bool:
        until = self.banned.get(peer)
        if until is None:
            return True
        if self._clock() >= until:
            del self.banned[peer]
            return True
        return False

    def _peer(self, conn: Connection) -> _Peer | None:
        """The record of ``conn``'s peer, made by whichever comes first: our ``on_connect`` or the
        peer's own RPC stream (its hello must not be lost to that race)."""
        peer = self.peers.get(conn.peer_id)
        if peer is not None and peer.conn is conn:
            return peer
        if conn.session.closed:
            return None
        peer = _Peer(conn)
        peer.send, peer.recv = trio.open_memory_channel[bytes](self.params.outbound_queue)
        self.peers[conn.peer_id] = peer
        return peer

    async def on_connect(self, conn: Connection) -> None:
        """Open our outbound RPC stream to a new peer and feed it from its queue."""
        peer = self._peer(conn)
        if peer is None or peer.recv is None:
            return
        recv = peer.recv
        try:
            stream, _, proto = await conn.open_stream(PROTOCOLS)
        except (trio.TooSlowError, WireError, trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            log.debug("peer %s: no gossipsub stream: %s", conn.peer, exc)
            return
        hello = encode_rpc(subscriptions=[(True, t) for t in self.topics])
        try:
            await stream.send_all(uvarint(len(hello)) + hello)
            async for rpc in recv:
                await stream.send_all(uvarint(len(rpc)) + rpc)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass

    def on_disconnect(self, conn: Connection) -> None:
        peer = self.peers.get(conn.peer_id)
        if peer is not None and peer.conn is conn:
            del self.peers[conn.peer_id]
            for members in self.mesh.values():
                members.discard(conn.peer_id)
            if peer.send is not None:
                peer.send.close()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        decay_at = self._clock() + self.params.slot
        while True:
            await trio.sleep(self.params.heartbeat)
            self.heartbeat()
            if self._clock() >= decay_at:
                decay_at += self.params.slot
                for peer in self.peers.values():
                    peer.invalid *= self.params.invalid_decay
                    if peer.invalid < 0.01:
                        peer.invalid = 0.0

    def statistics(self) -> GossipStatistics:
        c = self._counts
        return GossipStatistics(len(self.peers), {t: len(m) for t, m in self.mesh.items()}, c["accept"],
                                c["ignore"], c["reject"], c["duplicate"], c["published"], len(self.banned))

    # --- sending -----------------------------------------------------------------------------------

    def _send(self, peer_id: bytes, rpc: bytes) -> None:
        peer = self.peers.get(peer_id)
        if peer is None or peer.send is None:
            return
        try:
            peer.send.send_nowait(rpc)
        except trio.WouldBlock:
            log.debug("peer %s: outbound queue full, RPC dropped", peer.conn.peer)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    def publish(self, topic: str, data: bytes) -> bytes:
        """Publish our own message to every peer on the topic (flood publishing); returns its id."""
        msg_id = self._message_id(topic, data)
        self._remember(msg_id, Message(topic, data))
        rpc = encode_rpc(publish=[Message(topic, data)])
        for peer_id, peer in self.peers.items():
            if topic in peer.topics or peer_id in self.mesh.get(topic, ()):
                self._send(peer_id, rpc)
        self._counts["published"] += 1
        return msg_id

    def _remember(self, msg_id: bytes, msg: Message) -> None:
        self._seen[msg_id] = self._clock() + self.params.seen_ttl
        self._mcache[msg_id] = msg
        self._windows[0].append((msg_id, msg.topic))

    # --- receiving ---------------------------------------------------------------------------------

    async def _inbound_stream(self, conn: Connection, stream: YamuxStream, reader: BufferedReader) -> None:
        while True:
            try:
                raw = await reader.read_prefixed(MAX_GOSSIP_SIZE)
            except trio.EndOfChannel:
                return
            try:
                rpc = decode_rpc(raw)
            except WireError as exc:
                log.debug("peer %s: malformed RPC: %s", conn.peer, exc)
                self._penalise(conn.peer_id, "malformed RPC")
                return
            if self._peer(conn) is None:
                return
            self.handle_rpc(conn.peer_id, rpc)

    def handle_rpc(self, peer_id: bytes, rpc: RPC) -> None:
        peer = self.peers.get(peer_id)
        if peer is None:
            return
        for sub, topic in rpc.subscriptions:
            if topic not in self._allowed:
                continue  # the subscription filter: other topics are not tracked
            if sub:
                peer.topics.add(topic)
            else:
                peer.topics.discard(topic)
                self.mesh[topic].discard(peer_id)
        for msg, authored in rpc.publish:
            self._on_message(peer_id, msg, authored)
        if rpc.ihave:
            want = []
            for topic, ids in rpc.ihave:
                if topic in self._allowed:
                    want += [i for i in ids if i not in self._seen]
            if want:
                self._send(peer_id, encode_rpc(iwant=want[: self.params.max_ihave_ids]))
        if rpc.iwant:
            msgs = [self._mcache[i] for i in rpc.iwant[: self.params.max_ihave_ids] if i in self._mcache]
            if msgs:
                self._send(peer_id, encode_rpc(publish=msgs))
        refused = []
        now = self._clock()
        for topic in rpc.graft:
            if topic not in self.mesh:
                continue
            if peer.score < 0 or self._backoff.get((peer_id, topic), 0) > now:
                refused.append((topic, int(self.params.prune_backoff)))
            else:
                self.mesh[topic].add(peer_id)
        if refused:
            self._send(peer_id, encode_rpc(prune=refused))
        for topic, backoff in rpc.prune:
            if topic in self.mesh:
                self.mesh[topic].discard(peer_id)
                self._backoff[(peer_id, topic)] = now + (backoff if backoff is not None else self.params.prune_backoff)

    def _on_message(self, peer_id: bytes, msg: Message, authored: bool) -> None:
        if msg.topic not in self._allowed:
            return
        msg_id = self._message_id(msg.topic, msg.data)
        if msg_id in self._seen:
            self._counts["duplicate"] += 1
            return
        self._seen[msg_id] = self._clock() + self.params.seen_ttl
        decoded = None
        if authored:  # StrictNoSign: a message with author fields is invalid
            verdict = Verdict.REJECT
        elif len(msg.data) > MAX_GOSSIP_SIZE:
            verdict = Verdict.REJECT
        else:
            try:
                verdict, decoded = self._validator(peer_id, msg.topic, msg.data)
            except Exception:  # a validator bug must not let a message through (op-node's guard)
                log.exception("gossip validation failed")
                verdict = Verdict.REJECT
        self._counts[verdict.value] += 1
        if verdict is Verdict.REJECT:
            self._penalise(peer_id, "invalid message")
            return
        if verdict is Verdict.IGNORE:
            return
        self._remember(msg_id, msg)
        rpc = encode_rpc(publish=[msg])
        for other in self.mesh.get(msg.topic, ()):
            if other != peer_id:
                self._send(other, rpc)
        self._deliver(peer_id, msg, decoded)

    def _penalise(self, peer_id: bytes, why: str) -> None:
        peer = self.peers.get(peer_id)
        if peer is None:
            return
        peer.invalid += 1
        if self.params.ban_peers and peer.score <= self.params.ban_threshold:
            log.warning("Banning peer", extra={"fields": {"peer": peer.conn.peer, "score": round(peer.score, 1),
                                                          "reason": why, "duration": f"{self.params.ban_duration:g}s"}})
            self.banned[peer_id] = self._clock() + self.params.ban_duration
            self.host.disconnect(peer.conn)

    # --- heartbeat ---------------------------------------------------------------------------------

    def heartbeat(self) -> None:
        p, now = self.params, self._clock()
        for topic, members in self.mesh.items():
            members.intersection_update(pid for pid, peer in self.peers.items() if topic in peer.topics)
            if len(members) < p.d_lo:
                candidates = [pid for pid, peer in self.peers.items()
                              if topic in peer.topics and pid not in members and peer.score >= 0
                              and self._backoff.get((pid, topic), 0) <= now]
                random.shuffle(candidates)
                for pid in candidates[: p.d - len(members)]:
                    members.add(pid)
                    self._send(pid, encode_rpc(graft=[topic]))
            elif len(members) > p.d_hi:
                extra = random.sample(sorted(members), len(members) - p.d)
                for pid in extra:
                    members.discard(pid)
                    self._backoff[(pid, topic)] = now + p.prune_backoff
                    self._send(pid, encode_rpc(prune=[(topic, int(p.prune_backoff))]))
            ids = [i for window in list(self._windows)[: p.history_gossip] for i, t in window if t == topic]
            if ids:
                others = [pid for pid, peer in self.peers.items() if topic in peer.topics and pid not in members]
                random.shuffle(others)
                for pid in others[: p.d_lazy]:
                    self._send(pid, encode_rpc(ihave=[(topic, ids[-p.max_ihave_ids:])]))
        self._windows.appendleft([])
        while len(self._windows) > p.history_length:
            for msg_id, _ in self._windows.pop():
                self._mcache.pop(msg_id, None)
        for msg_id in [i for i, until in self._seen.items() if until <= now]:
            del self._seen[msg_id]
        for key in [k for k, until in self._backoff.items() if until <= now]:
            del self._backoff[key]
