"""EIP-4844 KZG commitments and proofs for blobs, via ckzg, with a lazily loaded trusted setup.

``ckzg`` is imported, and the mainnet trusted setup (package data ``data/trusted_setup.txt``)
loaded, on the first call only: loading takes about two seconds, which CLI start-up must not pay.

Spec: ``specs/protocol/derivation.md`` ("Ecotone: blob retrieval"); EIP-4844
(``kzg_to_versioned_hash``, ``verify_blob_kzg_proof``).
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.blob import BLOB_SIZE
from opfleet.protocol.crypto import sha256

BYTES_PER_COMMITMENT = 48
BYTES_PER_PROOF = 48
VERSIONED_HASH_VERSION_KZG = 0x01

_settings: Any = None
_settings_lock = threading.Lock()


def _trusted_setup() -> Any:
    """Return the ckzg settings, loading the trusted setup once (thread safe)."""
    global _settings
    if _settings is None:
        with _settings_lock:
            if _settings is None:
                import ckzg

                package = resources.files("opfleet.protocol")
                resource = package.joinpath("data").joinpath("trusted_setup.txt")
                # as_file gives a real path even from a zip import; shiv extracts to disk anyway.
                with resources.as_file(resource) as path:
                    _settings = ckzg.load_trusted_setup(str(path), 0)
    return _settings


def _require_blob(blob: bytes) -> None:
    if len(blob) != BLOB_SIZE:
        raise DecodeError(f"blob must be {BLOB_SIZE} bytes, got {len(blob)}", offset=0)


def blob_to_commitment(blob: bytes) -> bytes:
    """Compute the 48-byte KZG commitment of a blob.

    Raises :class:`DecodeError` if the blob has the wrong size or a field element is not
    canonical (not below the BLS12-381 scalar modulus).

    Spec: EIP-4844, ``blob_to_kzg_commitment``.
    """
    import ckzg

    _require_blob(blob)
    try:
        return bytes(ckzg.blob_to_kzg_commitment(bytes(blob), _trusted_setup()))
    except (RuntimeError, ValueError) as exc:
        raise DecodeError(f"blob is not a valid list of field elements: {exc}") from None


def compute_blob_proof(blob: bytes, commitment: bytes) -> bytes:
    """Compute the 48-byte KZG proof that ``commitment`` commits to ``blob``.

    Spec: EIP-4844, ``compute_blob_kzg_proof``.
    """
    import ckzg

    _require_blob(blob)
    if len(commitment) != BYTES_PER_COMMITMENT:
        raise DecodeError(f"commitment must be {BYTES_PER_COMMITMENT} bytes, got {len(commitment)}")
    try:
        return bytes(ckzg.compute_blob_kzg_proof(bytes(blob), bytes(commitment), _trusted_setup()))
    except (RuntimeError, ValueError) as exc:
        raise DecodeError(f"cannot compute blob proof: {exc}") from None


def verify_blob_proof(blob: bytes, commitment: bytes, proof: bytes) -> bool:
    """Whether ``proof`` shows ``commitment`` commits to ``blob``.

    Malformed input (wrong sizes, non-canonical field elements, invalid curve points) verifies
    as ``False`` rather than raising: a caller only needs to know the data cannot be trusted.

    Spec: EIP-4844, ``verify_blob_kzg_proof``.
    """
    import ckzg

    if (
        len(blob) != BLOB_SIZE
        or len(commitment) != BYTES_PER_COMMITMENT
        or len(proof) != BYTES_PER_PROOF
    ):
        return False
    try:
        verified = ckzg.verify_blob_kzg_proof(
            bytes(blob), bytes(commitment), bytes(proof), _trusted_setup()
        )
        return bool(verified)
    except (RuntimeError, ValueError):
        return False


def versioned_hash(commitment: bytes) -> bytes:
    """``0x01 ++ sha256(commitment)[1:]``: the blob versioned hash a blob tx carries.

    Spec: EIP-4844, ``kzg_to_versioned_hash``.
    """
    if len(commitment) != BYTES_PER_COMMITMENT:
        raise DecodeError(f"commitment must be {BYTES_PER_COMMITMENT} bytes, got {len(commitment)}")
    return bytes([VERSIONED_HASH_VERSION_KZG]) + sha256(bytes(commitment))[1:]


def verify_blob_versioned_hash(blob: bytes, expected_hash: bytes) -> bool:
    """Whether ``blob`` recomputes to ``expected_hash`` (commitment from the blob, then hash).

    This is the check current op-node and kona make on blobs fetched from a beacon node; an
    invalid blob verifies as ``False``.

    Spec: specs/protocol/derivation.md, Ecotone blob retrieval; EIP-4844.
    """
    if len(blob) != BLOB_SIZE or len(expected_hash) != 32:
        return False
    try:
        commitment = blob_to_commitment(blob)
    except DecodeError:
        return False
    return versioned_hash(commitment) == bytes(expected_hash)
