"""Network upgrade transactions: deposits the derivation inserts in a fork's activation block.

Spec: ``specs/protocol/ecotone/derivation.md``, ``fjord/derivation.md``,
``isthmus/derivation.md``, ``jovian/derivation.md`` ("Network Upgrade Transactions") and
``specs/interop/derivation.md``; kona ``crates/protocol/hardforks/src/*.rs``; op-node
``op-node/rollup/derive/*_upgrade_transactions.go``.

Every upgrade deposit has mint 0, value 0, ``isSystemTx = false`` and a domain-2 source hash
over its intent string. Contract deployments go to ``CREATE(deployer, nonce 0)``; the proxy
updates then call ``upgradeTo(newImplementation)``.

Jovian intents: the specs text writes "L1Block"/"GasPriceOracle"; kona (and the Base node)
use the spaced names "L1 Block"/"Gas Price Oracle" like every earlier fork. We follow kona
(kona ``crates/protocol/hardforks/src/jovian.rs``). Interop follows kona's order
(CrossL2Inbox first).

Deployment bytecode is package data under ``opfleet/protocol/data/upgrades/``, read lazily.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from opfleet.errors import NotAvailableYet
from opfleet.protocol.crypto import ZERO_ADDRESS, keccak256
from opfleet.protocol.deposits import L1_INFO_DEPOSITOR, DepositTx, upgrade_source_hash
from opfleet.protocol.l1_block_info import L1_BLOCK_ADDRESS

if TYPE_CHECKING:
    from opfleet.protocol.rollup_config import RollupConfig

GAS_PRICE_ORACLE_ADDRESS = bytes.fromhex("420000000000000000000000000000000000000f")
OPERATOR_FEE_VAULT_ADDRESS = bytes.fromhex("420000000000000000000000000000000000001b")
CROSS_L2_INBOX_ADDRESS = bytes.fromhex("4200000000000000000000000000000000000022")
L2_TO_L2_CROSS_DOMAIN_MESSENGER_ADDRESS = bytes.fromhex("4200000000000000000000000000000000000023")

BEACON_ROOTS_DEPLOYER = bytes.fromhex("0b799c86a49deeb90402691f1041aa3af2d3c875")
"""EIP-4788's keyless deployer; its nonce-0 contract is 0x000F3df6…Beac02."""
HISTORY_STORAGE_DEPLOYER = bytes.fromhex("3462413af4609098e1e27a490f554f260213d685")
"""EIP-2935's keyless deployer; its nonce-0 contract is 0x0000F908…2935."""

UPGRADE_TO_SELECTOR = bytes.fromhex("3659cfe6")  # upgradeTo(address)
SET_ECOTONE_SELECTOR = bytes.fromhex("22b90ab3")  # setEcotone()
SET_FJORD_SELECTOR = bytes.fromhex("8e98b106")  # setFjord()
SET_ISTHMUS_SELECTOR = bytes.fromhex("291b0383")  # setIsthmus()
SET_JOVIAN_SELECTOR = bytes.fromhex("b3d72079")  # setJovian()

PROXY_UPDATE_GAS = 50_000

UPGRADE_FORKS: tuple[str, ...] = ("ecotone", "fjord", "isthmus", "jovian", "interop")
"""Forks with upgrade transactions, in the order they are appended to one activation block."""


def upgrade_deployer(index: int) -> bytes:
    """``0x4210…00NN``: the sender of the NN-th predeploy implementation deployment."""
    return bytes.fromhex("4210") + index.to_bytes(18, "big")


def interop_deployer(index: int) -> bytes:
    """``0x4220…00NN``: the interop predeploy deployers."""
    return bytes.fromhex("4220") + index.to_bytes(18, "big")


def create_address(deployer: bytes, nonce: int = 0) -> bytes:
    """The address a ``CREATE`` from ``deployer`` at ``nonce`` deploys to.

    Yellow Paper (7): ``keccak256(rlp([deployer, nonce]))[12:]``.
    """
    if len(deployer) != 20:
        raise ValueError("deployer must be 20 bytes")
    if nonce < 0x80:
        nonce_rlp = bytes([nonce]) if nonce else b"\x80"
    else:
        raw = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
        nonce_rlp = bytes([0x80 + len(raw)]) + raw
    payload = b"\x94" + deployer + nonce_rlp
    return keccak256(bytes([0xC0 + len(payload)]) + payload)[12:]


def upgrade_to_calldata(implementation: bytes) -> bytes:
    """``upgradeTo(address)`` calldata for an ERC-1967 proxy."""
    if len(implementation) != 20:
        raise ValueError("implementation must be 20 bytes")
    return UPGRADE_TO_SELECTOR + bytes(12) + implementation


def upgrade_bytecode(name: str) -> bytes:
    """Deployment bytecode ``name`` (e.g. ``"jovian-l1-block-deployment"``) from package data."""
    return _bytecode(name)


@functools.lru_cache(maxsize=None)
def _bytecode(name: str) -> bytes:
    path = resources.files("opfleet.protocol").joinpath("data", "upgrades", f"{name}.bytecode.hex")
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


@dataclass(frozen=True, slots=True)
class _Upgrade:
    intent: str
    from_address: bytes
    to: bytes | None
    gas: int
    data: bytes

    def deposit(self) -> DepositTx:
        return DepositTx(
            source_hash=upgrade_source_hash(self.intent),
            from_address=self.from_address,
            to=self.to,
            mint=0,
            value=0,
            gas=self.gas,
            is_system_tx=False,
            data=self.data,
        )


def _deploy(intent: str, deployer: bytes, gas: int, bytecode: str) -> _Upgrade:
    return _Upgrade(intent, deployer, None, gas, _bytecode(bytecode))


def _proxy_update(intent: str, proxy: bytes, deployer: bytes) -> _Upgrade:
    calldata = upgrade_to_calldata(create_address(deployer))
    return _Upgrade(intent, ZERO_ADDRESS, proxy, PROXY_UPDATE_GAS, calldata)


def _set_fork(intent: str, gas: int, selector: bytes) -> _Upgrade:
    return _Upgrade(intent, L1_INFO_DEPOSITOR, GAS_PRICE_ORACLE_ADDRESS, gas, selector)


def _ecotone() -> list[_Upgrade]:
    """Spec: ``specs/protocol/ecotone/derivation.md`` ("Network Upgrade Transactions")."""
    l1_block, gpo = upgrade_deployer(0), upgrade_deployer(1)
    return [
        _deploy("Ecotone: L1 Block Deployment", l1_block, 375_000, "ecotone-l1-block-deployment"),
        _deploy(
            "Ecotone: Gas Price Oracle Deployment",
            gpo,
            1_000_000,
            "ecotone-gas-price-oracle-deployment",
        ),
        _proxy_update("Ecotone: L1 Block Proxy Update", L1_BLOCK_ADDRESS, l1_block),
        _proxy_update("Ecotone: Gas Price Oracle Proxy Update", GAS_PRICE_ORACLE_ADDRESS, gpo),
        _set_fork("Ecotone: Gas Price Oracle Set Ecotone", 80_000, SET_ECOTONE_SELECTOR),
        _deploy(
            "Ecotone: beacon block roots contract deployment",
            BEACON_ROOTS_DEPLOYER,
            250_000,
            "ecotone-beacon-block-roots-deployment",
        ),
    ]


def _fjord() -> list[_Upgrade]:
    """Spec: ``specs/protocol/fjord/derivation.md`` ("Network Upgrade Automation Transactions")."""
    gpo = upgrade_deployer(2)
    return [
        _deploy(
            "Fjord: Gas Price Oracle Deployment",
            gpo,
            1_450_000,
            "fjord-gas-price-oracle-deployment",
        ),
        _proxy_update("Fjord: Gas Price Oracle Proxy Update", GAS_PRICE_ORACLE_ADDRESS, gpo),
        _set_fork("Fjord: Gas Price Oracle Set Fjord", 90_000, SET_FJORD_SELECTOR),
    ]


def _isthmus() -> list[_Upgrade]:
    """Spec: ``specs/protocol/isthmus/derivation.md`` ("Network Upgrade Automation Transactions").
    """
    l1_block, gpo, vault = upgrade_deployer(3), upgrade_deployer(4), upgrade_deployer(5)
    return [
        _deploy("Isthmus: L1 Block Deployment", l1_block, 425_000, "isthmus-l1-block-deployment"),
        _deploy(
            "Isthmus: Gas Price Oracle Deployment",
            gpo,
            1_625_000,
            "isthmus-gas-price-oracle-deployment",
        ),
        _deploy(
            "Isthmus: Operator Fee Vault Deployment",
            vault,
            500_000,
            "isthmus-operator-fee-vault-deployment",
        ),
        _proxy_update("Isthmus: L1 Block Proxy Update", L1_BLOCK_ADDRESS, l1_block),
        _proxy_update("Isthmus: Gas Price Oracle Proxy Update", GAS_PRICE_ORACLE_ADDRESS, gpo),
        _proxy_update(
            "Isthmus: Operator Fee Vault Proxy Update", OPERATOR_FEE_VAULT_ADDRESS, vault
        ),
        _set_fork("Isthmus: Gas Price Oracle Set Isthmus", 90_000, SET_ISTHMUS_SELECTOR),
        _deploy(
            "Isthmus: EIP-2935 Contract Deployment",
            HISTORY_STORAGE_DEPLOYER,
            250_000,
            "isthmus-eip2935-deployment",
        ),
    ]


def _jovian() -> list[_Upgrade]:
    """Spec: ``specs/protocol/jovian/derivation.md``, with kona's spaced intent names."""
    l1_block, gpo = upgrade_deployer(6), upgrade_deployer(7)
    return [
        _deploy("Jovian: L1 Block Deployment", l1_block, 447_315, "jovian-l1-block-deployment"),
        _proxy_update("Jovian: L1 Block Proxy Update", L1_BLOCK_ADDRESS, l1_block),
        _deploy(
            "Jovian: Gas Price Oracle Deployment",
            gpo,
            1_750_714,
            "jovian-gas-price-oracle-deployment",
        ),
        _proxy_update("Jovian: Gas Price Oracle Proxy Update", GAS_PRICE_ORACLE_ADDRESS, gpo),
        _set_fork("Jovian: Gas Price Oracle Set Jovian", 90_000, SET_JOVIAN_SELECTOR),
    ]


def _interop() -> list[_Upgrade]:
    """Spec: ``specs/interop/derivation.md``; kona's order (CrossL2Inbox first)."""
    inbox, messenger = interop_deployer(0), interop_deployer(1)
    return [
        _deploy(
            "Interop: CrossL2Inbox Deployment", inbox, 420_000, "interop-cross-l2-inbox-deployment"
        ),
        _proxy_update("Interop: CrossL2Inbox Proxy Update", CROSS_L2_INBOX_ADDRESS, inbox),
        _deploy(
            "Interop: L2ToL2CrossDomainMessenger Deployment",
            messenger,
            1_100_000,
            "interop-l2-to-l2-cross-domain-messenger-deployment",
        ),
        _proxy_update(
            "Interop: L2ToL2CrossDomainMessenger Proxy Update",
            L2_TO_L2_CROSS_DOMAIN_MESSENGER_ADDRESS,
            messenger,
        ),
    ]


_BUILDERS = {
    "ecotone": _ecotone,
    "fjord": _fjord,
    "isthmus": _isthmus,
    "jovian": _jovian,
    "interop": _interop,
}


@functools.lru_cache(maxsize=None)
def _deposits(fork: str) -> tuple[DepositTx, ...]:
    return tuple(upgrade.deposit() for upgrade in _BUILDERS[fork]())


def upgrade_deposits(fork: str) -> list[DepositTx]:
    """The upgrade deposits of ``fork`` (one of :data:`UPGRADE_FORKS`), in block order.

    Spec: the fork's ``derivation.md`` ("Network Upgrade Transactions").
    """
    if fork not in _BUILDERS:
        known = ", ".join(UPGRADE_FORKS)
        raise ValueError(f"no upgrade transactions for fork {fork!r} (known: {known})")
    return list(_deposits(fork))


def upgrade_transactions(fork: str) -> list[bytes]:
    """The EIP-2718 encodings of ``fork``'s upgrade deposits, in block order."""
    return [tx.encode() for tx in upgrade_deposits(fork)]


def upgrade_transactions_for_block(rollup_config: RollupConfig, l2_timestamp: int) -> list[bytes]:
    """Upgrade transactions for the L2 block at ``l2_timestamp``: those of every fork whose
    activation block it is, in fork order (placed after the block's user deposits).

    Spec: ``specs/protocol/derivation.md`` ("Deriving the Transaction List") and the fork
    ``derivation.md`` files. Karst's upgrade (JSON "NUT bundles") is not implemented: its
    activation block raises :class:`NotAvailableYet` rather than derive a wrong block.
    """
    txs: list[bytes] = []
    for fork in ("ecotone", "fjord", "isthmus", "jovian"):
        if rollup_config.is_activation_block(fork, l2_timestamp):
            txs += upgrade_transactions(fork)
    if rollup_config.is_karst_activation_block(l2_timestamp):
        raise NotAvailableYet(
            "Karst network upgrade transactions (NUT bundles) are not implemented"
        )
    if rollup_config.is_interop_activation_block(l2_timestamp):
        txs += upgrade_transactions("interop")
    return txs
