"""Small wire helpers shared by the libp2p pieces: uvarints, protobuf fields, base58, multiaddrs.

Protobuf here is the subset libp2p's messages use (varint and length-delimited fields, proto2
and proto3 alike); unknown fields are skipped as protobuf requires.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import trio


class WireError(ValueError):
    """Malformed bytes from a peer: the connection or stream that sent them is dropped."""


# --- uvarint --------------------------------------------------------------------------------------


def uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_uvarint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """``(value, next position)``; at most 9 bytes (63 bits), as multiformats' unsigned-varint."""
    value = shift = 0
    for i in range(pos, min(pos + 9, len(data))):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i + 1
        shift += 7
    if len(data) - pos >= 9:
        raise WireError("varint too long")
    raise WireError("truncated varint")


# --- protobuf -------------------------------------------------------------------------------------


def pb_varint(field: int, value: int) -> bytes:
    return uvarint(field << 3) + uvarint(value)


def pb_bytes(field: int, value: bytes | str) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    return uvarint(field << 3 | 2) + uvarint(len(value)) + value


def pb_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)`` for each field: an int for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = read_uvarint(data, pos)
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise WireError("protobuf field 0")
        if wire_type == 0:
            value, pos = read_uvarint(data, pos)
            yield field, value
        elif wire_type == 2:
            size, pos = read_uvarint(data, pos)
            if pos + size > len(data):
                raise WireError("truncated protobuf field")
            yield field, data[pos:pos + size]
            pos += size
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise WireError(f"unsupported protobuf wire type {wire_type}")
        if pos > len(data):
            raise WireError("truncated protobuf field")


# --- base58btc ------------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        i = _B58.find(ch)
        if i < 0:
            raise WireError(f"invalid base58 character {ch!r}")
        n = n * 58 + i
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


# --- multiaddr (the /ip4|ip6|dns*/…/tcp/…/p2p/… subset) -------------------------------------------

_P_IP4, _P_TCP, _P_IP6, _P_DNS, _P_DNS4, _P_DNS6, _P_P2P = 4, 6, 41, 53, 54, 55, 421


@dataclass(frozen=True, slots=True)
class Multiaddr:
    """A TCP multiaddr: ``/ip4/127.0.0.1/tcp/9222[/p2p/<peer id>]`` (also ip6, dns, dns4, dns6)."""

    proto: str
    host: str
    port: int
    peer_id: bytes | None = None

    @classmethod
    def parse(cls, text: str) -> Multiaddr:
        parts = text.strip().split("/")
        if len(parts) < 5 or parts[0] != "" or parts[3] != "tcp":
            raise WireError(f"unsupported multiaddr {text!r}: want /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT[/p2p/ID]")
        proto, host = parts[1], parts[2]
        if proto not in ("ip4", "ip6", "dns", "dns4", "dns6"):
            raise WireError(f"unsupported multiaddr protocol {proto!r} in {text!r}")
        if proto in ("ip4", "ip6"):
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                raise WireError(f"bad {proto} address {host!r} in {text!r}") from None
            if (ip.version == 4) != (proto == "ip4"):
                raise WireError(f"bad {proto} address {host!r} in {text!r}")
        try:
            port = int(parts[4])
        except ValueError:
            raise WireError(f"bad tcp port {parts[4]!r} in {text!r}") from None
        if not 0 <= port <= 65535:
            raise WireError(f"bad tcp port {port} in {text!r}")
        peer = None
        rest = parts[5:]
        if rest:
            if len(rest) != 2 or rest[0] not in ("p2p", "ipfs"):
                raise WireError(f"unsupported multiaddr suffix {'/'.join(rest)!r} in {text!r}")
            peer = b58decode(rest[1])
        return cls(proto, host, port, peer)

    def __str__(self) -> str:
        text = f"/{self.proto}/{self.host}/tcp/{self.port}"
        if self.peer_id is not None:
            text += "/p2p/" + b58encode(self.peer_id)
        return text

    def to_bytes(self) -> bytes:
        if self.proto == "ip4":
            out = uvarint(_P_IP4) + ipaddress.IPv4Address(self.host).packed
        elif self.proto == "ip6":
            out = uvarint(_P_IP6) + ipaddress.IPv6Address(self.host).packed
        else:
            code = {"dns": _P_DNS, "dns4": _P_DNS4, "dns6": _P_DNS6}[self.proto]
            out = uvarint(code) + uvarint(len(self.host)) + self.host.encode()
        out += uvarint(_P_TCP) + self.port.to_bytes(2, "big")
        if self.peer_id is not None:
            out += uvarint(_P_P2P) + uvarint(len(self.peer_id)) + self.peer_id
        return out


# --- buffered reading over a trio stream -----------------------------------------------------------


class ByteSource(Protocol):
    """Anything with trio's ``receive_some`` (a TCP stream, a secured connection, a yamux stream)."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray: ...


class BufferedReader:
    """Exact-size and varint-prefixed reads over anything with ``receive_some``."""

    def __init__(self, stream: ByteSource):
        self._stream = stream
        self._buf = bytearray()

    async def _fill(self) -> None:
        chunk = await self._stream.receive_some()
        if not chunk:
            raise trio.EndOfChannel
        self._buf += chunk

    async def read_exact(self, size: int) -> bytes:
        while len(self._buf) < size:
            await self._fill()
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out

    async def read_uvarint(self) -> int:
        while True:
            try:
                value, used = read_uvarint(bytes(self._buf[:9]))
            except WireError:
                if len(self._buf) >= 9:
                    raise
                await self._fill()
                continue
            del self._buf[:used]
            return value

    async def read_prefixed(self, limit: int) -> bytes:
        size = await self.read_uvarint()
        if size > limit:
            raise WireError(f"message of {size} bytes is over the {limit}-byte limit")
        return await self.read_exact(size)

    def take_buffered(self) -> bytes:
        out = bytes(self._buf)
        self._buf.clear()
        return out

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._buf:
            return self.take_buffered()
        return bytes(await self._stream.receive_some())
