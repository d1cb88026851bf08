"""The RLP codec: the encoder against the ``rlp`` library, and the strict decoder's rules.

The decoder must refuse exactly what go-ethereum's ``rlp`` package refuses (Yellow Paper,
Appendix B, canonical form): the ``rlp`` library's strict mode follows the same rules, so random
and mutated inputs are checked against it.
"""

from __future__ import annotations

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.rlp_codec import (
    int_bytes,
    rlp_decode,
    rlp_decode_flat_list,
    rlp_decode_list,
    rlp_encode,
)

_rlp_items = st.recursive(st.binary(max_size=80), lambda children: st.lists(children, max_size=6), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(item=_rlp_items)
def test_the_bytes_and_lists_encoder_matches_the_rlp_library(item):
    assert rlp_encode(item) == rlp.encode(item)


@pytest.mark.parametrize("value", [0, 1, 0x7F, 0x80, 255, 256, 2**64 - 1, 2**256 - 1])
def test_int_bytes_is_rlp_big_endian_without_leading_zeros(value):
    assert rlp_encode(int_bytes(value)) == rlp.encode(value)


@pytest.mark.parametrize("bad", [1, "ab", None, [b"a", 2], {b"a": b"b"}])
def test_the_encoder_refuses_what_is_not_bytes_or_lists(bad):
    with pytest.raises(TypeError):
        rlp_encode(bad)


def test_int_bytes_refuses_negative_integers():
    with pytest.raises(ValueError, match="unsigned"):
        int_bytes(-1)


@settings(max_examples=300, deadline=None)
@given(item=_rlp_items)
def test_decode_inverts_encode(item):
    assert rlp_decode(rlp_encode(item)) == item


def _library_decode(raw: bytes):
    try:
        return rlp.decode(raw, strict=True)
    except rlp.DecodingError:
        return None


def _ours(raw: bytes):
    try:
        return rlp_decode(raw)
    except DecodeError:
        return None


@settings(max_examples=400, deadline=None)
@given(raw=st.binary(max_size=80))
def test_garbage_is_refused_exactly_when_the_library_refuses_it(raw):
    assert _ours(raw) == _library_decode(raw)


@settings(max_examples=400, deadline=None)
@given(item=_rlp_items, position=st.integers(0, 10_000), byte=st.integers(0, 255), cut=st.booleans())
def test_mutated_encodings_are_refused_exactly_when_the_library_refuses_them(item, position, byte, cut):
    raw = bytearray(rlp_encode(item))
    if raw:
        position %= len(raw)
        if cut:
            del raw[position:]
        else:
            raw[position] = byte
    assert _ours(bytes(raw)) == _library_decode(bytes(raw))


@pytest.mark.parametrize(("raw", "message", "offset"), [
    (b"", "truncated RLP item", 0),
    (b"\x81\x05", "single byte below 0x80", 0),  # 0x05 must stand alone
    (b"\xb8\x05abcde", "long form for a short item", 0),
    (b"\xf8\x02\x80\x80", "long form for a short item", 0),
    (b"\xb9\x00\x38" + b"a" * 56, "leading zero", 0),
    (b"\xb9\x01", "truncated RLP length", 0),
    (b"\x83ab", "exceeds", 0),
    (b"\xc2\x83abc", "exceeds", 1),  # the string runs past the end of its list
    (b"\x80\x00", "trailing bytes", 1),
    (b"\xc1\x80\x80", "trailing bytes", 2),
])
def test_non_canonical_and_broken_encodings_are_refused_where_they_break(raw, message, offset):
    with pytest.raises(DecodeError, match=message) as info:
        rlp_decode(raw)
    assert info.value.offset == offset


def test_hostile_length_and_depth_fail_cleanly():
    with pytest.raises(DecodeError, match="exceeds"):
        rlp_decode(b"\xbf" + b"\xff" * 8)  # claims 2**64 - 1 bytes
    deep = b"\xc0"
    for _ in range(20_000):  # [[[...[]...]]], far deeper than any real structure
        size = len(deep)
        length = int_bytes(size)
        deep = (bytes([0xC0 + size]) if size < 56 else bytes([0xF7 + len(length)]) + length) + deep
    with pytest.raises(DecodeError, match="nested too deeply"):
        rlp_decode(deep)


def test_list_decoders_want_a_list():
    assert rlp_decode_list(b"\xc2\x01\xc0") == [b"\x01", []]
    with pytest.raises(DecodeError, match="expected an RLP list"):
        rlp_decode_list(b"\x80")
    with pytest.raises(DecodeError, match="expected an RLP list"):
        rlp_decode_flat_list(b"\x05")


def test_the_flat_list_decoder_gives_offsets_and_refuses_nesting():
    assert rlp_decode_flat_list(b"\xc5\x01\x82ab\x80") == [(1, b"\x01"), (2, b"ab"), (5, b"")]
    with pytest.raises(DecodeError, match="nested") as info:
        rlp_decode_flat_list(b"\xc2\x01\xc0")
    assert info.value.offset == 2
    with pytest.raises(DecodeError, match="trailing bytes") as info:
        rlp_decode_flat_list(b"\xc1\x01\x01")
    assert info.value.offset == 2
