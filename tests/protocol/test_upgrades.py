"""Network upgrade transactions (Ecotone, Fjord, Isthmus, Jovian, Karst, Interop).

Vectors: tests/vectors/upgrade-txs/{ecotone,fjord,isthmus,interop}_tx_N.hex (kona's expected
encodings, in block order), jovian-*.bytecode.hex (specs/static/bytecode),
tests/vectors/source-hashes.json (Jovian: the kona/Base-node intent set) and
tests/vectors/upgrade-txs/nut-bundles/ (op-core's Karst bundle and fork_lock.toml; the check
values are from specs/protocol/karst and kona's karst.rs test).

The spec formulas (CREATE addresses, ``upgradeTo`` calldata, deployer addresses, selectors)
are written out here, independently of the shipped bundles, to check what the bundles hold.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
import rlp

from opfleet.errors import CriticalError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import L1_INFO_DEPOSITOR, decode_deposit_tx, upgrade_source_hash
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol import upgrades
from opfleet.protocol.upgrades import (
    UPGRADE_BUNDLES,
    UPGRADE_FORKS,
    activation_block_must_be_empty,
    bundle_gas,
    has_upgrade_transactions,
    parse_bundle,
    upgrade_deposits,
    upgrade_gas,
    upgrade_gas_to_strip,
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


# --- spec formulas, written out independently of the bundles -----------------------------------

GAS_PRICE_ORACLE = bytes.fromhex("420000000000000000000000000000000000000f")
L1_BLOCK = bytes.fromhex("4200000000000000000000000000000000000015")
BEACON_ROOTS_DEPLOYER = bytes.fromhex("0b799c86a49deeb90402691f1041aa3af2d3c875")
HISTORY_STORAGE_DEPLOYER = bytes.fromhex("3462413af4609098e1e27a490f554f260213d685")


def selector(signature: bytes) -> bytes:
    return keccak256(signature)[:4]


def upgrade_deployer(index: int) -> bytes:
    """``0x4210…00NN``: the sender of the NN-th predeploy implementation deployment."""
    return bytes.fromhex("4210") + index.to_bytes(18, "big")


def create_address(deployer: bytes, nonce: int = 0) -> bytes:
    """Yellow Paper (7): ``keccak256(rlp([deployer, nonce]))[12:]``."""
    return keccak256(rlp.encode([deployer, nonce]))[12:]


def upgrade_to_calldata(implementation: bytes) -> bytes:
    return selector(b"upgradeTo(address)") + bytes(12) + implementation


def test_spec_formulas_reproduce_the_specs_addresses() -> None:
    # EIP-4788 and EIP-2935 system contracts, Ecotone's L1Block and GasPriceOracle.
    assert create_address(BEACON_ROOTS_DEPLOYER).hex() == "000f3df6d732807ef1319fb7b8bb8522d0beac02"
    assert create_address(HISTORY_STORAGE_DEPLOYER).hex() == "0000f90827f1c53a10cb7a02335b175320002935"
    assert create_address(upgrade_deployer(0)).hex() == "07dbe8500fc591d1852b76fee44d5a05e13097ff"
    assert create_address(upgrade_deployer(1)).hex() == "b528d11cc114e026f138fe568744c6d45ce6da7a"
    assert selector(b"upgradeTo(address)").hex() == "3659cfe6"


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
    assert create_address(upgrade_deployer(6)).hex() == NEW_L1_BLOCK
    assert l1_proxy.data == upgrade_to_calldata(bytes.fromhex(NEW_L1_BLOCK))
    assert (l1_proxy.from_address, l1_proxy.gas, l1_proxy.to) == (bytes(20), 50_000, L1_BLOCK)
    assert (gpo.from_address, gpo.to, gpo.gas) == (upgrade_deployer(7), None, 1_750_714)
    assert gpo.data == read_hex(UPGRADE_TXS / "jovian-gas-price-oracle-deployment.bytecode.hex")
    assert create_address(upgrade_deployer(7)).hex() == NEW_GAS_PRICE_ORACLE
    assert gpo_proxy.data == upgrade_to_calldata(bytes.fromhex(NEW_GAS_PRICE_ORACLE))
    assert gpo_proxy.to == GAS_PRICE_ORACLE
    assert (set_jovian.from_address, set_jovian.to) == (L1_INFO_DEPOSITOR, GAS_PRICE_ORACLE)
    assert (set_jovian.gas, set_jovian.data) == (90_000, selector(b"setJovian()"))
    for tx in upgrade_transactions("jovian"):
        decoded = decode_deposit_tx(tx)
        assert (decoded.mint, decoded.value, decoded.is_system_tx) == (0, 0, False)


@pytest.mark.parametrize(("fork", "index", "signature"), [
    ("ecotone", 4, b"setEcotone()"), ("fjord", 2, b"setFjord()"), ("isthmus", 6, b"setIsthmus()"),
])
def test_set_fork_calls_carry_the_spec_selectors(fork: str, index: int, signature: bytes) -> None:
    call = upgrade_deposits(fork)[index]
    assert (call.to, call.data) == (GAS_PRICE_ORACLE, selector(signature))


# --- Karst: op-core's NUT bundle ----------------------------------------------------------------

NUT_BUNDLES = UPGRADE_TXS / "nut-bundles"
KARST_TX_0_SOURCE_HASH = "7e71ceb6816466ed1bbe59fce31bab86fbb815adbca6d2587fa492f6eb6eba74"
KARST_TX_30_SOURCE_HASH = "343d18613a55342c09a7be60664cb2e9bce77a17302c41322753e31427f9c543"
KARST_UPGRADE_GAS = 55_370_657


def test_karst_bundle_is_op_cores_file_byte_for_byte() -> None:
    vector = (NUT_BUNDLES / "karst_nut_bundle.json").read_bytes()
    assert upgrades.bundle_bytes("karst") == vector
    lock = tomllib.loads((NUT_BUNDLES / "fork_lock.toml").read_text())
    assert lock["karst"]["hash"] == "sha256:" + hashlib.sha256(vector).hexdigest()
    (karst,) = [b for b in UPGRADE_BUNDLES if b.fork == "karst"]
    assert "sha256:" + karst.sha256 == lock["karst"]["hash"]


def test_karst_deposits_follow_the_bundle_with_indexed_intents() -> None:
    entries = json.loads((NUT_BUNDLES / "karst_nut_bundle.json").read_text())["transactions"]
    deposits = upgrade_deposits("karst")
    assert len(deposits) == len(entries) == 31
    assert deposits[0].source_hash.hex() == KARST_TX_0_SOURCE_HASH
    assert deposits[30].source_hash.hex() == KARST_TX_30_SOURCE_HASH
    for i, (deposit, entry) in enumerate(zip(deposits, entries)):
        assert deposit.source_hash == upgrade_source_hash(f"Karst {i}: {entry['intent']}")
        assert deposit.from_address == bytes.fromhex(entry["from"][2:])
        assert deposit.to == bytes.fromhex(entry["to"][2:])
        assert deposit.data == bytes.fromhex(entry["data"][2:])
        assert (deposit.gas, deposit.mint, deposit.value) == (entry["gasLimit"], 0, 0)
        assert deposit.is_system_tx is False
    assert bundle_gas("karst") == KARST_UPGRADE_GAS


def test_older_forks_add_no_upgrade_gas() -> None:
    cfg = op_mainnet()
    for activation in (1710374401, 1720627201, 1746806401, 1764691201):  # Ecotone .. Jovian
        assert upgrade_transactions_for_block(cfg, activation)
        assert upgrade_gas(cfg, activation) == 0 and upgrade_gas_to_strip(cfg, activation) == 0


def test_karst_activation_block_gets_the_bundle_and_its_gas() -> None:
    cfg = op_mainnet()  # karst_time 1783526401, keep_karst_upgrade_gas true
    assert upgrade_transactions_for_block(cfg, 1783526401) == upgrade_transactions("karst")
    assert upgrade_gas(cfg, 1783526401) == KARST_UPGRADE_GAS
    assert upgrade_transactions_for_block(cfg, 1783526403) == [] and upgrade_gas(cfg, 1783526403) == 0
    assert upgrade_transactions_for_block(cfg, 1783526399) == []


def test_keep_karst_upgrade_gas_decides_whether_it_is_stripped() -> None:
    keep = op_mainnet()
    strip = replace(keep, keep_karst_upgrade_gas=False)
    assert keep.keep_karst_upgrade_gas is True
    assert upgrade_gas_to_strip(keep, 1783526401) == 0
    assert upgrade_gas_to_strip(strip, 1783526401) == KARST_UPGRADE_GAS
    assert upgrade_gas_to_strip(strip, 1783526403) == 0  # only the activation block carries it


def test_empty_activation_blocks_and_no_tx_pool_blocks() -> None:
    cfg = op_mainnet()
    for empty in (1764691201, 1783526401):  # Jovian, Karst
        assert activation_block_must_be_empty(cfg, empty) and has_upgrade_transactions(cfg, empty)
    for not_empty in (1710374401, 1746806401):  # Ecotone, Isthmus: no tx pool, but batches may carry txs
        assert not activation_block_must_be_empty(cfg, not_empty) and has_upgrade_transactions(cfg, not_empty)
    assert not has_upgrade_transactions(cfg, 1783526403)
    assert not activation_block_must_be_empty(cfg, 1783526403)


# --- shipped data is checked ---------------------------------------------------------------------


def test_every_shipped_bundle_matches_its_locked_hash() -> None:
    for bundle in UPGRADE_BUNDLES:
        raw = upgrades.bundle_bytes(bundle.fork)
        assert hashlib.sha256(raw).hexdigest() == bundle.sha256
    assert UPGRADE_FORKS == ("ecotone", "fjord", "isthmus", "jovian", "karst", "interop")


def test_a_corrupted_bundle_stops_with_one_line(monkeypatch) -> None:
    (karst,) = [b for b in UPGRADE_BUNDLES if b.fork == "karst"]
    monkeypatch.setitem(upgrades._BY_FORK, "karst", replace(karst, sha256="00" * 32))
    with pytest.raises(CriticalError) as excinfo:
        upgrades.bundle_bytes("karst")
    message = str(excinfo.value)
    assert "\n" not in message and "corrupted" in message and karst.sha256 in message
    assert "karst_nut_bundle.json" in message


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"[]", b'{"transactions": []}', b'{"transactions": [1]}',
    b'{"transactions": [{"intent": "x", "from": "0x00", "to": null, "gasLimit": 1, "data": "0x"}]}',
    b'{"transactions": [{"intent": "x", "from": "0x' + b"00" * 20 + b'", "to": null, "gasLimit": -1, "data": "0x"}]}',
    b'{"transactions": [{"intent": "x", "from": "0x' + b"00" * 20 + b'", "to": null, "gasLimit": true, "data": "0x"}]}',
    b'{"transactions": [{"intent": "x", "from": "0x' + b"00" * 20 + b'", "to": null, "gasLimit": 1, "data": "zz"}]}',
    b'{"transactions": [{"intent": 7, "from": "0x' + b"00" * 20 + b'", "to": null, "gasLimit": 1, "data": "0x"}]}',
    b'{"transactions": [{"from": "0x' + b"00" * 20 + b'", "to": null, "gasLimit": 1, "data": "0x"}]}',
    b"\xff\xfe garbage",
])
def test_malformed_bundles_are_critical_not_a_traceback(raw: bytes) -> None:
    bundle = upgrades.UpgradeBundle("test", "test.json", "00" * 32, intent_prefix="Test")
    with pytest.raises(CriticalError, match="test upgrade bundle test.json is malformed"):
        parse_bundle(raw, bundle)


def test_unknown_fork() -> None:
    with pytest.raises(ValueError, match="lagoon"):
        upgrade_transactions("lagoon")


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
    cfg = replace(op_mainnet(), jovian_time=1783526401)  # Jovian and Karst in one block
    assert upgrade_transactions_for_block(cfg, 1783526401) == (
        upgrade_transactions("jovian") + upgrade_transactions("karst"))


def test_interop_activation_block() -> None:
    cfg = replace(op_mainnet(), interop_time=1800000001)
    assert upgrade_transactions_for_block(cfg, 1800000001) == expected_txs("interop")
