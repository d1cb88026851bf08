"""uvarints exactly as op-node reads them (Go binary.Uvarint) and span-batch bit lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.encoding import read_bitlist, read_uvarint, write_bitlist, write_uvarint


@pytest.mark.parametrize("encoded, value", [
    ("00", 0), ("01", 1), ("7f", 127), ("8001", 128), ("ac02", 300),
    ("ffffffffffffffffff01", 2**64 - 1),
])
def test_known_encodings(encoded, value):
    assert read_uvarint(bytes.fromhex(encoded)) == (value, len(encoded) // 2)
    assert write_uvarint(value).hex() == encoded


def test_non_minimal_encodings_are_accepted_like_op_node():
    # Go's binary.Uvarint accepts padding groups; kona rejects them. We follow op-node.
    assert read_uvarint(bytes.fromhex("8000")) == (0, 2)
    assert read_uvarint(bytes.fromhex("ff80808000")) == (127, 5)


@pytest.mark.parametrize("encoded", [
    "ffffffffffffffffff02",  # 2**64: the tenth byte may only be 0 or 1
    "80808080808080808080",  # eleven groups' worth
    "ffffffffffffffffffff01",
])
def test_overflow_is_an_error(encoded):
    with pytest.raises(DecodeError, match="overflow"):
        read_uvarint(bytes.fromhex(encoded))


@pytest.mark.parametrize("encoded", ["", "80", "ff ff".replace(" ", "")])
def test_truncated_uvarint(encoded):
    with pytest.raises(DecodeError, match="truncated") as info:
        read_uvarint(bytes.fromhex(encoded))
    assert info.value.offset == 0


def test_offset_is_reported_where_the_varint_starts():
    with pytest.raises(DecodeError) as info:
        read_uvarint(b"\x01\x02\x80", 2)
    assert info.value.offset == 2


def test_write_rejects_out_of_range():
    for value in (-1, 2**64):
        with pytest.raises(ValueError):
            write_uvarint(value)


@given(st.integers(min_value=0, max_value=2**64 - 1), st.binary(max_size=4))
def test_uvarint_round_trip(value, tail):
    encoded = write_uvarint(value)
    assert read_uvarint(encoded + tail) == (value, len(encoded))


def test_bitlist_layout_bit_zero_is_lsb_of_last_byte():
    assert write_bitlist([1] + [0] * 8) == b"\x00\x01"
    assert write_bitlist([0] * 8 + [1]) == b"\x01\x00"
    assert read_bitlist(b"\x01\x00", 0, 9) == ([0] * 8 + [1], 2)


def test_bitlist_with_stray_high_bits_is_invalid():
    with pytest.raises(DecodeError, match="past its length"):
        read_bitlist(b"\x02", 0, 1)
    with pytest.raises(DecodeError):
        read_bitlist(b"\x80\x00", 0, 9)


def test_truncated_bitlist():
    with pytest.raises(DecodeError, match="truncated") as info:
        read_bitlist(b"\x00\x01", 1, 9)
    assert info.value.offset == 1


def test_empty_bitlist():
    assert read_bitlist(b"", 0, 0) == ([], 0)
    assert write_bitlist([]) == b""


@settings(max_examples=200)
@given(st.lists(st.integers(min_value=0, max_value=1), max_size=300))
def test_bitlist_round_trip(bits):
    encoded = write_bitlist(bits)
    assert len(encoded) == (len(bits) + 7) // 8
    assert read_bitlist(encoded, 0, len(bits)) == (bits, len(encoded))
