"""``opfleet devnet --interop`` end to end (issue 8 items 4 and 5): chain 902 next to 901 on one
L1, a supernode deriving both, a light node on each ``/<chainID>`` route and 902's light sequencer
following ``/902``. Both chains' safe heads converge hash for hash on the supernode routes, the
light nodes and the sequencers; a forged executing message's block is replaced by its
deposits-only version everywhere; a valid message's block is kept."""

from __future__ import annotations

import pytest
from e2e_helpers import start_fleet, wait_for
from opfleet.devnet.fleet import (
    CHAINS,
    FORGED_MISSING,
    FORGED_PAYLOAD,
    VALID,
    message_kind,
    write_fleet_profile,
)
from opfleet.monitor.fleet import load_profile
from opfleet.monitor.model import Role
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE, invalidated_block_deposit
from opfleet.providers.jsonrpc import JsonRpcClient

pytestmark = pytest.mark.slow  # a whole devnet or fleet: CI runs it; `pytest -m "not slow"` leaves it out

A, B = (spec.chain_id for spec in CHAINS)


def verified(devnet, cid: int) -> int:
    ref = devnet.supernode.chains[cid].verified
    return ref.number if ref is not None else 0


async def block_hash_at(url: str, number: int) -> str:
    """The hash of block ``number`` as an op-node-API node reports it (``optimism_outputAtBlock``)."""
    async with JsonRpcClient(url) as rpc:
        return (await rpc.call("optimism_outputAtBlock", hex(number)))["blockRef"]["hash"]


async def safe_of(url: str) -> dict:
    async with JsonRpcClient(url) as rpc:
        return (await rpc.call("optimism_syncStatus"))["safe_l2"]


async def assert_agree(devnet, cid: int, number: int) -> str:
    """Route, route light node (and its EL), and the chain's sequencer EL: one block at ``number``."""
    route = f"{devnet.supernode_url}/{cid}"
    light = devnet.endpoint(f"route-light-{cid}").url
    expected = await block_hash_at(route, number)
    assert await block_hash_at(light, number) == expected, f"chain {cid} block {number}: light node differs"
    assert "0x" + devnet.route_light_engines[cid].by_number(number).hash.hex() == expected
    sequencer_el = devnet.chain(cid).sequencer_engine

    def sequencer_agrees() -> bool:
        block = sequencer_el.by_number(number)
        return block is not None and "0x" + block.hash.hex() == expected

    # The sequencer reorgs onto a replaced block only when it next reads the supernode's safe
    # head, so it agrees eventually, not at the instant the route's light node does.
    await wait_for(sequencer_agrees, timeout=15, what=f"chain {cid}: the sequencer to agree at block {number}")
    return expected


async def test_interop_devnet_replaces_forged_blocks_keeps_valid_ones_and_every_node_agrees(nursery, tmp_path):
    devnet = await start_fleet(nursery, interop=True, lights=1, message_interval=0, tx_interval=0.5)
    sn_b = devnet.supernode.chains[B]

    valid = await devnet.send_message(VALID)
    forged = await devnet.send_message(FORGED_PAYLOAD)
    assert forged.block_number > valid.block_number
    await wait_for(lambda: sn_b.invalidated >= 1, timeout=20, what="the forged message's block replaced")
    target = forged.block_number + 2
    await wait_for(lambda: min(verified(devnet, A), verified(devnet, B)) >= target
                   and all(devnet.route_light_engines[cid].safe.number >= target for cid in (A, B)),
                   timeout=20, what=f"both chains verified and followed to {target}")

    # Both chains: supernode route and its light node report safe heads of one chain, hash for hash.
    for cid in (A, B):
        light_safe = await safe_of(devnet.endpoint(f"route-light-{cid}").url)
        assert light_safe["number"] >= target
        assert await block_hash_at(f"{devnet.supernode_url}/{cid}", light_safe["number"]) == light_safe["hash"]
        for n in range(1, target + 1):
            await assert_agree(devnet, cid, n)
    # 901's plain source node derived the same chain as the supernode (901 only initiates).
    assert devnet.sources[0].driver.safe_head.number >= target
    for n in range(1, target + 1):
        assert devnet.source_engines[0].by_number(n).hash == devnet.supernode_engines[A].by_number(n).hash

    # The valid message's block is kept, with its executing message.
    kept = devnet.supernode_engines[B].by_number(valid.block_number)
    assert kept.hash == valid.block_hash
    assert valid.tx_hash in {t.hash for t in kept.transactions}

    # The forged one's block is replaced by deposits + the invalidated-block deposit, everywhere.
    replaced_hash = await assert_agree(devnet, B, forged.block_number)
    assert replaced_hash != "0x" + forged.block_hash.hex()
    replaced = devnet.supernode_engines[B].by_number(forged.block_number)
    preimage = sn_b.logdb.denied(forged.block_number, forged.block_hash)
    assert preimage is not None
    assert all(raw[0] == DEPOSIT_TX_TYPE for raw in replaced.raw_transactions)
    assert replaced.raw_transactions[-1] == invalidated_block_deposit(preimage).encode()
    assert devnet.blocks_synced >= 1  # 902's sequencer EL imported the replacement to reorg onto it

    # A message claiming a log its initiating block does not have: replaced too, after the first.
    missing = await devnet.send_message(FORGED_MISSING)
    await wait_for(lambda: sn_b.invalidated >= 2 and verified(devnet, B) >= missing.block_number
                   and devnet.route_light_engines[B].safe.number >= missing.block_number,
                   timeout=20, what="the second forged block replaced and followed")
    assert await assert_agree(devnet, B, missing.block_number) != "0x" + missing.block_hash.hex()
    assert sn_b.logdb.denied(missing.block_number, missing.block_hash) is not None
    assert [c.blocks_invalidated for c in devnet.supernode.statistics().chains] == [0, 2]

    # The fleet profile lists the supernode (root URL) and the route light nodes following it.
    write_fleet_profile(tmp_path / "fleet.toml", devnet.endpoints)
    fleet = load_profile(tmp_path / "fleet.toml")
    nodes = {n.name: n for n in fleet.nodes}
    assert nodes["supernode"].role is Role.SUPERNODE and nodes["supernode"].url == devnet.supernode_url
    assert nodes["supernode"].chain is None
    for cid in (A, B):
        light = nodes[f"route-light-{cid}"]
        assert light.role is Role.LIGHT and light.follows == ("supernode",) and light.chain == str(cid)
    assert nodes["sequencer-902"].follows == ("supernode",) and nodes["sequencer-902"].chain == str(B)


def test_message_stream_forges_every_nth_alternating_kinds():
    kinds = [message_kind(n, 3) for n in range(1, 13)]
    assert kinds == [VALID, VALID, FORGED_PAYLOAD, VALID, VALID, FORGED_MISSING] * 2
    assert {message_kind(n, 0) for n in range(1, 10)} == {VALID}
