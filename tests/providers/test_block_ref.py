"""opfleet.protocol.block_ref: op-node's BlockID / L1BlockRef / L2BlockRef JSON (op-service/eth/id.go)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.block_ref import (
    ZERO_BLOCK_ID,
    ZERO_L1_BLOCK_REF,
    ZERO_L2_BLOCK_REF,
    BlockID,
    BlockRef,
    L1BlockRef,
    L2BlockRef,
    block_id_from_json,
    block_id_to_json,
)
from opfleet.protocol.rollup_config import BlockID as RollupBlockID

ZERO = "0x" + "00" * 32
hashes = st.binary(min_size=32, max_size=32)
u64 = st.integers(min_value=0, max_value=2**64 - 1)


def test_zero_values_serialise_in_full():
    assert ZERO_L1_BLOCK_REF.to_json() == {"hash": ZERO, "number": 0, "parentHash": ZERO, "timestamp": 0}
    assert ZERO_L2_BLOCK_REF.to_json() == {"hash": ZERO, "number": 0, "parentHash": ZERO, "timestamp": 0,
                                           "l1origin": {"hash": ZERO, "number": 0}, "sequenceNumber": 0}
    assert ZERO_L1_BLOCK_REF.is_zero() and ZERO_L2_BLOCK_REF.is_zero()
    assert block_id_to_json(ZERO_BLOCK_ID) == {"hash": ZERO, "number": 0}


def test_json_shape_and_key_order_match_op_node():
    ref = L2BlockRef(b"\xaa" * 32, 105235064, b"\xbb" * 32, 1686068905, BlockID(b"\xcc" * 32, 17422590), 3)
    text = json.dumps(ref.to_json(), separators=(",", ":"))
    assert text == (
        '{"hash":"0x' + "aa" * 32 + '","number":105235064,"parentHash":"0x' + "bb" * 32
        + '","timestamp":1686068905,"l1origin":{"hash":"0x' + "cc" * 32 + '","number":17422590},"sequenceNumber":3}'
    )
    assert ref.id == BlockID(b"\xaa" * 32, 105235064)
    assert ref.parent_id == BlockID(b"\xbb" * 32, 105235063)
    assert BlockRef is L1BlockRef


def test_block_id_is_the_rollup_config_type():
    assert BlockID is RollupBlockID


@settings(max_examples=60)
@given(hashes, u64, hashes, u64, hashes, u64, u64)
def test_round_trip(h, n, p, t, oh, on, seq):
    l1 = L1BlockRef(h, n, p, t)
    assert L1BlockRef.from_json(json.loads(json.dumps(l1.to_json()))) == l1
    l2 = L2BlockRef(h, n, p, t, BlockID(oh, on), seq)
    assert L2BlockRef.from_json(json.loads(json.dumps(l2.to_json()))) == l2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o.pop("parentHash"), "parentHash"),
        (lambda o: o.update(number="0x10"), "number"),
        (lambda o: o.update(number=True), "number"),
        (lambda o: o.update(number=-1), "number"),
        (lambda o: o.update(timestamp=2**64), "timestamp"),
        (lambda o: o.update(hash="aa" * 32), "hash"),
        (lambda o: o.update(hash="0x" + "aa" * 31), "hash"),
        (lambda o: o.update(hash="0x" + "zz" * 32), "hash"),
        (lambda o: o.update(l1origin=None), "l1origin"),
        (lambda o: o["l1origin"].update(number=1.5), "l1origin.number"),
        (lambda o: o.pop("sequenceNumber"), "sequenceNumber"),
    ],
)
def test_bad_json_gives_decode_errors_naming_the_field(mutate, field):
    obj = ZERO_L2_BLOCK_REF.to_json()
    mutate(obj)
    with pytest.raises(DecodeError) as raised:
        L2BlockRef.from_json(obj)
    assert field in str(raised.value)


def test_non_objects_and_extra_keys():
    with pytest.raises(DecodeError):
        L1BlockRef.from_json([])
    with pytest.raises(DecodeError):
        block_id_from_json("0x00")
    assert L1BlockRef.from_json(dict(ZERO_L1_BLOCK_REF.to_json(), extra=1)) == ZERO_L1_BLOCK_REF  # like Go


def test_constructor_validation():
    with pytest.raises(ValueError):
        L1BlockRef(b"\x00" * 31, 0, b"\x00" * 32, 0)
    with pytest.raises(ValueError):
        L1BlockRef(b"\x00" * 32, -1, b"\x00" * 32, 0)
    with pytest.raises(ValueError):
        L2BlockRef(b"\x00" * 32, 0, b"\x00" * 32, 0, (b"\x00" * 32, 0), 0)
    with pytest.raises(ValueError):
        L2BlockRef(b"\x00" * 32, 0, b"\x00" * 32, 0, ZERO_BLOCK_ID, 2**64)
