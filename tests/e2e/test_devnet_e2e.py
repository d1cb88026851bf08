"""The whole devnet end to end on the embedded L1: the source derives the sequencer's chain from
batches posted as blobs and as calldata, light nodes follow it hash for hash, an L1 deposit
lands on L2, a batcher key rotation through SystemConfig is honoured, an L1 reorg is survived,
a light node stopped and restarted catches up, and Karst activates live (``--fork karst=+4s``):
the light sequencer builds the activation block, the source derives it hash for hash, the light
node follows across it, and the gas limit after it keeps or drops the upgrade gas per
``keep_karst_upgrade_gas``."""

from __future__ import annotations

import pytest
import trio

from e2e_helpers import all_safe_at_least, assert_converged, light_safe, source_safe, start_fleet, wait_for
from opfleet.devnet.batcher import BLOBS
from opfleet.devnet.schedule import parse_fork_schedule
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.transactions import BLOB_TX_TYPE, DYNAMIC_FEE_TX_TYPE
from opfleet.protocol.upgrades import bundle_gas, upgrade_transactions
from opfleet.providers.jsonrpc import JsonRpcClient

pytestmark = pytest.mark.slow  # a whole devnet or fleet: CI runs it; `pytest -m "not slow"` leaves it out


def _origin(devnet, index: int) -> int:
    """The L1 origin number of light node ``index``'s EL safe block (from its L1-info deposit)."""
    from opfleet.protocol.l1_block_info import decode_l1_block_info

    block = devnet.light_engines[index].safe
    return decode_l1_block_info(block.transactions[0].deposit.data).number if block.number else 0


def inbox_tx_types(devnet) -> dict[int, set[bytes]]:
    """Batcher transactions on L1: tx type -> senders."""
    found: dict[int, set[bytes]] = {}
    for block in devnet.l1_chain.blocks:
        for t in block.transactions:
            if t.tx.to == devnet.rollup.batch_inbox_address:
                found.setdefault(t.tx.type, set()).add(t.sender)
    return found


async def test_fleet_converges_on_blob_and_calldata_batches_deposits_and_a_key_rotation(nursery):
    devnet = await start_fleet(nursery)
    assert devnet.config.data_availability == "alternate"
    receiver = b"\x77" * 20
    mint = 123 * 10**15
    deposit_l1 = int((await devnet.deposit(receiver, mint=mint, value=mint))["blockNumber"], 16)  # minted to the sender, sent on

    # Three channels (blob, calldata, blob): every block they hold must derive everywhere.
    batcher = devnet.batcher
    await wait_for(lambda: batcher.statistics().channels_closed >= 3, what="three channels")
    covered = batcher.statistics().next_block - 1
    await wait_for(lambda: all_safe_at_least(devnet, covered), what=f"every safe head at {covered}")
    types = inbox_tx_types(devnet)
    assert BLOB_TX_TYPE in types and DYNAMIC_FEE_TX_TYPE in types
    assert_converged(devnet, covered)

    # The deposit is on L2 at every node's safe head, once an epoch of its L1 block is safe.
    await wait_for(lambda: min(_origin(devnet, i) for i in range(2)) >= deposit_l1,
                   what="the deposit's L1 block as a safe L1 origin")
    safe = min(light_safe(devnet, i) for i in range(2))
    for engine in (devnet.source_engines[0], *devnet.light_engines):
        async with JsonRpcClient(engine.rpc_url) as rpc:
            assert int(await rpc.call("eth_getBalance", "0x" + receiver.hex(), hex(safe)), 16) == mint

    # Batcher key rotation: from here on only the new key batches; derivation must follow it.
    new_key = keccak256(b"opfleet e2e rotated batcher")
    await devnet.rotate_batcher(new_key)
    rotated_at = devnet.sequencer_engine.head.number
    await wait_for(lambda: all_safe_at_least(devnet, rotated_at + 3), what="safe heads past the rotation")
    assert private_key_to_address(new_key) in set().union(*inbox_tx_types(devnet).values())
    assert_converged(devnet, rotated_at + 3)


async def test_l1_reorg_is_survived(nursery):
    devnet = await start_fleet(nursery, lights=1, data_availability=BLOBS)
    await wait_for(lambda: all_safe_at_least(devnet, 3), what="first safe blocks")
    before = devnet.l1_chain.head
    devnet.l1_chain.reorg(2, requeue=True)  # the batches in the last two L1 blocks move to new blocks
    assert devnet.l1_chain.by_number(before.number).hash != before.hash
    target = devnet.sequencer_engine.head.number + 4
    await wait_for(lambda: all_safe_at_least(devnet, target), what="safe heads past the reorg")
    assert_converged(devnet, target)
    assert devnet.sources[0].driver.statistics().resets >= 1


async def test_a_stopped_light_node_catches_up_after_restart(nursery):
    devnet = await start_fleet(nursery, lights=2)
    await wait_for(lambda: all_safe_at_least(devnet, 2), what="first safe blocks")
    devnet.stop_light(1)
    stopped_at = light_safe(devnet, 1)
    await wait_for(lambda: source_safe(devnet) >= stopped_at + 3, what="the source moving on")
    await trio.sleep(0.2)
    assert light_safe(devnet, 1) == stopped_at  # stopped: nothing moves it
    await devnet.restart_light(1)
    target = source_safe(devnet)
    await wait_for(lambda: all_safe_at_least(devnet, target), what="the restarted light node catching up")
    assert_converged(devnet, target)


@pytest.mark.parametrize("keep", [False, True], ids=["strip", "keep"])
async def test_karst_activates_live_and_the_whole_fleet_crosses_it(nursery, keep):
    # no gossip: the source must build every block itself (gossiped blocks are only consolidated)
    devnet = await start_fleet(nursery, lights=1, forks=parse_fork_schedule(["karst=+4s"]),
                               keep_karst_upgrade_gas=keep, gossip=False)
    rollup, seq = devnet.rollup, devnet.sequencer_engine
    activation = (rollup.karst_time - rollup.genesis.l2_time) // rollup.block_time
    assert activation == 4 and rollup.keep_karst_upgrade_gas is keep
    await wait_for(lambda: all_safe_at_least(devnet, activation + 2), what="safe heads past Karst's activation")
    assert_converged(devnet, activation + 2)  # the source derived it hash for hash, the light node followed

    # The activation block: L1 info, the origin's deposits, the 31 upgrade deposits, no user
    # transaction although the pool had some; gasLimit = system gas limit + 55,370,657.
    block = seq.by_number(activation)
    assert rollup.is_karst_activation_block(block.timestamp)
    assert all(t.is_deposit for t in block.transactions)
    assert block.raw_transactions[-31:] == upgrade_transactions("karst")
    system_gas = rollup.genesis.system_config.gas_limit
    assert seq.by_number(activation - 1).header.gas_limit == system_gas
    assert block.header.gas_limit == system_gas + bundle_gas("karst") == system_gas + 55_370_657
    after = system_gas + (55_370_657 if keep else 0)
    assert [seq.by_number(n).header.gas_limit for n in (activation + 1, activation + 2)] == [after, after]
    assert any(not t.is_deposit for n in (activation + 1, activation + 2) for t in seq.by_number(n).transactions)
    derived = await devnet.sources[0].driver.l2.system_config_by_number(activation)
    assert derived.gas_limit == after

    # Karst payloads were fetched with engine_getPayloadV5 (the dev engine refuses V4 for them),
    # earlier ones with V4, by the light sequencer and by the source's engine driver alike.
    for engine in (seq, devnet.source_engines[0]):
        calls = engine.auth_rpc.statistics().requests_by_method
        assert calls.get("engine_getPayloadV4", 0) >= activation - 1 and calls.get("engine_getPayloadV5", 0) >= 3
    assert devnet.batcher.stopped is None
