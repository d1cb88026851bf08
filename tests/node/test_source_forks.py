"""The source node derives a chain that crosses every fork boundary, Bedrock to Karst.

One run of the real SourceNode over loopback (L1Server with beacon API, DevEngine behind the
Engine API with JWT) while the sequencer side keeps building: the L2 fork times are staggered one
L1 slot apart so Regolith, Canyon, Delta, Ecotone, Fjord, Granite, Holocene, Isthmus, Jovian and
Karst each activate mid-run. The Karst activation block carries the 31 upgrade deposits and the
upgrade gas (gasLimit + 55,370,657); the run is made with both values of
``keep_karst_upgrade_gas``, so the gas limit after it is the system config's again or keeps the
upgrade gas until L1 changes it (karst/derivation.md; op-node ``PayloadToSystemConfig``). Batches are singular before Delta and span batches after it, calldata
before Ecotone and alternately blobs and calldata after it; the L1 carries user deposits, a
batcher rotation (later batches are signed by the new key, the old key's are ignored) and a gas
limit change. The source's safe chain must be the sequencer's, hash for hash, and
``optimism_syncStatus`` / ``optimism_outputAtBlock`` must answer over HTTP.

Spec: specs/protocol/derivation.md end to end, each fork's derivation.md / l1-attributes.md /
system-config.md page; op-node op-node/rollup/derive/, kona crates/protocol/derive/;
op-node op-node/node/api.go.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node_helpers import SINGULAR, SPAN, same_chain, send_batches, source_config, wait_for  # noqa: E402

from devnet_helpers import BATCHER_KEY, OTHER_KEY  # noqa: E402
from engine_helpers import new_engine, start_devnet  # noqa: E402
from opfleet.devnet.batcher import BLOBS, CALLDATA
from opfleet.devnet.engine import FORK_NAMES, ForkTimes
from opfleet.devnet.l1 import L1Config
from opfleet.node.safedb import SafeHeadDB
from opfleet.node.source import SourceNode
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.system_config import ConfigUpdateType
from opfleet.protocol.upgrades import (
    activation_block_must_be_empty,
    bundle_gas,
    upgrade_gas,
    upgrade_gas_to_strip,
    upgrade_transactions,
    upgrade_transactions_for_block,
)
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.providers.l2 import L2Provider

L1_SLOT = 12
SLOTS_PER_FORK = 1
NEW_BATCHER_KEY = keccak256(b"opfleet devnet rotated batcher")
DEPOSIT_TO = bytes.fromhex("dd" * 20)


def staggered_forks(genesis_time: int) -> ForkTimes:
    """Regolith at L1 slot 1, Canyon at slot 2, ... Karst at slot 10 (L2 time = L1 time here)."""
    return ForkTimes(**{name: genesis_time + L1_SLOT * SLOTS_PER_FORK * (i + 1) for i, name in enumerate(FORK_NAMES)})


def with_upgrade_transactions(net) -> None:
    """The sequencer places network upgrade transactions after the deposits of a fork's
    activation block and adds the upgrade gas to its gas limit, as derivation does
    (derivation.md, "Network upgrade transactions"; karst/derivation.md). Its system config for
    the next blocks is what derivation rebuilds from that block: the upgrade gas stripped unless
    ``keep_karst_upgrade_gas`` (``system_config_from_l2_block``)."""
    inner = net.sequencer.attributes

    def attributes(*args, **kwargs):
        attrs = inner(*args, **kwargs)
        ts = attrs.timestamp
        upgrades = upgrade_transactions_for_block(net.rollup, ts)
        if not upgrades:
            return attrs
        deposits = [tx for tx in attrs.transactions if tx[:1] == b"\x7e"]
        rest = attrs.transactions[len(deposits):]
        gas_limit = attrs.gas_limit + upgrade_gas(net.rollup, ts)
        system_config = net.sequencer.system_config
        net.sequencer.system_config = dataclasses.replace(
            system_config, gas_limit=gas_limit - upgrade_gas_to_strip(net.rollup, ts))
        return dataclasses.replace(attrs, transactions=(*deposits, *upgrades, *rest), gas_limit=gas_limit)

    net.sequencer.attributes = attributes


@pytest.mark.parametrize("keep_karst_upgrade_gas", [False, True], ids=["strip", "keep"])
async def test_source_node_derives_across_every_fork_boundary(nursery, keep_karst_upgrade_gas):
    genesis_time = L1Config().genesis_time
    forks = staggered_forks(genesis_time)
    net = await start_devnet(nursery, forks, keep_karst_upgrade_gas=keep_karst_upgrade_gas)
    with_upgrade_transactions(net)
    rollup = net.rollup
    assert all(getattr(rollup, f"{name}_time") == getattr(forks, name) for name in FORK_NAMES)

    ours = new_engine(net.l1, forks)
    await net.serve_engine(nursery, ours)
    node: SourceNode = await nursery.start(SourceNode(source_config(net, ours, metrics_enabled=False),
                                                      safe_db=SafeHeadDB(None)).run)

    batcher_key, next_batch, blobs_next = BATCHER_KEY, 1, True
    kinds: set[tuple[str, str]] = set()
    gas_limit = rollup.genesis.system_config.gas_limit
    last_slot = len(FORK_NAMES) * SLOTS_PER_FORK + 2
    for slot in range(1, last_slot + 1):
        l1_time = net.l1.head.timestamp + L1_SLOT
        # What this L1 block carries: the batches of the L2 blocks built so far, and events.
        if slot == 2:
            net.l1.submit(net.l1.deposit(OTHER_KEY, to=DEPOSIT_TO, mint=10**18, value=10**17))
        if slot == 5:
            gas_limit = 40_000_000
            net.l1.submit(net.l1.config_update(OTHER_KEY, ConfigUpdateType.GAS_LIMIT, gas_limit))
        if slot == 7:
            net.l1.submit(net.l1.config_update(OTHER_KEY, ConfigUpdateType.BATCHER,
                                               bytes(12) + private_key_to_address(NEW_BATCHER_KEY)))
        elif slot > 7:
            batcher_key = NEW_BATCHER_KEY
        if slot == 9:
            net.l1.submit(net.l1.deposit(OTHER_KEY, to=DEPOSIT_TO, mint=5, value=0, data=b"\x01\x02"))
        head = net.sequencer_engine.head
        if slot != 7 and head.number >= next_batch:
            batch_type = SPAN if rollup.is_delta(net.sequencer_engine.by_number(next_batch).timestamp) else SINGULAR
            da = CALLDATA
            if rollup.is_ecotone(l1_time):
                da = BLOBS if blobs_next else CALLDATA
                blobs_next = not blobs_next
            kinds.add((batch_type, da))
            if slot == 8:  # the old batcher's key is no longer accepted: this one is ignored
                await send_batches(net, CALLDATA, next_batch, batch_type=batch_type, key=BATCHER_KEY)
            next_batch = await send_batches(net, da, next_batch, batch_type=batch_type, key=batcher_key)
        net.l1.mine()
        for _ in range(L1_SLOT // rollup.block_time):
            ts = net.sequencer_engine.head.timestamp + rollup.block_time
            await net.build(1, txs_per_block=0 if activation_block_must_be_empty(rollup, ts) else 1)
    head = net.sequencer_engine.head
    next_batch = await send_batches(net, BLOBS, next_batch, batch_type=SPAN, key=batcher_key)
    net.l1.mine()

    # Every fork activated mid-run, at an L2 block the run built and batched.
    assert head.timestamp > forks.karst > forks.jovian > forks.regolith > genesis_time
    assert {(SINGULAR, CALLDATA), (SPAN, CALLDATA), (SPAN, BLOBS)} <= kinds

    await wait_for(lambda: node.driver is not None and node.driver.safe_head.number >= head.number, timeout=30)
    same_chain(ours, net.sequencer_engine, head.number)
    stats = node.driver.statistics()
    assert stats.blocks_built == head.number and stats.attributes_dropped == stats.deposit_only_blocks == 0
    pipeline = node.driver.pipeline.statistics()
    assert pipeline.holocene_stages and pipeline.data_items_read > 0
    # The SystemConfig change reached L2; Karst's activation block carries its upgrade and its gas,
    # which the next blocks keep or drop per keep_karst_upgrade_gas.
    karst_gas = bundle_gas("karst")
    assert karst_gas == 55_370_657
    activation = next(ours.by_number(n) for n in range(1, head.number + 1)
                      if rollup.is_karst_activation_block(ours.by_number(n).timestamp))
    upgrade_hashes = {keccak256(tx) for tx in upgrade_transactions("karst")}
    assert [t.hash for t in activation.transactions if t.hash in upgrade_hashes] == [
        keccak256(tx) for tx in upgrade_transactions("karst")]
    assert all(t.deposit is not None for t in activation.transactions) and len(upgrade_hashes) == 31
    assert activation.header.gas_limit == gas_limit + karst_gas
    after = gas_limit + (karst_gas if keep_karst_upgrade_gas else 0)
    assert ours.by_number(activation.number + 1).header.gas_limit == after
    assert ours.by_number(head.number).header.gas_limit == after
    # Derivation's own view of the system config after the activation block agrees.
    assert (await node.driver.l2.system_config_by_number(activation.number)).gas_limit == after
    # The rotation: the new key's batches were accepted (the safe head got here), the old key's not.
    assert node.driver.pipeline.traversal.system_config.batcher_address == private_key_to_address(NEW_BATCHER_KEY)
    user_deposits = [t for n in range(1, head.number + 1) for t in ours.by_number(n).transactions
                     if t.deposit is not None and t.deposit.to == DEPOSIT_TO]
    assert [d.deposit.mint for d in user_deposits] == [10**18, 5]

    async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
        status = await rpc.call("optimism_syncStatus")
        assert status["safe_l2"]["hash"] == "0x" + net.sequencer_engine.by_number(head.number).hash.hex()
        assert status["head_l1"]["number"] == net.l1.head.number
        for number in (5, head.number):  # Bedrock and Jovian outputs
            answer = await rpc.call("optimism_outputAtBlock", hex(number))
            async with JsonRpcClient(net.sequencer_engine.rpc_url) as seq_rpc:
                expected, ref = await L2Provider(seq_rpc, rollup).output_v0(number)
            assert answer["outputRoot"] == "0x" + expected.output_root().hex()
            assert answer["blockRef"] == ref.to_json()
