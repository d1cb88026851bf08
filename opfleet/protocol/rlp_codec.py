"""Recursive Length Prefix: the one encoder and the one strict decoder of the protocol package.

Spec: Ethereum Yellow Paper, Appendix B. Items are byte strings and (nested) lists of items;
integers travel as their big-endian bytes without leading zeros (:func:`int_bytes`).

Decoding is as strict as go-ethereum's ``rlp`` package, which op-node and op-geth decode with:
a lone byte below ``0x80`` never takes a prefix, the long form only holds 56 bytes or more, a
length has no leading zero byte, every item ends inside its list and nothing follows the top
item. Errors are :class:`~opfleet.errors.DecodeError` carrying the byte offset of the item.

The encoder takes only bytes and lists: the ``rlp`` library's type inference costs more than
hashing the result (it doubles the time of a 200-transaction ``transactionsRoot``).
"""

from __future__ import annotations

from typing import Any

from opfleet.errors import DecodeError

RlpItem = bytes | list[Any]
"""A decoded item: a byte string or a list of items."""


def int_bytes(value: int) -> bytes:
    """An unsigned integer as RLP wants it: big-endian, no leading zeros, zero as ``b""``."""
    try:
        return value.to_bytes((value.bit_length() + 7) // 8, "big")
    except OverflowError:
        raise ValueError(f"RLP integers are unsigned, got {value}") from None


def _length_prefix(size: int, offset: int) -> bytes:
    """The prefix of a string (``offset`` 0x80) or list (0xC0) payload of ``size`` bytes."""
    if size < 56:
        return bytes([offset + size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(raw)]) + raw


def rlp_encode(item: bytes | bytearray | list[Any] | tuple[Any, ...]) -> bytes:
    """RLP of a byte string or a (nested) list of byte strings; integers must be given as their
    big-endian bytes (:func:`int_bytes`). Spec: Yellow Paper, Appendix B.
    """
    if isinstance(item, (bytes, bytearray)):
        size = len(item)
        if size == 1 and item[0] < 0x80:
            return bytes(item)
        if size < 56:
            return bytes([0x80 + size]) + item
        return _length_prefix(size, 0x80) + item
    if isinstance(item, (list, tuple)):
        body = b"".join([rlp_encode(i) for i in item])
        return (bytes([0xC0 + len(body)]) if len(body) < 56 else _length_prefix(len(body), 0xC0)) + body
    raise TypeError(f"rlp_encode takes bytes and lists, not {type(item).__name__}")


def rlp_header(data: bytes | memoryview, pos: int, end: int) -> tuple[bool, int, int]:
    """The canonical RLP header at ``pos`` of an item that must end by ``end``:
    ``(is_list, payload_start, payload_length)``."""
    if pos >= end:
        raise DecodeError("truncated RLP item", offset=pos)
    prefix = data[pos]
    if prefix < 0x80:
        return False, pos, 1
    is_list = prefix >= 0xC0
    base = 0xC0 if is_list else 0x80
    if prefix - base <= 55:
        length = prefix - base
        start = pos + 1
        if not is_list and length == 1 and start < end and data[start] < 0x80:
            raise DecodeError("non-canonical RLP: single byte below 0x80 with a prefix", offset=pos)
    else:
        size = prefix - base - 55
        start = pos + 1 + size
        if start > end:
            raise DecodeError("truncated RLP length", offset=pos)
        if data[pos + 1] == 0:
            raise DecodeError("non-canonical RLP: length with leading zero", offset=pos)
        length = int.from_bytes(data[pos + 1 : start], "big")
        if length <= 55:
            raise DecodeError("non-canonical RLP: long form for a short item", offset=pos)
    if start + length > end:
        raise DecodeError(f"RLP item length {length} exceeds the {end - start} bytes left", offset=pos)
    return is_list, start, length


def _item(data: bytes, pos: int, end: int) -> tuple[RlpItem, int]:
    is_list, start, length = rlp_header(data, pos, end)
    stop = start + length
    if not is_list:
        return data[start:stop], stop
    items: list[Any] = []
    while start < stop:
        item, start = _item(data, start, stop)
        items.append(item)
    return items, stop


def rlp_decode_first(data: bytes | bytearray | memoryview) -> tuple[RlpItem, int]:
    """The first item of ``data`` and the offset where it ends; the bytes after it are the
    caller's business (op-node decodes a singular batch as one value of a longer string)."""
    data = bytes(data)
    try:
        return _item(data, 0, len(data))
    except RecursionError:
        raise DecodeError("RLP nested too deeply", offset=0) from None


def rlp_decode(data: bytes | bytearray | memoryview) -> RlpItem:
    """The one item filling ``data``, decoded strictly (see the module docstring)."""
    item, stop = rlp_decode_first(data)
    if stop != len(data):
        raise DecodeError(f"trailing bytes after the RLP item: {len(data) - stop}", offset=stop)
    return item


def rlp_decode_list(data: bytes | bytearray | memoryview) -> list[Any]:
    """:func:`rlp_decode` of data that must hold a list."""
    item = rlp_decode(data)
    if not isinstance(item, list):
        raise DecodeError("expected an RLP list", offset=0)
    return item


def rlp_decode_flat_list(data: bytes | memoryview) -> list[tuple[int, bytes]]:
    """The byte strings of one RLP list filling ``data``, each with its offset (for errors that
    name the field); a nested list is an error."""
    end = len(data)
    is_list, start, length = rlp_header(data, 0, end)
    if not is_list:
        raise DecodeError("expected an RLP list", offset=0)
    stop = start + length
    if stop != end:
        raise DecodeError("trailing bytes after the RLP list", offset=stop)
    items = []
    pos = start
    while pos < stop:
        item_is_list, item_start, item_length = rlp_header(data, pos, stop)
        if item_is_list:
            raise DecodeError("unexpected nested RLP list", offset=pos)
        items.append((pos, bytes(data[item_start : item_start + item_length])))
        pos = item_start + item_length
    return items
