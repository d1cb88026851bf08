"""Network upgrade transactions: deposits the derivation inserts in a fork's activation block.

Spec: ``specs/protocol/{ecotone,fjord,isthmus,jovian,karst}/derivation.md`` ("Network Upgrade
Transactions") and ``specs/interop/derivation.md``; op-node ``op-node/rollup/derive/attributes.go``
and ``upgrade_transaction.go``; kona ``crates/protocol/hardforks/src/*.rs``.

Every fork's upgrade transactions are data, not code: one JSON file per fork under
``data/upgrades/`` in op-node's "NUT bundle" shape (``op-core/nuts/bundles/*.json``)::

    {"transactions": [{"intent": ..., "from": ..., "to": ... | null, "gasLimit": ..., "data": ...}]}

each locked by its sha256 in :data:`UPGRADE_BUNDLES`, which is checked when a bundle is first
read: a changed file stops the node (:class:`~opfleet.errors.CriticalError`) instead of deriving a
different chain. A later fork is a new bundle file plus one line in that table.

Every upgrade deposit has mint 0, value 0, ``isSystemTx = false``, ``gas = gasLimit`` and a
domain-2 source hash over its intent. Forks before Karst predate NUT bundles: their bundle's
intent is the whole intent string (Jovian with kona's spaced names "L1 Block"/"Gas Price
Oracle", Interop in kona's order, CrossL2Inbox first). From Karst on, the intent hashed is
``"<Fork> <i>: <intent>"`` with ``i`` the zero-based position (op-node
``upgrade_transaction.go``; the specs' ``"Karst: "`` prefix disagrees with op-node and kona, and
we follow the code), and the activation block's gas limit grows by the bundle's total gas.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from opfleet.errors import CriticalError
from opfleet.protocol.deposits import DepositTx, upgrade_source_hash
from opfleet.protocol.hexjson import parse_data

if TYPE_CHECKING:
    from opfleet.protocol.rollup_config import RollupConfig


@dataclass(frozen=True, slots=True)
class UpgradeBundle:
    """One fork's upgrade transactions as shipped: file name, locked sha256 and its rules."""

    fork: str
    file: str
    sha256: str
    intent_prefix: str | None = None
    """NUT bundles: the source hash covers ``"<intent_prefix> <i>: <intent>"``; None: the
    bundle's intent is the whole intent string (bundles written for forks before Karst)."""
    adds_upgrade_gas: bool = False
    """Whether the activation block's ``gasLimit`` grows by the bundle's total gas (NUT
    bundles, op-node ``attributes.go``)."""


UPGRADE_BUNDLES: tuple[UpgradeBundle, ...] = (
    UpgradeBundle(
        "ecotone", "ecotone_nut_bundle.json",
        "0ded467c958437b03dec08fb7cd445c1caaa13a992bce3405b55af0cb659744f",
    ),
    UpgradeBundle(
        "fjord", "fjord_nut_bundle.json",
        "1bb92364e547c52dc1de23830ba3492c10591fddf66caf3bf2bcb4e09fa30e9e",
    ),
    UpgradeBundle(
        "isthmus", "isthmus_nut_bundle.json",
        "b50c063cfdd729618a32679d6bf8af8cbee60d7ccc714b13d18350a38aba33fd",
    ),
    UpgradeBundle(
        "jovian", "jovian_nut_bundle.json",
        "68c9f4badf7d2eb3985c803ade8e29675efca359b119cbc0dd607db445c8f42c",
    ),
    # op-core/nuts/bundles/karst_nut_bundle.json, byte for byte; the hash is op-core's
    # fork_lock.toml entry.
    UpgradeBundle(
        "karst", "karst_nut_bundle.json",
        "08f5df36f7ff29a9421ab84beebe96684a7455df9a5d234a2468613a4008ad91",
        intent_prefix="Karst", adds_upgrade_gas=True,
    ),
    UpgradeBundle(
        "interop", "interop_nut_bundle.json",
        "5e2bc8815e6c39f7657a2b742dacdbde773492467579cc28ec2ad5074a1bb665",
    ),
)
"""Every fork with upgrade transactions, in the order they are appended to one block."""

UPGRADE_FORKS: tuple[str, ...] = tuple(bundle.fork for bundle in UPGRADE_BUNDLES)

_BY_FORK: dict[str, UpgradeBundle] = {bundle.fork: bundle for bundle in UPGRADE_BUNDLES}

EMPTY_ACTIVATION_BLOCK_FORKS: tuple[str, ...] = ("jovian", "karst", "interop")
"""Forks whose activation block carries no sequenced transactions: a batch for it with any
transaction is dropped (op-node ``batches.go``; ``specs/protocol/jovian/derivation.md``)."""


def _bundle(fork: str) -> UpgradeBundle:
    try:
        return _BY_FORK[fork]
    except KeyError:
        known = ", ".join(UPGRADE_FORKS)
        raise ValueError(f"no upgrade transactions for fork {fork!r} (known: {known})") from None


def bundle_bytes(fork: str) -> bytes:
    """The shipped bundle file of ``fork``, checked against its locked sha256.

    Raises :class:`CriticalError` if the file is missing or differs: a corrupted install must
    not derive a different chain.
    """
    bundle = _bundle(fork)
    path = resources.files("opfleet.protocol").joinpath("data", "upgrades", bundle.file)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CriticalError(
            f"the {fork} upgrade bundle {bundle.file} cannot be read ({exc.strerror or exc}): "
            "reinstall opfleet") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != bundle.sha256:
        raise CriticalError(
            f"the {fork} upgrade bundle {bundle.file} is corrupted (sha256 {digest}, expected "
            f"{bundle.sha256}): reinstall opfleet")
    return raw


def parse_bundle(raw: bytes, bundle: UpgradeBundle) -> tuple[DepositTx, ...]:
    """The deposits of a NUT bundle's JSON text, in block order.

    Spec: ``specs/protocol/karst/derivation.md`` ("Network Upgrade Transactions"); op-node
    ``upgrade_transaction.go`` (``mint``/``value`` 0, ``isSystemTx`` false, ``gas`` =
    ``gasLimit``). Raises :class:`CriticalError` naming the entry on a malformed file.
    """
    try:
        entries = json.loads(raw)["transactions"]
        if not isinstance(entries, list) or not entries:
            raise ValueError("'transactions' must be a non-empty list")
        return tuple(_deposit(entry, i, bundle) for i, entry in enumerate(entries))
    except (ValueError, KeyError, TypeError) as exc:
        raise CriticalError(f"the {bundle.fork} upgrade bundle {bundle.file} is malformed: {exc}") from None


def _deposit(entry: Any, index: int, bundle: UpgradeBundle) -> DepositTx:
    if not isinstance(entry, Mapping):
        raise ValueError(f"transaction {index} is not an object")
    intent = entry["intent"]
    gas = entry["gasLimit"]
    if not isinstance(intent, str) or isinstance(gas, bool) or not isinstance(gas, int) or gas <= 0:
        raise ValueError(f"transaction {index} needs a string intent and a positive gasLimit")
    to = entry["to"]
    if bundle.intent_prefix is not None:
        intent = f"{bundle.intent_prefix} {index}: {intent}"
    return DepositTx(
        source_hash=upgrade_source_hash(intent),
        from_address=_hex(entry["from"], index, "from", 20),
        to=None if to is None else _hex(to, index, "to", 20),
        mint=0,
        value=0,
        gas=gas,
        is_system_tx=False,
        data=_hex(entry["data"], index, "data", None),
    )


def _hex(value: Any, index: int, key: str, size: int | None) -> bytes:
    return parse_data(value, size, f"transaction {index} {key!r}")  # a HexJsonError is a ValueError


@functools.cache
def _deposits(fork: str) -> tuple[DepositTx, ...]:
    return parse_bundle(bundle_bytes(fork), _bundle(fork))


def upgrade_deposits(fork: str) -> list[DepositTx]:
    """The upgrade deposits of ``fork`` (one of :data:`UPGRADE_FORKS`), in block order."""
    _bundle(fork)
    return list(_deposits(fork))


def upgrade_transactions(fork: str) -> list[bytes]:
    """The EIP-2718 encodings of ``fork``'s upgrade deposits, in block order."""
    return [tx.encode() for tx in upgrade_deposits(fork)]


def bundle_gas(fork: str) -> int:
    """The total gas of ``fork``'s upgrade deposits (Karst: 55,370,657)."""
    return sum(tx.gas for tx in upgrade_deposits(fork))


def verify_upgrade_bundles(rollup_config: RollupConfig) -> None:
    """Read and check, up front, the bundle of every fork ``rollup_config`` schedules, so a
    corrupted install stops a node at start rather than at an activation block years later."""
    for bundle in UPGRADE_BUNDLES:
        if rollup_config.activation_time(bundle.fork) is not None:
            _deposits(bundle.fork)


# --- which block gets what ------------------------------------------------------------------


def _activating(rollup_config: RollupConfig, l2_timestamp: int) -> list[UpgradeBundle]:
    return [bundle for bundle in UPGRADE_BUNDLES
            if rollup_config.is_activation_block(bundle.fork, l2_timestamp)]


def upgrade_transactions_for_block(rollup_config: RollupConfig, l2_timestamp: int) -> list[bytes]:
    """Upgrade transactions for the L2 block at ``l2_timestamp``: those of every fork whose
    activation block it is, in :data:`UPGRADE_BUNDLES` order (placed after the block's user
    deposits).

    Spec: ``specs/protocol/derivation.md`` ("Deriving the Transaction List"); op-node
    ``attributes.go``.
    """
    txs: list[bytes] = []
    for bundle in _activating(rollup_config, l2_timestamp):
        txs += upgrade_transactions(bundle.fork)
    return txs


def upgrade_gas(rollup_config: RollupConfig, l2_timestamp: int) -> int:
    """Gas added to the system config's gas limit in the block at ``l2_timestamp``: the bundle
    gas of every NUT fork activating there (op-node ``attributes.go``; Karst: 55,370,657)."""
    return sum(bundle_gas(bundle.fork) for bundle in _activating(rollup_config, l2_timestamp)
               if bundle.adds_upgrade_gas)


def upgrade_gas_to_strip(rollup_config: RollupConfig, l2_timestamp: int) -> int:
    """Gas to take off an activation block's gas limit when its system config is rebuilt.

    op-node ``PayloadToSystemConfig`` / ``StripsKarstUpgradeGas``, kona
    ``upgrade_gas_to_strip``: every fork's upgrade gas is stripped, except Karst's when the
    rollup config sets ``keep_karst_upgrade_gas`` (the first Karst release kept it, and the
    chains that ran it must keep deriving the inflated limit until L1 changes it).
    """
    return sum(bundle_gas(bundle.fork) for bundle in _activating(rollup_config, l2_timestamp)
               if bundle.adds_upgrade_gas
               and not (bundle.fork == "karst" and rollup_config.keep_karst_upgrade_gas))


def activation_block_must_be_empty(rollup_config: RollupConfig, l2_timestamp: int) -> bool:
    """Whether the block at ``l2_timestamp`` is the activation block of a fork in
    :data:`EMPTY_ACTIVATION_BLOCK_FORKS` (a batch for it with transactions is dropped)."""
    return any(rollup_config.is_activation_block(fork, l2_timestamp)
               for fork in EMPTY_ACTIVATION_BLOCK_FORKS)


def has_upgrade_transactions(rollup_config: RollupConfig, l2_timestamp: int) -> bool:
    """Whether the block at ``l2_timestamp`` activates a fork with upgrade transactions (a
    sequencer builds it without tx-pool transactions, as op-node's does)."""
    return bool(_activating(rollup_config, l2_timestamp))
