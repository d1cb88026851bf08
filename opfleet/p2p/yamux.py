"""yamux (``/yamux/1.0.0``): streams over one secure connection.

Spec: hashicorp ``yamux/spec.md`` as libp2p uses it: a 12-byte header (version 0, type, flags,
stream id, length), types data / window update / ping / go away, flags SYN / ACK / FIN / RST,
odd stream ids for the dialer and even for the listener, a 256 KiB initial window per direction.
Received data is acknowledged with a window update as soon as the reader takes it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Awaitable, Callable

import trio

from opfleet.p2p.wire import BufferedReader, WireError

PROTOCOL = "/yamux/1.0.0"
TYPE_DATA, TYPE_WINDOW_UPDATE, TYPE_PING, TYPE_GO_AWAY = 0, 1, 2, 3
FLAG_SYN, FLAG_ACK, FLAG_FIN, FLAG_RST = 1, 2, 4, 8
INITIAL_WINDOW = 256 * 1024
MAX_STREAMS = 512
_HEADER = struct.Struct(">BBHII")


class StreamReset(trio.BrokenResourceError):
    pass


class YamuxStream:
    def __init__(self, session: YamuxSession, stream_id: int):
        self.session = session
        self.id = stream_id
        self._send_window = INITIAL_WINDOW
        self._window_changed = trio.Event()
        self._in, self._out = trio.open_memory_channel[bytes](math.inf)
        self._local_closed = False
        self._remote_closed = False
        self._reset = False
        self._first_flags = 0  # SYN or ACK on our first frame
        self.protocol = ""

    # called by the session
    def _on_data(self, data: bytes) -> None:
        if data and not self._remote_closed:
            self._in.send_nowait(data)

    def _on_window(self, delta: int) -> None:
        self._send_window += delta
        self._window_changed.set()
        self._window_changed = trio.Event()

    def _on_fin(self) -> None:
        if not self._remote_closed:
            self._remote_closed = True
            self._in.close()

    def _on_reset(self) -> None:
        self._reset = True
        self._on_fin()
        self._window_changed.set()

    def _flags(self) -> int:
        flags, self._first_flags = self._first_flags, 0
        return flags

    async def send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._reset or self.session.closed:
                raise StreamReset(f"yamux stream {self.id} reset")
            if self._local_closed:
                raise trio.ClosedResourceError("yamux stream closed for writing")
            if self._send_window <= 0:
                await self._window_changed.wait()
                continue
            size = min(len(view), self._send_window, INITIAL_WINDOW)
            self._send_window -= size
            await self.session._send(TYPE_DATA, self._flags(), self.id, bytes(view[:size]))
            view = view[size:]

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            chunk = await self._out.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            if self._reset:
                raise StreamReset(f"yamux stream {self.id} reset") from None
            return b""
        if not self.session.closed and not self._remote_closed:
            await self.session._send(TYPE_WINDOW_UPDATE, self._flags(), self.id, b"", len(chunk))
        return chunk

    async def close(self) -> None:
        """Half-close: send FIN; reads go on until the peer closes too."""
        if not self._local_closed and not self._reset and not self.session.closed:
            self._local_closed = True
            await self.session._send(TYPE_DATA, self._flags() | FLAG_FIN, self.id, b"")
        self.session._maybe_forget(self)

    async def reset(self) -> None:
        if not self._reset and not self.session.closed:
            self._on_reset()
            await self.session._send(TYPE_WINDOW_UPDATE, FLAG_RST, self.id, b"", 0)
        self.session._forget(self)

    async def aclose(self) -> None:
        await self.close()


class YamuxSession:
    """One yamux session; ``on_stream`` runs (in the session's nursery) for each inbound stream."""

    def __init__(self, conn, *, is_client: bool, on_stream: Callable[[YamuxStream], Awaitable[None]]):
        self.conn = conn
        self._reader = BufferedReader(conn)
        self._next_id = 1 if is_client else 2
        self._streams: dict[int, YamuxStream] = {}
        self._on_stream = on_stream
        self._send_lock = trio.Lock()
        self.closed = False
        self.done = trio.Event()
        self._nursery: trio.Nursery | None = None

    async def _send(self, type_: int, flags: int, stream_id: int, data: bytes, length: int | None = None) -> None:
        header = _HEADER.pack(0, type_, flags, stream_id, len(data) if length is None else length)
        async with self._send_lock:
            await self.conn.send_all(header + data)

    async def open_stream(self) -> YamuxStream:
        if self.closed:
            raise trio.ClosedResourceError("yamux session closed")
        stream = YamuxStream(self, self._next_id)
        self._next_id += 2
        self._streams[stream.id] = stream
        await self._send(TYPE_WINDOW_UPDATE, FLAG_SYN, stream.id, b"", 0)
        return stream

    def _forget(self, stream: YamuxStream) -> None:
        self._streams.pop(stream.id, None)

    def _maybe_forget(self, stream: YamuxStream) -> None:
        if stream._local_closed and stream._remote_closed:
            self._forget(stream)

    async def ping(self, opaque: int = 0) -> None:
        await self._send(TYPE_PING, FLAG_SYN, 0, b"", opaque)

    async def close(self) -> None:
        if not self.closed:
            try:
                await self._send(TYPE_GO_AWAY, 0, 0, b"", 0)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        self._shutdown()
        await self.conn.aclose()

    def _shutdown(self) -> None:
        self.closed = True
        self.done.set()
        for stream in list(self._streams.values()):
            stream._on_reset()
        self._streams.clear()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Read frames until the connection ends (then every stream is reset)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            try:
                await self._read_loop(nursery)
            except (trio.EndOfChannel, trio.BrokenResourceError, trio.ClosedResourceError, OSError, WireError):
                pass
            finally:
                self._shutdown()
                nursery.cancel_scope.cancel()

    async def _read_loop(self, nursery: trio.Nursery) -> None:
        while True:
            version, type_, flags, stream_id, length = _HEADER.unpack(await self._reader.read_exact(12))
            if version != 0:
                raise WireError(f"yamux: unknown version {version}")
            if type_ == TYPE_PING:
                if flags & FLAG_SYN:
                    await self._send(TYPE_PING, FLAG_ACK, 0, b"", length)
                continue
            if type_ == TYPE_GO_AWAY:
                return
            if type_ not in (TYPE_DATA, TYPE_WINDOW_UPDATE):
                raise WireError(f"yamux: unknown frame type {type_}")
            data = b""
            if type_ == TYPE_DATA and length:
                if length > 16 * (1 << 20):
                    raise WireError("yamux: data frame over 16 MiB")
                data = await self._reader.read_exact(length)
            stream = self._streams.get(stream_id)
            if flags & FLAG_SYN and stream is None:
                if len(self._streams) >= MAX_STREAMS or stream_id % 2 == self._next_id % 2:
                    await self._send(TYPE_WINDOW_UPDATE, FLAG_RST, stream_id, b"", 0)
                    continue
                stream = YamuxStream(self, stream_id)
                stream._first_flags = FLAG_ACK
                self._streams[stream_id] = stream
                await self._send(TYPE_WINDOW_UPDATE, stream._flags(), stream_id, b"", 0)
                nursery.start_soon(self._handle, stream)
            if stream is None:
                continue  # a frame for a stream already gone: ignore, as go-yamux does
            if type_ == TYPE_WINDOW_UPDATE and length:
                stream._on_window(length)
            if data:
                stream._on_data(data)
            if flags & FLAG_RST:
                stream._on_reset()
                self._forget(stream)
            elif flags & FLAG_FIN:
                stream._on_fin()
                self._maybe_forget(stream)

    async def _handle(self, stream: YamuxStream) -> None:
        try:
            await self._on_stream(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel, WireError, OSError):
            await _quiet_reset(stream)


async def _quiet_reset(stream: YamuxStream) -> None:
    try:
        await stream.reset()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
