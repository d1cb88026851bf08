"""Checking an ``eth_getProof`` answer (EIP-1186) against a block's state root.

A rollup node takes the L2ToL1MessagePasser's storage root for an output root from
``eth_getProof``; op-node (``op-service/eth/account_proof.go`` ``AccountResult.Verify``, called by
``L2Client.OutputV0AtBlock``) trusts it only once the account proof walks from the block's state
root to exactly the claimed ``[nonce, balance, storageHash, codeHash]``. An account that is not
in the state cannot be proven, so a chain without the predeploy has no output root there.

The trie walk itself is :func:`opfleet.protocol.trie.verify_proof`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opfleet.protocol.crypto import keccak256
from opfleet.protocol.hexjson import HexJsonError, parse_data, parse_quantity
from opfleet.protocol.rlp_codec import int_bytes, rlp_encode
from opfleet.protocol.trie import ProofError, verify_proof

__all__ = ["ProofError", "ProvenAccount", "verify_account_proof"]


@dataclass(frozen=True, slots=True)
class ProvenAccount:
    address: bytes
    nonce: int
    balance: int
    storage_hash: bytes
    code_hash: bytes


def _data(obj: Mapping[str, Any], key: str, size: int | None = None) -> bytes:
    try:
        return parse_data(obj.get(key), size, f"eth_getProof: {key}")
    except HexJsonError as exc:
        raise ProofError(str(exc)) from None


def _quantity(obj: Mapping[str, Any], key: str) -> int:
    try:
        return parse_quantity(obj.get(key), f"eth_getProof: {key}")
    except HexJsonError as exc:
        raise ProofError(str(exc)) from None


def verify_account_proof(state_root: bytes, address: bytes, result: Any) -> ProvenAccount:
    """The account an ``eth_getProof(address, [], block)`` answer claims, once its account proof
    is checked against ``state_root``; :class:`ProofError` otherwise (as op-node refuses it)."""
    if not isinstance(result, Mapping):
        raise ProofError("eth_getProof: expected an object")
    if _data(result, "address", 20) != address:
        raise ProofError(f"eth_getProof: asked for 0x{address.hex()}, got {result.get('address')}")
    account = ProvenAccount(address, _quantity(result, "nonce"), _quantity(result, "balance"),
                            _data(result, "storageHash", 32), _data(result, "codeHash", 32))
    proof = result.get("accountProof")
    if not isinstance(proof, list):
        raise ProofError("eth_getProof: accountProof is not a list")
    nodes = [_data({"accountProof": node}, "accountProof") for node in proof]
    claimed = rlp_encode([int_bytes(account.nonce), int_bytes(account.balance), account.storage_hash, account.code_hash])
    proven = verify_proof(state_root, keccak256(address), nodes)
    if proven is None:
        raise ProofError(f"account 0x{address.hex()} is not in the state (state root 0x{state_root.hex()})")
    if proven != claimed:
        raise ProofError(f"the account proof of 0x{address.hex()} does not match the claimed account")
    return account
