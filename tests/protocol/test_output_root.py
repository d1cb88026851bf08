"""Output root v0. Vector: tests/vectors/output-root.json (kona output_root.rs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.output_root import OutputV0, output_response_json, output_root

VECTOR_FILE = Path(__file__).parents[1] / "vectors" / "output-root.json"
VECTORS = json.loads(VECTOR_FILE.read_text())["vectors"]


def h(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def output_of(case: dict) -> OutputV0:
    storage_root = h(case["message_passer_storage_root"])
    return OutputV0(h(case["state_root"]), storage_root, h(case["block_hash"]))


@pytest.mark.parametrize("case", VECTORS)
def test_vector(case: dict) -> None:
    output = output_of(case)
    assert output.marshal() == h(case["encoded"])
    assert output.output_root() == h(case["output_root"])
    root = output_root(output.state_root, output.message_passer_storage_root, output.block_hash)
    assert root == h(case["output_root"])
    assert OutputV0.unmarshal(h(case["encoded"])) == output


def test_to_json() -> None:
    case = VECTORS[0]
    out = output_of(case).to_json()
    assert out == {
        "version": "0x" + "00" * 32,
        "stateRoot": case["state_root"],
        "messagePasserStorageRoot": case["message_passer_storage_root"],
        "blockHash": case["block_hash"],
        "outputRoot": case["output_root"],
    }


def test_output_response_shape() -> None:
    # op-node eth.OutputResponse key order (op-service/eth/output.go).
    case = VECTORS[0]
    output = output_of(case)
    ref = {"hash": case["block_hash"], "number": 1}
    out = output_response_json(output, ref, {"current_l1": {}})
    assert list(out) == [
        "version", "outputRoot", "blockRef", "withdrawalStorageRoot", "stateRoot", "syncStatus"
    ]  # fmt: skip
    assert out["outputRoot"] == case["output_root"]
    assert out["withdrawalStorageRoot"] == case["message_passer_storage_root"]
    assert out["blockRef"] == ref and out["blockRef"] is not ref


@pytest.mark.parametrize(
    ("preimage", "message", "offset"),
    [
        (bytes(127), "128 bytes", 127),
        (bytes(129), "128 bytes", 128),
        (b"", "128 bytes", 0),
        (b"\x01" + bytes(127), "unknown output version", 0),
    ],
)
def test_unmarshal_rejects_bad_preimages(preimage: bytes, message: str, offset: int) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        OutputV0.unmarshal(preimage)
    assert info.value.offset == offset


def test_field_sizes_are_checked() -> None:
    with pytest.raises(ValueError):
        OutputV0(bytes(31), bytes(32), bytes(32))


hashes = st.binary(min_size=32, max_size=32)


@settings(max_examples=80, deadline=None)
@given(hashes, hashes, hashes)
def test_round_trip(state_root: bytes, storage_root: bytes, block_hash: bytes) -> None:
    output = OutputV0(state_root, storage_root, block_hash)
    preimage = output.marshal()
    assert len(preimage) == 128 and preimage[:32] == bytes(32)
    assert OutputV0.unmarshal(preimage) == output
    assert output.output_root() == keccak256(preimage)
