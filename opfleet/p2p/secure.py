"""multistream-select 1.0 and libp2p's Noise channel (``/noise``, Noise_XX_25519_ChaChaPoly_SHA256).

Specs: multiformats ``multistream-select`` (uvarint-length-prefixed, newline-terminated lines,
``na`` for a refused protocol); libp2p ``noise/README.md`` (XX handshake, 2-byte big-endian frame
lengths, the ``NoiseHandshakePayload`` protobuf carrying the libp2p identity key and its signature
of ``"noise-libp2p-static-key:" ++ static key``); the Noise Protocol Framework rev. 34 (symmetric
state, HKDF, nonces). The early stream-muxer negotiation extension is not offered, so go-libp2p
falls back to multistream-select for the muxer, as the spec allows.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Collection

import trio

from opfleet.p2p.identity import Identity, decode_public_key, peer_id_from_public_key, verify
from opfleet.p2p.wire import BufferedReader, WireError, pb_bytes, pb_fields, uvarint

MULTISTREAM = "/multistream/1.0.0"
NOISE = "/noise"
_PROTOCOL_NAME = b"Noise_XX_25519_ChaChaPoly_SHA256"
_SIG_PREFIX = b"noise-libp2p-static-key:"
MAX_FRAME = 65535
_MAX_PLAINTEXT = MAX_FRAME - 16
HANDSHAKE_TIMEOUT = 10.0


class HandshakeError(WireError):
    """A peer that failed multistream-select or the Noise handshake."""


# --- multistream-select ---------------------------------------------------------------------------


def mss_line(text: str) -> bytes:
    body = text.encode() + b"\n"
    return uvarint(len(body)) + body


async def mss_read(reader: BufferedReader) -> str:
    raw = await reader.read_prefixed(1024)
    if not raw.endswith(b"\n"):
        raise HandshakeError("multistream message without a newline")
    return raw[:-1].decode("utf-8", "replace")


async def mss_select(stream, reader: BufferedReader, protocols: list[str]) -> str:
    """Propose ``protocols`` in order as the initiator; return the one the peer took."""
    await stream.send_all(mss_line(MULTISTREAM) + mss_line(protocols[0]))
    if await mss_read(reader) != MULTISTREAM:
        raise HandshakeError("peer does not speak multistream-select 1.0")
    for i, proto in enumerate(protocols):
        if i:
            await stream.send_all(mss_line(proto))
        answer = await mss_read(reader)
        if answer == proto:
            return proto
        if answer != "na":
            raise HandshakeError(f"unexpected multistream answer {answer!r}")
    raise HandshakeError(f"peer supports none of {protocols}")


async def mss_handle(stream, reader: BufferedReader, supported: Collection[str]) -> str:
    """Answer a multistream-select negotiation as the responder; return the chosen protocol."""
    if await mss_read(reader) != MULTISTREAM:
        raise HandshakeError("peer does not speak multistream-select 1.0")
    await stream.send_all(mss_line(MULTISTREAM))
    for _ in range(32):
        proto = await mss_read(reader)
        if proto in supported:
            await stream.send_all(mss_line(proto))
            return proto
        await stream.send_all(mss_line("na"))
    raise HandshakeError("too many refused protocol proposals")


# --- Noise ----------------------------------------------------------------------------------------


def _hkdf(ck: bytes, ikm: bytes) -> tuple[bytes, bytes]:
    temp = hmac.new(ck, ikm, hashlib.sha256).digest()
    out1 = hmac.new(temp, b"\x01", hashlib.sha256).digest()
    out2 = hmac.new(temp, out1 + b"\x02", hashlib.sha256).digest()
    return out1, out2


def _nonce(n: int) -> bytes:
    return b"\x00" * 4 + struct.pack("<Q", n)


def _encrypt(key: bytes, n: int, ad: bytes, plaintext: bytes) -> bytes:
    from Crypto.Cipher import ChaCha20_Poly1305

    c = ChaCha20_Poly1305.new(key=key, nonce=_nonce(n))
    c.update(ad)
    ct, tag = c.encrypt_and_digest(plaintext)
    return ct + tag


def _decrypt(key: bytes, n: int, ad: bytes, data: bytes) -> bytes:
    from Crypto.Cipher import ChaCha20_Poly1305

    if len(data) < 16:
        raise HandshakeError("noise: ciphertext shorter than its tag")
    c = ChaCha20_Poly1305.new(key=key, nonce=_nonce(n))
    c.update(ad)
    try:
        return c.decrypt_and_verify(data[:-16], data[-16:])
    except ValueError:
        raise HandshakeError("noise: message authentication failed") from None


class _X25519:
    def __init__(self) -> None:
        from Crypto.PublicKey import ECC

        self.key = ECC.generate(curve="curve25519")
        self.public = self.key.public_key().export_key(format="raw")

    def dh(self, remote_public: bytes) -> bytes:
        from Crypto.Protocol.DH import import_x25519_public_key, key_agreement

        try:
            pub = import_x25519_public_key(remote_public)
            return key_agreement(static_priv=self.key, static_pub=pub, kdf=lambda x: x)
        except ValueError:
            raise HandshakeError("noise: invalid x25519 public key") from None


class _Symmetric:
    def __init__(self) -> None:
        self.h = _PROTOCOL_NAME  # exactly HASHLEN bytes: used as is
        self.ck = self.h
        self.k: bytes | None = None
        self.n = 0
        self.mix_hash(b"")  # empty prologue

    def mix_hash(self, data: bytes) -> None:
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, self.k = _hkdf(self.ck, ikm)
        self.n = 0

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        if self.k is None:
            out = plaintext
        else:
            out = _encrypt(self.k, self.n, self.h, plaintext)
            self.n += 1
        self.mix_hash(out)
        return out

    def decrypt_and_hash(self, data: bytes) -> bytes:
        if self.k is None:
            out = data
        else:
            out = _decrypt(self.k, self.n, self.h, data)
            self.n += 1
        self.mix_hash(data)
        return out

    def split(self) -> tuple[bytes, bytes]:
        return _hkdf(self.ck, b"")


class SecureConnection:
    """A Noise transport channel over a TCP stream: ``send_all``/``receive_some`` of plaintext."""

    def __init__(self, stream: trio.abc.Stream, reader: BufferedReader, send_key: bytes, recv_key: bytes,
                 remote_peer_id: bytes, remote_public_key: bytes):
        self.stream = stream
        self._reader = reader
        self._send_key, self._recv_key = send_key, recv_key
        self._send_n = self._recv_n = 0
        self._send_lock = trio.Lock()
        self.remote_peer_id = remote_peer_id
        self.remote_public_key = remote_public_key

    async def send_all(self, data: bytes) -> None:
        async with self._send_lock:
            out = bytearray()
            for i in range(0, len(data), _MAX_PLAINTEXT):
                ct = _encrypt(self._send_key, self._send_n, b"", data[i:i + _MAX_PLAINTEXT])
                self._send_n += 1
                out += struct.pack(">H", len(ct)) + ct
            await self.stream.send_all(bytes(out))

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            size = struct.unpack(">H", await self._reader.read_exact(2))[0]
            ct = await self._reader.read_exact(size)
        except trio.EndOfChannel:
            return b""
        pt = _decrypt(self._recv_key, self._recv_n, b"", ct)
        self._recv_n += 1
        return pt

    async def aclose(self) -> None:
        await self.stream.aclose()


def _payload(identity: Identity, static_public: bytes) -> bytes:
    return pb_bytes(1, identity.encoded_public_key) + pb_bytes(2, identity.sign(_SIG_PREFIX + static_public))


def _check_payload(payload: bytes, remote_static: bytes, expected_peer: bytes | None) -> tuple[bytes, bytes]:
    fields: dict[int, int | bytes] = {}
    for num, value in pb_fields(payload):
        fields.setdefault(num, value)
    key_pb, sig = fields.get(1), fields.get(2)
    if not isinstance(key_pb, bytes) or not isinstance(sig, bytes):
        raise HandshakeError("noise: handshake payload without identity key or signature")
    compressed = decode_public_key(key_pb)
    if not verify(compressed, sig, _SIG_PREFIX + remote_static):
        raise HandshakeError("noise: identity signature does not verify")
    peer = peer_id_from_public_key(key_pb)
    if expected_peer is not None and peer != expected_peer:
        raise HandshakeError("noise: peer id differs from the one dialled")
    return peer, compressed


async def _write_frame(stream: trio.abc.Stream, data: bytes) -> None:
    await stream.send_all(struct.pack(">H", len(data)) + data)


async def _read_frame(reader: BufferedReader) -> bytes:
    size = struct.unpack(">H", await reader.read_exact(2))[0]
    return await reader.read_exact(size)


async def secure_outbound(stream: trio.abc.Stream, identity: Identity,
                          expected_peer: bytes | None = None) -> SecureConnection:
    """Negotiate ``/noise`` and run the XX handshake as the initiator."""
    reader = BufferedReader(stream)
    await mss_select(stream, reader, [NOISE])
    sym, e, s = _Symmetric(), _X25519(), _X25519()
    sym.mix_hash(e.public)
    await _write_frame(stream, e.public + sym.encrypt_and_hash(b""))
    msg = await _read_frame(reader)
    if len(msg) < 32 + 48 + 16:
        raise HandshakeError("noise: short second handshake message")
    re = msg[:32]
    sym.mix_hash(re)
    sym.mix_key(e.dh(re))
    rs = sym.decrypt_and_hash(msg[32:80])
    sym.mix_key(e.dh(rs))
    peer, compressed = _check_payload(sym.decrypt_and_hash(msg[80:]), rs, expected_peer)
    out = sym.encrypt_and_hash(s.public)
    sym.mix_key(s.dh(re))
    out += sym.encrypt_and_hash(_payload(identity, s.public))
    await _write_frame(stream, out)
    k1, k2 = sym.split()
    return SecureConnection(stream, reader, k1, k2, peer, compressed)


async def secure_inbound(stream: trio.abc.Stream, identity: Identity) -> SecureConnection:
    """Answer ``/noise`` and run the XX handshake as the responder."""
    reader = BufferedReader(stream)
    await mss_handle(stream, reader, {NOISE})
    sym, e, s = _Symmetric(), _X25519(), _X25519()
    msg = await _read_frame(reader)
    if len(msg) < 32:
        raise HandshakeError("noise: short first handshake message")
    re = msg[:32]
    sym.mix_hash(re)
    sym.decrypt_and_hash(msg[32:])
    sym.mix_hash(e.public)
    out = e.public
    sym.mix_key(e.dh(re))
    out += sym.encrypt_and_hash(s.public)
    sym.mix_key(s.dh(re))
    out += sym.encrypt_and_hash(_payload(identity, s.public))
    await _write_frame(stream, out)
    msg = await _read_frame(reader)
    if len(msg) < 48 + 16:
        raise HandshakeError("noise: short third handshake message")
    rs = sym.decrypt_and_hash(msg[:48])
    sym.mix_key(e.dh(rs))
    peer, compressed = _check_payload(sym.decrypt_and_hash(msg[48:]), rs, None)
    k1, k2 = sym.split()
    return SecureConnection(stream, reader, k2, k1, peer, compressed)
