"""Block gossip between opfleet nodes on loopback: delivery, duplicates, bans, hostile RPCs, metrics."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings, strategies as st

from opfleet.devnet.engine import ForkTimes
from opfleet.p2p import BlockGossip, GossipMetrics, P2PConfig
from opfleet.p2p.gossipsub import Message, decode_rpc, encode_rpc
from opfleet.p2p.wire import WireError, pb_bytes
from opfleet.protocol import gossip as g
from opfleet.protocol.crypto import keccak256
from opfleet.rpc.metrics import Registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))
from test_gossip import KEY, SIGNER, make_payload  # noqa: E402


class _Genesis:
    class l2:  # noqa: N801 - the shape of RollupConfig.genesis.l2
        number = 0
    l2_time = int(time.time()) - 1000


class Rollup:
    l2_chain_id = 901
    block_time = 2
    genesis = _Genesis
    _forks = ForkTimes.up_to("granite")

    def __getattr__(self, name):
        return getattr(self._forks, name)


async def start(nursery, *, key=None, static=(), signer=SIGNER, on_block=None, metrics=None, serve=None):
    node = BlockGossip(P2PConfig(listen_ip="127.0.0.1", listen_tcp=0, sequencer_key=key, static=tuple(static)),
                       Rollup(), signer=lambda: signer, on_block=on_block, metrics=metrics, payload_by_number=serve)
    return await nursery.start(node.run)


async def wait_for(predicate, timeout=10.0):
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.02)


def block(number=7, extra=b""):
    return make_payload(g.BlockVersion.V3, number=number, ts=int(time.time()), extra=extra)


async def test_published_blocks_arrive_once_in_order():
    got = []

    async def on_block(env, peer):
        got.append(env)

    async with trio.open_nursery() as nursery:
        seq = await start(nursery, key=KEY)
        light = await start(nursery, static=seq.multiaddrs(), on_block=on_block)
        await wait_for(lambda: light.statistics().mesh["/optimism/901/2/blocks"] == 1)
        blocks = [block(n) for n in range(1, 6)]
        for b in blocks:
            seq.publish(b)
        seq.publish(blocks[0])  # the same message again: a duplicate, dropped by id
        await wait_for(lambda: len(got) == 5)
        await trio.sleep(0.2)
        assert got == blocks
        stats = light.statistics()
        assert stats.accepted == 5 and stats.rejected == 0
        nursery.cancel_scope.cancel()


async def test_a_peer_gossiping_a_forged_block_is_banned_and_kept_out():
    got = []

    async def on_block(env, peer):
        got.append(env)

    async with trio.open_nursery() as nursery:
        light = await start(nursery, on_block=on_block)
        evil = await start(nursery, key=keccak256(b"not the sequencer"), static=light.multiaddrs())
        await wait_for(lambda: evil.statistics().mesh["/optimism/901/2/blocks"] == 1)
        evil.publish(block())
        # one invalid delivery scores 0.8 * -140.4475 = -112.4, under op-node's -100 threshold
        await wait_for(lambda: light.statistics().banned == 1 and light.statistics().peers == 0)
        assert light.statistics().rejected == 1
        assert "unexpected block author" in light.last_reason
        assert got == []
        await trio.sleep(2.5)  # the static dialler retries every 2 s: the gater refuses it
        assert light.statistics().peers == 0
        nursery.cancel_scope.cancel()


async def test_without_a_signer_blocks_are_ignored_without_penalty():
    async with trio.open_nursery() as nursery:
        seq = await start(nursery, key=KEY)
        light = await start(nursery, static=seq.multiaddrs(), signer=None)
        await wait_for(lambda: light.statistics().mesh["/optimism/901/2/blocks"] == 1)
        seq.publish(block())
        await wait_for(lambda: light.statistics().ignored == 1)
        assert light.statistics().peers == 1 and light.statistics().banned == 0
        nursery.cancel_scope.cancel()


async def test_metrics_use_op_node_names():
    registry = Registry()
    async with trio.open_nursery() as nursery:
        seq = await start(nursery, key=KEY)
        light = await start(nursery, static=seq.multiaddrs(), metrics=GossipMetrics(registry))
        await wait_for(lambda: "op_node_p2p_peer_count 1" in registry.expose())
        # connected is not yet subscribed: publish once the peer is in the topic's mesh, or the
        # block goes to nobody (a race that only a loaded machine loses)
        await wait_for(lambda: light.statistics().mesh["/optimism/901/2/blocks"] == 1)
        seq.publish(block())
        await wait_for(lambda: 'op_node_p2p_gossip_events_total{type="DELIVER_MESSAGE"} 1' in registry.expose())
        assert "op_node_unsafe_payloads_total 1" in registry.expose()
        nursery.cancel_scope.cancel()


async def test_payload_by_number_between_peers_with_op_node_limits():
    blocks = {n: block(n) for n in range(1, 30)}

    async def serve(number):
        return blocks.get(number)

    async with trio.open_nursery() as nursery:
        server = await start(nursery, serve=serve)
        client = await start(nursery, static=server.multiaddrs())
        await wait_for(lambda: client.statistics().peers == 1)
        assert await client.fetch(3) == blocks[3]
        assert await client.fetch(400) is None  # beyond the head the block time allows: invalid
        assert await client.fetch(250) is None  # not found
        # 4 a second per peer, burst 10: a quick run of requests is cut off
        results = [await client.fetch(n) for n in range(1, 15)]
        assert any(r is None for r in results) and sum(r is not None for r in results) >= 7
        assert server.sync_server.served >= 8 and server.sync_server.refused >= 3
        nursery.cancel_scope.cancel()


def test_publishing_needs_the_sequencer_key():
    node = BlockGossip(P2PConfig(listen_tcp=None), Rollup(), signer=lambda: SIGNER)
    with pytest.raises(RuntimeError, match="sequencer.key"):
        node.publish(block())


def test_static_peers_must_name_a_peer_id():
    with pytest.raises(ValueError, match="p2p"):
        P2PConfig(static=("/ip4/127.0.0.1/tcp/9222",)).static_addrs()


# --- RPC codec ------------------------------------------------------------------------------------


def test_rpc_round_trip():
    raw = encode_rpc(subscriptions=[(True, "/a"), (False, "/b")], publish=[Message("/a", b"data")],
                     ihave=[("/a", [b"id1", b"id2"])], iwant=[b"id3"], graft=["/a"], prune=[("/b", 60)])
    rpc = decode_rpc(raw)
    assert rpc.subscriptions == [(True, "/a"), (False, "/b")]
    assert rpc.publish == [(Message("/a", b"data"), False)]
    assert rpc.ihave == [("/a", [b"id1", b"id2"])] and rpc.iwant == [b"id3"]
    assert rpc.graft == ["/a"] and rpc.prune == [("/b", 60)]


def test_rpc_marks_signed_messages():
    # StrictNoSign: from (1), seqno (3), signature (5) or key (6) make the message invalid
    raw = pb_bytes(2, pb_bytes(1, b"peer") + pb_bytes(2, b"data") + pb_bytes(4, "/a"))
    assert decode_rpc(raw).publish == [(Message("/a", b"data"), True)]


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_hostile_rpcs_raise_only_wire_error(data):
    try:
        decode_rpc(data)
    except WireError:
        pass


async def test_garbage_on_the_listening_port_and_oversized_rpcs_do_not_hurt_the_node():
    from opfleet.p2p.gossipsub import MESHSUB_11
    from opfleet.p2p.wire import Multiaddr, uvarint

    got = []

    async def on_block(env, peer):
        got.append(env)

    async with trio.open_nursery() as nursery:
        light = await start(nursery, on_block=on_block)
        addr = Multiaddr.parse(light.multiaddrs()[0])
        for junk in (b"", b"\x00" * 3, b"GET / HTTP/1.1\r\n\r\n", b"\x13/multistream/1.0.0\n\x07/noise\n\xff\xff" + b"x" * 50):
            stream = await trio.open_tcp_stream(addr.host, addr.port)
            if junk:
                await stream.send_all(junk)
            await stream.aclose()
        # a real peer that then sends a gossipsub frame claiming 64 MiB: its stream is dropped
        evil = await start(nursery, static=light.multiaddrs())
        await wait_for(lambda: light.statistics().peers == 1)
        conn = next(iter(evil.host.connections.values()))
        stream, _, _ = await conn.open_stream([MESHSUB_11])
        await stream.send_all(uvarint(64 << 20) + b"\x00" * 100)
        await trio.sleep(0.3)
        # still serving: an honest sequencer dialling in gets its block through
        seq = await start(nursery, key=KEY, static=light.multiaddrs())
        await wait_for(lambda: seq.statistics().mesh["/optimism/901/2/blocks"] == 1)
        seq.publish(block(3))
        await wait_for(lambda: len(got) == 1)
        assert light.statistics().rejected == 0
        nursery.cancel_scope.cancel()


async def test_a_hello_that_arrives_before_our_own_stream_opens_is_kept():
    """The peer's subscriptions may come in on its stream before our on_connect has run: they must
    not be dropped, or we would never publish to that peer."""
    from opfleet.p2p.gossipsub import GossipSub
    from opfleet.p2p.host import Connection, Host
    from opfleet.p2p.identity import Identity
    from opfleet.p2p.wire import uvarint

    class Session:
        closed = False

    class Reader:
        def __init__(self, data):
            self.data = data

        async def read_prefixed(self, limit):
            if not self.data:
                raise trio.EndOfChannel
            size = self.data[0]  # one-byte uvarint in this test
            msg, self.data = self.data[1:1 + size], self.data[1 + size:]
            return msg

    topic = g.blocks_topic(901, g.BlockVersion.V3)
    router = GossipSub(Host(Identity.generate()), topics=[topic], message_id=g.message_id,
                       validator=lambda *a: (g.Verdict.ACCEPT, None), deliver=lambda *a: None)
    conn = Connection(Identity.generate().peer_id, Session(), "127.0.0.1:1", outbound=False)
    hello = encode_rpc(subscriptions=[(True, topic)])
    await router._inbound_stream(conn, None, Reader(uvarint(len(hello)) + hello))
    assert router.peers[conn.peer_id].topics == {topic}
    router.publish(topic, b"block")
    queued = router.peers[conn.peer_id].recv.receive_nowait()
    assert decode_rpc(queued).publish[0][0] == Message(topic, b"block")
