"""Block headers, receipts, blooms, fee rules and the JSON-RPC shapes both devnet chains serve.

Spec: Yellow Paper section 4.3 (header, receipts, bloom), EIP-1559 (base fee), EIP-4844
(blob gas), EIP-2718/2930/7623/7702 (typed receipts, intrinsic gas), EIP-4895/4788/7685 (the
Shanghai, Cancun and Prague header fields) and, for the L2, ``specs/protocol/deposits.md``
(deposit receipts) and the Holocene/Jovian ``exec-engine.md`` (``extraData``).

JSON follows go-ethereum's ``ethapi`` marshalling: quantities as minimal ``0x`` hex, data as
``0x`` hex, field names as geth writes them, fork fields present only from their fork.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

from opfleet.protocol.crypto import ZERO_ADDRESS, ZERO_HASH, keccak256, sha256
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE, DepositTx
from opfleet.protocol.hexjson import HexJsonError, parse_data, parse_quantity
from opfleet.protocol.hexjson import hex_data as h
from opfleet.protocol.hexjson import hex_quantity as q
from opfleet.protocol.log import Log
from opfleet.protocol.rlp_codec import int_bytes, rlp_decode, rlp_encode
from opfleet.protocol.transactions import (
    ACCESS_LIST_TX_TYPE,
    BLOB_TX_TYPE,
    LEGACY_TX_TYPE,
    SET_CODE_TX_TYPE,
    Transaction,
)
from opfleet.protocol.trie import EMPTY_TRIE_ROOT, ordered_trie_root

EMPTY_OMMERS_HASH = keccak256(rlp_encode([]))
"""``0x1dcc4de8...9347``: ``keccak256(rlp([]))``, the ommers hash of every post-merge block."""

EMPTY_REQUESTS_HASH = sha256(b"")
"""EIP-7685 ``requestsHash`` of a block without requests: ``sha256(b"")``."""

BLOOM_SIZE = 256
GAS_PER_BLOB = 131_072
TX_BASE_GAS = 21_000
TX_CREATE_GAS = 32_000
TX_DATA_ZERO_GAS = 4
TX_DATA_NONZERO_GAS = 16
INITCODE_WORD_GAS = 2
ACCESS_LIST_ADDRESS_GAS = 2_400
ACCESS_LIST_STORAGE_KEY_GAS = 1_900
AUTHORIZATION_GAS = 25_000
FLOOR_TOKEN_GAS = 10  # EIP-7623 TOTAL_COST_FLOOR_PER_TOKEN
LOG_GAS = 375
LOG_TOPIC_GAS = 375
LOG_DATA_GAS = 8

_U64 = (1 << 64) - 1


# --- headers --------------------------------------------------------------------------------------


class _HeaderLinks(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def parent_hash(self) -> bytes: ...
    @property
    def timestamp(self) -> int: ...


class HeaderAccessors:
    """Mixin for a block that keeps its header in ``header``: its ``number``, ``parent_hash``
    and ``timestamp`` are the header's (a mined devnet block over a :class:`Header`, a fetched
    block over the JSON-RPC ``BlockHeader``)."""

    __slots__ = ()
    header: _HeaderLinks

    @property
    def number(self) -> int:
        return self.header.number

    @property
    def parent_hash(self) -> bytes:
        return self.header.parent_hash

    @property
    def timestamp(self) -> int:
        return self.header.timestamp



@dataclass(frozen=True, slots=True)
class Header:
    """An execution-layer block header, London through Prague (optional fields from their fork).

    Spec: Yellow Paper 4.3; EIP-1559 (``base_fee_per_gas``), EIP-4895 (``withdrawals_root``),
    EIP-4844 (``blob_gas_used``, ``excess_blob_gas``), EIP-4788 (``parent_beacon_block_root``),
    EIP-7685 (``requests_hash``). Optional fields must be set as a prefix, in that order.
    """

    parent_hash: bytes
    number: int
    timestamp: int
    gas_limit: int
    gas_used: int = 0
    coinbase: bytes = ZERO_ADDRESS
    state_root: bytes = EMPTY_TRIE_ROOT
    transactions_root: bytes = EMPTY_TRIE_ROOT
    receipts_root: bytes = EMPTY_TRIE_ROOT
    logs_bloom: bytes = bytes(BLOOM_SIZE)
    difficulty: int = 0
    extra_data: bytes = b""
    mix_hash: bytes = ZERO_HASH
    nonce: bytes = bytes(8)
    ommers_hash: bytes = EMPTY_OMMERS_HASH
    base_fee_per_gas: int | None = None
    withdrawals_root: bytes | None = None
    blob_gas_used: int | None = None
    excess_blob_gas: int | None = None
    parent_beacon_block_root: bytes | None = None
    requests_hash: bytes | None = None

    def __post_init__(self) -> None:
        optional = (self.base_fee_per_gas, self.withdrawals_root, self.blob_gas_used, self.excess_blob_gas,
                    self.parent_beacon_block_root, self.requests_hash)
        seen_missing = False
        for value in optional:
            if value is None:
                seen_missing = True
            elif seen_missing:
                raise ValueError("optional header fields must be set in fork order without gaps")
        if len(self.extra_data) > 32:
            raise ValueError("extraData is at most 32 bytes")

    def rlp_fields(self) -> list[Any]:
        """The header as an RLP list, in consensus order."""
        out: list[Any] = [
            self.parent_hash, self.ommers_hash, self.coinbase, self.state_root, self.transactions_root,
            self.receipts_root, self.logs_bloom, int_bytes(self.difficulty), int_bytes(self.number),
            int_bytes(self.gas_limit), int_bytes(self.gas_used), int_bytes(self.timestamp),
            self.extra_data, self.mix_hash, self.nonce,
        ]
        for value in (self.base_fee_per_gas, self.withdrawals_root, self.blob_gas_used, self.excess_blob_gas,
                      self.parent_beacon_block_root, self.requests_hash):
            if value is None:
                break
            out.append(int_bytes(value) if isinstance(value, int) else value)
        return out

    def encode(self) -> bytes:
        return rlp_encode(self.rlp_fields())

    def hash(self) -> bytes:
        """The block hash: ``keccak256(rlp(header))``."""
        return keccak256(self.encode())

    def to_json(self) -> dict[str, Any]:
        """The header part of an ``eth_getBlockBy*`` object (without ``hash``/``size``)."""
        out: dict[str, Any] = {
            "parentHash": h(self.parent_hash),
            "sha3Uncles": h(self.ommers_hash),
            "miner": h(self.coinbase),
            "stateRoot": h(self.state_root),
            "transactionsRoot": h(self.transactions_root),
            "receiptsRoot": h(self.receipts_root),
            "logsBloom": h(self.logs_bloom),
            "difficulty": q(self.difficulty),
            "number": q(self.number),
            "gasLimit": q(self.gas_limit),
            "gasUsed": q(self.gas_used),
            "timestamp": q(self.timestamp),
            "extraData": h(self.extra_data),
            "mixHash": h(self.mix_hash),
            "nonce": h(self.nonce),
        }
        if self.base_fee_per_gas is not None:
            out["baseFeePerGas"] = q(self.base_fee_per_gas)
        if self.withdrawals_root is not None:
            out["withdrawalsRoot"] = h(self.withdrawals_root)
        if self.blob_gas_used is not None:
            out["blobGasUsed"] = q(self.blob_gas_used)
        if self.excess_blob_gas is not None:
            out["excessBlobGas"] = q(self.excess_blob_gas)
        if self.parent_beacon_block_root is not None:
            out["parentBeaconBlockRoot"] = h(self.parent_beacon_block_root)
        if self.requests_hash is not None:
            out["requestsHash"] = h(self.requests_hash)
        return out


HEADER_FIELD_NAMES = tuple(f.name for f in fields(Header))


def block_rlp_size(header: Header, transactions: Sequence[bytes], *, withdrawals: bool) -> int:
    """``size`` of a block as geth reports it: the length of ``rlp([header, txs, ommers(, withdrawals)])``."""
    body: list[Any] = [header.rlp_fields(), [_tx_body_item(tx) for tx in transactions], []]
    if withdrawals:
        body.append([])
    return len(rlp_encode(body))


def _tx_body_item(raw: bytes) -> Any:
    # In a block body a legacy tx is an RLP list and a typed tx is a byte string.
    return rlp_decode(raw) if raw and raw[0] >= 0xC0 else bytes(raw)


# --- receipts and blooms --------------------------------------------------------------------------


def bloom_add(bloom: bytearray, value: bytes) -> None:
    """Set the three bloom bits of ``value`` (Yellow Paper 4.3.1, M3:2048)."""
    digest = keccak256(value)
    for i in (0, 2, 4):
        bit = ((digest[i] << 8) | digest[i + 1]) & 2047
        bloom[BLOOM_SIZE - 1 - bit // 8] |= 1 << (bit % 8)


def logs_bloom(logs: Sequence[Log]) -> bytes:
    """The 2048-bit bloom of a set of logs (addresses and topics)."""
    bloom = bytearray(BLOOM_SIZE)
    for log in logs:
        bloom_add(bloom, log.address)
        for topic in log.topics:
            bloom_add(bloom, topic)
    return bytes(bloom)


def bloom_or(blooms: Sequence[bytes]) -> bytes:
    """The block bloom: the union of its receipts' blooms."""
    value = 0
    for bloom in blooms:
        value |= int.from_bytes(bloom, "big")
    return value.to_bytes(BLOOM_SIZE, "big")


@dataclass(frozen=True, slots=True)
class ReceiptData:
    """A consensus receipt: status, cumulative gas and logs, plus the OP deposit fields.

    Spec: EIP-2718 (``type ++ rlp(...)`` for typed receipts), EIP-658 (status);
    ``specs/protocol/deposits.md`` ("Deposit Receipt"): ``depositNonce`` from Regolith and
    ``depositReceiptVersion`` (1) from Canyon.
    """

    tx_type: int
    status: int
    cumulative_gas_used: int
    logs: tuple[Log, ...] = ()
    deposit_nonce: int | None = None
    deposit_receipt_version: int | None = None

    def bloom(self) -> bytes:
        return logs_bloom(self.logs)

    def encode(self) -> bytes:
        """The receipt as it goes into the receipts trie."""
        body: list[Any] = [
            b"\x01" if self.status else b"",
            int_bytes(self.cumulative_gas_used),
            self.bloom(),
            [[log.address, list(log.topics), log.data] for log in self.logs],
        ]
        if self.deposit_nonce is not None:
            body.append(int_bytes(self.deposit_nonce))
            if self.deposit_receipt_version is not None:
                body.append(int_bytes(self.deposit_receipt_version))
        payload = rlp_encode(body)
        return payload if self.tx_type == LEGACY_TX_TYPE else bytes([self.tx_type]) + payload


def receipts_root(receipts: Sequence[ReceiptData]) -> bytes:
    """The header's ``receiptsRoot``: the ordered trie of the consensus receipts."""
    return ordered_trie_root([r.encode() for r in receipts])


def transactions_root(transactions: Sequence[bytes]) -> bytes:
    """The header's ``transactionsRoot``: the ordered trie of the EIP-2718 encodings."""
    return ordered_trie_root(list(transactions))


# --- execution payloads --------------------------------------------------------------------------


def _payload_bytes(value: Any, name: str, size: int | None = None) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        if size is not None and len(value) != size:
            raise HexJsonError(name, f"expected {size} bytes, got {len(value)}")
        return bytes(value)
    return parse_data(value, size, name)


def payload_data(payload: Mapping[str, Any], key: str, size: int | None = None) -> bytes:
    """``payload[key]`` as bytes: 0x-hex data, or bytes already (a payload built in-process)."""
    return _payload_bytes(payload.get(key), f"payload {key}", size)


def payload_quantity(payload: Mapping[str, Any], key: str, bits: int = 64) -> int:
    """``payload[key]`` as an unsigned ``bits``-bit int: a 0x-hex quantity, or an int already.

    The Engine API's quantities are ``uint64`` but for ``baseFeePerGas`` (``uint256``).
    """
    value = payload.get(key)
    out = value if isinstance(value, int) and not isinstance(value, bool) else parse_quantity(value, f"payload {key}")
    if not 0 <= out < (1 << bits):
        raise HexJsonError(f"payload {key}", "out of range")
    return out


def payload_transactions(payload: Mapping[str, Any]) -> list[bytes]:
    """The payload's raw transactions (hex, or bytes already)."""
    return [_payload_bytes(t, "payload transaction") for t in payload.get("transactions") or []]


def header_from_execution_payload(
    payload: Mapping[str, Any], *, withdrawals: bool, withdrawals_root: bool, blob_properties: bool,
    parent_beacon_block_root: bytes | None,
) -> Header:
    """The header an Engine API execution payload commits to: its hash must be ``blockHash``.

    The flags say which fields the payload's version carries: ``withdrawals`` (V2, Canyon; OP
    Stack withdrawals are always empty, so the header holds the empty root), ``withdrawals_root``
    (V4, Isthmus: the payload's ``withdrawalsRoot``, and the empty EIP-7685 ``requestsHash``),
    ``blob_properties`` (V3, Ecotone: blob gas and the parent beacon block root). Which version
    applies, and whether the withdrawals list is really empty, is the caller's rule.

    Raises :class:`HexJsonError` for a malformed field, ``ValueError`` for an over-long
    ``extraData``. Spec: Engine API ``ExecutionPayloadV1``-``V3``, ``specs/protocol/exec-engine.md``
    (``withdrawalsRoot``); op-service ``ExecutionPayload.CheckBlockHash``.
    """
    p = payload
    root = None
    if withdrawals:
        root = payload_data(p, "withdrawalsRoot", 32) if withdrawals_root else EMPTY_TRIE_ROOT
    return Header(
        parent_hash=payload_data(p, "parentHash", 32),
        number=payload_quantity(p, "blockNumber"),
        timestamp=payload_quantity(p, "timestamp"),
        gas_limit=payload_quantity(p, "gasLimit"),
        gas_used=payload_quantity(p, "gasUsed"),
        coinbase=payload_data(p, "feeRecipient", 20),
        state_root=payload_data(p, "stateRoot", 32),
        transactions_root=transactions_root(payload_transactions(p)),
        receipts_root=payload_data(p, "receiptsRoot", 32),
        logs_bloom=payload_data(p, "logsBloom", BLOOM_SIZE),
        extra_data=payload_data(p, "extraData"),
        mix_hash=payload_data(p, "prevRandao", 32),
        base_fee_per_gas=payload_quantity(p, "baseFeePerGas", 256),
        withdrawals_root=root,
        blob_gas_used=payload_quantity(p, "blobGasUsed") if blob_properties else None,
        excess_blob_gas=payload_quantity(p, "excessBlobGas") if blob_properties else None,
        parent_beacon_block_root=parent_beacon_block_root if blob_properties else None,
        requests_hash=EMPTY_REQUESTS_HASH if withdrawals_root else None,
    )


# --- gas and fee rules ----------------------------------------------------------------------------


def calc_base_fee(parent_gas_used: int, parent_gas_limit: int, parent_base_fee: int, *,
                  denominator: int, elasticity: int) -> int:
    """The next block's base fee (EIP-1559 ``calc_base_fee``, with a configurable denominator/elasticity)."""
    target = parent_gas_limit // elasticity
    if target == 0 or parent_gas_used == target:
        return parent_base_fee
    if parent_gas_used > target:
        delta = parent_base_fee * (parent_gas_used - target) // target // denominator
        return parent_base_fee + max(delta, 1)
    delta = parent_base_fee * (target - parent_gas_used) // target // denominator
    return parent_base_fee - delta


def calc_excess_blob_gas(parent_excess: int, parent_used: int, target_blob_gas: int) -> int:
    """EIP-4844 ``calc_excess_blob_gas`` (without the EIP-7918 reserve price of Osaka)."""
    return max(parent_excess + parent_used - target_blob_gas, 0)


def calldata_tokens(data: bytes) -> int:
    """EIP-7623 tokens: zero bytes count 1, non-zero bytes 4."""
    zeros = data.count(0)
    return zeros + 4 * (len(data) - zeros)


def intrinsic_gas(tx: Transaction) -> int:
    """Gas charged before execution (Yellow Paper 6.2; EIPs 2028, 2930, 3860, 7702)."""
    zeros = tx.data.count(0)
    gas = TX_BASE_GAS + TX_DATA_ZERO_GAS * zeros + TX_DATA_NONZERO_GAS * (len(tx.data) - zeros)
    if tx.to is None:
        gas += TX_CREATE_GAS + INITCODE_WORD_GAS * ((len(tx.data) + 31) // 32)
    for entry in tx.access_list:
        gas += ACCESS_LIST_ADDRESS_GAS + ACCESS_LIST_STORAGE_KEY_GAS * len(entry.storage_keys)
    gas += AUTHORIZATION_GAS * len(tx.authorization_list)
    return gas


def floor_data_gas(data: bytes) -> int:
    """EIP-7623 (Prague) minimum gas of a transaction: ``21000 + 10 * tokens``."""
    return TX_BASE_GAS + FLOOR_TOKEN_GAS * calldata_tokens(data)


def log_gas(log: Log) -> int:
    """Gas of emitting ``log`` (``LOG0..4``: 375 + 375 per topic + 8 per data byte)."""
    return LOG_GAS + LOG_TOPIC_GAS * len(log.topics) + LOG_DATA_GAS * len(log.data)


def effective_gas_price(tx: Transaction, base_fee: int) -> int:
    """What the sender pays per gas: the gas price, or ``min(maxFee, baseFee + tip)`` (EIP-1559)."""
    if tx.type in (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE):
        return tx.gas_price
    return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)


def max_gas_price(tx: Transaction) -> int:
    """The most a transaction may pay per gas: its gas price or fee cap."""
    return tx.gas_price if tx.type in (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE) else tx.max_fee_per_gas


# --- JSON shapes ----------------------------------------------------------------------------------


def access_list_json(tx: Transaction) -> list[dict[str, Any]]:
    return [{"address": h(e.address), "storageKeys": [h(k) for k in e.storage_keys]} for e in tx.access_list]


def transaction_json(
    tx: Transaction,
    *,
    tx_hash: bytes,
    sender: bytes,
    block_hash: bytes | None,
    block_number: int | None,
    index: int | None,
    base_fee: int | None,
) -> dict[str, Any]:
    """A signed transaction as geth's ``eth_getTransactionByHash`` returns it (types 0-4)."""
    out: dict[str, Any] = {
        "blockHash": h(block_hash) if block_hash is not None else None,
        "blockNumber": q(block_number) if block_number is not None else None,
        "from": h(sender),
        "gas": q(tx.gas),
        "hash": h(tx_hash),
        "input": h(tx.data),
        "nonce": q(tx.nonce),
        "to": h(tx.to) if tx.to is not None else None,
        "transactionIndex": q(index) if index is not None else None,
        "value": q(tx.value),
        "type": q(tx.type),
    }
    if tx.type in (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE):
        out["gasPrice"] = q(tx.gas_price)
    else:
        out["maxFeePerGas"] = q(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas)
        # geth reports the effective price once mined, the fee cap while pending
        out["gasPrice"] = q(effective_gas_price(tx, base_fee) if base_fee is not None else tx.max_fee_per_gas)
    if tx.type != LEGACY_TX_TYPE:
        out["accessList"] = access_list_json(tx)
        out["chainId"] = q(tx.chain_id or 0)
        out["yParity"] = q(tx.v)
    elif tx.chain_id is not None:
        out["chainId"] = q(tx.chain_id)
    if tx.type == BLOB_TX_TYPE:
        out["maxFeePerBlobGas"] = q(tx.max_fee_per_blob_gas)
        out["blobVersionedHashes"] = [h(x) for x in tx.blob_versioned_hashes]
    if tx.type == SET_CODE_TX_TYPE:
        out["authorizationList"] = [
            {"chainId": q(a.chain_id), "address": h(a.address), "nonce": q(a.nonce),
             "yParity": q(a.y_parity), "r": q(a.r), "s": q(a.s)}
            for a in tx.authorization_list
        ]
    out["v"] = q(tx.v)
    out["r"] = q(tx.r)
    out["s"] = q(tx.s)
    return out


def deposit_transaction_json(
    tx: DepositTx,
    *,
    tx_hash: bytes,
    nonce: int,
    block_hash: bytes | None,
    block_number: int | None,
    index: int | None,
    deposit_receipt_version: int | None,
) -> dict[str, Any]:
    """A deposit as op-geth returns it (``sourceHash``, ``mint``, ``isSystemTx``; zero signature)."""
    out: dict[str, Any] = {
        "blockHash": h(block_hash) if block_hash is not None else None,
        "blockNumber": q(block_number) if block_number is not None else None,
        "from": h(tx.from_address),
        "gas": q(tx.gas),
        "gasPrice": "0x0",
        "hash": h(tx_hash),
        "input": h(tx.data),
        "nonce": q(nonce),
        "to": h(tx.to) if tx.to is not None else None,
        "transactionIndex": q(index) if index is not None else None,
        "value": q(tx.value),
        "type": q(DEPOSIT_TX_TYPE),
        "v": "0x0",
        "r": "0x0",
        "s": "0x0",
        "sourceHash": h(tx.source_hash),
        "mint": q(tx.mint),
        "isSystemTx": tx.is_system_tx,
    }
    if deposit_receipt_version is not None:
        out["depositReceiptVersion"] = q(deposit_receipt_version)
    return out


def log_json(log: Log, *, block_hash: bytes, block_number: int, block_timestamp: int, tx_hash: bytes,
             tx_index: int, log_index: int, removed: bool = False) -> dict[str, Any]:
    """A located log as ``eth_getLogs`` and receipts return it."""
    return {
        "address": h(log.address),
        "topics": [h(t) for t in log.topics],
        "data": h(log.data),
        "blockNumber": q(block_number),
        "blockHash": h(block_hash),
        "blockTimestamp": q(block_timestamp),
        "transactionHash": h(tx_hash),
        "transactionIndex": q(tx_index),
        "logIndex": q(log_index),
        "removed": removed,
    }


def receipt_json(receipt: Any, *, block_hash: bytes, block_number: int, block_timestamp: int, tx_hash: bytes,
                 tx_index: int, tx_type: int, sender: bytes, to: bytes | None, contract_address: bytes | None,
                 gas_used: int, effective_gas_price: int, first_log_index: int) -> dict[str, Any]:
    """A receipt as ``eth_getTransactionReceipt``/``eth_getBlockReceipts`` return it (go-ethereum's
    fields; callers add their chain's extras: blob gas on L1, deposit fields on L2)."""
    return {
        "blockHash": h(block_hash),
        "blockNumber": q(block_number),
        "contractAddress": h(contract_address) if contract_address is not None else None,
        "cumulativeGasUsed": q(receipt.cumulative_gas_used),
        "effectiveGasPrice": q(effective_gas_price),
        "from": h(sender),
        "gasUsed": q(gas_used),
        "logs": [log_json(entry, block_hash=block_hash, block_number=block_number, block_timestamp=block_timestamp,
                          tx_hash=tx_hash, tx_index=tx_index, log_index=first_log_index + i)
                 for i, entry in enumerate(receipt.logs)],
        "logsBloom": h(receipt.bloom()),
        "status": q(receipt.status),
        "to": h(to) if to is not None else None,
        "transactionHash": h(tx_hash),
        "transactionIndex": q(tx_index),
        "type": q(tx_type),
    }
