"""keccak256 and secp256k1 recovery against known values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from opfleet.protocol.crypto import (
    SECP256K1_N, keccak256, private_key_to_address, recover_address, sha256, sign_hash,
)


def test_keccak_known_values():
    # Keccak-256, not NIST SHA3-256 (which would give a7ffc6f8...).
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    # The TransactionDeposited event topic (derivation reference, constants table).
    signature = b"TransactionDeposited(address,address,uint256,bytes)"
    assert keccak256(signature).hex() == \
        "b3813568d9991fc951961fcb4c784893574240a28925604d09fc577c55bb7c32"


def test_sha256():
    assert sha256(b"abc").hex().startswith("ba7816bf")


def test_private_key_one_has_the_well_known_address():
    assert private_key_to_address((1).to_bytes(32, "big")).hex() == \
        "7e5f4552091a69125d5dfcb7b8c2659029395bdf"


@settings(max_examples=25)
@given(st.integers(min_value=1, max_value=SECP256K1_N - 1), st.binary(min_size=32, max_size=32))
def test_sign_then_recover(secret, digest):
    key = secret.to_bytes(32, "big")
    r, s, y = sign_hash(digest, key)
    assert s <= SECP256K1_N // 2  # low-s, as Ethereum requires
    assert recover_address(digest, r, s, y) == private_key_to_address(key)


@pytest.mark.parametrize("r, s, y", [(0, 1, 0), (1, 0, 0), (SECP256K1_N, 1, 0), (1, 1, 2)])
def test_invalid_signatures_raise_value_error(r, s, y):
    with pytest.raises(ValueError):
        recover_address(b"\x00" * 32, r, s, y)
