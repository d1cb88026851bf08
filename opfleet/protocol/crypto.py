"""Hashing and signature primitives used across the protocol codecs."""

from __future__ import annotations

import hashlib

from Crypto.Hash import keccak as _keccak

ZERO_HASH = b"\x00" * 32
ZERO_ADDRESS = b"\x00" * 20


def keccak256(data: bytes) -> bytes:
    """Ethereum's Keccak-256 (the original Keccak padding, not NIST SHA3-256)."""
    return _keccak.new(digest_bits=256, data=data).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def recover_address(msg_hash: bytes, r: int, s: int, y_parity: int) -> bytes:
    """Return the 20-byte address that signed ``msg_hash`` with signature ``(r, s, y_parity)``.

    Raises ``ValueError`` for a signature that does not recover to a public key.
    """
    from coincurve import PublicKey  # imported lazily: a compiled module, only needed here

    if y_parity not in (0, 1):
        raise ValueError(f"y parity must be 0 or 1, got {y_parity}")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise ValueError("signature r or s out of range")
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([y_parity])
    public = PublicKey.from_signature_and_message(signature, msg_hash, hasher=None)
    return keccak256(public.format(compressed=False)[1:])[12:]


def sign_hash(msg_hash: bytes, private_key: bytes) -> tuple[int, int, int]:
    """Sign a 32-byte hash; return ``(r, s, y_parity)`` with low-s, as Ethereum requires."""
    from coincurve import PrivateKey

    sig = PrivateKey(private_key).sign_recoverable(msg_hash, hasher=None)
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]


def private_key_to_address(private_key: bytes) -> bytes:
    from coincurve import PrivateKey

    return keccak256(PrivateKey(private_key).public_key.format(compressed=False)[1:])[12:]


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
