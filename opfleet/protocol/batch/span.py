"""Span batches (batch type 1): a run of consecutive L2 blocks with column-packed transactions.

Spec: ``specs/protocol/delta/span-batches.md`` ("Span batch format") and
``specs/protocol/isthmus/derivation.md`` ("Span Batch Updates", set-code txs); op-node
``span_batch.go`` / ``span_batch_txs.go`` / ``span_batch_tx.go``.

Wire layout (after the ``0x01`` type byte)::

    prefix  = rel_timestamp ++ l1_origin_num ++ parent_check ++ l1_origin_check
    payload = block_count ++ origin_bits ++ block_tx_counts ++ txs
    txs     = contract_creation_bits ++ y_parity_bits ++ tx_sigs ++ tx_tos ++ tx_datas
              ++ tx_nonces ++ tx_gases ++ protected_bits

Decoding validates every ``tx_data`` completely (canonical RLP, exact field counts, geth's
integer widths, allowed types) and records where its fields sit, so rebuilding transactions
(:meth:`RawSpanBatch.full_transactions`) pastes validated slices next to freshly encoded nonce,
gas, ``to`` and signature fields without building per-transaction objects. op-node checks the
tx_data contents slightly later (``fullTxs`` in ``DeriveSpanBatch``); either way the batch is
rejected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import rlp

from opfleet.errors import DecodeError
from opfleet.protocol.encoding import (
    ByteColumn,
    read_bit_column,
    read_bitlist,
    read_uvarint,
    write_bitlist,
    write_uvarint,
)
from opfleet.protocol.transactions import (
    ACCESS_LIST_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    LEGACY_TX_TYPE,
    SET_CODE_TX_TYPE,
    Transaction,
    access_list_rlp,
    authorization_list_rlp,
    decode_transaction,
)

SPAN_BATCH_TYPE = 1
MAX_SPAN_BATCH_ELEMENT_COUNT = 10_000_000
"""Cap on block_count, on each block's tx count and on the total tx count."""

SPAN_TX_TYPES = (LEGACY_TX_TYPE, ACCESS_LIST_TX_TYPE, DYNAMIC_FEE_TX_TYPE, SET_CODE_TX_TYPE)
_TYPED_SPAN_TX_TYPES = frozenset(SPAN_TX_TYPES[1:])
_CHECK_LENGTH = 20
_SIG_LENGTH = 64
_ADDRESS_LENGTH = 20
_HASH_LENGTH = 32
# Smallest wire size per transaction: 2 bits + 64 signature bytes + >= 1 byte each for tx_data,
# nonce and gas. Used to reject absurd counts before allocating anything for them.
_MIN_BYTES_PER_TX = _SIG_LENGTH + 3


class SpanBatchTooLong(DecodeError):
    """A span batch has more blocks than the caller asked to read (``max_blocks``): a limit of
    the caller's, not of the protocol."""

    def __init__(self, block_count: int, max_blocks: int, *, offset: int | None = None):
        super().__init__(f"span batch has {block_count:,} blocks, more than the {max_blocks:,} "
                         "asked for", offset=offset)
        self.block_count = block_count
        self.max_blocks = max_blocks

    def at(self, base: int) -> SpanBatchTooLong:
        return SpanBatchTooLong(self.block_count, self.max_blocks, offset=base + (self.offset or 0))


@dataclass(frozen=True, slots=True)
class SpanBatchElement:
    """One block of a span batch once derived: its timestamp, L1 origin number and txs."""

    timestamp: int
    epoch_num: int
    transactions: tuple[bytes, ...] = ()


# --- small RLP scanners over the batch body ---------------------------------------------------
# They return offsets into the body instead of copies and enforce geth's canonical rules, so
# the validated slices can be pasted into rebuilt transactions as they are.


def _string_item(buf: bytes, p: int, end: int) -> tuple[int, int]:
    """Bounds ``(payload_start, item_end)`` of the RLP string at ``p``, ending by ``end``."""
    if p >= end:
        raise DecodeError("truncated RLP item", offset=p)
    b = buf[p]
    if b < 0x80:
        return p, p + 1
    if b < 0xB8:
        q = p + b - 0x7F
        if q > end:
            raise DecodeError("RLP string runs past its container", offset=p)
        if b == 0x81 and buf[p + 1] < 0x80:
            raise DecodeError("non-canonical RLP: single byte encoded as a string", offset=p)
        return p + 1, q
    if b < 0xC0:
        return _long_item(buf, p, end, p + b - 0xB6, "string")
    raise DecodeError("expected an RLP string, got a list", offset=p)


def _list_item(buf: bytes, p: int, end: int) -> tuple[int, int]:
    """Bounds ``(payload_start, item_end)`` of the RLP list at ``p`` (must end by ``end``)."""
    if p >= end:
        raise DecodeError("truncated RLP item", offset=p)
    b = buf[p]
    if b < 0xC0:
        raise DecodeError("expected an RLP list, got a string", offset=p)
    if b < 0xF8:
        q = p + b - 0xBF
        if q > end:
            raise DecodeError("RLP list runs past its container", offset=p)
        return p + 1, q
    return _long_item(buf, p, end, p + b - 0xF6, "list")


def _long_item(buf: bytes, p: int, end: int, start: int, kind: str) -> tuple[int, int]:
    """Bounds of the long-form RLP ``kind`` (string or list) at ``p`` whose length bytes run
    to ``start``: a canonical length (no leading zero byte, at least 56) ending by ``end``."""
    if start > end:
        raise DecodeError("truncated RLP length", offset=p)
    if buf[p + 1] == 0:
        raise DecodeError("non-canonical RLP length (leading zero)", offset=p)
    size = int.from_bytes(buf[p + 1 : start], "big")
    if size < 56:
        raise DecodeError(f"non-canonical RLP: long form for a short {kind}", offset=p)
    q = start + size
    if q > end:
        raise DecodeError(f"RLP {kind} runs past its container", offset=p)
    return start, q


def _int_item(buf: bytes, p: int, end: int, max_len: int | None) -> int:
    """End of the canonical RLP integer at ``p`` (no leading zeros, at most ``max_len`` bytes)."""
    s, q = _string_item(buf, p, end)
    if q > s and buf[s] == 0:
        raise DecodeError("non-canonical integer (leading zero bytes)", offset=p)
    if max_len is not None and q - s > max_len:
        raise DecodeError(f"integer wider than {max_len * 8} bits", offset=p)
    return q


def _fixed_item(buf: bytes, p: int, end: int, size: int, name: str) -> int:
    s, q = _string_item(buf, p, end)
    if q - s != size:
        raise DecodeError(f"{name} must be {size} bytes, got {q - s}", offset=p)
    return q


def _access_list_item(buf: bytes, p: int, end: int) -> int:
    """End of a valid EIP-2930 access list ``[[address, [key, ...]], ...]`` at ``p``."""
    if p < end and buf[p] == 0xC0:
        return p + 1  # empty, the common case
    s, q = _list_item(buf, p, end)
    while s < q:
        es, eq = _list_item(buf, s, q)
        address_end = _fixed_item(buf, es, eq, _ADDRESS_LENGTH, "access list address")
        ks, kq = _list_item(buf, address_end, eq)
        while ks < kq:
            ks = _fixed_item(buf, ks, kq, _HASH_LENGTH, "storage key")
        if kq != eq:
            raise DecodeError("access list entry has extra fields", offset=kq)
        s = eq
    return q


def _authorization_list_item(buf: bytes, p: int, end: int) -> int:
    """End of a valid EIP-7702 authorization list at ``p`` (geth widths per field)."""
    s, q = _list_item(buf, p, end)
    while s < q:
        es, eq = _list_item(buf, s, q)
        c = _int_item(buf, es, eq, 32)  # chain id
        c = _fixed_item(buf, c, eq, _ADDRESS_LENGTH, "authorization address")
        c = _int_item(buf, c, eq, 8)  # nonce
        c = _int_item(buf, c, eq, 1)  # y parity (uint8)
        c = _int_item(buf, c, eq, 32)  # r
        c = _int_item(buf, c, eq, 32)  # s
        if c != eq:
            raise DecodeError("authorization has extra fields", offset=c)
        s = eq
    return q


def _tx_data_item(buf: bytes, p: int, end: int) -> tuple[int, int, int, int, int]:
    """Validate one ``tx_data`` at ``p``; return ``(type, list_start, value_end, fees_end, end)``.

    ``value`` is the first list item, ``fees`` the gas price (types 0/1) or the two EIP-1559 caps
    (types 2/4), and the rest (data, access list, authorizations) runs to the list end. Offsets
    are relative to ``p``. This is the careful path; :func:`_scan_tx_datas` inlines the usual
    shapes and falls back here.

    Spec: specs/protocol/delta/span-batches.md (tx_data); specs/protocol/isthmus/derivation.md.
    """
    if p >= end:
        raise DecodeError("truncated tx_data", offset=p)
    tx_type = buf[p]
    if tx_type >= 0xC0:
        tx_type = LEGACY_TX_TYPE
        s, q = _list_item(buf, p, end)
    elif tx_type in _TYPED_SPAN_TX_TYPES:
        s, q = _list_item(buf, p + 1, end)
    elif tx_type >= 0x80:
        raise DecodeError("tx_data must be an RLP list", offset=p)
    else:
        raise DecodeError(f"unsupported span batch transaction type {tx_type}", offset=p)
    width = 32 if tx_type == SET_CODE_TX_TYPE else None  # uint256 in geth's SetCodeTx
    value_end = _int_item(buf, s, q, width)
    fees_end = _int_item(buf, value_end, q, width)
    if tx_type >= DYNAMIC_FEE_TX_TYPE:
        fees_end = _int_item(buf, fees_end, q, width)
    c = _string_item(buf, fees_end, q)[1]  # data
    if tx_type != LEGACY_TX_TYPE:
        c = _access_list_item(buf, c, q)
        if tx_type == SET_CODE_TX_TYPE:
            c = _authorization_list_item(buf, c, q)
    if c != q:
        raise DecodeError("tx_data has extra fields", offset=c)
    return tx_type, s - p, value_end - p, fees_end - p, q - p


class _SlowPath(Exception):
    """Internal: the fast tx_data scan met an unusual shape; re-check it carefully."""


# Fast shapes of tx_data, as regular expressions over the wire bytes: list header (1-3 bytes),
# canonical integers of at most 32 bytes (0x01-0x80 alone, 0x81 before a byte >= 0x80, or
# 0x82-0xa0 before a non-zero byte) and a canonical data header (checked, not consumed).
_RE_INT = (
    rb"(?:[\x01-\x80]|\x81[\x80-\xff]|"
    + b"|".join(b"\\x%02x[\\x01-\\xff].{%d}" % (0x80 + k, k - 1) for k in range(2, 33))
    + rb")"
)
_RE_LIST = rb"(?:[\xc0-\xf7]|\xf8[\x38-\xff]|\xf9[\x01-\xff].)"
_RE_DATA = rb"(?=[\x00-\x80\x82-\xb7]|\x81[\x80-\xff]|\xb8[\x38-\xff]|\xb9[\x01-\xff])"


def _fast_pattern(type_byte: bytes, fee_count: int) -> re.Pattern[bytes]:
    body = type_byte + _RE_LIST + b"(" + _RE_INT + b")" + _RE_INT * fee_count + _RE_DATA
    return re.compile(body, re.DOTALL)


def _no_fast_match(buf: bytes, pos: int, endpos: int) -> None:
    return None


# By first byte: the bound ``match`` of the fast pattern for that tx type, or a stub.
_FAST_TX_DATA_MATCHERS: list[Callable[[bytes, int, int], re.Match[bytes] | None]] = [
    _no_fast_match
] * 256
_FAST_TX_DATA_MATCHERS[ACCESS_LIST_TX_TYPE] = _fast_pattern(rb"\x01", 1).match
_FAST_TX_DATA_MATCHERS[DYNAMIC_FEE_TX_TYPE] = _fast_pattern(rb"\x02", 2).match
_FAST_TX_DATA_MATCHERS[0xC0:] = [_fast_pattern(b"", 1).match] * 0x40


def _scan_tx_datas(
    buf: bytes, p: int, n: int, total: int, creation_bits: Sequence[int]
) -> tuple[list[bytes], list[tuple[int, int, int, int]], int, int]:
    """Read and validate ``total`` tx_data items from ``p``.

    Returns the items, their layouts ``(type, list start, value end, fees end)`` (offsets
    relative to each item), the number of legacy items and the end offset. The usual shapes
    (type 0/1/2, list under 64 KiB, integers up to 32 bytes, empty access list) are checked with
    one regular expression and a few sums because this runs for every transaction of every span
    batch; anything else, including every error, goes through :func:`_tx_data_item`.

    Spec: specs/protocol/delta/span-batches.md (tx_datas); specs/protocol/isthmus/derivation.md.
    """
    datas: list[bytes] = []
    layout: list[tuple[int, int, int, int]] = []
    datas_append = datas.append
    layout_append = layout.append
    matchers = _FAST_TX_DATA_MATCHERS
    legacy_count = 0
    for index in range(total):
        try:
            # The pattern checks the list header, the canonical integers and the data header;
            # the lengths they declare are then added up here.
            match = matchers[buf[p]](buf, p, n)
            if match is None:
                raise _SlowPath
            s, value_end = match.span(1)
            c = fees_end = match.end()
            t = buf[p]
            if t >= 0xC0:
                t = 0
                h = p
            else:
                h = p + 1
            b = buf[h]
            if b < 0xF8:
                q = s + b - 0xC0
            elif b == 0xF8:
                q = s + buf[h + 1]
            else:
                q = s + ((buf[h + 1] << 8) | buf[h + 2])
            b = buf[c]  # data
            if b < 0x80:
                c += 1
            elif b < 0xB8:
                c += b - 0x7F
            elif b == 0xB8:
                c += 2 + buf[c + 1]
            else:
                c += 3 + ((buf[c + 1] << 8) | buf[c + 2])
            if t:
                if buf[c] != 0xC0:  # access list: only the empty one here
                    raise _SlowPath
                c += 1
            if c != q or q > n:  # positions only grow, so any overrun ends here too
                raise _SlowPath
        except (IndexError, _SlowPath):
            t, s, value_end, fees_end, q = _tx_data_item(buf, p, n)  # raises on bad input
            if t == SET_CODE_TX_TYPE and creation_bits[index]:
                raise DecodeError(
                    f"set-code transaction {index} cannot be a contract creation", offset=p
                ) from None
            s += p
            value_end += p
            fees_end += p
            q += p
        if not t:
            legacy_count += 1
        datas_append(buf[p:q])
        layout_append((t, s - p, value_end - p, fees_end - p))
        p = q
    return datas, layout, legacy_count, p


def _read_uvarints(buf: bytes, p: int, count: int, name: str, n: int) -> tuple[list[int], int]:
    """Read ``count`` uvarints from ``p``, ending by ``n`` (inline decoding for speed; the rare
    long or malformed ones go through ``read_uvarint``)."""
    out: list[int] = []
    append = out.append
    try:
        for _ in range(count):
            b = buf[p]
            if b < 0x80:
                append(b)
                p += 1
                continue
            b1 = buf[p + 1]
            if b1 < 0x80:
                append((b & 0x7F) | (b1 << 7))
                p += 2
                continue
            b2 = buf[p + 2]
            if b2 < 0x80:
                append((b & 0x7F) | ((b1 & 0x7F) << 7) | (b2 << 14))
                p += 3
                continue
            b3 = buf[p + 3]
            if b3 < 0x80:
                append((b & 0x7F) | ((b1 & 0x7F) << 7) | ((b2 & 0x7F) << 14) | (b3 << 21))
                p += 4
                continue
            value, p = read_uvarint(buf, p)
            append(value)
    except IndexError:
        raise DecodeError(f"{name}: truncated uvarint", offset=p) from None
    except DecodeError as exc:
        raise DecodeError(f"{name}: {exc.reason}", offset=exc.offset) from None
    if p > n:
        raise DecodeError(f"{name}: truncated uvarint", offset=n)
    return out, p


def _bits(buf: bytes, p: int, length: int, name: str, n: int) -> tuple[tuple[int, ...], int]:
    if p + (length + 7) // 8 > n:
        raise DecodeError(f"{name}: truncated bit list of {length} bits", offset=p)
    try:
        bits, p = read_bitlist(buf, p, length)
    except DecodeError as exc:
        raise DecodeError(f"{name}: {exc.reason}", offset=exc.offset) from None
    return tuple(bits), p


def _per_block_column(values: Any) -> Any:
    """``origin_bits`` / ``block_tx_counts`` as a :class:`ByteColumn` when every value fits a
    byte (always, for bits), else as a tuple: up to 10,000,000 entries, one byte each."""
    if type(values) is ByteColumn:
        return values
    try:
        return ByteColumn(values)
    except (ValueError, TypeError):  # a count above 255 (or not an int at all)
        return values if type(values) is tuple else tuple(values)


def _uvarint(buf: bytes, p: int, name: str, n: int) -> tuple[int, int]:
    try:
        value, q = read_uvarint(buf, p)
    except DecodeError as exc:
        raise DecodeError(f"{name}: {exc.reason}", offset=exc.offset) from None
    if q > n:
        raise DecodeError(f"{name}: truncated uvarint", offset=p)
    return value, q


# --- rebuilding full transactions -------------------------------------------------------------

_RLP_SMALL_UINT = [b"\x80"] + [bytes([i]) for i in range(1, 0x80)]
_STRING_PREFIX = [bytes([0x80 + i]) for i in range(56)]
_SHORT_LIST_HEADERS = [bytes([0xC0 + i]) for i in range(56)]
_GAS_RLP_CACHE: dict[int, bytes] = {}  # gas limit -> RLP, shared across batches, bounded
_GAS_CACHE_LIMIT = 1 << 14
_BITS = frozenset((0, 1))
_JSON_SLICE = 1 << 16  # column entries per piece of iter_json


def _rlp_uint(n: int) -> bytes:
    if n < 0x80:
        return _RLP_SMALL_UINT[n]
    raw = n.to_bytes((n.bit_length() + 7) >> 3, "big")
    return _STRING_PREFIX[len(raw)] + raw


def _rlp_list_header(length: int) -> bytes:
    if length < 56:
        return bytes([0xC0 + length])
    raw = length.to_bytes((length.bit_length() + 7) >> 3, "big")
    return bytes([0xF7 + len(raw)]) + raw


def _rlp_word(word: bytes) -> bytes:
    """RLP of the integer held in a 32-byte big-endian word (signature r or s)."""
    if word[0]:
        return b"\xa0" + word
    stripped = word.lstrip(b"\x00")
    if len(stripped) == 1 and stripped[0] < 0x80:
        return stripped
    return _STRING_PREFIX[len(stripped)] + stripped


_DIGITS = bytes.maketrans(bytes(range(10)), b"0123456789")


def _json_ints(values: Any) -> str:
    """``values`` as the inside of a JSON array (``0, 1, 0``). A run of one-digit bytes (origin
    bits, small tx counts) is interleaved in C instead of making a string per value."""
    if isinstance(values, bytes) and values and max(values) < 10:
        out = bytearray(3 * len(values) - 2)
        out[0::3] = values.translate(_DIGITS)
        out[1::3] = b"," * (len(values) - 1)
        out[2::3] = b" " * (len(values) - 1)
        return out.decode("ascii")
    return ", ".join(map(str, values))


# --- the batch --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawSpanBatch:
    """A span batch exactly as on the wire (prefix, payload and transaction columns).

    ``tx_sigs`` holds each signature as the 64 wire bytes ``r ++ s``; ``tx_tos`` one 20-byte
    address per non-creation tx; ``tx_datas`` the encoded ``tx_data`` items; bit lists are tuples
    of 0/1 (``protected_bits`` has one bit per legacy tx).

    Spec: specs/protocol/delta/span-batches.md, Span batch format.
    """

    rel_timestamp: int
    l1_origin_num: int
    parent_check: bytes
    l1_origin_check: bytes
    block_count: int
    origin_bits: tuple[int, ...] | ByteColumn
    block_tx_counts: tuple[int, ...] | ByteColumn
    contract_creation_bits: tuple[int, ...] = ()
    y_parity_bits: tuple[int, ...] = ()
    tx_sigs: tuple[bytes, ...] = ()
    tx_tos: tuple[bytes, ...] = ()
    tx_datas: tuple[bytes, ...] = ()
    tx_nonces: tuple[int, ...] = ()
    tx_gases: tuple[int, ...] = ()
    protected_bits: tuple[int, ...] = ()
    # (tx_datas, contract_creation_bits, validated (type, list start, value end, fees end) of each
    # tx_data): filled by decode or on first use so rebuilding never re-parses the RLP; keyed by
    # the column objects so a copy made with dataclasses.replace() never reuses a stale one.
    _tx_layout: tuple[Any, Any, tuple[tuple[int, int, int, int], ...]] | None = field(
        default=None, repr=False, compare=False
    )

    BATCH_TYPE: ClassVar[int] = SPAN_BATCH_TYPE

    def __post_init__(self) -> None:
        # One representation whichever way the batch was made, so equal batches compare and
        # hash equal; the per-block columns are the ones that can be 10,000,000 long.
        object.__setattr__(self, "origin_bits", _per_block_column(self.origin_bits))
        object.__setattr__(self, "block_tx_counts", _per_block_column(self.block_tx_counts))

    # -- decoding --

    @classmethod
    def decode(cls, body: bytes) -> RawSpanBatch:
        """Decode a span batch body (the bytes after the ``0x01`` type byte).

        Bytes after the batch are ignored, as in op-node (the batch is read from a reader).
        Spec: specs/protocol/delta/span-batches.md, Span batch format.
        """
        return cls.decode_with_length(body)[0]

    @classmethod
    def decode_with_length(cls, body: bytes) -> tuple[RawSpanBatch, int]:
        """Like :meth:`decode`, also returning how many bytes the batch occupies.

        Spec: specs/protocol/delta/span-batches.md, Span batch format; op-node span_batch_txs.go.
        """
        buf = bytes(body)
        return cls.decode_at(buf, 0, len(buf))

    @classmethod
    def decode_at(
        cls, buf: bytes, start: int, stop: int, *, max_blocks: int | None = None
    ) -> tuple[RawSpanBatch, int]:
        """Decode the body held in ``buf[start:stop]`` without copying it; return the batch and
        the offset just past it. Error offsets are positions in ``buf``.

        ``max_blocks`` lets a caller that only looks (``opfleet decode``) refuse a batch of more
        blocks before reading them; derivation leaves it unset and so applies the spec's limit
        (``MAX_SPAN_BATCH_ELEMENT_COUNT``) alone.

        Spec: specs/protocol/delta/span-batches.md, Span batch format; op-node span_batch_txs.go.
        """
        n = min(stop, len(buf))
        rel_timestamp, p = _uvarint(buf, start, "rel_timestamp", n)
        l1_origin_num, p = _uvarint(buf, p, "l1_origin_num", n)
        if p + 2 * _CHECK_LENGTH > n:
            raise DecodeError("truncated span batch prefix checks", offset=p)
        parent_check = buf[p : p + _CHECK_LENGTH]
        l1_origin_check = buf[p + _CHECK_LENGTH : p + 2 * _CHECK_LENGTH]
        p += 2 * _CHECK_LENGTH

        count_at = p
        block_count, p = _uvarint(buf, p, "block_count", n)
        if block_count == 0:
            raise DecodeError("span batch has no blocks", offset=count_at)
        if block_count > MAX_SPAN_BATCH_ELEMENT_COUNT:
            raise DecodeError(f"span batch block count {block_count} too large", offset=count_at)
        if max_blocks is not None and block_count > max_blocks:
            raise SpanBatchTooLong(block_count, max_blocks, offset=count_at)
        # Origin bits plus one byte per tx count, at least: refuse before allocating.
        if (block_count + 7) // 8 + block_count > n - p:
            raise DecodeError(
                f"truncated span batch: {block_count} blocks declared", offset=count_at
            )
        if p + (block_count + 7) // 8 > n:
            raise DecodeError(f"origin bits: truncated bit list of {block_count} bits", offset=p)
        try:
            origin_bits, p = read_bit_column(buf, p, block_count)
        except DecodeError as exc:
            raise DecodeError(f"origin bits: {exc.reason}", offset=exc.offset) from None
        counts_at = p
        block_tx_counts: Any = buf[p : p + block_count]
        if block_tx_counts.isascii():  # every count one byte below 0x80: the bytes are the counts
            block_tx_counts = ByteColumn(block_tx_counts)
            p += block_count
            total = sum(block_tx_counts)
        else:
            block_tx_counts, p = _read_uvarints(buf, p, block_count, "block tx count", n)
            total = 0
            for count in block_tx_counts:
                if count > MAX_SPAN_BATCH_ELEMENT_COUNT:
                    raise DecodeError(f"block tx count {count} too large", offset=counts_at)
                total += count
        if total > MAX_SPAN_BATCH_ELEMENT_COUNT:
            raise DecodeError(f"span batch total tx count {total} too large", offset=counts_at)
        if 2 * ((total + 7) // 8) + total * _MIN_BYTES_PER_TX > n - p:
            raise DecodeError(f"truncated span batch: {total} txs declared", offset=counts_at)

        creation_bits, p = _bits(buf, p, total, "contract creation bits", n)
        y_parity_bits, p = _bits(buf, p, total, "y parity bits", n)
        sigs_end = p + total * _SIG_LENGTH
        tx_sigs = tuple([buf[i : i + _SIG_LENGTH] for i in range(p, sigs_end, _SIG_LENGTH)])
        p = sigs_end
        to_count = total - sum(creation_bits)
        tos_end = p + to_count * _ADDRESS_LENGTH
        if tos_end > n:
            raise DecodeError("truncated tx_tos", offset=p)
        tx_tos = tuple([buf[i : i + _ADDRESS_LENGTH] for i in range(p, tos_end, _ADDRESS_LENGTH)])
        p = tos_end

        tx_datas, tx_layout, legacy_count, p = _scan_tx_datas(buf, p, n, total, creation_bits)
        tx_nonces, p = _read_uvarints(buf, p, total, "tx nonce", n)
        tx_gases, p = _read_uvarints(buf, p, total, "tx gas", n)
        protected_bits, p = _bits(buf, p, legacy_count, "protected bits", n)

        datas_tuple = tuple(tx_datas)
        batch = cls(
            rel_timestamp=rel_timestamp,
            l1_origin_num=l1_origin_num,
            parent_check=parent_check,
            l1_origin_check=l1_origin_check,
            block_count=block_count,
            origin_bits=origin_bits,
            block_tx_counts=block_tx_counts,  # made a ByteColumn or tuple by __post_init__
            contract_creation_bits=creation_bits,
            y_parity_bits=y_parity_bits,
            tx_sigs=tx_sigs,
            tx_tos=tx_tos,
            tx_datas=datas_tuple,
            tx_nonces=tuple(tx_nonces),
            tx_gases=tuple(tx_gases),
            protected_bits=protected_bits,
            _tx_layout=(datas_tuple, creation_bits, tuple(tx_layout)),
        )
        return batch, p

    # -- encoding --

    def encode(self) -> bytes:
        """Encode the body (without the ``0x01`` type byte); inverse of :meth:`decode`.

        Spec: specs/protocol/delta/span-batches.md, Span batch format.
        """
        self._check_shape()
        parts = [
            write_uvarint(self.rel_timestamp),
            write_uvarint(self.l1_origin_num),
            self.parent_check,
            self.l1_origin_check,
            write_uvarint(self.block_count),
            write_bitlist(list(self.origin_bits)),
            b"".join(write_uvarint(c) for c in self.block_tx_counts),
            write_bitlist(list(self.contract_creation_bits)),
            write_bitlist(list(self.y_parity_bits)),
            b"".join(self.tx_sigs),
            b"".join(self.tx_tos),
            b"".join(self.tx_datas),
            b"".join(write_uvarint(x) for x in self.tx_nonces),
            b"".join(write_uvarint(x) for x in self.tx_gases),
            write_bitlist(list(self.protected_bits)),
        ]
        return b"".join(parts)

    def _check_shape(self) -> None:
        total = sum(self.block_tx_counts)
        if len(self.parent_check) != _CHECK_LENGTH or len(self.l1_origin_check) != _CHECK_LENGTH:
            raise ValueError("parent_check and l1_origin_check must be 20 bytes")
        if not 0 < self.block_count <= MAX_SPAN_BATCH_ELEMENT_COUNT:
            raise ValueError(f"block_count out of range: {self.block_count}")
        if not len(self.origin_bits) == len(self.block_tx_counts) == self.block_count:
            raise ValueError("origin_bits and block_tx_counts need one entry per block")
        if total > MAX_SPAN_BATCH_ELEMENT_COUNT:
            raise ValueError(f"too many transactions: {total}")
        columns = (self.contract_creation_bits, self.y_parity_bits, self.tx_sigs, self.tx_datas,
                   self.tx_nonces, self.tx_gases)
        if any(len(column) != total for column in columns):
            raise ValueError("every transaction column needs one entry per transaction")
        if len(self.tx_tos) != total - sum(self.contract_creation_bits):
            raise ValueError("tx_tos needs one address per non-creation transaction")
        if any(len(sig) != _SIG_LENGTH for sig in self.tx_sigs):
            raise ValueError("each tx signature must be 64 bytes (r ++ s)")
        if any(len(to) != _ADDRESS_LENGTH for to in self.tx_tos):
            raise ValueError("each tx_to must be 20 bytes")
        legacy = sum(1 for entry in self.tx_layout() if entry[0] == LEGACY_TX_TYPE)
        if len(self.protected_bits) != legacy:
            raise ValueError("protected_bits needs one bit per legacy transaction")

    def tx_layout(self) -> tuple[tuple[int, int, int, int], ...]:
        """Validate every ``tx_data``; return ``(type, list start, value end, fees end)`` each.

        Spec: specs/protocol/delta/span-batches.md (tx_data); specs/protocol/isthmus/derivation.md.
        """
        cached = self._tx_layout
        if (
            cached is not None
            and cached[0] is self.tx_datas
            and cached[1] is self.contract_creation_bits
        ):
            return cached[2]
        entries = []
        for index, data in enumerate(self.tx_datas):
            try:
                entry = _tx_data_item(data, 0, len(data))
            except DecodeError as exc:
                raise DecodeError(f"tx_data {index}: {exc.reason}", offset=exc.offset) from None
            if entry[4] != len(data):
                raise DecodeError(f"tx_data {index} has trailing bytes", offset=entry[4])
            if entry[0] == SET_CODE_TX_TYPE and self.contract_creation_bits[index]:
                raise DecodeError(f"set-code transaction {index} cannot be a contract creation")
            entries.append(entry[:4])
        layout = tuple(entries)
        object.__setattr__(
            self, "_tx_layout", (self.tx_datas, self.contract_creation_bits, layout)
        )
        return layout

    # -- derived views --

    @property
    def total_tx_count(self) -> int:
        return len(self.tx_datas)

    def full_transactions(self, chain_id: int) -> list[bytes]:
        """Rebuild every transaction as EIP-2718 bytes with the L2 ``chain_id``.

        Legacy ``v`` is ``27 + y`` when unprotected, else ``2 * chain_id + 35 + y``; typed
        transactions carry ``y`` and the chain id; ``to`` comes from ``tx_tos`` unless the
        creation bit is set.

        Spec: specs/protocol/delta/span-batches.md ("tx_data", "Span batch format").
        """
        layout = self.tx_layout()
        protected = self.protected_bits
        tos = self.tx_tos
        if len(tos) != len(self.tx_datas) - sum(self.contract_creation_bits):
            raise DecodeError("tx_tos must have one address per non-creation transaction")
        # Cheap whole-column checks so a hand-built batch cannot trip an IndexError below.
        if not _BITS.issuperset(self.y_parity_bits) or not _BITS.issuperset(protected):
            raise ValueError("y_parity_bits and protected_bits must hold 0 or 1")
        if self.tx_sigs and set(map(len, self.tx_sigs)) != {_SIG_LENGTH}:
            raise ValueError("each tx signature must be 64 bytes (r ++ s)")
        chain = _rlp_uint(chain_id)
        legacy_v = (
            (_rlp_uint(27), _rlp_uint(28)),
            (_rlp_uint(2 * chain_id + 35), _rlp_uint(2 * chain_id + 36)),
        )
        typed_y = (b"\x80", b"\x01")
        type_prefix = (b"", b"\x01", b"\x02", b"", b"\x04")
        small = _RLP_SMALL_UINT
        prefix = _STRING_PREFIX
        rlp_uint = _rlp_uint
        gas_rlps = _GAS_RLP_CACHE  # gas limits repeat a lot (21000, 150000, ...)
        if len(gas_rlps) > _GAS_CACHE_LIMIT:
            gas_rlps.clear()
        short_list = _SHORT_LIST_HEADERS
        word = _rlp_word
        if len(tos) == len(self.tx_datas):
            to_rlps = [b"\x94" + to for to in tos]
        else:
            to_iter = iter(tos)
            creation_bits = self.contract_creation_bits
            to_rlps = [b"\x80" if bit else b"\x94" + next(to_iter) for bit in creation_bits]
        typed_tail = 1 + len(chain)  # y parity (one byte) and the chain id
        legacy_index = 0
        out: list[bytes] = []
        append = out.append
        join = b"".join
        # One pass, one join per transaction of prefix/body pairs, sizes summed from known
        # lengths: no per-field concatenation and no per-transaction objects.
        try:
            for data, (tx_type, start, value_end, fees_end), to, y, sig, nonce, gas in zip(
                self.tx_datas, layout, to_rlps, self.y_parity_bits, self.tx_sigs, self.tx_nonces,
                self.tx_gases,
            ):
                if nonce < 0x80:
                    nonce_pre, nonce_body = b"", small[nonce]
                    size = 1
                else:
                    nonce_body = nonce.to_bytes((nonce.bit_length() + 7) >> 3, "big")
                    nonce_pre = prefix[len(nonce_body)]
                    size = 1 + len(nonce_body)
                gas_rlp = gas_rlps.get(gas)
                if gas_rlp is None:
                    gas_rlp = gas_rlps[gas] = rlp_uint(gas)
                if sig[0] and sig[32]:  # both words use all 32 bytes: the usual case
                    r_word, s_word = sig[:32], sig[32:]
                    r_pre = s_pre = b"\xa0"
                    size += 66
                else:
                    r_word, s_word = word(sig[:32]), word(sig[32:])
                    r_pre = s_pre = b""
                    size += len(r_word) + len(s_word)
                if tx_type:
                    v = typed_y[y]
                    head = chain
                    size += typed_tail + len(gas_rlp) + len(to) + len(data) - start
                else:
                    v = legacy_v[protected[legacy_index]][y]  # IndexError: too few protected bits
                    legacy_index += 1
                    head = b""
                    size += len(v) + len(gas_rlp) + len(to) + len(data) - start
                if size < 56:
                    header = short_list[size]
                elif size < 0x100:
                    header = bytes((0xF8, size))
                elif size < 0x10000:
                    header = bytes((0xF9, size >> 8, size & 0xFF))
                else:
                    header = _rlp_list_header(size)
                append(join((
                    type_prefix[tx_type], header, head, nonce_pre, nonce_body,
                    data[value_end:fees_end], gas_rlp, to, data[start:value_end],
                    data[fees_end:], v, r_pre, r_word, s_pre, s_word,
                )))
        except IndexError:
            # protected_bits ran out (or a hand-built column holds an impossible value)
            raise DecodeError("protected_bits must have one bit per legacy transaction") from None
        if legacy_index != len(protected):
            raise DecodeError("protected_bits must have one bit per legacy transaction")
        return out

    def epoch_numbers(self) -> list[int]:
        """L1 origin number of every block, counted back from ``l1_origin_num``.

        ``origin[i-1] = origin[i] - origin_bits[i]``; ``origin_bits[0]`` does not count.
        Spec: specs/protocol/delta/span-batches.md, Span batch format (origin_bits).
        """
        epochs = [0] * self.block_count
        epoch = self.l1_origin_num
        for i in range(self.block_count - 1, -1, -1):
            epochs[i] = epoch
            if i > 0 and self.origin_bits[i]:
                epoch -= 1
        if epoch < 0:
            raise DecodeError("span batch L1 origin numbers go below zero")
        return epochs

    def derive(
        self, genesis_l2_time: int, block_time: int, chain_id: int
    ) -> list[SpanBatchElement]:
        """Expand into per-block elements: timestamp, L1 origin number and EIP-2718 txs.

        ``timestamp_i = genesis_l2_time + rel_timestamp + i * block_time``.
        Spec: specs/protocol/delta/span-batches.md, Span batch format; op-node ``derive``.
        """
        txs = self.full_transactions(chain_id)
        epochs = self.epoch_numbers()
        first = genesis_l2_time + self.rel_timestamp
        elements = []
        offset = 0
        for i, count in enumerate(self.block_tx_counts):
            block_txs = tuple(txs[offset : offset + count])
            elements.append(SpanBatchElement(first + i * block_time, epochs[i], block_txs))
            offset += count
        return elements

    def _json_prefix(self) -> dict[str, Any]:
        """The fixed-size fields that open :meth:`to_json` and :meth:`iter_json`."""
        return {
            "type": SPAN_BATCH_TYPE,
            "rel_timestamp": self.rel_timestamp,
            "l1_origin_num": self.l1_origin_num,
            "parent_check": "0x" + self.parent_check.hex(),
            "l1_origin_check": "0x" + self.l1_origin_check.hex(),
            "block_count": self.block_count,
        }

    def to_json(self, chain_id: int) -> dict[str, Any]:
        """JSON-ready view, transactions rebuilt with ``chain_id`` as 0x-hex EIP-2718 bytes."""
        return {
            **self._json_prefix(),
            "origin_bits": list(self.origin_bits),
            "block_tx_counts": list(self.block_tx_counts),
            "transactions": ["0x" + tx.hex() for tx in self.full_transactions(chain_id)],
        }

    def iter_json(self, chain_id: int) -> Iterator[str]:
        """:meth:`to_json` as ``json.dumps`` writes it, in pieces: the per-block columns (up to
        10,000,000 entries) and the transactions are never held as one list or one string."""
        head = json.dumps(self._json_prefix())
        yield head[:-1]
        for key, column in (("origin_bits", self.origin_bits),
                            ("block_tx_counts", self.block_tx_counts)):
            yield f', "{key}": ['
            for start in range(0, len(column), _JSON_SLICE):
                yield (", " if start else "") + _json_ints(column[start:start + _JSON_SLICE])
            yield "]"
        yield ', "transactions": ['
        for index, tx in enumerate(self.full_transactions(chain_id)):
            yield (', "0x' if index else '"0x') + tx.hex() + '"'
        yield "]}"

    # -- building from blocks --

    @classmethod
    def from_elements(
        cls,
        blocks: Sequence[SpanBatchElement],
        genesis_time: int,
        chain_id: int,
        parent_check: bytes,
        l1_origin_check: bytes,
        *,
        first_block_new_epoch: bool = False,
        block_time: int | None = None,
    ) -> RawSpanBatch:
        """Pack consecutive blocks into a span batch, splitting signed txs into the columns.

        ``first_block_new_epoch`` is ``origin_bits[0]`` (the first block starts a new L1 origin,
        i.e. its sequence number is 0). Transactions must be types 0, 1, 2 or 4 and, when
        protected, signed for ``chain_id``; anything else raises ``ValueError``.

        Spec: specs/protocol/delta/span-batches.md; op-node ``newSpanBatchTxs`` / ``AddTxs``.
        """
        if not blocks:
            raise ValueError("a span batch needs at least one block")
        if len(parent_check) < _CHECK_LENGTH or len(l1_origin_check) < _CHECK_LENGTH:
            raise ValueError("parent_check and l1_origin_check need at least 20 bytes")
        rel_timestamp = blocks[0].timestamp - genesis_time
        if rel_timestamp < 0:
            raise ValueError("first block is before genesis")
        origin_bits = [1 if first_block_new_epoch else 0]
        for prev, block in zip(blocks, blocks[1:]):
            step = block.epoch_num - prev.epoch_num
            if step not in (0, 1):
                raise ValueError(f"L1 origin must stay or advance by one, got step {step}")
            if block_time is not None and block.timestamp - prev.timestamp != block_time:
                raise ValueError("block timestamps must be block_time apart")
            origin_bits.append(step)
        columns = _TxColumns(chain_id)
        for block in blocks:
            for raw in block.transactions:
                columns.add(raw)
        return cls(
            rel_timestamp=rel_timestamp,
            l1_origin_num=blocks[-1].epoch_num,
            parent_check=bytes(parent_check[:_CHECK_LENGTH]),
            l1_origin_check=bytes(l1_origin_check[:_CHECK_LENGTH]),
            block_count=len(blocks),
            origin_bits=tuple(origin_bits),
            block_tx_counts=tuple(len(block.transactions) for block in blocks),
            contract_creation_bits=tuple(columns.creation_bits),
            y_parity_bits=tuple(columns.y_parity_bits),
            tx_sigs=tuple(columns.sigs),
            tx_tos=tuple(columns.tos),
            tx_datas=tuple(columns.datas),
            tx_nonces=tuple(columns.nonces),
            tx_gases=tuple(columns.gases),
            protected_bits=tuple(columns.protected_bits),
        )

    @classmethod
    def from_singulars(
        cls,
        batches: Sequence[Any],
        *,
        first_sequence_number: int,
        genesis_time: int,
        chain_id: int,
        block_time: int | None = None,
    ) -> RawSpanBatch:
        """Pack consecutive :class:`SingularBatch` objects into one span batch.

        ``parent_check`` is the first batch's parent hash, ``l1_origin_check`` the last batch's
        epoch hash (both truncated to 20 bytes); ``origin_bits[0]`` is set when the first block
        is the first of its epoch (``first_sequence_number == 0``).

        Spec: specs/protocol/delta/span-batches.md; op-node ``SpanBatch.AppendSingularBatch``.
        """
        if not batches:
            raise ValueError("a span batch needs at least one block")
        blocks = [
            SpanBatchElement(b.timestamp, b.epoch_num, tuple(b.transactions)) for b in batches
        ]
        return cls.from_elements(
            blocks,
            genesis_time,
            chain_id,
            batches[0].parent_hash,
            batches[-1].epoch_hash,
            first_block_new_epoch=first_sequence_number == 0,
            block_time=block_time,
        )


class _TxColumns:
    """Accumulates signed transactions into the span-batch columns."""

    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        self.creation_bits: list[int] = []
        self.y_parity_bits: list[int] = []
        self.sigs: list[bytes] = []
        self.tos: list[bytes] = []
        self.datas: list[bytes] = []
        self.nonces: list[int] = []
        self.gases: list[int] = []
        self.protected_bits: list[int] = []

    def add(self, raw: bytes) -> None:
        tx = decode_transaction(raw)
        if tx.type not in SPAN_TX_TYPES:
            raise ValueError(f"transaction type {tx.type} cannot go in a span batch")
        if tx.type == LEGACY_TX_TYPE:
            if tx.v in (27, 28):
                self.protected_bits.append(0)
                y = tx.v - 27
            elif tx.v >= 35:
                self.protected_bits.append(1)
                y = (tx.v - 35) % 2
            else:
                raise ValueError(f"legacy transaction has invalid v {tx.v}")
        else:
            y = tx.v
            if y not in (0, 1):
                raise ValueError(f"typed transaction has invalid y parity {y}")
        if tx.is_protected and tx.chain_id != self.chain_id:
            raise ValueError(f"transaction chain id {tx.chain_id} is not {self.chain_id}")
        if tx.r >> 256 or tx.s >> 256:
            raise ValueError("signature r and s must fit 32 bytes")
        if tx.nonce >> 64 or tx.gas >> 64:
            raise ValueError("nonce and gas must be uint64")
        self.y_parity_bits.append(y)
        self.sigs.append(tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big"))
        self.creation_bits.append(1 if tx.to is None else 0)
        if tx.to is not None:
            self.tos.append(tx.to)
        self.nonces.append(tx.nonce)
        self.gases.append(tx.gas)
        self.datas.append(_span_tx_data(tx))


def _span_tx_data(tx: Transaction) -> bytes:
    """The ``tx_data`` item of ``tx`` (Spec: specs/protocol/delta/span-batches.md, tx_data)."""

    def num(value: int) -> bytes:
        return value.to_bytes((value.bit_length() + 7) // 8, "big")

    if tx.type == LEGACY_TX_TYPE:
        return rlp.encode([num(tx.value), num(tx.gas_price), tx.data])
    if tx.type == ACCESS_LIST_TX_TYPE:
        fields = [num(tx.value), num(tx.gas_price), tx.data, access_list_rlp(tx.access_list)]
    else:
        fields = [num(tx.value), num(tx.max_priority_fee_per_gas), num(tx.max_fee_per_gas), tx.data,
                  access_list_rlp(tx.access_list)]
        if tx.type == SET_CODE_TX_TYPE:
            fields.append(authorization_list_rlp(tx.authorization_list))
    return bytes([tx.type]) + rlp.encode(fields)
