"""Wire helpers, identities, multistream-select, Noise and yamux, against each other and hostile bytes."""

from __future__ import annotations

import os
import struct

import pytest
import trio
import trio.testing
from hypothesis import given, settings, strategies as st

from opfleet.p2p import identity as ident
from opfleet.p2p.secure import HandshakeError, mss_handle, mss_select, secure_inbound, secure_outbound
from opfleet.p2p.wire import (
    BufferedReader, Multiaddr, WireError, b58decode, b58encode, pb_bytes, pb_fields, pb_varint, read_uvarint, uvarint,
)
from opfleet.p2p.yamux import YamuxSession


@given(st.integers(0, 2**63 - 1))
def test_uvarint_round_trip(n):
    assert read_uvarint(uvarint(n)) == (n, len(uvarint(n)))


def test_uvarint_truncated_and_overlong():
    with pytest.raises(WireError, match="truncated"):
        read_uvarint(b"\x80\x80")
    with pytest.raises(WireError, match="too long"):
        read_uvarint(b"\xff" * 10)


@given(st.binary(max_size=64))
def test_base58_round_trip(data):
    assert b58decode(b58encode(data)) == data


def test_base58_rejects_bad_characters():
    with pytest.raises(WireError):
        b58decode("0OIl")


def test_protobuf_fields_and_garbage():
    msg = pb_varint(1, 2) + pb_bytes(2, b"abc") + pb_bytes(3, "text")
    assert list(pb_fields(msg)) == [(1, 2), (2, b"abc"), (3, b"text")]
    with pytest.raises(WireError):
        list(pb_fields(pb_bytes(2, b"abc")[:-1]))  # truncated
    with pytest.raises(WireError):
        list(pb_fields(b"\x0b"))  # group wire type


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_protobuf_garbage_raises_only_wire_error(data):
    try:
        list(pb_fields(data))
    except WireError:
        pass


def test_multiaddrs():
    peer = ident.Identity.generate()
    text = f"/ip4/127.0.0.1/tcp/9222/p2p/{peer.peer_id_text}"
    addr = Multiaddr.parse(text)
    assert (addr.host, addr.port, addr.peer_id) == ("127.0.0.1", 9222, peer.peer_id)
    assert str(addr) == text
    assert addr.to_bytes() == b"\x04\x7f\x00\x00\x01\x06\x24\x06\xa5\x03\x27" + peer.peer_id  # 9222 = 0x2406
    assert Multiaddr.parse("/dns4/node.example/tcp/1").host == "node.example"
    for bad in ("/ip4/1.2.3.4/udp/1", "/ip4/300.1.1.1/tcp/1", "/ip4/1.2.3.4/tcp/70000", "ip4/1.2.3.4/tcp/1",
                "/ip6/1.2.3.4/tcp/1", "/ip4/1.2.3.4/tcp/1/quic", "/ip4/1.2.3.4/tcp/x"):
        with pytest.raises(WireError):
            Multiaddr.parse(bad)


# --- identities -----------------------------------------------------------------------------------


def test_peer_id_is_the_identity_multihash_of_the_secp256k1_key():
    key = ident.Identity((1).to_bytes(32, "big"))
    pub = key.public_key
    assert pub.hex() == "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    assert key.encoded_public_key == b"\x08\x02\x12\x21" + pub
    assert key.peer_id == b"\x00\x25" + key.encoded_public_key
    assert key.peer_id_text.startswith("16Uiu2")
    assert ident.public_key_from_peer_id(key.peer_id) == pub
    assert ident.public_key_from_peer_id(b"\x12\x20" + bytes(32)) is None


def test_sign_and_verify():
    key = ident.Identity.generate()
    sig = key.sign(b"hello")
    assert ident.verify(key.public_key, sig, b"hello")
    assert not ident.verify(key.public_key, sig, b"hellO")
    assert not ident.verify(key.public_key, b"garbage", b"hello")


def test_key_file_is_created_once_and_kept(tmp_path):
    path = tmp_path / "p2p" / "opnode_p2p_priv.txt"
    first = ident.load_or_create(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert ident.load_or_create(path).peer_id == first.peer_id
    path.write_text("0x" + first.private_key.hex() + "\n")
    assert ident.load_or_create(path).peer_id == first.peer_id
    path.write_text("not hex")
    with pytest.raises(ValueError, match="32-byte hex"):
        ident.load_or_create(path)
    path.write_text("00" * 32)
    with pytest.raises(ValueError):
        ident.load_or_create(path)


# --- multistream-select and Noise -----------------------------------------------------------------


async def test_multistream_select_negotiates_and_refuses():
    a, b = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        result = {}

        async def responder():
            result["b"] = await mss_handle(b, BufferedReader(b), {"/two"})

        nursery.start_soon(responder)
        assert await mss_select(a, BufferedReader(a), ["/one", "/two"]) == "/two"
    assert result["b"] == "/two"


async def handshake(expected=None):
    a, b = trio.testing.memory_stream_pair()
    ia, ib = ident.Identity.generate(), ident.Identity.generate()
    out = {}
    async with trio.open_nursery() as nursery:
        async def inbound():
            out["in"] = await secure_inbound(b, ib)

        nursery.start_soon(inbound)
        out["out"] = await secure_outbound(a, ia, ib.peer_id if expected is None else expected)
    return ia, ib, out["out"], out["in"]


async def test_noise_handshake_authenticates_both_sides_and_carries_data():
    ia, ib, client, server = await handshake()
    assert client.remote_peer_id == ib.peer_id and server.remote_peer_id == ia.peer_id
    big = os.urandom(200_000)  # several Noise frames
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.send_all, big)
        got = b""
        while len(got) < len(big):
            got += await server.receive_some()
    assert got == big
    await server.send_all(b"back")
    assert await client.receive_some() == b"back"


async def test_noise_refuses_the_wrong_peer():
    with pytest.raises(BaseExceptionGroup) as info:
        await handshake(expected=ident.Identity.generate().peer_id)
    assert info.group_contains(HandshakeError, match="differs")


async def test_noise_transport_rejects_tampered_frames():
    _, _, client, server = await handshake()
    # a forged frame straight onto the TCP stream under the channel
    await client.stream.send_all(struct.pack(">H", 20) + os.urandom(20))
    with pytest.raises(HandshakeError, match="authentication"):
        await server.receive_some()


async def test_noise_responder_refuses_garbage():
    a, b = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        async def garbage():
            await a.send_all(b"\x13/multistream/1.0.0\n\x07/noise\n" + b"\x00\x05hello")
        nursery.start_soon(garbage)
        with pytest.raises(HandshakeError):
            await secure_inbound(b, ident.Identity.generate())


# --- yamux ----------------------------------------------------------------------------------------


async def test_yamux_streams_both_ways_with_flow_control():
    a, b = trio.testing.memory_stream_pair()
    received = {}
    big = os.urandom(1_000_000)  # four initial windows: only window updates let it through

    async def on_server_stream(stream):
        data = b""
        while chunk := await stream.receive_some():
            data += chunk
        received["server"] = data
        await stream.send_all(b"ok")
        await stream.close()

    async def ignore(stream):
        pass

    client = YamuxSession(a, is_client=True, on_stream=ignore)
    server = YamuxSession(b, is_client=False, on_stream=on_server_stream)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        await nursery.start(server.run)
        stream = await client.open_stream()
        assert stream.id % 2 == 1
        await stream.send_all(big)
        await stream.close()
        assert await stream.receive_some() == b"ok"
        assert await stream.receive_some() == b""
        await client.ping(7)
        nursery.cancel_scope.cancel()
    assert received["server"] == big


async def test_yamux_session_ends_on_a_bad_frame():
    a, b = trio.testing.memory_stream_pair()

    async def ignore(stream):
        pass

    server = YamuxSession(b, is_client=False, on_stream=ignore)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            await a.send_all(struct.pack(">BBHII", 9, 0, 0, 1, 0))  # unknown version
    assert server.closed
