"""Checking an ``eth_getProof`` answer (EIP-1186) against a block's state root.

A rollup node takes the L2ToL1MessagePasser's storage root for an output root from
``eth_getProof``; op-node (``op-service/eth/account_proof.go`` ``AccountResult.Verify``, called by
``L2Client.OutputV0AtBlock``) trusts it only once the account proof walks from the block's state
root to exactly the claimed ``[nonce, balance, storageHash, codeHash]``. An account that is not
in the state cannot be proven, so a chain without the predeploy has no output root there.

Trie walk: Ethereum Yellow Paper, Appendix D (Merkle Patricia trie) and Appendix C (hex-prefix);
nodes under 32 bytes are embedded in their parent, longer ones referenced by keccak256.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rlp

from opfleet.errors import DecodeError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.hexjson import HexJsonError, parse_data, parse_quantity

EMPTY_TRIE_ROOT = keccak256(rlp.encode(b""))


@dataclass(frozen=True, slots=True)
class ProvenAccount:
    address: bytes
    nonce: int
    balance: int
    storage_hash: bytes
    code_hash: bytes


class ProofError(DecodeError):
    """The proof does not lead from the state root to the claimed account."""


def _nibbles(key: bytes) -> list[int]:
    out = []
    for b in key:
        out += [b >> 4, b & 0x0F]
    return out


def _hex_prefix(encoded: bytes) -> tuple[list[int], bool]:
    if not encoded:
        raise ProofError("empty hex-prefix path in a trie node")
    flag = encoded[0] >> 4
    nibbles = _nibbles(encoded)[2 if flag % 2 == 0 else 1:]
    return nibbles, flag >= 2


def walk_proof(root: bytes, key: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The value stored under ``key`` (already hashed for a secure trie) in the trie with this
    ``root``, read through the ``proof`` nodes; None if the proof shows the key absent.
    Raises :class:`ProofError` when a needed node is missing or malformed."""
    nodes = {keccak256(node): node for node in proof}
    path = _nibbles(key)
    reference: Any = root
    position = 0
    while True:
        if isinstance(reference, bytes):
            if reference == b"" or (position == 0 and reference == EMPTY_TRIE_ROOT and reference not in nodes):
                return None
            if len(reference) != 32 or reference not in nodes:
                raise ProofError(f"proof node 0x{reference.hex()} missing")
            try:
                node = rlp.decode(nodes[reference])
            except rlp.exceptions.DecodingError as exc:
                raise ProofError(f"undecodable proof node: {exc}") from None
        else:
            node = reference
        if not isinstance(node, list):
            raise ProofError("a trie node is not a list")
        if len(node) == 17:
            if position == len(path):
                return node[16] or None
            reference = node[path[position]]
            position += 1
            continue
        if len(node) != 2:
            raise ProofError(f"a trie node has {len(node)} items")
        segment, leaf = _hex_prefix(node[0])
        if path[position:position + len(segment)] != segment:
            return None
        position += len(segment)
        if leaf:
            return node[1] if position == len(path) else None
        reference = node[1]


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
    claimed = rlp.encode([account.nonce, account.balance, account.storage_hash, account.code_hash])
    proven = walk_proof(state_root, keccak256(address), nodes)
    if proven is None:
        raise ProofError(f"account 0x{address.hex()} is not in the state (state root 0x{state_root.hex()})")
    if proven != claimed:
        raise ProofError(f"the account proof of 0x{address.hex()} does not match the claimed account")
    return account
