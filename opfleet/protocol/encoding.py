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


def read_bitlist(data: bytes | memoryview, offset: int, length: int) -> tuple[list[int], int]:
    """Read a span-batch bit list of ``length`` bits at ``offset``.

    The bits are one big-endian integer of ``ceil(length / 8)`` bytes; bit ``i`` is
    ``(value >> i) & 1``. A set bit at or above ``length`` makes the list invalid.
    """
    size = (length + 7) // 8
    end = offset + size
    if end > len(data):
        raise DecodeError(f"truncated bit list: need {size} bytes", offset=offset)
    value = int.from_bytes(data[offset:end], "big")
    if value.bit_length() > length:
        raise DecodeError("bit list has bits set past its length", offset=offset)
    return [(value >> i) & 1 for i in range(length)], end


def write_bitlist(bits: list[int]) -> bytes:
    """Encode a bit list in the span-batch layout (the inverse of :func:`read_bitlist`)."""
    value = 0
    for i, bit in enumerate(bits):
        if bit not in (0, 1):
            raise ValueError(f"bit {i} is {bit!r}, not 0 or 1")
        value |= bit << i
    return value.to_bytes((len(bits) + 7) // 8, "big")
