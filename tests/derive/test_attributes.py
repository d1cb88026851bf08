"""The attributes builder and queue: tx list order, fork fields, upgrade txs, epoch checks.

Spec: specs/protocol/derivation.md "Deriving the Transaction List", "Building Individual
Payload Attributes"; exec-engine.md; the ecotone/fjord/isthmus/jovian/holocene derivation
and exec-engine pages. Upgrade-tx vectors: tests/vectors/upgrade-txs/{ecotone,fjord,isthmus}_tx_N.hex
(kona hardforks bytecode); Jovian source hashes: tests/vectors/source-hashes.json
("jovian_per_kona_and_base_node").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from derive_helpers import Rollup

from opfleet.derive.attributes import AttributesBuilder, AttributesQueue
from opfleet.derive.errors import CriticalError, ResetError, TemporaryError
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.crypto import ZERO_HASH
from opfleet.protocol.deposits import decode_deposit_tx, deposit_log
from opfleet.protocol.log import Log
from opfleet.testing.derive import DEPOSIT_CONTRACT, FakeStage, l2_transfer

VECTORS = Path(__file__).parents[1] / "vectors"
L1_GENESIS_TIME = 1_700_000_000


def upgrade_vectors(fork: str, count: int) -> list[bytes]:
    return [
        bytes.fromhex((VECTORS / "upgrade-txs" / f"{fork}_tx_{i}.hex").read_text().strip())
        for i in range(count)
    ]


def l1_info_selector(attrs) -> str:
    return decode_deposit_tx(attrs.transactions[0]).data[:4].hex()


async def test_fork_fields_and_upgrade_transactions_block_by_block():
    g = L1_GENESIS_TIME
    r = Rollup(ecotone_time=g + 4, fjord_time=g + 6, isthmus_time=g + 8, jovian_time=g + 10)
    batches = r.seq.blocks_until(r.epoch(0), g + 10)  # blocks 1-5 (all empty), epoch 0
    r.l1.mine(parent_beacon_block_root=b"\xbe" * 32)
    batches.append(r.seq.block(r.epoch(1), []))  # block 6, epoch 1
    r.post(batches)
    b1, b2, b3, b4, b5, b6 = [a.attributes for a in await r.derive()]

    # block 1 (pre-Canyon, pre-Ecotone): Bedrock L1 info, no withdrawals, no beacon root
    assert l1_info_selector(b1) == "015d8eb9"
    assert b1.withdrawals is None and b1.parent_beacon_block_root is None
    assert (b1.eip1559_params, b1.min_base_fee, len(b1.transactions)) == (None, None, 1)
    # block 2: Ecotone activation (Canyon and Delta with it): L1 info still Bedrock, then the upgrade txs
    assert l1_info_selector(b2) == "015d8eb9"
    assert list(b2.transactions[1:]) == upgrade_vectors("ecotone", 6)
    assert b2.withdrawals == () and b2.parent_beacon_block_root == ZERO_HASH  # L1 genesis has none
    # block 3: Fjord activation, Ecotone L1 info
    assert l1_info_selector(b3) == "440a5e20"
    assert list(b3.transactions[1:]) == upgrade_vectors("fjord", 3)
    # block 4: Isthmus activation (Granite and Holocene with it): eip1559Params all zero
    assert l1_info_selector(b4) == "440a5e20"
    assert list(b4.transactions[1:]) == upgrade_vectors("isthmus", 8)
    assert b4.eip1559_params == bytes(8) and b4.min_base_fee is None
    # block 5: Jovian activation: Isthmus L1 info, Jovian upgrade txs, params from the config
    assert l1_info_selector(b5) == "098999be"
    upgrades = json.loads((VECTORS / "source-hashes.json").read_text())["upgrade"]
    jovian = upgrades["jovian_per_kona_and_base_node"]
    assert [decode_deposit_tx(tx).source_hash.hex() for tx in b5.transactions[1:]] == [
        item["source_hash"][2:] for item in jovian
    ]
    assert b5.eip1559_params == bytes.fromhex("000000fa00000006")  # op-geth wrote 250/6 in block 4
    assert b5.min_base_fee == 0
    # block 6: Jovian L1 info, the new epoch's beacon root
    assert l1_info_selector(b6) == "3db6be2b"
    assert b6.parent_beacon_block_root == b"\xbe" * 32 and len(b6.transactions) == 1
    assert all(a.no_tx_pool and a.gas_limit == 30_000_000 for a in (b1, b2, b3, b4, b5, b6))
    assert all(a.suggested_fee_recipient == bytes.fromhex("4200000000000000000000000000000000000011")
               for a in (b1, b6))


async def test_transaction_order_deposits_then_upgrades_then_batch():
    g = L1_GENESIS_TIME
    r = Rollup(ecotone_time=g + 12)  # Ecotone activates with the first block of epoch 1
    r.l1.mine(events=[deposit_log(DEPOSIT_CONTRACT, from_address=b"\x11" * 20, to=None, data=b"\x60\x00")])
    batches = r.seq.blocks_until(r.epoch(0), g + 10)
    tx = l2_transfer(0)
    batches.append(r.seq.block(r.epoch(1), [tx]))
    r.post(batches)
    attrs = (await r.derive())[-1].attributes
    deposit = decode_deposit_tx(attrs.transactions[1])
    assert deposit.to is None and deposit.data == b"\x60\x00"  # a contract creation deposit
    assert list(attrs.transactions[2:8]) == upgrade_vectors("ecotone", 6)
    assert attrs.transactions[8] == tx and len(attrs.transactions) == 9


async def test_holocene_eip1559_params_follow_the_system_config_after_activation():
    g = L1_GENESIS_TIME
    r = Rollup(holocene_time=g + 4)
    r.post(r.seq.blocks_until(r.epoch(0), g + 6))
    params = [a.attributes.eip1559_params for a in await r.derive()]
    assert params == [None, bytes(8), bytes.fromhex("000000fa00000006")]


class Builder:
    def __init__(self, **cfg):
        self.r = Rollup(**cfg)
        self.r.l1.mine()
        self.builder = AttributesBuilder(self.r.cfg, self.r.l1, self.r.l2)


async def test_epoch_change_must_extend_the_parent_l1_origin():
    b = Builder()
    genesis = b.r.l2.head
    wrong = dataclasses.replace(
        genesis, l1_origin=BlockID(b"\x99" * 32, 0), timestamp=genesis.timestamp + 10
    )
    with pytest.raises(ResetError, match="does not extend"):
        await b.builder.prepare_payload_attributes(wrong, b.r.l1.ref(1).id)


async def test_same_epoch_must_be_the_parent_l1_origin():
    b = Builder()
    genesis = b.r.l2.head
    other = dataclasses.replace(genesis, l1_origin=BlockID(b"\x99" * 32, 0))
    with pytest.raises(ResetError, match="conflicts"):
        await b.builder.prepare_payload_attributes(other, b.r.l1.ref(0).id)


async def test_l2_time_must_not_precede_the_l1_origin():
    b = Builder()
    with pytest.raises(ResetError, match="before its L1 origin"):
        await b.builder.prepare_payload_attributes(b.r.l2.head, b.r.l1.ref(1).id)


async def test_malformed_deposit_is_critical():
    b = Builder()
    good = deposit_log(DEPOSIT_CONTRACT, from_address=b"\x11" * 20, to=b"\x22" * 20)
    bad = Log(good.address, good.topics, good.data[:64] + b"\x00" * 31)  # not a multiple of 32
    b.r.l1.mine(events=[bad])
    head = dataclasses.replace(
        b.r.l2.head, l1_origin=b.r.l1.ref(1).id, timestamp=b.r.l1.ref(2).timestamp
    )
    with pytest.raises(CriticalError, match="deposits"):
        await b.builder.prepare_payload_attributes(head, b.r.l1.ref(2).id)


async def test_l2_provider_failure_is_temporary():
    b = Builder()
    b.r.l2.fail_next = 1
    with pytest.raises(TemporaryError):
        await b.builder.prepare_payload_attributes(b.r.l2.head, b.r.l1.ref(0).id)


async def test_queue_rejects_a_batch_that_does_not_fit_the_parent_and_keeps_it_on_failure():
    r = Rollup()
    parent = r.l2.head
    batch = r.seq.block(r.epoch(0))
    builder = AttributesBuilder(r.cfg, r.l1, r.l2)
    queue = AttributesQueue(FakeStage(r.l1.ref(0), [(batch, True)]), builder, r.cfg)
    r.l2.fail_next = 1
    with pytest.raises(TemporaryError):
        await queue.next_attributes(parent)
    result = await queue.next_attributes(parent)  # the same batch, retried
    assert result.attributes.timestamp == batch.timestamp and result.is_last_in_span
    assert result.parent == parent and result.derived_from == r.l1.ref(0)
    misfit = dataclasses.replace(r.seq.block(r.epoch(0)), parent_hash=b"\x01" * 32)
    queue = AttributesQueue(FakeStage(r.l1.ref(0), [(misfit, True)]), builder, r.cfg)
    with pytest.raises(ResetError, match="parent"):
        await queue.next_attributes(parent)


@pytest.mark.parametrize("keep", [True, False])
async def test_karst_activation_block_carries_the_bundle_and_its_upgrade_gas(keep):
    """specs/protocol/karst/derivation.md; op-node attributes.go: L1 info, the origin's user
    deposits, then the 31 bundle deposits; gasLimit + 55,370,657 on the activation block only,
    and after it the inflated limit is kept or stripped as keep_karst_upgrade_gas says."""
    from opfleet.protocol.upgrades import upgrade_transactions

    g = L1_GENESIS_TIME
    r = Rollup(jovian_time=0, karst_time=g + 12, keep_karst_upgrade_gas=keep)
    r.l1.mine(events=[deposit_log(DEPOSIT_CONTRACT, from_address=b"\x11" * 20, to=None, data=b"\x60\x00")])
    batches = r.seq.blocks_until(r.epoch(0), g + 10)  # blocks 1-5, epoch 0
    batches.append(r.seq.block(r.epoch(1), []))  # block 6: Karst activation, first of epoch 1
    tx = l2_transfer(0)
    batches.append(r.seq.block(r.epoch(1), [tx]))  # block 7
    r.post(batches)
    derived = [a.attributes for a in await r.derive()]
    b5, b6, b7 = derived[4:7]
    assert (b5.gas_limit, b5.no_tx_pool) == (30_000_000, True)
    assert l1_info_selector(b6) == "3db6be2b"  # Karst keeps Jovian's L1-info layout
    assert decode_deposit_tx(b6.transactions[1]).data == b"\x60\x00"  # the user deposit
    assert list(b6.transactions[2:]) == upgrade_transactions("karst") and len(b6.transactions) == 33
    assert b6.gas_limit == 30_000_000 + 55_370_657 and b6.no_tx_pool
    assert list(b7.transactions[1:]) == [tx]
    assert b7.gas_limit == (30_000_000 + 55_370_657 if keep else 30_000_000)
