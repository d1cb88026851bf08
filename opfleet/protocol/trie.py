"""Hexary Merkle-Patricia trie roots and proofs, computed from a whole key/value set.

Spec: Ethereum Yellow Paper, Appendix D ("Modified Merkle Patricia Tree") and Appendix C
(hex-prefix encoding). The devnet's tries are small and rebuilt per block, so there is no
node database: :func:`trie_root` builds the root straight from a mapping, and
:func:`trie_proof` rebuilds it while collecting the nodes on one key's path, which is exactly
what ``eth_getProof`` returns (go-ethereum ``trie.Prove``: the root node, then every node on the
path that is referenced by hash; nodes shorter than 32 bytes are embedded in their parent and
not listed separately).

Three flavours are used by the chains:

- :func:`trie_root` - keys as given (the generic trie of the ``TrieTests`` vectors);
- :func:`secure_trie_root` - keys hashed with keccak256 (accounts by address, storage by slot);
- :func:`ordered_trie_root` - keys ``rlp(index)`` (transactions, receipts, withdrawals).

Trie nodes hold only byte strings and lists, encoded with
:func:`~opfleet.protocol.rlp_codec.rlp_encode`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.rlp_codec import int_bytes, rlp_decode, rlp_encode

EMPTY_TRIE_ROOT = keccak256(rlp_encode(b""))
"""``0x56e81f17...b421``: the root of a trie with no keys (``keccak256(rlp(b""))``)."""

_BRANCH_WIDTH = 17  # 16 children and a value slot


class ProofError(DecodeError):
    """A proof does not lead from the root to the key: a node is missing, malformed or foreign."""


_NIBBLE_PAIRS = [bytes((b >> 4, b & 0x0F)) for b in range(256)]


def _nibbles(key: bytes) -> bytes:
    """The key as a byte string of nibbles (one nibble per byte), high nibble first."""
    return b"".join([_NIBBLE_PAIRS[b] for b in key])


def hex_prefix(nibbles: bytes, *, leaf: bool) -> bytes:
    """Compact (hex-prefix) encoding of a nibble path, flagging leaf or extension.

    Spec: Yellow Paper, Appendix C: the first nibble is ``2 * leaf + (len % 2)``; an even path
    gets a zero padding nibble after the flag.
    """
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        packed = bytes([(flag + 1) << 4 | nibbles[0]])
        rest = nibbles[1:]
    else:
        packed = bytes([flag << 4])
        rest = nibbles
    return packed + bytes(rest[i] << 4 | rest[i + 1] for i in range(0, len(rest), 2))


def _decode_hex_prefix(encoded: bytes) -> tuple[bytes, bool]:
    if not isinstance(encoded, bytes) or not encoded:
        raise ProofError("empty hex-prefix path in a trie node")
    flag = encoded[0] >> 4
    if flag > 3:
        raise ProofError(f"bad hex-prefix flag {flag} in a trie node")
    nibbles = _nibbles(encoded)
    return (nibbles[1:] if flag & 1 else nibbles[2:]), bool(flag & 2)


def _common_prefix_length(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class _Builder:
    """Builds the root node of sorted ``(nibble_key, value)`` items; optionally records a proof."""

    def __init__(self, proof_key: bytes | None = None):
        self.proof_key = proof_key
        self.proof: list[tuple[int, bytes]] = []

    def build(self, items: Sequence[tuple[bytes, bytes]], depth: int) -> Any:
        node = self._node(items, depth)
        self._record(node, items, depth)
        return node

    def _node(self, items: Sequence[tuple[bytes, bytes]], depth: int) -> Any:
        if not items:
            return b""
        if len(items) == 1:
            key, value = items[0]
            return [hex_prefix(key[depth:], leaf=True), value]
        # Items are sorted, so the prefix shared by all is the one shared by the first and last.
        shared = _common_prefix_length(items[0][0][depth:], items[-1][0][depth:])
        if shared:
            child = self.build(items, depth + shared)
            return [hex_prefix(items[0][0][depth : depth + shared], leaf=False), self._reference(child)]
        branch: list[Any] = [b""] * _BRANCH_WIDTH
        start = 0
        if len(items[0][0]) == depth:  # a key ending here (sorts first) is the branch's value
            branch[16] = items[0][1]
            start = 1
        while start < len(items):
            nibble = items[start][0][depth]
            end = start + 1
            while end < len(items) and items[end][0][depth] == nibble:
                end += 1
            branch[nibble] = self._reference(self.build(items[start:end], depth + 1))
            start = end
        return branch

    @staticmethod
    def _reference(node: Any) -> Any:
        """How a parent refers to a child: the node itself if its RLP is short, else its hash."""
        encoded = rlp_encode(node)
        return node if len(encoded) < 32 else keccak256(encoded)

    def _record(self, node: Any, items: Sequence[tuple[bytes, bytes]], depth: int) -> None:
        key = self.proof_key
        if key is None or not items or items[0][0][:depth] != key[:depth]:
            return
        encoded = rlp_encode(node)
        if depth == 0 or len(encoded) >= 32:
            self.proof.append((depth, encoded))


def _sorted_items(items: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    pairs = items.items() if isinstance(items, Mapping) else items
    merged: dict[bytes, bytes] = {}
    for key, value in pairs:
        merged[bytes(key)] = bytes(value)
    # An empty value means "absent" (as in the TrieTests vectors' deletions).
    return sorted((_nibbles(k), v) for k, v in merged.items() if v)


def trie_root(items: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]) -> bytes:
    """The root hash of the trie holding ``items`` (raw keys; empty values are absent).

    Spec: Yellow Paper, Appendix D. The root node is always hashed, even when short.
    """
    return _root(_sorted_items(items))


def _root(items: Sequence[tuple[bytes, bytes]]) -> bytes:
    return keccak256(rlp_encode(_Builder().build(items, 0)))


def secure_trie_root(items: Mapping[bytes, bytes]) -> bytes:
    """Root of the "secure" trie: each key replaced by ``keccak256(key)`` (state and storage tries)."""
    return trie_root({keccak256(k): v for k, v in items.items()})


def ordered_trie_root(values: Sequence[bytes]) -> bytes:
    """Root of the trie mapping ``rlp(i)`` to ``values[i]``: transactionsRoot, receiptsRoot, withdrawalsRoot.

    Spec: Yellow Paper, section 4.3 (block header ``transactionsRoot``/``receiptsRoot``).
    """
    # The keys are distinct by construction, so the pairs go straight to the builder.
    return _root(sorted((_nibbles(rlp_encode(int_bytes(i))), bytes(v)) for i, v in enumerate(values) if v))


def trie_proof(items: Mapping[bytes, bytes], key: bytes) -> list[bytes]:
    """The RLP nodes proving ``key``'s value (or its absence), root first.

    Spec: EIP-1186 (``eth_getProof``); node selection as go-ethereum ``trie.Prove``.
    """
    builder = _Builder(_nibbles(key))
    builder.build(_sorted_items(items), 0)
    return [encoded for _, encoded in sorted(builder.proof)]


def secure_trie_proof(items: Mapping[bytes, bytes], key: bytes) -> list[bytes]:
    """:func:`trie_proof` for a secure trie (``key`` is hashed like the stored keys)."""
    return trie_proof({keccak256(k): v for k, v in items.items()}, keccak256(key))


def verify_proof(root: bytes, key: bytes, proof: Sequence[bytes]) -> bytes | None:
    """Walk ``proof`` from ``root`` along ``key``: the value, or None if the proof shows the key absent.

    Raises :class:`ProofError` when a needed node is missing, undecodable or malformed (the check
    op-node makes on ``eth_getProof`` answers). ``key`` is the raw trie key (already hashed for a
    secure trie).
    """
    nodes = {keccak256(encoded): encoded for encoded in proof}
    path = _nibbles(key)
    reference: Any = bytes(root)
    position = 0
    while True:
        if isinstance(reference, bytes):
            if reference == b"" or (position == 0 and reference == EMPTY_TRIE_ROOT and reference not in nodes):
                return None
            if len(reference) != 32 or reference not in nodes:
                raise ProofError(f"proof is missing node 0x{reference.hex()}")
            try:
                node = rlp_decode(nodes[reference])
            except DecodeError as exc:
                raise ProofError(f"undecodable proof node: {exc}") from None
        else:
            node = reference  # embedded node
        if not isinstance(node, list):
            raise ProofError("a trie node is not a list")
        if len(node) == _BRANCH_WIDTH:
            if position == len(path):
                value = node[16]
                return value if value else None
            if not isinstance(node[path[position]], (bytes, list)):
                raise ProofError("a branch child is malformed")
            reference = node[path[position]]
            position += 1
            continue
        if len(node) != 2:
            raise ProofError(f"a trie node has {len(node)} items")
        segment, is_leaf = _decode_hex_prefix(node[0])
        if path[position : position + len(segment)] != segment:
            return None
        position += len(segment)
        if is_leaf:
            return node[1] if position == len(path) else None
        reference = node[1]
