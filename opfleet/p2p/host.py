"""A libp2p host over TCP: noise, yamux, multistream-select per stream, identify and ping.

Only what op-node's gossip needs: dial and listen on TCP, one secure muxed connection per peer
(extra connections to a peer already connected are closed), inbound protocol handlers chosen with
multistream-select, ``/ipfs/id/1.0.0`` (go-libp2p waits for identify before it opens a stream) and
``/ipfs/ping/1.0.0``. Specs: libp2p ``connections/README.md``, ``identify/README.md``,
``ping/ping.md``. op-node's host setup: ``op-node/p2p/host.go``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from opfleet.p2p.identity import Identity, peer_id_text
from opfleet.p2p.secure import HandshakeError, mss_handle, mss_select, secure_inbound, secure_outbound
from opfleet.p2p.wire import BufferedReader, Multiaddr, WireError, pb_bytes, uvarint
from opfleet.p2p.yamux import PROTOCOL as YAMUX
from opfleet.p2p.yamux import YamuxSession, YamuxStream

IDENTIFY = "/ipfs/id/1.0.0"
PING = "/ipfs/ping/1.0.0"
PROTOCOL_VERSION = "ipfs/0.1.0"
HANDSHAKE_TIMEOUT = 10.0
_NET_ERRORS = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel, WireError)

log = logging.getLogger("opfleet.p2p")

StreamHandler = Callable[["Connection", YamuxStream, BufferedReader], Awaitable[None]]


@dataclass(eq=False)
class Connection:
    peer_id: bytes
    session: YamuxSession
    remote: str
    outbound: bool
    opened: float = field(default_factory=time.monotonic)

    @property
    def peer(self) -> str:
        return peer_id_text(self.peer_id)

    async def open_stream(self, protocols: list[str]) -> tuple[YamuxStream, BufferedReader, str]:
        stream = await self.session.open_stream()
        reader = BufferedReader(stream)
        with trio.fail_after(HANDSHAKE_TIMEOUT):
            proto = await mss_select(stream, reader, protocols)
        stream.protocol = proto
        return stream, reader, proto

    async def close(self) -> None:
        try:
            await self.session.close()
        except _NET_ERRORS:
            pass


class Host:
    """Connections to peers, by peer id; see the module docstring."""

    def __init__(self, identity: Identity, *, agent: str = "opfleet",
                 on_connect: Callable[[Connection], Awaitable[None]] | None = None,
                 on_disconnect: Callable[[Connection], None] | None = None,
                 gater: Callable[[bytes], bool] | None = None):
        self.identity = identity
        self.agent = agent
        self.handlers: dict[str, StreamHandler] = {IDENTIFY: self._identify, PING: self._ping}
        self.connections: dict[bytes, Connection] = {}
        self.listen_addrs: list[Multiaddr] = []
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._gater = gater or (lambda peer: True)
        self._nursery: trio.Nursery | None = None
        self._connected = trio.Event()

    @property
    def peer_id(self) -> bytes:
        return self.identity.peer_id

    def disconnect(self, conn: Connection) -> None:
        """Close ``conn`` soon (from synchronous code, e.g. a ban)."""
        if self._nursery is not None:
            self._nursery.start_soon(conn.close)

    def set_handler(self, protocol: str, handler: StreamHandler) -> None:
        self.handlers[protocol] = handler

    async def run(self, listen: tuple[str, int] | None = None, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if listen is not None:
                listeners = await trio.open_tcp_listeners(listen[1], host=listen[0])
                for lst in listeners:
                    host, port = lst.socket.getsockname()[:2]
                    self.listen_addrs.append(Multiaddr("ip6" if ":" in host else "ip4", host, port))
                nursery.start_soon(trio.serve_listeners, self._inbound, listeners)
            task_status.started()
            await trio.sleep_forever()

    def multiaddrs(self) -> list[str]:
        return [f"{a}/p2p/{self.identity.peer_id_text}" for a in self.listen_addrs]

    # --- connections ------------------------------------------------------------------------------

    async def _inbound(self, tcp: trio.SocketStream) -> None:
        try:
            remote = "{}:{}".format(*tcp.socket.getpeername()[:2])
        except OSError:
            remote = "?"
        try:
            with trio.fail_after(HANDSHAKE_TIMEOUT):
                secure = await secure_inbound(tcp, self.identity)
                await mss_handle(secure, BufferedReader(secure), {YAMUX})
        except (trio.TooSlowError, HandshakeError, *_NET_ERRORS) as exc:
            log.debug("inbound handshake from %s failed: %s", remote, exc)
            await tcp.aclose()
            return
        await self._serve(secure, remote, outbound=False)

    async def dial(self, addr: Multiaddr) -> Connection:
        """Connect to ``addr`` (and check its peer id when it names one); returns the connection."""
        existing = self.connections.get(addr.peer_id) if addr.peer_id else None
        if existing is not None:
            return existing
        tcp = await trio.open_tcp_stream(addr.host, addr.port)
        try:
            with trio.fail_after(HANDSHAKE_TIMEOUT):
                secure = await secure_outbound(tcp, self.identity, addr.peer_id)
                await mss_select(secure, BufferedReader(secure), [YAMUX])
        except BaseException:
            await tcp.aclose()
            raise
        ready: trio.Event = trio.Event()
        holder: list[Connection] = []
        assert self._nursery is not None
        self._nursery.start_soon(self._serve, secure, f"{addr.host}:{addr.port}", True, ready, holder)
        await ready.wait()
        if not holder:
            raise HandshakeError("connection refused after the handshake (duplicate or banned peer)")
        return holder[0]

    async def _serve(self, secure, remote: str, outbound: bool, ready: trio.Event | None = None,
                     holder: list | None = None) -> None:
        peer = secure.remote_peer_id
        if peer == self.peer_id or not self._gater(peer) or peer in self.connections:
            if peer in self.connections and holder is not None:
                holder.append(self.connections[peer])
            if ready is not None:
                ready.set()
            await secure.aclose()
            return
        conn: Connection | None = None

        async def on_stream(stream: YamuxStream) -> None:
            assert conn is not None
            reader = BufferedReader(stream)
            with trio.fail_after(HANDSHAKE_TIMEOUT):
                proto = await mss_handle(stream, reader, self.handlers.keys())
            stream.protocol = proto
            await self.handlers[proto](conn, stream, reader)

        session = YamuxSession(secure, is_client=outbound, on_stream=on_stream)
        conn = Connection(peer, session, remote, outbound)
        self.connections[peer] = conn
        if holder is not None:
            holder.append(conn)
        log.info("Peer connected", extra={"fields": {"peer": conn.peer, "addr": remote,
                                                     "direction": "outbound" if outbound else "inbound"}})
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(session.run)
                if ready is not None:
                    ready.set()
                if self._on_connect:
                    nursery.start_soon(self._on_connect, conn)
                # the session's run ends with the connection; then stop the per-connection tasks
                await _wait_closed(session)
                nursery.cancel_scope.cancel()
        finally:
            if self.connections.get(peer) is conn:
                del self.connections[peer]
            log.info("Peer disconnected", extra={"fields": {"peer": conn.peer}})
            if self._on_disconnect:
                self._on_disconnect(conn)
            with trio.CancelScope(shield=True):
                await conn.close()

    async def keep_connected(self, addr: Multiaddr, *, retry: float = 2.0) -> None:
        """Dial a static peer and redial whenever the connection ends (op-node's ``--p2p.static``)."""
        failures = 0
        while True:
            try:
                conn = await self.dial(addr)
                failures = 0
                await _wait_closed(conn.session)
            except (trio.TooSlowError, HandshakeError, *_NET_ERRORS) as exc:
                failures += 1
                if failures == 1 or failures % 30 == 0:
                    log.warning(f"Static peer unreachable, retrying every {retry:g}s: {exc}",
                                extra={"fields": {"peer": str(addr)}})
            await trio.sleep(retry)

    # --- identify and ping ------------------------------------------------------------------------

    def identify_message(self, conn: Connection) -> bytes:
        out = pb_bytes(5, PROTOCOL_VERSION) + pb_bytes(6, self.agent) + pb_bytes(1, self.identity.encoded_public_key)
        for a in self.listen_addrs:
            out += pb_bytes(2, a.to_bytes())
        for proto in self.handlers:
            out += pb_bytes(3, proto)
        host, _, port = conn.remote.rpartition(":")
        try:
            out += pb_bytes(4, Multiaddr("ip6" if ":" in host else "ip4", host, int(port)).to_bytes())
        except (ValueError, WireError):
            pass
        return out

    async def _identify(self, conn: Connection, stream: YamuxStream, reader: BufferedReader) -> None:
        msg = self.identify_message(conn)
        await stream.send_all(uvarint(len(msg)) + msg)
        await stream.close()

    async def _ping(self, conn: Connection, stream: YamuxStream, reader: BufferedReader) -> None:
        while True:
            try:
                payload = await reader.read_exact(32)
            except trio.EndOfChannel:
                break
            await stream.send_all(payload)
        await stream.close()


async def _wait_closed(session: YamuxSession) -> None:
    await session.done.wait()
