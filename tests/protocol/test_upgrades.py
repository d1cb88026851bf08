"""Network upgrade transactions (Ecotone, Fjord, Isthmus, Jovian, Interop).

Vectors: tests/vectors/upgrade-txs/{ecotone,fjord,isthmus,interop}_tx_N.hex (kona's expected
encodings, in block order), jovian-*.bytecode.hex (specs/static/bytecode), and
tests/vectors/source-hashes.json (Jovian: the kona/Base-node intent set).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import rlp

from opfleet.errors import NotAvailableYet
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import L1_INFO_DEPOSITOR, decode_deposit_tx
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.upgrades import (
    BEACON_ROOTS_DEPLOYER,
    GAS_PRICE_ORACLE_ADDRESS,
    HISTORY_STORAGE_DEPLOYER,
    SET_ECOTONE_SELECTOR,
    SET_FJORD_SELECTOR,
    SET_ISTHMUS_SELECTOR,
    SET_JOVIAN_SELECTOR,
    UPGRADE_FORKS,
    UPGRADE_TO_SELECTOR,
    create_address,
    upgrade_bytecode,
    upgrade_deployer,
    upgrade_deposits,
    upgrade_to_calldata,
    upgrade_transactions,
    upgrade_transactions_for_block,
)

VECTORS = Path(__file__).parents[1] / "vectors"
UPGRADE_TXS = VECTORS / "upgrade-txs"
SOURCE_HASHES = json.loads((VECTORS / "source-hashes.json").read_text())


def expected_txs(fork: str) -> list[bytes]:
    count = len(list(UPGRADE_TXS.glob(f"{fork}_tx_*.hex")))
    return [read_hex(UPGRADE_TXS / f"{fork}_tx_{i}.hex") for i in range(count)]


def read_hex(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip())


def op_mainnet() -> RollupConfig:
    path = VECTORS / "rollup-configs" / "op-mainnet.rollup.json"
    return RollupConfig.from_json(json.loads(path.read_text()))


@pytest.mark.parametrize(
    ("fork", "count"), [("ecotone", 6), ("fjord", 3), ("isthmus", 8), ("interop", 4)]
)
def test_upgrade_transactions_match_kona_vectors(fork: str, count: int) -> None:
    txs = upgrade_transactions(fork)
    assert len(txs) == count
    assert txs == expected_txs(fork)


@pytest.mark.parametrize("fork", ["ecotone", "fjord", "isthmus", "interop"])
def test_source_hashes_match_intent_table(fork: str) -> None:
    hashes = [d.source_hash for d in upgrade_deposits(fork)]
    table = {bytes.fromhex(c["source_hash"][2:]) for c in SOURCE_HASHES["upgrade"][fork]}
    assert set(hashes) == table


# specs/protocol/jovian/derivation.md: `cast compute-address --nonce=0 0x4210...0006` / `...0007`.
NEW_L1_BLOCK = "3ba4007f5c922fbb33c454b41ea7a1f11e83df2c"
NEW_GAS_PRICE_ORACLE = "4f1db3c6abd250ba86e0928471a8f7db3afd88f1"


def test_jovian_uses_spaced_intents_and_spec_parameters() -> None:
    deposits = upgrade_deposits("jovian")
    table = SOURCE_HASHES["upgrade"]["jovian_per_kona_and_base_node"]
    expected_hashes = [bytes.fromhex(c["source_hash"][2:]) for c in table]
    assert [d.source_hash for d in deposits] == expected_hashes
    l1_block, l1_proxy, gpo, gpo_proxy, set_jovian = deposits
    assert (l1_block.from_address, l1_block.to) == (upgrade_deployer(6), None)
    assert l1_block.gas == 447_315
    assert l1_block.data == read_hex(UPGRADE_TXS / "jovian-l1-block-deployment.bytecode.hex")
    # Proxy updates: upgradeTo(CREATE(0x4210...0006)) = upgradeTo(0x3ba4007f...).
    assert l1_proxy.data == upgrade_to_calldata(bytes.fromhex(NEW_L1_BLOCK))
    assert (l1_proxy.from_address, l1_proxy.gas) == (bytes(20), 50_000)
    assert l1_proxy.to.hex() == "4200000000000000000000000000000000000015"
    assert (gpo.from_address, gpo.to, gpo.gas) == (upgrade_deployer(7), None, 1_750_714)
    assert gpo.data == read_hex(UPGRADE_TXS / "jovian-gas-price-oracle-deployment.bytecode.hex")
    assert gpo_proxy.data == upgrade_to_calldata(bytes.fromhex(NEW_GAS_PRICE_ORACLE))
    assert gpo_proxy.to == GAS_PRICE_ORACLE_ADDRESS
    assert (set_jovian.from_address, set_jovian.to) == (L1_INFO_DEPOSITOR, GAS_PRICE_ORACLE_ADDRESS)
    assert (set_jovian.gas, set_jovian.data.hex()) == (90_000, "b3d72079")
    for tx in upgrade_transactions("jovian"):
        assert decode_deposit_tx(tx).mint == 0


def test_selectors_are_signature_hashes() -> None:
    assert UPGRADE_TO_SELECTOR == keccak256(b"upgradeTo(address)")[:4]
    assert SET_ECOTONE_SELECTOR == keccak256(b"setEcotone()")[:4]
    assert SET_FJORD_SELECTOR == keccak256(b"setFjord()")[:4]
    assert SET_ISTHMUS_SELECTOR == keccak256(b"setIsthmus()")[:4]
    assert SET_JOVIAN_SELECTOR == keccak256(b"setJovian()")[:4]


def test_create_addresses_from_the_specs() -> None:
    # EIP-4788 and EIP-2935 system contracts, Ecotone's L1Block and GasPriceOracle.
    beacon_roots = create_address(BEACON_ROOTS_DEPLOYER)
    history_storage = create_address(HISTORY_STORAGE_DEPLOYER)
    assert beacon_roots.hex() == "000f3df6d732807ef1319fb7b8bb8522d0beac02"
    assert history_storage.hex() == "0000f90827f1c53a10cb7a02335b175320002935"
    assert create_address(upgrade_deployer(0)).hex() == "07dbe8500fc591d1852b76fee44d5a05e13097ff"
    assert create_address(upgrade_deployer(1)).hex() == "b528d11cc114e026f138fe568744c6d45ce6da7a"
    # Other nonces: cross-checked against the rlp package's encoding of [deployer, nonce].
    for nonce in (1, 0x7F, 0x80, 0x1234, 2**64 - 1):
        expected = keccak256(rlp.encode([b"\x42" * 20, nonce]))[12:]
        assert create_address(b"\x42" * 20, nonce) == expected


def test_upgrade_to_calldata() -> None:
    assert upgrade_to_calldata(b"\xab" * 20) == bytes.fromhex("3659cfe6") + bytes(12) + b"\xab" * 20
    with pytest.raises(ValueError):
        upgrade_to_calldata(b"\xab" * 19)


def test_bytecode_is_shipped_as_package_data() -> None:
    # Ecotone's L1Block deployment data equals the tx data of ecotone_tx_0 (kona vector).
    ecotone_tx_0 = decode_deposit_tx(expected_txs("ecotone")[0])
    assert upgrade_bytecode("ecotone-l1-block-deployment") == ecotone_tx_0.data
    with pytest.raises(FileNotFoundError):
        upgrade_bytecode("no-such-contract")


def test_unknown_fork() -> None:
    with pytest.raises(ValueError, match="karst"):
        upgrade_transactions("karst")
    assert UPGRADE_FORKS == ("ecotone", "fjord", "isthmus", "jovian", "interop")


def test_returned_lists_are_copies() -> None:
    first = upgrade_transactions("fjord")
    first.clear()
    assert len(upgrade_transactions("fjord")) == 3


# --- which block gets which upgrades -------------------------------------------------------------


def test_only_activation_blocks_get_upgrades() -> None:
    cfg = op_mainnet()
    assert upgrade_transactions_for_block(cfg, 1710374401) == expected_txs("ecotone")
    assert upgrade_transactions_for_block(cfg, 1710374403) == []
    assert upgrade_transactions_for_block(cfg, 1710374399) == []
    assert upgrade_transactions_for_block(cfg, 1720627201) == expected_txs("fjord")
    assert upgrade_transactions_for_block(cfg, 1746806401) == expected_txs("isthmus")
    assert upgrade_transactions_for_block(cfg, 1764691201) == upgrade_transactions("jovian")
    # Canyon, Delta, Granite, Holocene have no upgrade transactions.
    assert upgrade_transactions_for_block(cfg, 1704992401) == []
    assert upgrade_transactions_for_block(cfg, 1736445601) == []


def test_forks_activating_together_append_in_fork_order() -> None:
    cfg = replace(op_mainnet(), fjord_time=1710374401)
    both = expected_txs("ecotone") + expected_txs("fjord")
    assert upgrade_transactions_for_block(cfg, 1710374401) == both


def test_interop_activation_block() -> None:
    cfg = replace(op_mainnet(), karst_time=None, interop_time=1800000001)
    assert upgrade_transactions_for_block(cfg, 1800000001) == expected_txs("interop")


def test_karst_activation_is_not_implemented() -> None:
    cfg = op_mainnet()
    with pytest.raises(NotAvailableYet, match="Karst"):
        upgrade_transactions_for_block(cfg, 1783526401)
    assert upgrade_transactions_for_block(cfg, 1783526403) == []
