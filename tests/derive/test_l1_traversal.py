"""L1 traversal: origin hand-out, advancing, reorg detection, system config updates, Holocene.

Spec: specs/protocol/derivation.md "L1 Traversal"; system-config.md "System config updates".
"""

from __future__ import annotations

import pytest

from opfleet.derive.errors import CriticalError, EndOfData, ResetError
from opfleet.derive.interfaces import Activation, Reset
from opfleet.derive.l1_traversal import L1Traversal
from opfleet.protocol.system_config import ConfigUpdateType, config_update_log
from opfleet.testing.derive import (
    GENESIS_SYSTEM_CONFIG,
    OTHER_ADDRESS,
    SYSTEM_CONFIG_ADDRESS,
    Event,
    FakeL1Chain,
    batcher_update_log,
    gas_limit_update_log,
    make_rollup_config,
)


def traversal_at_genesis(l1: FakeL1Chain, **cfg) -> L1Traversal:
    traversal = L1Traversal(l1, make_rollup_config(l1, **cfg))
    traversal.signal(Reset(l1.ref(0), GENESIS_SYSTEM_CONFIG))
    return traversal


async def test_hands_out_the_origin_once_then_end_of_data():
    l1 = FakeL1Chain()
    traversal = traversal_at_genesis(l1)
    assert await traversal.next_l1_block() == l1.ref(0)
    with pytest.raises(EndOfData):
        await traversal.next_l1_block()


async def test_advance_moves_one_block_and_stops_at_the_l1_head():
    l1 = FakeL1Chain()
    l1.mine_empty(2)
    traversal = traversal_at_genesis(l1)
    await traversal.next_l1_block()
    assert await traversal.advance_origin() is None
    assert traversal.origin == l1.ref(1)
    assert await traversal.next_l1_block() == l1.ref(1)
    await traversal.advance_origin()
    with pytest.raises(EndOfData):
        await traversal.advance_origin()  # block 3 does not exist yet
    assert traversal.origin == l1.ref(2)
    l1.mine()
    await traversal.advance_origin()
    assert traversal.origin == l1.ref(3)
    assert traversal.blocks_traversed == 3
    # One provider call per step: header, transactions and receipts come together (by number).
    assert l1.calls == 4  # 3 advances + the one that found no block 3


async def test_l1_reorg_is_a_reset_and_keeps_the_origin():
    l1 = FakeL1Chain()
    l1.mine_empty(2)
    traversal = traversal_at_genesis(l1)
    await traversal.advance_origin()
    await traversal.advance_origin()
    old_two = l1.ref(2)
    l1.reorg(2)
    l1.mine_empty(2)  # a different block 2 and a block 3 on top of it
    assert l1.ref(2) != old_two
    with pytest.raises(ResetError, match="reorg"):
        await traversal.advance_origin()
    assert traversal.origin == old_two


async def test_batcher_rotation_and_gas_limit_apply_to_the_same_block():
    l1 = FakeL1Chain()
    l1.mine(events=[Event((batcher_update_log(OTHER_ADDRESS), gas_limit_update_log(45_000_000)))])
    traversal = traversal_at_genesis(l1)
    assert traversal.system_config.batcher_address == GENESIS_SYSTEM_CONFIG.batcher_address
    await traversal.advance_origin()
    assert traversal.system_config.batcher_address == OTHER_ADDRESS
    assert traversal.system_config.gas_limit == 45_000_000


async def test_updates_from_failed_transactions_and_other_contracts_are_ignored():
    l1 = FakeL1Chain()
    stranger = config_update_log(bytes.fromhex("11" * 20), ConfigUpdateType.BATCHER, bytes(12) + OTHER_ADDRESS)
    l1.mine(events=[Event((batcher_update_log(OTHER_ADDRESS),), status=0), stranger])
    traversal = traversal_at_genesis(l1)
    await traversal.advance_origin()
    assert traversal.system_config == GENESIS_SYSTEM_CONFIG


async def test_malformed_config_update_is_critical_and_the_origin_stays():
    l1 = FakeL1Chain()
    l1.mine(events=[config_update_log(SYSTEM_CONFIG_ADDRESS, ConfigUpdateType.GAS_LIMIT, b"\x01" * 31)])  # 31-byte payload
    traversal = traversal_at_genesis(l1)
    with pytest.raises(CriticalError, match="SystemConfig"):
        await traversal.advance_origin()
    assert traversal.origin == l1.ref(0)


async def test_holocene_activation_when_the_origin_crosses_holocene_time():
    l1 = FakeL1Chain()
    l1.mine_empty(3)
    traversal = traversal_at_genesis(l1, holocene_time=l1.ref(2).timestamp)
    assert await traversal.advance_origin() is None
    assert await traversal.advance_origin() == Activation("holocene", l1.ref(2))
    assert await traversal.advance_origin() is None


async def test_reset_signal_moves_the_origin_and_replaces_the_system_config():
    l1 = FakeL1Chain()
    l1.mine_empty(3)
    traversal = traversal_at_genesis(l1)
    await traversal.advance_origin()
    await traversal.next_l1_block()
    other = GENESIS_SYSTEM_CONFIG.__class__(batcher_address=OTHER_ADDRESS, gas_limit=1)
    traversal.signal(Reset(l1.ref(2), other))
    assert traversal.origin == l1.ref(2)
    assert traversal.system_config == other
    assert await traversal.next_l1_block() == l1.ref(2)


async def test_advancing_before_any_reset_asks_for_a_reset():
    l1 = FakeL1Chain()
    with pytest.raises(ResetError):
        await L1Traversal(l1, make_rollup_config(l1)).advance_origin()
