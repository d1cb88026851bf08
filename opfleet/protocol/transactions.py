"""EIP-2718 transaction envelopes: legacy, access-list, dynamic-fee, blob and set-code.

Spec: EIP-2718 (typed envelope), EIP-155 (legacy replay protection), EIP-2930 (type 1),
EIP-1559 (type 2), EIP-4844 (type 3), EIP-7702 (type 4). Deposits (``0x7E``) live elsewhere.

Decoding follows go-ethereum's ``Transaction.UnmarshalBinary``: canonical RLP only (no
leading-zero integers, minimal length prefixes), exactly the fields of the type, fixed-size
addresses and hashes, ``uint64`` for nonce and gas and 256-bit bounds where geth uses
``uint256`` (every field of blob and set-code transactions). Because only canonical input is
accepted, :func:`encode_transaction` reproduces the decoded bytes exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from operator import attrgetter
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.crypto import SECP256K1_N, keccak256, recover_address, sign_hash
from opfleet.protocol.rlp_codec import int_bytes, rlp_decode_list, rlp_encode

LEGACY_TX_TYPE = 0
ACCESS_LIST_TX_TYPE = 1
DYNAMIC_FEE_TX_TYPE = 2
BLOB_TX_TYPE = 3
SET_CODE_TX_TYPE = 4
DEPOSIT_TX_TYPE = 0x7E

TX_TYPES = (
    LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE, BLOB_TX_TYPE, SET_CODE_TX_TYPE
)
SECP256K1_HALF_N = SECP256K1_N // 2

ADDRESS_LENGTH = 20
HASH_LENGTH = 32

# Integer widths as geth declares them: uint64 fields, *big.Int fields (unbounded) and
# uint256 fields (at most 32 bytes).
_U64 = 8
_BIG = None
_U256 = 32


@dataclass(frozen=True, slots=True)
class AccessTuple:
    """One EIP-2930 access-list entry: an address and the storage keys it touches."""

    address: bytes
    storage_keys: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Authorization:
    """One EIP-7702 signed authorization ``[chain_id, address, nonce, y_parity, r, s]``."""

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed (or, with ``v = r = s = 0``, unsigned) EIP-2718 transaction.

    ``type`` selects which fields are on the wire. For legacy transactions ``v`` is the raw
    ``v`` (27/28, or ``2 * chain_id + 35/36`` under EIP-155) and ``chain_id`` is derived from it
    (``None`` when unprotected); for typed transactions ``v`` is the y parity (0 or 1).
    ``gas_price`` is used by types 0 and 1, the two EIP-1559 fee caps by types 2, 3 and 4.
    ``to`` is ``None`` for contract creation (types 0-2 only).
    """

    type: int = DYNAMIC_FEE_TX_TYPE
    chain_id: int | None = None
    nonce: int = 0
    gas_price: int = 0
    max_priority_fee_per_gas: int = 0
    max_fee_per_gas: int = 0
    gas: int = 0
    to: bytes | None = None
    value: int = 0
    data: bytes = b""
    access_list: tuple[AccessTuple, ...] = ()
    max_fee_per_blob_gas: int = 0
    blob_versioned_hashes: tuple[bytes, ...] = ()
    authorization_list: tuple[Authorization, ...] = ()
    v: int = 0
    r: int = 0
    s: int = 0

    @property
    def y_parity(self) -> int:
        """The signature's y parity (0 or 1), derived from ``v`` for legacy transactions."""
        return _y_parity(self)

    @property
    def is_protected(self) -> bool:
        """Whether the signature commits to a chain id (always, except legacy ``v`` 27/28)."""
        return self.type != LEGACY_TX_TYPE or self.v not in (27, 28)


# --- decoding ---------------------------------------------------------------------------------


def decode_transaction(raw: bytes) -> Transaction:
    """Decode one EIP-2718 transaction (legacy RLP list, or ``type ++ rlp(fields)``).

    Raises :class:`DecodeError` for unknown types (including deposits, ``0x7E``), non-canonical
    RLP or integers, wrong field counts or sizes, and trailing bytes.

    Spec: EIP-2718 "Transaction Type"; go-ethereum ``Transaction.UnmarshalBinary``.
    """
    raw = bytes(raw)
    if not raw:
        raise DecodeError("empty transaction", offset=0)
    first = raw[0]
    if first >= 0xC0:
        return _LAYOUTS[LEGACY_TX_TYPE].decode(_rlp_list(raw, 0))
    if first >= 0x80:
        raise DecodeError("legacy transaction must be an RLP list", offset=0)
    if first == LEGACY_TX_TYPE or first not in _LAYOUTS:
        raise DecodeError(f"unsupported transaction type {first:#04x}", offset=0)
    if len(raw) == 1:
        raise DecodeError("typed transaction too short", offset=1)
    if raw[1] < 0xC0:
        raise DecodeError("typed transaction payload must be an RLP list", offset=1)
    return _LAYOUTS[first].decode(_rlp_list(raw[1:], 1))


def _rlp_list(data: bytes, base: int) -> list[Any]:
    try:
        return rlp_decode_list(data)
    except DecodeError as exc:
        raise DecodeError(f"malformed RLP: {exc.reason}", offset=base + (exc.offset or 0)) from None


def _expect_fields(fields: list[Any], count: int, what: str) -> None:
    if len(fields) != count:
        raise DecodeError(f"{what} must have {count} fields, got {len(fields)}")


def _uint(item: Any, name: str, max_bytes: int | None) -> int:
    if not isinstance(item, bytes):
        raise DecodeError(f"{name}: expected an integer, got a list")
    if item[:1] == b"\x00":
        raise DecodeError(f"{name}: non-canonical integer (leading zero bytes)")
    if max_bytes is not None and len(item) > max_bytes:
        raise DecodeError(f"{name}: integer wider than {max_bytes * 8} bits")
    return int.from_bytes(item, "big")


def _bytes(item: Any, name: str) -> bytes:
    if not isinstance(item, bytes):
        raise DecodeError(f"{name}: expected a byte string, got a list")
    return item


def _fixed(item: Any, size: int, name: str) -> bytes:
    value = _bytes(item, name)
    if len(value) != size:
        raise DecodeError(f"{name}: expected {size} bytes, got {len(value)}")
    return value


def _optional_address(item: Any) -> bytes | None:
    value = _bytes(item, "to")
    if not value:
        return None
    if len(value) != ADDRESS_LENGTH:
        raise DecodeError(f"to: expected {ADDRESS_LENGTH} bytes, got {len(value)}")
    return value


def _list(item: Any, name: str) -> list[Any]:
    if not isinstance(item, list):
        raise DecodeError(f"{name}: expected a list, got a byte string")
    return item


def decode_access_list(item: Any) -> tuple[AccessTuple, ...]:
    """Convert a decoded RLP access list ``[[address, [key, ...]], ...]`` (EIP-2930)."""
    entries = []
    for entry in _list(item, "access list"):
        entry = _list(entry, "access list entry")
        if len(entry) != 2:
            raise DecodeError(f"access list entry must have 2 fields, got {len(entry)}")
        address = _fixed(entry[0], ADDRESS_LENGTH, "access list address")
        keys = tuple(_fixed(k, HASH_LENGTH, "storage key") for k in _list(entry[1], "storage keys"))
        entries.append(AccessTuple(address, keys))
    return tuple(entries)


def decode_authorization_list(item: Any) -> tuple[Authorization, ...]:
    """Convert a decoded RLP EIP-7702 authorization list (geth field widths)."""
    auths = []
    for entry in _list(item, "authorization list"):
        entry = _list(entry, "authorization")
        if len(entry) != 6:
            raise DecodeError(f"authorization must have 6 fields, got {len(entry)}")
        auths.append(
            Authorization(
                chain_id=_uint(entry[0], "authorization chain id", _U256),
                address=_fixed(entry[1], ADDRESS_LENGTH, "authorization address"),
                nonce=_uint(entry[2], "authorization nonce", _U64),
                y_parity=_uint(entry[3], "authorization y parity", 1),
                r=_uint(entry[4], "authorization r", _U256),
                s=_uint(entry[5], "authorization s", _U256),
            )
        )
    return tuple(auths)


def access_list_rlp(access_list: tuple[AccessTuple, ...]) -> list[Any]:
    """The RLP structure of an access list (EIP-2930), for :func:`rlp_encode`."""
    return [[entry.address, list(entry.storage_keys)] for entry in access_list]


def authorization_list_rlp(auths: tuple[Authorization, ...]) -> list[Any]:
    """The RLP structure of an EIP-7702 authorization list, for :func:`rlp_encode`."""
    return [
        [int_bytes(a.chain_id), a.address, int_bytes(a.nonce), int_bytes(a.y_parity),
         int_bytes(a.r), int_bytes(a.s)]
        for a in auths
    ]


def _legacy_chain_id(v: int) -> int | None:
    return (v - 35) // 2 if v >= 35 else None


# --- the wire layout of each type -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    """One payload field before the signature: the :class:`Transaction` attribute it holds,
    how a decoded RLP item is checked into it and how it is written back for RLP."""

    attr: str
    read: Callable[[Any], Any]
    write: Callable[[Any], Any]


def _uint_field(attr: str, name: str, max_bytes: int | None) -> _Field:
    return _Field(attr, lambda item: _uint(item, name, max_bytes), int_bytes)


def _typed_chain_id(value: int | None) -> bytes:
    if value is None:
        raise ValueError("typed transactions need a chain id")
    return int_bytes(value)


def _required_to(to: bytes | None) -> bytes:
    if to is None:
        raise ValueError("blob and set-code transactions cannot create contracts")
    return to


_NONCE = _uint_field("nonce", "nonce", _U64)
_GAS = _uint_field("gas", "gas", _U64)
_DATA = _Field("data", lambda item: _bytes(item, "data"), bytes)
_ACCESS_LIST = _Field("access_list", decode_access_list, access_list_rlp)
_OPTIONAL_TO = _Field("to", _optional_address, lambda to: b"" if to is None else to)
_TO = _Field("to", lambda item: _fixed(item, ADDRESS_LENGTH, "to"), _required_to)


def _chain_id(width: int | None) -> _Field:
    return _Field("chain_id", lambda item: _uint(item, "chain id", width), _typed_chain_id)


def _fee_market(width: int | None, to: _Field) -> tuple[_Field, ...]:
    """``[chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas, to, value, data,
    access_list]``: the EIP-1559 payload that blob and set-code transactions extend."""
    return (
        _chain_id(width), _NONCE,
        _uint_field("max_priority_fee_per_gas", "max priority fee", width),
        _uint_field("max_fee_per_gas", "max fee", width),
        _GAS, to, _uint_field("value", "value", width), _DATA, _ACCESS_LIST,
    )


_TX_FIELDS = tuple(f.name for f in dataclass_fields(Transaction))
_TX_DEFAULTS: list[Any] = [f.default for f in dataclass_fields(Transaction)]
_TYPE, _CHAIN_ID, _V, _R, _S = map(_TX_FIELDS.index, ("type", "chain_id", "v", "r", "s"))


class _Layout:
    """One transaction type on the wire: its fields before the signature, in order, then ``v``
    (the y parity for typed transactions), ``r`` and ``s`` of ``signature_width`` bytes at most.

    Decoding builds the :class:`Transaction` positionally and encoding reads the fields with one
    ``attrgetter``: this runs for every transaction a node decodes or a batcher re-encodes.
    """

    __slots__ = ("name", "tx_type", "fields", "signature_width", "_reads", "_writes", "_values")

    def __init__(self, name: str, tx_type: int, fields: tuple[_Field, ...],
                 signature_width: int | None) -> None:
        self.name = name
        self.tx_type = tx_type
        self.fields = fields
        self.signature_width = signature_width
        self._reads = tuple((_TX_FIELDS.index(field.attr), field.read) for field in fields)
        self._writes = tuple(field.write for field in fields)
        self._values = attrgetter(*(field.attr for field in fields))

    def decode(self, f: list[Any]) -> Transaction:
        """Check the decoded RLP fields ``f`` into a transaction of this type."""
        _expect_fields(f, len(self.fields) + 3, self.name)
        args = _TX_DEFAULTS.copy()
        args[_TYPE] = self.tx_type
        for (position, read), item in zip(self._reads, f):
            args[position] = read(item)
        width = self.signature_width
        if self.tx_type == LEGACY_TX_TYPE:
            v = _uint(f[-3], "v", width)
            args[_CHAIN_ID] = _legacy_chain_id(v)
        else:
            v = _uint(f[-3], "y parity", width)
        args[_V] = v
        args[_R] = _uint(f[-2], "r", width)
        args[_S] = _uint(f[-1], "s", width)
        return Transaction(*args)

    def encode(self, tx: Transaction) -> list[Any]:
        """The RLP structure of ``tx``'s fields before the signature."""
        return [write(value) for write, value in zip(self._writes, self._values(tx))]


_LAYOUTS = {
    layout.tx_type: layout
    for layout in (
        # EIP-155: [nonce, gasPrice, gas, to, value, data, v, r, s]
        _Layout("legacy transaction", LEGACY_TX_TYPE, (
            _NONCE, _uint_field("gas_price", "gas price", _BIG), _GAS, _OPTIONAL_TO,
            _uint_field("value", "value", _BIG), _DATA,
        ), _BIG),
        # EIP-2930: [chainId, nonce, gasPrice, gas, to, value, data, accessList, yParity, r, s]
        _Layout("access-list transaction", ACCESS_LIST_TX_TYPE, (
            _chain_id(_BIG), _NONCE, _uint_field("gas_price", "gas price", _BIG), _GAS,
            _OPTIONAL_TO, _uint_field("value", "value", _BIG), _DATA, _ACCESS_LIST,
        ), _BIG),
        # EIP-1559
        _Layout("dynamic-fee transaction", DYNAMIC_FEE_TX_TYPE, _fee_market(_BIG, _OPTIONAL_TO),
                _BIG),
        # EIP-4844, the canonical (block) form only: the network wrapper with sidecars is not
        # a transaction
        _Layout("blob transaction", BLOB_TX_TYPE, _fee_market(_U256, _TO) + (
            _uint_field("max_fee_per_blob_gas", "max fee per blob gas", _U256),
            _Field(
                "blob_versioned_hashes",
                lambda item: tuple(
                    _fixed(h, HASH_LENGTH, "blob versioned hash")
                    for h in _list(item, "blob hashes")
                ),
                list,
            ),
        ), _U256),
        # EIP-7702
        _Layout("set-code transaction", SET_CODE_TX_TYPE, _fee_market(_U256, _TO) + (
            _Field("authorization_list", decode_authorization_list, authorization_list_rlp),
        ), _U256),
    )
}


# --- encoding ---------------------------------------------------------------------------------


def _unsigned_fields(tx: Transaction) -> list[Any]:
    """The payload fields of ``tx`` before the signature, in wire order."""
    layout = _LAYOUTS.get(tx.type)
    if layout is None:
        raise ValueError(f"unsupported transaction type {tx.type}")
    return layout.encode(tx)


def encode_transaction(tx: Transaction) -> bytes:
    """Encode ``tx`` as EIP-2718 bytes (the inverse of :func:`decode_transaction`).

    Spec: EIP-2718 "Transaction Type" (legacy = bare RLP list, typed = ``type ++ rlp``).
    """
    fields = _unsigned_fields(tx) + [int_bytes(tx.v), int_bytes(tx.r), int_bytes(tx.s)]
    payload = rlp_encode(fields)
    if tx.type == LEGACY_TX_TYPE:
        return payload
    return bytes([tx.type]) + payload


def transaction_hash(raw: bytes) -> bytes:
    """The transaction hash: keccak256 of the EIP-2718 encoding (EIP-2718)."""
    return keccak256(raw)


def signing_hash(tx: Transaction) -> bytes:
    """The hash a sender signs.

    Legacy: ``keccak(rlp([nonce, gasPrice, gas, to, value, data]))`` without a chain id, or with
    ``chain_id, 0, 0`` appended under EIP-155; typed: ``keccak(type ++ rlp(unsigned fields))``.

    Spec: EIP-155 "Specification"; EIP-2930/1559/4844/7702 signature hash definitions.
    """
    fields = _unsigned_fields(tx)
    if tx.type == LEGACY_TX_TYPE:
        if tx.chain_id is not None:
            fields += [int_bytes(tx.chain_id), b"", b""]
        return keccak256(rlp_encode(fields))
    return keccak256(bytes([tx.type]) + rlp_encode(fields))


def _y_parity(tx: Transaction) -> int:
    if tx.type != LEGACY_TX_TYPE:
        return tx.v
    if tx.v in (27, 28):
        return tx.v - 27
    if tx.v >= 35:
        return (tx.v - 35) % 2
    return tx.v  # not a valid legacy v; recovery rejects it


def recover_sender(tx: Transaction) -> bytes:
    """Recover the 20-byte sender address from the signature (homestead rules: low s).

    Raises :class:`DecodeError` when the signature is malformed or does not recover.

    Spec: EIP-155 / EIP-2 (``s <= secp256k1n / 2``); go-ethereum ``types.Sender``.
    """
    if tx.type == LEGACY_TX_TYPE and not (tx.v in (27, 28) or tx.v >= 35):
        raise DecodeError(f"invalid legacy signature v {tx.v}")
    y = _y_parity(tx)
    if y not in (0, 1):
        raise DecodeError(f"invalid signature y parity {y}")
    if not (0 < tx.r < SECP256K1_N and 0 < tx.s <= SECP256K1_HALF_N):
        raise DecodeError("signature r or s out of range")
    try:
        return recover_address(signing_hash(tx), tx.r, tx.s, y)
    except ValueError as exc:
        raise DecodeError(f"signature does not recover: {exc}") from None


def sign_transaction(tx: Transaction, private_key: bytes) -> Transaction:
    """Return ``tx`` signed with ``private_key``.

    A legacy transaction with ``chain_id=None`` gets a pre-EIP-155 ``v`` (27/28), otherwise
    ``v = 2 * chain_id + 35 + y``; typed transactions get ``v = y_parity``.

    Spec: EIP-155 "Specification"; EIP-2718 typed signatures.
    """
    r, s, y = sign_hash(signing_hash(tx), private_key)
    if tx.type == LEGACY_TX_TYPE:
        v = 27 + y if tx.chain_id is None else 2 * tx.chain_id + 35 + y
    else:
        v = y
    return replace(tx, v=v, r=r, s=s)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def tx_to_json(tx: Transaction) -> dict[str, Any]:
    """Return the fields of ``tx`` that its type carries, as 0x-hex strings and plain ints."""
    out: dict[str, Any] = {"type": tx.type}
    if tx.chain_id is not None:
        out["chain_id"] = tx.chain_id
    out["nonce"] = tx.nonce
    if tx.type in (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE):
        out["gas_price"] = tx.gas_price
    else:
        out["max_priority_fee_per_gas"] = tx.max_priority_fee_per_gas
        out["max_fee_per_gas"] = tx.max_fee_per_gas
    out["gas"] = tx.gas
    out["to"] = _hex(tx.to) if tx.to is not None else None
    out["value"] = tx.value
    out["data"] = _hex(tx.data)
    if tx.type != LEGACY_TX_TYPE:
        out["access_list"] = [
            {"address": _hex(e.address), "storage_keys": [_hex(k) for k in e.storage_keys]}
            for e in tx.access_list
        ]
    if tx.type == BLOB_TX_TYPE:
        out["max_fee_per_blob_gas"] = tx.max_fee_per_blob_gas
        out["blob_versioned_hashes"] = [_hex(h) for h in tx.blob_versioned_hashes]
    if tx.type == SET_CODE_TX_TYPE:
        out["authorization_list"] = [
            {"chain_id": a.chain_id, "address": _hex(a.address), "nonce": a.nonce,
             "y_parity": a.y_parity, "r": a.r, "s": a.s}
            for a in tx.authorization_list
        ]
    if tx.type == LEGACY_TX_TYPE:
        out["v"] = tx.v
    else:
        out["y_parity"] = tx.v
    out["r"] = tx.r
    out["s"] = tx.s
    out["hash"] = _hex(transaction_hash(encode_transaction(tx)))
    return out
