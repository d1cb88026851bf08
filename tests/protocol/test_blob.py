"""OP blob encoding (specs/protocol/ecotone/derivation.md "Blob Encoding")."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.blob import BLOB_SIZE, MAX_BLOB_DATA_SIZE, decode_blob, encode_blob

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
BLOB_VECTORS = json.loads((VECTORS / "blob-encoding.json").read_text())
SIDECARS_FILE = VECTORS / "beacon-api" / "eth_v1_beacon_blob_sidecars_7422094_goerli.json"
SIDECARS = json.loads(SIDECARS_FILE.read_text())


def _hex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def _blob(prefix: bytes) -> bytes:
    return prefix + bytes(BLOB_SIZE - len(prefix))


def reference_decode(blob: bytes) -> bytes:
    """Straight per-round transcription of the spec, to cross-check the sliced decoder."""
    out = bytearray()
    for r in range(1024):
        fe = [blob[(4 * r + k) * 32 : (4 * r + k + 1) * 32] for k in range(4)]
        a, b, c, d = (f[0] for f in fe)
        x = (a & 0x3F) | ((b & 0x30) << 2)
        y = (b & 0x0F) | ((d & 0x0F) << 4)
        z = (c & 0x3F) | ((d & 0x30) << 2)
        out += fe[0][1:] + bytes([x]) + fe[1][1:] + bytes([y]) + fe[2][1:] + bytes([z]) + fe[3][1:]
    assert out[0] == 0
    return bytes(out[4 : 4 + int.from_bytes(out[1:4], "big")])


# --- tests/vectors/blob-encoding.json ----------------------------------------------------------


@pytest.mark.parametrize("case", BLOB_VECTORS["decode"], ids=lambda c: c["blob_prefix"][:24])
def test_decode_vectors(case):
    blob = _blob(_hex(case["blob_prefix"]))
    if "error" in case:
        with pytest.raises(DecodeError) as info:
            decode_blob(blob)
        assert info.value.offset is not None
    elif "expected_data" in case:
        assert decode_blob(blob) == _hex(case["expected_data"])
    else:
        assert decode_blob(blob) == bytes(case["expected_data_zero_bytes"])


def test_decode_vector_error_offsets():
    # Offsets for the blob-encoding.json error cases, keyed by blob prefix.
    expected = {
        "0x000001fbfd": (2, "length"),
        "0x3000000000": (0, "extraneous"),
        "0x0100000000": (0, "extraneous"),
        "0x0001000000": (1, "version"),
        "0x" + "00" * 127 + "01": (127, "extraneous"),
        "0x" + "00" * 32 + "80": (32, "top bit"),
        "0x" + "00" * 32 + "40": (32, "top bit"),
    }
    errors = [case for case in BLOB_VECTORS["decode"] if "error" in case]
    assert {case["blob_prefix"] for case in errors} == set(expected)
    for case in errors:
        offset, words = expected[case["blob_prefix"]]
        with pytest.raises(DecodeError, match=words) as info:
            decode_blob(_blob(_hex(case["blob_prefix"])))
        assert info.value.offset == offset


def _encode_id(case: dict) -> str:
    return str(case.get("data", case.get("data_zero_bytes")))[:24]


@pytest.mark.parametrize("case", BLOB_VECTORS["encode"], ids=_encode_id)
def test_encode_vectors(case):
    data = _hex(case["data"]) if "data" in case else bytes(case["data_zero_bytes"])
    if "error" in case:
        with pytest.raises(ValueError, match="too large"):
            encode_blob(data)
    else:
        assert encode_blob(data) == _blob(_hex(case["expected_blob_prefix"]))


@pytest.mark.parametrize("text", BLOB_VECTORS["roundtrip_strings"])
def test_roundtrip_strings(text):
    data = text.encode()
    blob = encode_blob(data)
    assert len(blob) == BLOB_SIZE
    assert decode_blob(blob) == data


# --- real L1 blobs (tests/vectors/beacon-api/...7422094_goerli.json) are not OP-encoded ----------


@pytest.mark.parametrize("index", range(5))
def test_real_l1_blobs_are_rejected_as_wrong_version(index):
    blob = _hex(SIDECARS["data"][index]["blob"])
    assert len(blob) == BLOB_SIZE and blob[1] != 0
    with pytest.raises(DecodeError, match="version") as info:
        decode_blob(blob)
    assert info.value.offset == 1


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, BLOB_SIZE - 1, BLOB_SIZE + 1])
def test_wrong_blob_size(size):
    with pytest.raises(DecodeError, match="131072"):
        decode_blob(bytes(size))


def test_top_bits_are_checked_in_every_field_element():
    blob = bytearray(encode_blob(b"payload"))
    blob[4095 * 32] = 0x40
    with pytest.raises(DecodeError, match="field element 4095") as info:
        decode_blob(bytes(blob))
    assert info.value.offset == 4095 * 32


@pytest.mark.parametrize(
    "position, offset",
    [
        (BLOB_SIZE - 1, BLOB_SIZE - 1),  # last tail byte of the last field element
        (5 * 128, 5 * 128),  # first byte of round 5 (feeds x)
        (5 * 128 + 96, 5 * 128),  # fourth first byte of round 5 (feeds y and z)
        (1 + 4 + 7, 12),  # stream byte right after 7 bytes of data, inside round 0
    ],
)
def test_non_zero_bytes_after_the_data_are_rejected(position, offset):
    blob = bytearray(encode_blob(b"payload"))
    blob[position] = 0x01
    with pytest.raises(DecodeError, match="extraneous") as info:
        decode_blob(bytes(blob))
    assert info.value.offset == offset


def test_length_field_is_bounded_before_decoding():
    blob = bytearray(BLOB_SIZE)
    blob[2:5] = (MAX_BLOB_DATA_SIZE + 1).to_bytes(3, "big")
    with pytest.raises(DecodeError, match="length"):
        decode_blob(bytes(blob))
    blob[2:5] = b"\xff\xff\xff"
    with pytest.raises(DecodeError, match="length"):
        decode_blob(bytes(blob))


def test_encode_rejects_one_byte_too_many():
    encode_blob(bytes(MAX_BLOB_DATA_SIZE))
    with pytest.raises(ValueError):
        encode_blob(bytes(MAX_BLOB_DATA_SIZE + 1))


# --- round trips and the independent reference ----------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=MAX_BLOB_DATA_SIZE))
def test_encode_decode_round_trip(data):
    blob = encode_blob(data)
    assert len(blob) == BLOB_SIZE
    assert all(byte & 0xC0 == 0 for byte in blob[0::32])
    assert decode_blob(blob) == data


@pytest.mark.parametrize(
    "size", [0, 26, 27, 28, 122, 123, 124, 250, MAX_BLOB_DATA_SIZE - 1, MAX_BLOB_DATA_SIZE]
)
def test_round_trip_at_round_boundaries(size):
    data = random.Random(size).randbytes(size)
    blob = encode_blob(data)
    assert decode_blob(blob) == data == reference_decode(blob)


@pytest.mark.parametrize("seed", range(3))
def test_decoder_matches_reference_on_random_full_blobs(seed):
    rng = random.Random(seed)
    blob = bytearray(rng.randbytes(BLOB_SIZE))
    blob[0::32] = bytes(byte & 0x3F for byte in blob[0::32])
    blob[1] = 0
    blob[2:5] = MAX_BLOB_DATA_SIZE.to_bytes(3, "big")
    blob = bytes(blob)
    data = decode_blob(blob)
    assert data == reference_decode(blob)
    assert encode_blob(data) == blob


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, BLOB_SIZE - 1), st.integers(1, 255))
def test_changing_a_byte_past_the_data_is_rejected(data, position, value):
    blob = bytearray(encode_blob(data))
    used_round_bytes = ((4 + len(data)) // 127 + 1) * 128  # rounds touched by header + data
    if position < used_round_bytes:
        position = used_round_bytes + position % (BLOB_SIZE - used_round_bytes)
    blob[position] = value
    with pytest.raises(DecodeError):
        decode_blob(bytes(blob))


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=1, max_size=2000), st.data())
def test_any_single_byte_change_decodes_or_raises_decode_error(data, draw):
    blob = bytearray(encode_blob(data))
    position = draw.draw(st.integers(0, BLOB_SIZE - 1))
    blob[position] ^= draw.draw(st.integers(1, 255))
    try:
        decoded = decode_blob(bytes(blob))
    except DecodeError as exc:
        assert exc.offset is not None and 0 <= exc.offset < BLOB_SIZE
    else:
        assert decoded != data or blob == encode_blob(data)
