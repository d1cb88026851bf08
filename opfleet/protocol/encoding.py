"""Small wire encodings shared by the batch codecs: uvarints and bit lists.

Spec: ``specs/protocol/delta/span-batches.md`` ("Span batch format").
"""

from __future__ import annotations

from opfleet.errors import DecodeError

MAX_UVARINT_LEN = 10


def read_uvarint(data: bytes | memoryview, offset: int = 0) -> tuple[int, int]:
    """Read one unsigned varint at ``offset``; return ``(value, next_offset)``.

    Matches Go's ``binary.Uvarint`` as op-node uses it: 7-bit little-endian groups, at most 10
    bytes, values above 2**64-1 are an overflow error, and non-minimal encodings such as
    ``80 00`` are accepted (kona rejects them; we follow op-node).
    """
    value = 0
    shift = 0
    for index in range(MAX_UVARINT_LEN):
        position = offset + index
        if position >= len(data):
            raise DecodeError("truncated uvarint", offset=offset)
        byte = data[position]
        if byte < 0x80:
            if index == MAX_UVARINT_LEN - 1 and byte > 1:
                raise DecodeError("uvarint overflows 64 bits", offset=offset)
            return value | (byte << shift), position + 1
        value |= (byte & 0x7F) << shift
        shift += 7
    raise DecodeError("uvarint overflows 64 bits", offset=offset)


def write_uvarint(value: int) -> bytes:
    """Encode ``value`` (0 <= value < 2**64) as a minimal unsigned varint."""
    if not 0 <= value < 1 << 64:
        raise ValueError(f"uvarint out of range: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class ByteColumn(bytes):
    """An immutable sequence of small integers (0-255) kept one byte each.

    A span batch's per-block columns (origin bits, tx counts) may hold 10,000,000 entries: as a
    tuple that is 80 MB of pointers, as this 10 MB. Iterating and indexing give ints, as a tuple
    does, and it compares equal to a tuple or list of the same integers.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return bytes.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = bytes.__hash__

    def __repr__(self) -> str:
        if len(self) <= 32:
            return f"ByteColumn({list(self)!r})"
        return f"ByteColumn(<{len(self)} entries>)"


_BIT_CHARS = bytes.maketrans(b"01", b"\x00\x01")
_BIT_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def read_bit_column(data: bytes | memoryview, offset: int, length: int) -> tuple[ByteColumn, int]:
    """:func:`read_bitlist` as a :class:`ByteColumn` (one byte per bit), in linear time."""
    size = (length + 7) // 8
    end = offset + size
    if end > len(data):
        raise DecodeError(f"truncated bit list: need {size} bytes", offset=offset)
    value = int.from_bytes(data[offset:end], "big")
    if value.bit_length() > length:
        raise DecodeError("bit list has bits set past its length", offset=offset)
    # Bit i is (value >> i) & 1: the binary digits, least significant first. Shifting a big
    # integer once per bit would be quadratic (minutes for 10,000,000 bits).
    digits = format(value, "b").zfill(length)[::-1] if length else ""
    return ByteColumn(digits.encode("ascii").translate(_BIT_CHARS)), end


def read_bitlist(data: bytes | memoryview, offset: int, length: int) -> tuple[list[int], int]:
    """Read a span-batch bit list of ``length`` bits at ``offset``.

    The bits are one big-endian integer of ``ceil(length / 8)`` bytes; bit ``i`` is
    ``(value >> i) & 1``. A set bit at or above ``length`` makes the list invalid.
    """
    column, end = read_bit_column(data, offset, length)
    return list(column), end


def write_bitlist(bits: list[int] | tuple[int, ...] | ByteColumn) -> bytes:
    """Encode a bit list in the span-batch layout (the inverse of :func:`read_bitlist`)."""
    try:
        raw = bits if isinstance(bits, bytes) else bytes(bits)
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != len(bits) or raw.translate(None, b"\x00\x01"):
        for i, bit in enumerate(bits):
            if bit not in (0, 1):
                raise ValueError(f"bit {i} is {bit!r}, not 0 or 1")
        raw = bytes(int(bit) for bit in bits)  # e.g. 1.0 or True: equal to a bit, not an int
    if not raw:
        return b""
    value = int(raw[::-1].translate(_BIT_DIGITS), 2)  # linear; OR-ing bit by bit is quadratic
    return value.to_bytes((len(raw) + 7) // 8, "big")
