"""opfleet's block gossip against the real op-node (the reference binary, topics v1-v3), both ways.

1. A real op-node peered statically with opfleet's light sequencer accepts the blocks it gossips:
   its unsafe head runs ahead of what it derives and matches the sequencer's chain.
2. An opfleet light node receives the blocks a real op-node sequencer gossips (signed with
   ``--p2p.sequencer.key``, the devnet's unsafe-block signer) and inserts them into its op-geth;
   joining late, it fetches the blocks it missed from op-node by req/resp (payload_by_number).

Skips (saying why) only when no op-geth or op-node binary is found; CI installs both.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import trio

from e2e_helpers import fast_config
from opfleet.devnet.engine import ForkTimes
from opfleet.devnet.fleet import JWT_SECRET, OP_GETH, UNSAFE_BLOCK_SIGNER_KEY, Devnet
from opfleet.devnet.opnode import OpNode, OpNodeConfig, free_port
from opfleet.p2p import Identity, P2PConfig
from opfleet.providers.jsonrpc import JsonRpcClient
from test_opnode_reference import binaries_or_skip

pytestmark = pytest.mark.slow


def p2p_args(tmp_path: Any, name: str, port: int, identity: Identity, *extra: str) -> tuple[str, ...]:
    key_file = tmp_path / f"{name}-p2p.txt"
    key_file.write_text(identity.private_key.hex())
    return ("--p2p.listen.ip", "127.0.0.1", "--p2p.listen.tcp", str(port), "--p2p.no-discovery",
            "--p2p.peerstore.path", "memory", "--p2p.discovery.path", "memory", "--p2p.priv.path", str(key_file),
            *extra)


async def sync_status(url: str) -> dict[str, Any]:
    async with JsonRpcClient(url) as rpc:
        return await rpc.call("optimism_syncStatus")


async def block_hash(url: str, number: int) -> str | None:
    async with JsonRpcClient(url) as rpc:
        block = await rpc.call("eth_getBlockByNumber", hex(number), False)
    return block["hash"] if block else None


async def test_real_op_node_accepts_blocks_gossiped_by_the_opfleet_sequencer(nursery, tmp_path):
    binaries_or_skip()
    config = fast_config(engine=OP_GETH, forks=ForkTimes.up_to("granite"), lights=0, data_dir=tmp_path / "devnet",
                         tx_interval=0.3, l1_block_time=2, l2_block_time=1, l1_fork="cancun")
    devnet = await nursery.start(Devnet(config).run)
    sequencer_gossip = devnet.sequencer.gossip
    assert sequencer_gossip is not None and sequencer_gossip.can_publish
    engine = await devnet.add_engine("op-node")
    op_identity = Identity.generate()
    op_node = OpNode(OpNodeConfig(
        rollup=devnet.rollup, l1_url=devnet.l1_url, l1_beacon_url=devnet.l1_url, l2_auth_url=engine.auth_url,
        jwt_secret=JWT_SECRET, name="op-node", data_dir=tmp_path / "op-node",
        p2p_args=p2p_args(tmp_path, "op-node", free_port(), op_identity,
                          "--p2p.static", sequencer_gossip.gossip.multiaddrs()[0])))
    await nursery.start(op_node.run)

    ahead = 0
    with trio.fail_after(90):
        while True:
            status = await sync_status(op_node.rpc_url)
            unsafe, safe = status["unsafe_l2"], status["safe_l2"]
            ahead = max(ahead, unsafe["number"] - safe["number"])
            ours = devnet.sequencer.heads()[0]
            if unsafe["number"] >= 12 and ahead >= 3 and ours.number - unsafe["number"] <= 1:
                break
            await trio.sleep(0.25)
    # the block op-node calls unsafe is the one our sequencer built, and its EL holds it
    assert unsafe["hash"] == await block_hash(devnet.sequencer_engine.rpc_url, unsafe["number"])
    assert await block_hash(engine.rpc_url, unsafe["number"]) == unsafe["hash"]
    text = op_node.log_path.read_text()
    assert "Received signed execution payload from p2p" in text
    assert "unexpected block author" not in text and "payload has bad block hash" not in text
    stats = sequencer_gossip.gossip.statistics()
    assert op_identity.peer_id in sequencer_gossip.gossip.host.connections and stats.published >= 12


async def test_opfleet_light_receives_blocks_gossiped_by_a_real_op_node_sequencer(nursery, tmp_path):
    from opfleet.node.light import LightNode

    binaries_or_skip()
    config = fast_config(engine=OP_GETH, forks=ForkTimes.up_to("granite"), lights=0, data_dir=tmp_path / "devnet",
                         tx_interval=0, l1_block_time=2, l2_block_time=1, l1_fork="cancun")
    devnet = await nursery.start(Devnet(config).run)
    # op-node sequences a chain of its own on the same genesis: it must not derive the devnet
    # sequencer's batches (another inbox) nor force empty blocks (a long sequencing window).
    rollup = replace(devnet.rollup, batch_inbox_address=b"\x0f" * 20, seq_window_size=3600)
    op_engine = await devnet.add_engine("op-node")
    op_identity, op_port = Identity.generate(), free_port()
    op_node = OpNode(OpNodeConfig(
        rollup=rollup, l1_url=devnet.l1_url, l1_beacon_url=devnet.l1_url, l2_auth_url=op_engine.auth_url,
        jwt_secret=JWT_SECRET, name="op-node-sequencer", data_dir=tmp_path / "op-node",
        p2p_args=p2p_args(tmp_path, "op-node", op_port, op_identity,
                          "--p2p.sequencer.key", UNSAFE_BLOCK_SIGNER_KEY.hex()),
        extra_args=("--sequencer.enabled", "--sequencer.l1-confs", "0")))
    await nursery.start(op_node.run)
    with trio.fail_after(60):  # op-node is well ahead before we join: the gap is ours to fill
        while (await sync_status(op_node.rpc_url))["unsafe_l2"]["number"] < 5:
            await trio.sleep(0.2)

    engine = await devnet.add_engine("light-of-op-node")
    static = f"/ip4/127.0.0.1/tcp/{op_port}/p2p/{op_identity.peer_id_text}"
    light = LightNode(devnet._light_config(engine, (op_node.rpc_url,), rollup=rollup,
                                           p2p=P2PConfig(listen_tcp=None, static=(static,))))
    await nursery.start(light.run)

    with trio.fail_after(90):
        while True:
            target = (await sync_status(op_node.rpc_url))["unsafe_l2"]
            mine = await block_hash(engine.rpc_url, target["number"])
            if target["number"] >= 12 and mine == target["hash"]:
                break
            await trio.sleep(0.25)
    inserted = light.gossip.inserter.statistics()
    assert inserted.inserted >= 12 and inserted.invalid == 0
    assert inserted.fetched >= 4  # the blocks before we joined came from op-node's sync server
    assert light.gossip.gossip.statistics().rejected == 0
    assert light.heads()[0].number >= 12  # the light node's unsafe head came by gossip
    assert light.puller is None  # no --l2.follow.payloads: gossip alone


async def test_real_op_node_joining_late_fetches_missed_blocks_from_opfleet(nursery, tmp_path):
    """op-node's alt-sync against opfleet's req/resp server: op-node cannot derive the devnet's
    batches here (another inbox), so the blocks before it joined come from us by payload_by_number."""
    binaries_or_skip()
    config = fast_config(engine=OP_GETH, forks=ForkTimes.up_to("granite"), lights=0, data_dir=tmp_path / "devnet",
                         tx_interval=0.3, l1_block_time=2, l2_block_time=1, l1_fork="cancun")
    devnet = await nursery.start(Devnet(config).run)
    sequencer_gossip = devnet.sequencer.gossip
    with trio.fail_after(60):
        while devnet.sequencer.heads()[0].number < 6:
            await trio.sleep(0.2)
    rollup = replace(devnet.rollup, batch_inbox_address=b"\x0f" * 20, seq_window_size=3600)
    engine = await devnet.add_engine("op-node")
    op_node = OpNode(OpNodeConfig(
        rollup=rollup, l1_url=devnet.l1_url, l1_beacon_url=devnet.l1_url, l2_auth_url=engine.auth_url,
        jwt_secret=JWT_SECRET, name="op-node", data_dir=tmp_path / "op-node",
        p2p_args=p2p_args(tmp_path, "op-node", free_port(), Identity.generate(),
                          "--p2p.static", sequencer_gossip.gossip.multiaddrs()[0])))
    await nursery.start(op_node.run)
    with trio.fail_after(90):
        while True:
            unsafe = (await sync_status(op_node.rpc_url))["unsafe_l2"]
            if unsafe["number"] >= 10 and unsafe["hash"] == await block_hash(devnet.sequencer_engine.rpc_url,
                                                                              unsafe["number"]):
                break
            await trio.sleep(0.25)
    assert sequencer_gossip.gossip.sync_server.served >= 5
