"""Deposit transactions (type ``0x7E``), their source hashes, and user deposits from L1 logs.

Spec: ``specs/protocol/deposits.md`` ("The Deposited Transaction Type", "Source hash
computation", "Deposit Contract"); op-node ``op-node/rollup/derive/deposit_log.go``,
``deposit_source.go``; kona ``crates/protocol/protocol/src/deposits.rs``.

A deposit is a flat RLP list of byte strings: it is decoded with
:func:`~opfleet.protocol.rlp_codec.rlp_decode_flat_list`, which reports each field's offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.abi import abi_encode_bytes, abi_word
from opfleet.protocol.crypto import ZERO_ADDRESS, ZERO_HASH, keccak256
from opfleet.protocol.log import Log
from opfleet.protocol.rlp_codec import int_bytes, rlp_decode_flat_list, rlp_encode

DEPOSIT_TX_TYPE = 0x7E

DEPOSIT_EVENT_TOPIC = bytes.fromhex(
    "b3813568d9991fc951961fcb4c784893574240a28925604d09fc577c55bb7c32"
)
"""``keccak256("TransactionDeposited(address,address,uint256,bytes)")``."""

DEPOSIT_EVENT_VERSION_0 = ZERO_HASH

L1_INFO_DEPOSITOR = bytes.fromhex("deaddeaddeaddeaddeaddeaddeaddeaddead0001")
"""Sender of the L1-info deposit and of the "set fork" upgrade calls (spec: deposits.md)."""

OPTIMISTIC_BLOCK_DEPOSITOR = bytes.fromhex("deaddeaddeaddeaddeaddeaddeaddeaddead0002")
"""Sender of the interop invalidated-block system deposit."""

USER_DEPOSIT_SOURCE_DOMAIN = 0
L1_INFO_SOURCE_DOMAIN = 1
UPGRADE_SOURCE_DOMAIN = 2
AFTER_FORCE_INCLUDE_SOURCE_DOMAIN = 3
INVALIDATED_BLOCK_SOURCE_DOMAIN = 4

INVALIDATED_BLOCK_DEPOSIT_GAS = 36_000
MIN_OPAQUE_DATA_LENGTH = 32 + 32 + 8 + 1

_UINT256_MAX = (1 << 256) - 1
_UINT64_MAX = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class DepositTx:
    """A deposited transaction. ``to`` is None for a contract creation.

    Spec: ``specs/protocol/deposits.md`` ("The Deposited Transaction Type"). Encoded as
    ``0x7E ++ rlp([sourceHash, from, to, mint, value, gas, isSystemTx, data])``.
    """

    source_hash: bytes
    from_address: bytes
    to: bytes | None
    mint: int
    value: int
    gas: int
    is_system_tx: bool
    data: bytes

    def __post_init__(self) -> None:
        if len(self.source_hash) != 32:
            raise ValueError("source_hash must be 32 bytes")
        if len(self.from_address) != 20:
            raise ValueError("from_address must be 20 bytes")
        if self.to is not None and len(self.to) != 20:
            raise ValueError("to must be 20 bytes or None")
        limits = (("mint", _UINT256_MAX), ("value", _UINT256_MAX), ("gas", _UINT64_MAX))
        for name, maximum in limits:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
                raise ValueError(f"{name} must be an integer in 0..{maximum}")

    def encode(self) -> bytes:
        """The EIP-2718 encoding: ``0x7E ++ rlp(fields)``. Spec: deposits.md."""
        return encode_deposit_tx(self)

    def tx_hash(self) -> bytes:
        """``keccak256`` of the EIP-2718 encoding (the L2 transaction hash)."""
        return keccak256(self.encode())

    def to_json(self) -> dict[str, Any]:
        """Field names as in the L2 JSON-RPC transaction object; ints stay plain ints."""
        return {
            "type": DEPOSIT_TX_TYPE,
            "sourceHash": "0x" + self.source_hash.hex(),
            "from": "0x" + self.from_address.hex(),
            "to": None if self.to is None else "0x" + self.to.hex(),
            "mint": self.mint,
            "value": self.value,
            "gas": self.gas,
            "isSystemTx": self.is_system_tx,
            "input": "0x" + self.data.hex(),
        }


def encode_deposit_tx(tx: DepositTx) -> bytes:
    """Encode a deposit transaction. Spec: ``specs/protocol/deposits.md``."""
    fields = [
        tx.source_hash,
        tx.from_address,
        b"" if tx.to is None else tx.to,
        int_bytes(tx.mint),
        int_bytes(tx.value),
        int_bytes(tx.gas),
        b"\x01" if tx.is_system_tx else b"",
        tx.data,
    ]
    return bytes([DEPOSIT_TX_TYPE]) + rlp_encode(fields)


def decode_deposit_tx(raw: bytes) -> DepositTx:
    """Decode ``0x7E ++ rlp([...])`` strictly (canonical RLP, exact field sizes, no trailing bytes).

    Spec: ``specs/protocol/deposits.md`` ("The Deposited Transaction Type").
    """
    if not raw:
        raise DecodeError("empty deposit transaction", offset=0)
    if raw[0] != DEPOSIT_TX_TYPE:
        raise DecodeError(f"not a deposit transaction: type 0x{raw[0]:02x}", offset=0)
    try:
        items = rlp_decode_flat_list(memoryview(raw)[1:])
    except DecodeError as exc:
        raise exc.at(1) from None
    if len(items) != 8:
        raise DecodeError(f"deposit transaction has {len(items)} fields, want 8", offset=1)

    def field(index: int) -> bytes:
        return items[index][1]

    def where(index: int) -> int:
        return 1 + items[index][0]

    for index, name, sizes in ((0, "source hash", (32,)), (1, "from", (20,)), (2, "to", (0, 20))):
        if len(field(index)) not in sizes:
            raise DecodeError(f"deposit {name} has {len(field(index))} bytes", offset=where(index))
    is_system = field(6)
    if is_system not in (b"", b"\x01"):
        raise DecodeError("deposit isSystemTx is not a boolean", offset=where(6))
    return DepositTx(
        source_hash=field(0),
        from_address=field(1),
        to=field(2) or None,
        mint=_decode_uint(field(3), 32, "mint", where(3)),
        value=_decode_uint(field(4), 32, "value", where(4)),
        gas=_decode_uint(field(5), 8, "gas", where(5)),
        is_system_tx=is_system == b"\x01",
        data=field(7),
    )


# --- source hashes ----------------------------------------------------------------------------


def _source_hash(domain: int, inner: bytes) -> bytes:
    return keccak256(domain.to_bytes(32, "big") + inner)


def user_deposit_source_hash(l1_block_hash: bytes, log_index: int) -> bytes:
    """Domain 0: ``keccak256(u256(0) ++ keccak256(l1BlockHash ++ u256(logIndex)))``.

    Spec: ``specs/protocol/deposits.md`` ("Source hash computation"); ``log_index`` counts all
    logs of the L1 block.
    """
    inner = keccak256(_hash32(l1_block_hash) + log_index.to_bytes(32, "big"))
    return _source_hash(USER_DEPOSIT_SOURCE_DOMAIN, inner)


def l1_info_source_hash(l1_block_hash: bytes, seq_number: int) -> bytes:
    """Domain 1: ``keccak256(u256(1) ++ keccak256(l1BlockHash ++ u256(seqNumber)))``.

    Spec: ``specs/protocol/deposits.md`` ("Source hash computation").
    """
    inner = keccak256(_hash32(l1_block_hash) + seq_number.to_bytes(32, "big"))
    return _source_hash(L1_INFO_SOURCE_DOMAIN, inner)


def upgrade_source_hash(intent: str) -> bytes:
    """Domain 2: ``keccak256(u256(2) ++ keccak256(utf8(intent)))``.

    Spec: ``specs/protocol/deposits.md`` ("Source hash computation", upgrade-deposited).
    """
    return _source_hash(UPGRADE_SOURCE_DOMAIN, keccak256(intent.encode("utf-8")))


def after_force_include_source_hash(l1_block_hash: bytes, seq_number: int) -> bytes:
    """Domain 3 (interop draft, "DepositsComplete"): shaped like the L1-info source hash.

    Spec: ``specs/interop/derivation.md``; op-node ``AfterForceIncludeSource``.
    """
    inner = keccak256(_hash32(l1_block_hash) + seq_number.to_bytes(32, "big"))
    return _source_hash(AFTER_FORCE_INCLUDE_SOURCE_DOMAIN, inner)


def invalidated_block_source_hash(output_root: bytes) -> bytes:
    """Domain 4: ``keccak256(u256(4) ++ outputRoot)`` of the replaced block (interop).

    op-node ``InvalidatedBlockSource``: the inner value is the output root itself, not a hash of it.
    """
    return _source_hash(INVALIDATED_BLOCK_SOURCE_DOMAIN, _hash32(output_root))


def invalidated_block_deposit(output_root_preimage: bytes) -> DepositTx:
    """The system deposit declaring an interop block replacement.

    op-node ``InvalidatedBlockSourceDepositTx``: from ``0xdead…0002`` to the zero address,
    gas 36,000, data = the replaced block's 128-byte output-root preimage.
    """
    if len(output_root_preimage) != 128:
        raise ValueError("output root preimage must be 128 bytes")
    return DepositTx(
        source_hash=invalidated_block_source_hash(keccak256(output_root_preimage)),
        from_address=OPTIMISTIC_BLOCK_DEPOSITOR,
        to=ZERO_ADDRESS,
        mint=0,
        value=0,
        gas=INVALIDATED_BLOCK_DEPOSIT_GAS,
        is_system_tx=False,
        data=bytes(output_root_preimage),
    )


# --- user deposits from TransactionDeposited logs ---------------------------------------------


def deposit_log(
    portal: bytes,
    from_address: bytes,
    to: bytes | None,
    *,
    mint: int = 0,
    value: int = 0,
    gas_limit: int = 100_000,
    data: bytes = b"",
) -> Log:
    """The ``TransactionDeposited`` log ``portal`` emits (version 0), the inverse of :func:`deposit_from_log`.

    ``to`` is None for a contract creation. Spec: ``specs/protocol/deposits.md``, "Deposit
    Contract": the opaque data packs ``mint ++ value ++ gasLimit (u64) ++ isCreation ++ data``.
    """
    opaque = (mint.to_bytes(32, "big") + value.to_bytes(32, "big") + gas_limit.to_bytes(8, "big")
              + (b"\x01" if to is None else b"\x00") + bytes(data))
    topics = (DEPOSIT_EVENT_TOPIC, abi_word(from_address), abi_word(to if to is not None else ZERO_ADDRESS),
              DEPOSIT_EVENT_VERSION_0)
    return Log(portal, topics, abi_encode_bytes(opaque))


def deposit_from_log(log: Log, l1_block_hash: bytes, log_index: int) -> DepositTx:
    """Decode one ``TransactionDeposited`` log into a user deposit.

    Spec: ``specs/protocol/deposits.md`` ("Deposit Contract"); op-node ``UnmarshalDepositLogEvent``.
    Checks, in op-node's order: 4 topics, topic 0, data >= 64 bytes and a multiple of 32, offset
    word = 32, opaque length L with ``L <= len - 64 < L + 32`` (minimal padding), version topic 0,
    opaque data >= 73 bytes. Like op-node, the padding bytes' values are not checked. Offsets in
    the :class:`DecodeError` are into ``log.data``; a malformed deposit is a critical error for
    derivation (deposits can never be skipped).
    """
    topics, data = log.topics, log.data
    if len(topics) != 4:
        raise DecodeError(
            f"deposit log needs 4 topics (event, from, to, version), got {len(topics)}"
        )
    if topics[0] != DEPOSIT_EVENT_TOPIC:
        raise DecodeError(f"not a TransactionDeposited event: topic 0x{topics[0].hex()}")
    if len(data) < 64:
        message = f"deposit log data too short for the bytes header ({len(data)} bytes)"
        raise DecodeError(message, offset=0)
    if len(data) % 32:
        message = f"deposit log data is not a multiple of 32 bytes ({len(data)} bytes)"
        raise DecodeError(message, offset=len(data))
    if int.from_bytes(data[0:32], "big") != 32:
        raise DecodeError("deposit log opaqueData offset is not 32", offset=0)
    length = int.from_bytes(data[32:64], "big")
    room = len(data) - 64
    if length > room or length + 32 <= room:
        message = f"deposit log opaqueData length {length} does not match {room} bytes of data"
        raise DecodeError(message, offset=32)
    if topics[3] != DEPOSIT_EVENT_VERSION_0:
        raise DecodeError(f"unknown deposit version 0x{topics[3].hex()}")
    opaque = data[64 : 64 + length]
    if len(opaque) < MIN_OPAQUE_DATA_LENGTH:
        message = f"deposit opaqueData too short ({len(opaque)} bytes, want >= 73)"
        raise DecodeError(message, offset=64)
    is_creation = opaque[72] != 0
    return DepositTx(
        source_hash=user_deposit_source_hash(l1_block_hash, log_index),
        from_address=bytes(topics[1][12:]),
        to=None if is_creation else bytes(topics[2][12:]),
        mint=int.from_bytes(opaque[0:32], "big"),
        value=int.from_bytes(opaque[32:64], "big"),
        gas=int.from_bytes(opaque[64:72], "big"),
        is_system_tx=False,
        data=bytes(opaque[73:]),
    )


def user_deposits(
    receipts_logs: Iterable[tuple[int, Iterable[Log]]],
    deposit_contract: bytes,
    l1_block_hash: bytes,
) -> list[DepositTx]:
    """All user deposits of one L1 block, in log order.

    Spec: ``specs/protocol/deposits.md`` ("Deposit Contract"), derivation.md ("Deriving the
    Transaction List"). ``receipts_logs`` must be *every* receipt of the block, in order, as
    ``(status, logs)``: the source hash uses the log's index among all logs of the block.
    Failed receipts (status != 1) are skipped. A log that carries its own ``log_index`` must
    agree with that count, else the receipts were incomplete (:class:`DecodeError`).
    """
    deposits = []
    index = 0
    for status, logs in receipts_logs:
        for log in logs:
            if log.log_index is not None and log.log_index != index:
                raise DecodeError(
                    f"log index {log.log_index} where {index} was expected: receipts are incomplete"
                )
            if status == 1 and log.address == deposit_contract and log.topics:
                if log.topics[0] == DEPOSIT_EVENT_TOPIC:
                    deposits.append(deposit_from_log(log, l1_block_hash, index))
            index += 1
    return deposits


# --- helpers ----------------------------------------------------------------------------------


def _hash32(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError("hash must be 32 bytes")
    return bytes(value)


def _decode_uint(raw: bytes, max_size: int, name: str, offset: int) -> int:
    if len(raw) > max_size:
        raise DecodeError(f"deposit {name} is longer than {max_size} bytes", offset=offset)
    if raw[:1] == b"\x00":
        raise DecodeError(f"deposit {name} has a leading zero byte", offset=offset)
    return int.from_bytes(raw, "big")
