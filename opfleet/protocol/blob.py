"""OP Stack blob encoding of rollup data into one EIP-4844 blob (version 0).

Each round of 4 field elements (128 blob bytes) carries 127 stream bytes: 31 bytes in the tail
of each field element plus 3 bytes spread over the low 6 bits of the four first bytes. The
stream is ``0x00 (version) ++ len (uint24 BE) ++ data``, zero padded, over 1024 rounds.

Both directions work on whole slices (extended slices and big-integer masks over the 1024
"first bytes" of a kind), so a blob is decoded in a handful of C-level operations.

Spec: ``specs/protocol/ecotone/derivation.md`` ("Blob Encoding"); op-service ``eth/blob.go``.
"""

from __future__ import annotations

from opfleet.errors import DecodeError

BYTES_PER_FIELD_ELEMENT = 32
FIELD_ELEMENTS_PER_BLOB = 4096
BLOB_SIZE = BYTES_PER_FIELD_ELEMENT * FIELD_ELEMENTS_PER_BLOB  # 131072
ENCODING_VERSION = 0
ROUNDS = 1024
MAX_BLOB_DATA_SIZE = (4 * 31 + 3) * ROUNDS - 4  # 130044

_ROUND_BLOB_BYTES = 4 * BYTES_PER_FIELD_ELEMENT  # 128
_ROUND_STREAM_BYTES = 4 * 31 + 3  # 127
_STREAM_SIZE = _ROUND_STREAM_BYTES * ROUNDS  # 130048
_HEADER_SIZE = 4  # version byte + uint24 length


def _mask(byte: int, count: int) -> int:
    return int.from_bytes(bytes([byte]) * count, "big")


# Byte-wise masks over big integers: every shift below stays inside its byte, so one integer
# operation handles all 1024 rounds at once.
_M3F = _mask(0x3F, ROUNDS)
_M30 = _mask(0x30, ROUNDS)
_M0F = _mask(0x0F, ROUNDS)
_MC0 = _mask(0xC0, ROUNDS)
_MF0 = _mask(0xF0, ROUNDS)
_TOP_BITS = _mask(0xC0, FIELD_ELEMENTS_PER_BLOB)


def _int(data: bytes | bytearray) -> int:
    return int.from_bytes(data, "big")


def _bytes(value: int) -> bytes:
    return value.to_bytes(ROUNDS, "big")


def decode_blob(blob: bytes) -> bytes:
    """Decode the rollup data held in an OP-encoded blob.

    Checks, as op-node: exact blob size; version byte (``blob[1]``) 0; declared length at most
    ``MAX_BLOB_DATA_SIZE``; the top two bits of every field element clear; every byte past the
    declared data (in the stream and in the blob) zero. Failure: :class:`DecodeError` with the
    offending blob byte offset.

    Spec: specs/protocol/ecotone/derivation.md, Blob Encoding.
    """
    if len(blob) != BLOB_SIZE:
        raise DecodeError(f"blob must be {BLOB_SIZE} bytes, got {len(blob)}", offset=0)
    if blob[1] != ENCODING_VERSION:
        raise DecodeError(f"invalid blob encoding version {blob[1]}", offset=1)
    length = int.from_bytes(blob[2:5], "big")
    if length > MAX_BLOB_DATA_SIZE:
        raise DecodeError(f"invalid blob data length {length} (> {MAX_BLOB_DATA_SIZE})", offset=2)

    first_bytes = bytes(blob[0::BYTES_PER_FIELD_ELEMENT])
    if _int(first_bytes) & _TOP_BITS:
        index = next(i for i, byte in enumerate(first_bytes) if byte & 0xC0)
        raise DecodeError(
            f"field element {index} has a top bit set ({first_bytes[index]:#04x})",
            offset=index * BYTES_PER_FIELD_ELEMENT,
        )
    a, b, c, d = (_int(first_bytes[k::4]) for k in range(4))
    x = (a & _M3F) | ((b & _M30) << 2)
    y = (b & _M0F) | ((d & _M0F) << 4)
    z = (c & _M3F) | ((d & _M30) << 2)

    # Put x, y, z where the 2nd-4th first bytes were, then drop the 1st first byte of each
    # round: what remains is the 127-byte stream of every round, in order.
    stream = bytearray(blob)
    stream[32::_ROUND_BLOB_BYTES] = _bytes(x)
    stream[64::_ROUND_BLOB_BYTES] = _bytes(y)
    stream[96::_ROUND_BLOB_BYTES] = _bytes(z)
    del stream[0::_ROUND_BLOB_BYTES]

    end = _HEADER_SIZE + length
    # Non-zero padding anywhere after the data: in the stream, and (given the top-bit check
    # above) therefore also in any blob byte after the last field element holding data.
    if stream.count(0, end) != _STREAM_SIZE - end:
        position = _STREAM_SIZE - len(stream[end:].lstrip(b"\x00"))
        round_index, in_round = divmod(position, _ROUND_STREAM_BYTES)
        if in_round in (31, 63, 95):
            # x, y, z come from the round's four first bytes: point at the round's start.
            offset = round_index * _ROUND_BLOB_BYTES
        else:
            offset = round_index * _ROUND_BLOB_BYTES + in_round + 1
        raise DecodeError(
            "extraneous non-zero data after the blob's declared length", offset=offset
        )
    return bytes(stream[_HEADER_SIZE:end])


def encode_blob(data: bytes) -> bytes:
    """Encode rollup data (at most ``MAX_BLOB_DATA_SIZE`` bytes) into one blob.

    Raises ``ValueError`` for oversized input.

    Spec: specs/protocol/ecotone/derivation.md, Blob Encoding.
    """
    if len(data) > MAX_BLOB_DATA_SIZE:
        raise ValueError(f"blob data too large: {len(data)} bytes (max {MAX_BLOB_DATA_SIZE})")
    stream = bytearray(_STREAM_SIZE)
    stream[0] = ENCODING_VERSION
    stream[1:4] = len(data).to_bytes(3, "big")
    stream[_HEADER_SIZE : _HEADER_SIZE + len(data)] = data

    x = _int(stream[31::_ROUND_STREAM_BYTES])
    y = _int(stream[63::_ROUND_STREAM_BYTES])
    z = _int(stream[95::_ROUND_STREAM_BYTES])
    a = x & _M3F
    b = ((x & _MC0) >> 2) | (y & _M0F)
    c = z & _M3F
    d = ((z & _MC0) >> 2) | ((y & _MF0) >> 4)

    # Each round's 127 stream bytes go to blob bytes 1..127 of its 128; the 4 first bytes
    # (positions 0, 32, 64, 96; the last three held x, y, z) are then overwritten.
    step = _ROUND_STREAM_BYTES
    blob = bytearray(b"".join(b"\x00" + stream[i : i + step] for i in range(0, _STREAM_SIZE, step)))
    blob[0::_ROUND_BLOB_BYTES] = _bytes(a)
    blob[32::_ROUND_BLOB_BYTES] = _bytes(b)
    blob[64::_ROUND_BLOB_BYTES] = _bytes(c)
    blob[96::_ROUND_BLOB_BYTES] = _bytes(d)
    return bytes(blob)
