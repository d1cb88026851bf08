"""KZG wrapper (EIP-4844) against real beacon-API sidecars.

Vectors: tests/vectors/beacon-api/eth_v1_beacon_blob_sidecars_7422094_goerli.json and expected.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opfleet.errors import DecodeError
from opfleet.protocol import kzg
from opfleet.protocol.blob import BLOB_SIZE, encode_blob
from opfleet.protocol.crypto import sha256

BEACON = Path(__file__).resolve().parents[1] / "vectors" / "beacon-api"
SIDECARS_FILE = BEACON / "eth_v1_beacon_blob_sidecars_7422094_goerli.json"
SIDECARS = json.loads(SIDECARS_FILE.read_text())["data"]
EXPECTED = {
    int(entry["index"]): bytes.fromhex(entry["versioned_hash"][2:])
    for entry in json.loads((BEACON / "expected.json").read_text())["versioned_hashes"]
}


def _hex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def sidecar(index: int) -> tuple[bytes, bytes, bytes]:
    entry = SIDECARS[index]
    assert int(entry["index"]) == index
    return _hex(entry["blob"]), _hex(entry["kzg_commitment"]), _hex(entry["kzg_proof"])


NON_CANONICAL_BLOB = b"\xff" * BLOB_SIZE  # every field element above the BLS modulus


def test_importing_the_module_does_not_import_ckzg():
    code = "import sys, opfleet.protocol.kzg; assert 'ckzg' not in sys.modules, 'eager ckzg'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_trusted_setup_is_loaded_once():
    assert kzg._trusted_setup() is kzg._trusted_setup()


@pytest.mark.parametrize("index", range(5))
def test_sidecar_commitment_proof_and_versioned_hash(index):
    blob, commitment, proof = sidecar(index)
    assert kzg.blob_to_commitment(blob) == commitment
    assert kzg.versioned_hash(commitment) == EXPECTED[index]
    assert kzg.verify_blob_proof(blob, commitment, proof) is True
    assert kzg.verify_blob_versioned_hash(blob, EXPECTED[index]) is True


def test_compute_blob_proof_reproduces_the_sidecar_proof():
    blob, commitment, proof = sidecar(0)
    assert kzg.compute_blob_proof(blob, commitment) == proof


def test_versioned_hash_layout():
    commitment = bytes(range(48))
    assert kzg.versioned_hash(commitment) == b"\x01" + sha256(commitment)[1:]
    with pytest.raises(DecodeError):
        kzg.versioned_hash(commitment[:47])


def test_mismatched_data_does_not_verify():
    blob0, commitment0, proof0 = sidecar(0)
    blob1, commitment1, proof1 = sidecar(1)
    assert kzg.verify_blob_proof(blob0, commitment0, proof1) is False
    assert kzg.verify_blob_proof(blob1, commitment0, proof0) is False
    assert kzg.verify_blob_versioned_hash(blob0, EXPECTED[1]) is False
    tampered = bytearray(blob0)
    tampered[1000] ^= 0x01
    assert kzg.verify_blob_versioned_hash(bytes(tampered), EXPECTED[0]) is False


def test_malformed_input_verifies_false_instead_of_raising():
    blob, commitment, proof = sidecar(2)
    assert kzg.verify_blob_proof(blob[:-1], commitment, proof) is False
    assert kzg.verify_blob_proof(blob, commitment[:47], proof) is False
    assert kzg.verify_blob_proof(blob, commitment, proof + b"\x00") is False
    assert kzg.verify_blob_proof(blob, b"\xff" * 48, proof) is False  # not a curve point
    assert kzg.verify_blob_proof(NON_CANONICAL_BLOB, commitment, proof) is False
    assert kzg.verify_blob_versioned_hash(NON_CANONICAL_BLOB, EXPECTED[2]) is False
    assert kzg.verify_blob_versioned_hash(blob, EXPECTED[2][:31]) is False


def test_malformed_blob_raises_decode_error_when_committing():
    with pytest.raises(DecodeError):
        kzg.blob_to_commitment(NON_CANONICAL_BLOB)
    with pytest.raises(DecodeError):
        kzg.blob_to_commitment(b"\x00" * 100)
    with pytest.raises(DecodeError):
        kzg.compute_blob_proof(b"\x00" * BLOB_SIZE, b"\x00" * 47)


def test_op_encoded_blob_commits_and_verifies():
    blob = encode_blob(b"\xff" * 5000 + b"opfleet")
    commitment = kzg.blob_to_commitment(blob)
    proof = kzg.compute_blob_proof(blob, commitment)
    assert kzg.verify_blob_proof(blob, commitment, proof)
    assert kzg.verify_blob_versioned_hash(blob, kzg.versioned_hash(commitment))


def test_empty_blob_commitment_is_the_point_at_infinity():
    # blob of zeros commits to the compressed identity point (0xc0 then zeros).
    assert kzg.blob_to_commitment(bytes(BLOB_SIZE)) == b"\xc0" + bytes(47)
