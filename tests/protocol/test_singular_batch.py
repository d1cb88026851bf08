"""Singular batches (type 0): round trips, JSON view and malformed content."""

from __future__ import annotations

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.batch import SingularBatch

hashes = st.binary(min_size=32, max_size=32)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
batches = st.builds(
    SingularBatch,
    parent_hash=hashes,
    epoch_num=u64,
    epoch_hash=hashes,
    timestamp=u64,
    transactions=st.lists(st.binary(max_size=60), max_size=5).map(tuple),
)


@settings(max_examples=80, deadline=None)
@given(batches)
def test_round_trip(batch):
    content = batch.encode()
    assert SingularBatch.decode(content) == batch
    assert SingularBatch.decode(content + b"\x01\x02junk") == batch  # trailing bytes ignored


def test_wire_layout_and_json():
    batch = SingularBatch(b"\x11" * 32, 17422590, b"\x22" * 32, 1686068905, (b"\x02\xaa", b""))
    # Spec: rlp([parent_hash, epoch_number, epoch_hash, timestamp, [tx, ...]])
    assert batch.encode() == rlp.encode(
        [b"\x11" * 32, 17422590, b"\x22" * 32, 1686068905, [b"\x02\xaa", b""]]
    )
    assert batch.to_json() == {
        "type": 0,
        "parent_hash": "0x" + "11" * 32,
        "epoch_num": 17422590,
        "epoch_hash": "0x" + "22" * 32,
        "timestamp": 1686068905,
        "transactions": ["0x02aa", "0x"],
    }
    assert batch.to_json(10) == batch.to_json()


def _fields():
    return [b"\x11" * 32, b"\x05", b"\x22" * 32, b"\x07", [b"\x02\x01"]]


@pytest.mark.parametrize(
    "index, value, reason",
    [
        (0, b"\x11" * 31, "parent_hash must be 32 bytes"),
        (2, [b"\x01"], "epoch_hash must be 32 bytes"),
        (1, b"\x00\x05", "non-canonical integer"),
        (3, b"\x01" * 9, "overflows uint64"),
        (4, b"\x02", "transactions must be a list"),
        (4, [[b"\x01"]], "transaction must be a byte string"),
    ],
)
def test_field_errors(index, value, reason):
    fields = _fields()
    fields[index] = value
    with pytest.raises(DecodeError, match=reason):
        SingularBatch.decode(rlp.encode(fields))


def test_structure_errors():
    with pytest.raises(DecodeError, match="empty"):
        SingularBatch.decode(b"")
    with pytest.raises(DecodeError, match="must be an RLP list"):
        SingularBatch.decode(rlp.encode(b"not a list"))
    with pytest.raises(DecodeError, match="5 fields"):
        SingularBatch.decode(rlp.encode(_fields() + [b""]))
    with pytest.raises(DecodeError, match="malformed"):
        SingularBatch.decode(b"\xf8\x05\x01")  # declared length past the end
    with pytest.raises(DecodeError):
        SingularBatch.decode(b"\xc1" * 5000)  # nesting, not a RecursionError


def test_non_canonical_rlp_inside_the_batch_is_refused():
    # Trailing bytes after the list are op-node's to ignore; a non-canonical item inside is not.
    content = SingularBatch(b"\x11" * 32, 5, b"\x22" * 32, 7).encode()
    lone_byte = content.replace(b"\x05", b"\x81\x05", 1)  # epoch 5 with a needless prefix
    lone_byte = bytes([lone_byte[0], lone_byte[1] + 1]) + lone_byte[2:]  # the list grows by one
    with pytest.raises(DecodeError, match="malformed singular batch RLP: non-canonical"):
        SingularBatch.decode(lone_byte)


def test_every_truncation_is_a_decode_error():
    content = SingularBatch(b"\x11" * 32, 5, b"\x22" * 32, 7, (b"\x02" * 70, b"\x01")).encode()
    for cut in range(len(content)):
        with pytest.raises(DecodeError):
            SingularBatch.decode(content[:cut])


def test_constructor_rejects_unencodable_values():
    with pytest.raises(ValueError):
        SingularBatch(b"\x11" * 31, 0, b"\x22" * 32, 0)
    with pytest.raises(ValueError):
        SingularBatch(b"\x11" * 32, 2**64, b"\x22" * 32, 0)
