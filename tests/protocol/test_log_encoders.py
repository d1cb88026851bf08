"""The L1 log encoders beside their decoders: what the dev L1 and the derivation tests emit is
what derivation reads back (spec: deposits.md "Deposit Contract", system-config.md "System
config updates"); the ABI pieces they are built from."""

from __future__ import annotations

import pytest

from opfleet.errors import DecodeError
from opfleet.protocol.abi import abi_encode_bytes, abi_word, selector
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import DEPOSIT_EVENT_TOPIC, deposit_from_log, deposit_log
from opfleet.protocol.system_config import (
    CONFIG_UPDATE_TOPIC,
    ConfigUpdateType,
    SystemConfig,
    apply_config_update,
    config_update_log,
)

PORTAL = b"\xbe" * 20
SENDER = b"\x11" * 20


def test_selector_and_words():
    assert selector("transfer(address,uint256)").hex() == "a9059cbb"  # the ERC-20 selector everyone knows
    assert selector("depositTransaction(address,uint256,uint64,bool,bytes)") == keccak256(
        b"depositTransaction(address,uint256,uint64,bool,bytes)")[:4]
    assert abi_word(1) == bytes(31) + b"\x01" and abi_word(SENDER) == bytes(12) + SENDER
    with pytest.raises(ValueError):
        abi_word(b"\x00" * 33)
    with pytest.raises(OverflowError):
        abi_word(1 << 256)
    assert abi_encode_bytes(b"") == abi_word(32) + abi_word(0)
    assert abi_encode_bytes(b"\x01" * 33) == abi_word(32) + abi_word(33) + b"\x01" * 33 + bytes(31)


@pytest.mark.parametrize("to, data", [(b"\x22" * 20, b""), (b"\x22" * 20, b"\xde\xad" * 40), (None, b"\x60\x00")])
def test_deposit_log_round_trips(to, data):
    log = deposit_log(PORTAL, SENDER, to, mint=10**18, value=5, gas_limit=50_000, data=data)
    assert log.address == PORTAL and log.topics[0] == DEPOSIT_EVENT_TOPIC
    tx = deposit_from_log(log, b"\xaa" * 32, 3)
    assert (tx.from_address, tx.to, tx.mint, tx.value, tx.gas, tx.data) == (SENDER, to, 10**18, 5, 50_000, data)
    assert not tx.is_system_tx


def test_deposit_log_defaults_and_a_truncated_log():
    log = deposit_log(PORTAL, SENDER, None)
    tx = deposit_from_log(log, bytes(32), 0)
    assert (tx.to, tx.mint, tx.value, tx.gas, tx.data) == (None, 0, 0, 100_000, b"")
    with pytest.raises(DecodeError):
        deposit_from_log(type(log)(log.address, log.topics, log.data[:-40]), bytes(32), 0)


def test_config_update_log_round_trips():
    log = config_update_log(b"\x5c" * 20, ConfigUpdateType.GAS_LIMIT, abi_word(45_000_000))
    assert log.address == b"\x5c" * 20 and log.topics[0] == CONFIG_UPDATE_TOPIC
    assert apply_config_update(SystemConfig(), log, ecotone_active=True).gas_limit == 45_000_000
    batcher = config_update_log(b"\x5c" * 20, int(ConfigUpdateType.BATCHER), abi_word(b"\x77" * 20))
    assert apply_config_update(SystemConfig(), batcher, ecotone_active=True).batcher_address == b"\x77" * 20
    short = config_update_log(b"\x5c" * 20, ConfigUpdateType.GAS_LIMIT, b"\x01" * 31)  # a malformed payload
    with pytest.raises(DecodeError):
        apply_config_update(SystemConfig(), short, ecotone_active=True)
