"""The few pieces of the Solidity ABI the rollup's L1 contracts need (pure).

Solidity ABI specification: a function selector is the first four bytes of the keccak-256 of
its canonical signature; every static value is one 32-byte word; ``abi.encode(bytes)`` is an
offset word, a length word and the bytes zero-padded to a whole number of words.
"""

from __future__ import annotations

from opfleet.protocol.crypto import keccak256

__all__ = ["abi_encode_bytes", "abi_word", "selector"]


def selector(signature: str) -> bytes:
    """``bytes4(keccak256(signature))``, e.g. ``selector("transfer(address,uint256)")``."""
    return keccak256(signature.encode("ascii"))[:4]


def abi_word(value: int | bytes) -> bytes:
    """One ABI word: an unsigned int, or bytes left-padded (addresses) to 32 bytes."""
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    if len(value) > 32:
        raise ValueError("an ABI word holds at most 32 bytes")
    return bytes(32 - len(value)) + bytes(value)


def abi_encode_bytes(data: bytes) -> bytes:
    """``abi.encode(bytes data)``: offset 32, length, data zero-padded to a multiple of 32."""
    padded = bytes(data) + bytes(-len(data) % 32)
    return abi_word(32) + abi_word(len(data)) + padded
