"""Reading execution-layer JSON-RPC objects (blocks, transactions, receipts, logs).

Quantities are ``0x`` hex without leading zeros, data is ``0x`` hex (Ethereum JSON-RPC spec,
``execution-apis``: "Hex value encoding"). Parsers accept what geth, reth, op-geth and anvil
emit, ignore unknown fields (anvil adds blob sidecars to blob transactions), and raise
:class:`~opfleet.errors.DecodeError` naming the field for anything else: a malformed answer
from a node must never surface as a ``KeyError``.

:func:`transaction_from_json` rebuilds the EIP-2718 bytes of transaction types 0-4 from their
JSON (and the caller checks ``keccak(raw) == hash``, so a wrong rebuild cannot go unnoticed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.block import HeaderAccessors
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.protocol.hexjson import HexJsonError, json_object, parse_data, parse_quantity
from opfleet.protocol.log import Log
from opfleet.protocol.transactions import (
    ACCESS_LIST_TX_TYPE,
    BLOB_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    SET_CODE_TX_TYPE,
    AccessTuple,
    Authorization,
    Transaction,
)

# --- scalars ---------------------------------------------------------------------------------------


def quantity(obj: Mapping[str, Any], key: str, *, where: str = "") -> int:
    """A required hex quantity field."""
    value = obj.get(key)
    if value is None:
        raise HexJsonError(f"{where}{key}", "missing")
    return parse_quantity(value, f"{where}{key}")


def optional_quantity(obj: Mapping[str, Any], key: str, *, where: str = "") -> int | None:
    value = obj.get(key)
    return None if value is None else parse_quantity(value, f"{where}{key}")


def data(obj: Mapping[str, Any], key: str, size: int | None = None, *, where: str = "") -> bytes:
    """A required hex data field, of ``size`` bytes when given."""
    value = obj.get(key)
    if value is None:
        raise HexJsonError(f"{where}{key}", "missing")
    return parse_data(value, size, f"{where}{key}")


def optional_data(obj: Mapping[str, Any], key: str, size: int | None = None, *, where: str = "") -> bytes | None:
    value = obj.get(key)
    return None if value is None else parse_data(value, size, f"{where}{key}")


# --- headers ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """The header fields opfleet reads from ``eth_getBlockBy*`` (L1 and L2 alike).

    ``base_fee`` is 0 on pre-London blocks; fork-dependent fields are None where absent. The
    attribute names match ``opfleet.protocol.l1_block_info.L1HeaderFields``, so a header can be
    passed straight to the L1-info deposit builder.
    """

    hash: bytes
    number: int
    parent_hash: bytes
    timestamp: int
    base_fee: int
    mix_hash: bytes
    gas_limit: int
    gas_used: int
    state_root: bytes
    receipts_root: bytes
    transactions_root: bytes
    excess_blob_gas: int | None = None
    blob_gas_used: int | None = None
    parent_beacon_block_root: bytes | None = None
    withdrawals_root: bytes | None = None
    requests_hash: bytes | None = None

    @property
    def ref(self) -> L1BlockRef:
        return L1BlockRef(self.hash, self.number, self.parent_hash, self.timestamp)

    @property
    def prev_randao(self) -> bytes:
        """Post-merge ``mixHash`` is the beacon chain's RANDAO value."""
        return self.mix_hash


def header_from_json(block: Any) -> BlockHeader:
    """Parse the header fields of a block object (``eth_getBlockByNumber``/``ByHash``)."""
    b = json_object(block, "block")
    where = f"block {b.get('number')!s}: "
    return BlockHeader(
        hash=data(b, "hash", 32, where=where),
        number=quantity(b, "number", where=where),
        parent_hash=data(b, "parentHash", 32, where=where),
        timestamp=quantity(b, "timestamp", where=where),
        base_fee=optional_quantity(b, "baseFeePerGas", where=where) or 0,
        mix_hash=data(b, "mixHash", 32, where=where),
        gas_limit=quantity(b, "gasLimit", where=where),
        gas_used=quantity(b, "gasUsed", where=where),
        state_root=data(b, "stateRoot", 32, where=where),
        receipts_root=data(b, "receiptsRoot", 32, where=where),
        transactions_root=data(b, "transactionsRoot", 32, where=where),
        excess_blob_gas=optional_quantity(b, "excessBlobGas", where=where),
        blob_gas_used=optional_quantity(b, "blobGasUsed", where=where),
        parent_beacon_block_root=optional_data(b, "parentBeaconBlockRoot", 32, where=where),
        withdrawals_root=optional_data(b, "withdrawalsRoot", 32, where=where),
        requests_hash=optional_data(b, "requestsHash", 32, where=where),
    )



@dataclass(frozen=True, slots=True)
class L1Block(HeaderAccessors):
    """An L1 block: its header, transaction hashes and (when fetched) raw transactions."""

    header: BlockHeader
    tx_hashes: tuple[bytes, ...]
    transactions: tuple[bytes, ...] | None = None
    """EIP-2718 encodings in block order; ``None`` when only the header was fetched."""

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def ref(self) -> L1BlockRef:
        return self.header.ref


# --- transactions ----------------------------------------------------------------------------------


def transaction_type(tx: Mapping[str, Any]) -> int:
    """The EIP-2718 type of a JSON transaction (legacy when the node omits ``type``)."""
    value = tx.get("type")
    return 0 if value is None else parse_quantity(value, "transaction type")


def _to(tx: Mapping[str, Any], where: str) -> bytes | None:
    value = tx.get("to")
    return None if value is None else parse_data(value, 20, f"{where}to")


def _input(tx: Mapping[str, Any], where: str) -> bytes:
    value = tx.get("input", tx.get("data"))
    if value is None:
        raise DecodeError(f"{where}input: missing")
    return parse_data(value, None, f"{where}input")


def _access_list(tx: Mapping[str, Any], where: str) -> tuple[AccessTuple, ...]:
    entries = tx.get("accessList") or []
    if not isinstance(entries, list):
        raise DecodeError(f"{where}accessList: expected a list")
    out = []
    for i, entry in enumerate(entries):
        e = json_object(entry, f"{where}accessList[{i}]")
        keys = e.get("storageKeys") or []
        if not isinstance(keys, list):
            raise DecodeError(f"{where}accessList[{i}].storageKeys: expected a list")
        out.append(AccessTuple(
            address=data(e, "address", 20, where=f"{where}accessList[{i}]."),
            storage_keys=tuple(parse_data(k, 32, f"{where}accessList[{i}].storageKeys") for k in keys),
        ))
    return tuple(out)


def _authorizations(tx: Mapping[str, Any], where: str) -> tuple[Authorization, ...]:
    entries = tx.get("authorizationList") or []
    if not isinstance(entries, list):
        raise DecodeError(f"{where}authorizationList: expected a list")
    out = []
    for i, entry in enumerate(entries):
        e = json_object(entry, f"{where}authorizationList[{i}]")
        w = f"{where}authorizationList[{i}]."
        parity = e.get("yParity", e.get("v"))
        out.append(Authorization(
            chain_id=quantity(e, "chainId", where=w),
            address=data(e, "address", 20, where=w),
            nonce=quantity(e, "nonce", where=w),
            y_parity=parse_quantity(parity, f"{w}yParity"),
            r=quantity(e, "r", where=w),
            s=quantity(e, "s", where=w),
        ))
    return tuple(out)


def transaction_from_json(tx: Any) -> Transaction:
    """Rebuild a signed :class:`Transaction` (types 0-4) from its JSON-RPC object.

    Raises :class:`DecodeError` for other types (e.g. deposits) and malformed fields.
    Spec: ``execution-apis`` ``TransactionLegacySigned``/``Transaction2930Signed``/
    ``Transaction1559Signed``/``Transaction4844Signed``/``Transaction7702Signed``.
    """
    t = json_object(tx, "transaction")
    where = f"transaction {t.get('hash')}: "
    tx_type = transaction_type(t)
    common: dict[str, Any] = {
        "type": tx_type,
        "nonce": quantity(t, "nonce", where=where),
        "gas": quantity(t, "gas", where=where),
        "to": _to(t, where),
        "value": quantity(t, "value", where=where),
        "data": _input(t, where),
        "r": quantity(t, "r", where=where),
        "s": quantity(t, "s", where=where),
    }
    if tx_type == LEGACY_TX_TYPE:
        v = quantity(t, "v", where=where)
        chain_id = (v - 35) // 2 if v >= 35 else None
        return Transaction(**common, chain_id=chain_id, gas_price=quantity(t, "gasPrice", where=where), v=v)
    if tx_type not in (ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE, BLOB_TX_TYPE, SET_CODE_TX_TYPE):
        raise DecodeError(f"{where}cannot rebuild transaction type {tx_type:#x}")
    parity = t.get("yParity", t.get("v"))
    common.update(
        chain_id=quantity(t, "chainId", where=where),
        access_list=_access_list(t, where),
        v=parse_quantity(parity, f"{where}yParity"),
    )
    if tx_type == ACCESS_LIST_TX_TYPE:
        return Transaction(**common, gas_price=quantity(t, "gasPrice", where=where))
    common.update(
        max_priority_fee_per_gas=quantity(t, "maxPriorityFeePerGas", where=where),
        max_fee_per_gas=quantity(t, "maxFeePerGas", where=where),
    )
    if tx_type == DYNAMIC_FEE_TX_TYPE:
        return Transaction(**common)
    if tx_type == BLOB_TX_TYPE:
        hashes = t.get("blobVersionedHashes") or []
        if not isinstance(hashes, list):
            raise DecodeError(f"{where}blobVersionedHashes: expected a list")
        return Transaction(
            **common,
            max_fee_per_blob_gas=quantity(t, "maxFeePerBlobGas", where=where),
            blob_versioned_hashes=tuple(parse_data(h, 32, f"{where}blobVersionedHashes") for h in hashes),
        )
    return Transaction(**common, authorization_list=_authorizations(t, where))


# --- receipts and logs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """The receipt fields derivation reads: status and logs (deposits, system-config updates)."""

    tx_hash: bytes
    tx_index: int
    block_hash: bytes
    block_number: int
    status: int
    """1 success, 0 failure (post-Byzantium)."""
    type: int
    gas_used: int
    cumulative_gas_used: int
    logs: tuple[Log, ...]
    contract_address: bytes | None = None


def log_from_json(entry: Any, *, where: str = "log") -> Log:
    e = json_object(entry, where)
    topics = e.get("topics") or []
    if not isinstance(topics, list):
        raise DecodeError(f"{where}.topics: expected a list")
    try:
        return Log(
            address=data(e, "address", 20, where=f"{where}."),
            topics=tuple(parse_data(t, 32, f"{where}.topics") for t in topics),
            data=data(e, "data", where=f"{where}."),
            block_hash=optional_data(e, "blockHash", 32, where=f"{where}."),
            log_index=optional_quantity(e, "logIndex", where=f"{where}."),
            tx_hash=optional_data(e, "transactionHash", 32, where=f"{where}."),
            tx_index=optional_quantity(e, "transactionIndex", where=f"{where}."),
        )
    except ValueError as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(f"{where}: {exc}") from None


def receipt_from_json(receipt: Any) -> Receipt:
    """Parse one ``eth_getTransactionReceipt`` / ``eth_getBlockReceipts`` item."""
    r = json_object(receipt, "receipt")
    where = f"receipt {r.get('transactionHash')}: "
    logs = r.get("logs") or []
    if not isinstance(logs, list):
        raise DecodeError(f"{where}logs: expected a list")
    status = optional_quantity(r, "status", where=where)
    if status is None:
        raise DecodeError(f"{where}status: missing (pre-Byzantium receipts are not supported)")
    return Receipt(
        tx_hash=data(r, "transactionHash", 32, where=where),
        tx_index=quantity(r, "transactionIndex", where=where),
        block_hash=data(r, "blockHash", 32, where=where),
        block_number=quantity(r, "blockNumber", where=where),
        status=status,
        type=optional_quantity(r, "type", where=where) or 0,
        gas_used=quantity(r, "gasUsed", where=where),
        cumulative_gas_used=quantity(r, "cumulativeGasUsed", where=where),
        logs=tuple(log_from_json(entry, where=f"{where}logs[{i}]") for i, entry in enumerate(logs)),
        contract_address=optional_data(r, "contractAddress", 20, where=where),
    )
