"""op-node's req/resp block sync, ``/opstack/req/payload_by_number/<chainID>/0``, both sides.

op-node ``p2p/sync.go``: the client opens a stream, writes the block number (uint64 LE) and
closes its side; the server answers a result byte and, on success, a version and the SSZ payload
in snappy's framed format, then closes. The client checks the number and the block hash; the
payload is unsigned, so the caller uses it only where it fits a chain it trusts (op-node's
quarantine: the parent of a signed gossiped block). The server serves blocks from genesis up to
the block time's expected head, at most 4 a second per peer (burst 10) and 20 a second in all,
as op-node's limits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import trio

from opfleet.p2p.host import Connection, Host
from opfleet.p2p.wire import BufferedReader, WireError
from opfleet.p2p.yamux import YamuxStream
from opfleet.protocol import gossip as g

log = logging.getLogger("opfleet.p2p.sync")

REQUEST_TIMEOUT = 10.0
PEER_RATE, PEER_BURST = 4.0, 10.0
GLOBAL_RATE, GLOBAL_BURST = 20.0, 30.0

PayloadByNumber = Callable[[int], Awaitable[g.Envelope | None]]


class _Bucket:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = burst, clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


async def _read_all(reader: BufferedReader, limit: int) -> bytes:
    out = bytearray(reader.take_buffered())
    while len(out) <= limit:
        chunk = await reader.receive_some()
        if not chunk:
            return bytes(out)
        out += chunk
    raise WireError("sync response over the size limit")


async def request_payload(conn: Connection, rollup, number: int) -> g.Envelope:
    """Ask ``conn``'s peer for block ``number``; the checked envelope. Raises WireError/GossipError."""
    with trio.fail_after(REQUEST_TIMEOUT):
        stream, reader, _ = await conn.open_stream([g.payload_by_number_protocol(rollup.l2_chain_id)])
        try:
            await stream.send_all(g.encode_sync_request(number))
            await stream.close()
            data = await _read_all(reader, g.MAX_GOSSIP_SIZE + 5)
        finally:
            await stream.reset()
    timestamp = rollup.genesis.l2_time + (number - rollup.genesis.l2.number) * rollup.block_time
    return g.decode_sync_response(data, number=number, canyon=bool(rollup.is_canyon(timestamp)))


class SyncServer:
    """Serve our blocks to peers that ask (op-node's ``ReqRespServer``)."""

    def __init__(self, host: Host, rollup, payload_by_number: PayloadByNumber,
                 clock: Callable[[], float] = time.time):
        self.rollup = rollup
        self._payload = payload_by_number
        self._clock = clock
        self._global = _Bucket(GLOBAL_RATE, GLOBAL_BURST)
        self._peers: dict[bytes, _Bucket] = {}
        self.served = self.refused = 0
        host.set_handler(g.payload_by_number_protocol(rollup.l2_chain_id), self._handle)

    def _max_number(self) -> int:
        r = self.rollup
        return r.genesis.l2.number + max(0, int(self._clock()) - r.genesis.l2_time) // r.block_time

    async def _handle(self, conn: Connection, stream: YamuxStream, reader: BufferedReader) -> None:
        bucket = self._peers.setdefault(conn.peer_id, _Bucket(PEER_RATE, PEER_BURST))
        if len(self._peers) > 1000:
            self._peers.pop(next(iter(self._peers)))
        try:
            with trio.fail_after(REQUEST_TIMEOUT):
                number = g.decode_sync_request(await reader.read_exact(8))
                if not (bucket.take() and self._global.take()):
                    code = g.SYNC_RESULT_UNKNOWN
                elif not self.rollup.genesis.l2.number <= number <= self._max_number():
                    code = g.SYNC_RESULT_INVALID
                else:
                    code = g.SYNC_RESULT_NOT_FOUND
                    envelope = await self._payload(number)
                    if envelope is not None:
                        version = g.block_version(self.rollup, envelope.timestamp)
                        if version <= g.BlockVersion.V3:  # op-node's versions 0 and 1
                            await stream.send_all(g.encode_sync_response(
                                envelope, ecotone=version == g.BlockVersion.V3,
                                canyon=version >= g.BlockVersion.V2))
                            await stream.close()
                            self.served += 1
                            return
                        code = g.SYNC_RESULT_UNKNOWN
                self.refused += 1
                await stream.send_all(g.encode_sync_error(code))
                await stream.close()
        except (trio.TooSlowError, g.GossipError, trio.EndOfChannel) as exc:
            log.debug("sync request from %s dropped: %s", conn.peer, exc)
            await stream.reset()
