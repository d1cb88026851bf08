"""Blob transactions in their network ("pooled") form, with the sidecar a node gossips and keeps.

Spec: EIP-4844 ("Networking"): ``eth_sendRawTransaction`` takes
``0x03 ++ rlp([tx_payload_body, blobs, commitments, proofs])``; the block (and the transaction
hash) only ever hold the canonical ``0x03 ++ rlp(tx_payload_body)``. EIP-7594 adds a second
wrapper, ``0x03 ++ rlp([tx_payload_body, 1, blobs, commitments, cell_proofs])``, which this
module reads too (cell proofs are not checked here: the commitments are recomputed from the
blobs instead, which is what binds blobs to versioned hashes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from opfleet.errors import DecodeError
from opfleet.protocol import kzg
from opfleet.protocol.blob import BLOB_SIZE
from opfleet.protocol.rlp_codec import rlp_decode, rlp_encode
from opfleet.protocol.transactions import BLOB_TX_TYPE, Transaction, decode_transaction, encode_transaction

CELL_PROOFS_WRAPPER_VERSION = 1


@dataclass(frozen=True, slots=True)
class BlobSidecar:
    """One blob with its KZG commitment, versioned hash and (lazily computed) blob proof."""

    blob: bytes
    commitment: bytes
    versioned_hash: bytes
    _proof: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def proof(self) -> bytes:
        """The EIP-4844 blob proof (computed on first use when the sender gave cell proofs)."""
        proof = self._proof
        if proof is None:
            proof = kzg.compute_blob_proof(self.blob, self.commitment)
            object.__setattr__(self, "_proof", proof)
        return proof


def make_sidecar(blob: bytes, *, with_proof: bool = True) -> BlobSidecar:
    """Commit to ``blob`` (and prove it unless ``with_proof`` is false)."""
    commitment = kzg.blob_to_commitment(blob)
    proof = kzg.compute_blob_proof(blob, commitment) if with_proof else None
    return BlobSidecar(bytes(blob), commitment, kzg.versioned_hash(commitment), proof)


def encode_pooled_blob_tx(tx: Transaction, sidecars: Sequence[BlobSidecar]) -> bytes:
    """The EIP-4844 network form of a signed blob transaction and its sidecars."""
    if tx.type != BLOB_TX_TYPE:
        raise ValueError("only blob transactions have a sidecar")
    if tuple(s.versioned_hash for s in sidecars) != tuple(tx.blob_versioned_hashes):
        raise ValueError("sidecars do not match the transaction's versioned hashes")
    body = rlp_decode(encode_transaction(tx)[1:])
    wrapper = [body, [s.blob for s in sidecars], [s.commitment for s in sidecars], [s.proof for s in sidecars]]
    return bytes([BLOB_TX_TYPE]) + rlp_encode(wrapper)


@dataclass(frozen=True, slots=True)
class PooledTransaction:
    """A transaction as received: its canonical bytes, decoded form and blob sidecars."""

    raw: bytes
    tx: Transaction
    sidecars: tuple[BlobSidecar, ...] = ()


def decode_pooled_transaction(raw: bytes, *, verify: bool = True) -> PooledTransaction:
    """Decode ``eth_sendRawTransaction`` input: any EIP-2718 tx, blob txs in a network wrapper.

    A blob transaction without its sidecar is refused (as geth and anvil do). With ``verify``,
    each blob must match its versioned hash (commitment recomputed) and, in the EIP-4844
    wrapper, its proof must verify.
    """
    raw = bytes(raw)
    if not raw or raw[0] != BLOB_TX_TYPE:
        tx = decode_transaction(raw)
        return PooledTransaction(raw, tx)
    try:
        outer = rlp_decode(raw[1:])
    except DecodeError as exc:
        raise DecodeError(f"malformed blob transaction RLP: {exc}", offset=1) from None
    if not isinstance(outer, list) or not outer or not isinstance(outer[0], list):
        decode_transaction(raw)  # raises for malformed input; a good one is merely missing its blobs
        raise DecodeError("blob transaction without its sidecar (send the network form)", offset=0)
    if len(outer) == 4:
        body, blobs, commitments, proofs = outer
        cell_proofs = False
    elif len(outer) == 5 and outer[1] == bytes([CELL_PROOFS_WRAPPER_VERSION]):
        body, _, blobs, commitments, proofs = outer
        cell_proofs = True
    else:
        raise DecodeError("unknown blob transaction wrapper", offset=1)
    canonical = bytes([BLOB_TX_TYPE]) + rlp_encode(body)
    tx = decode_transaction(canonical)
    if not all(isinstance(x, list) for x in (blobs, commitments, proofs)):
        raise DecodeError("blob sidecar fields must be lists", offset=1)
    count = len(tx.blob_versioned_hashes)
    if count == 0:
        raise DecodeError("blob transaction without blobs", offset=1)
    expected_proofs = count * 128 if cell_proofs else count
    if len(blobs) != count or len(commitments) != count or len(proofs) != expected_proofs:
        raise DecodeError("blob sidecar sizes do not match the versioned hashes", offset=1)
    sidecars = []
    for i, (blob, commitment, wanted) in enumerate(zip(blobs, commitments, tx.blob_versioned_hashes)):
        if not isinstance(blob, bytes) or len(blob) != BLOB_SIZE:
            raise DecodeError(f"blob {i} is not {BLOB_SIZE} bytes", offset=1)
        if not isinstance(commitment, bytes) or len(commitment) != kzg.BYTES_PER_COMMITMENT:
            raise DecodeError(f"commitment {i} is not {kzg.BYTES_PER_COMMITMENT} bytes", offset=1)
        proof = None if cell_proofs else proofs[i]
        if proof is not None and (not isinstance(proof, bytes) or len(proof) != kzg.BYTES_PER_PROOF):
            raise DecodeError(f"proof {i} is not {kzg.BYTES_PER_PROOF} bytes", offset=1)
        if kzg.versioned_hash(commitment) != wanted:
            raise DecodeError(f"commitment {i} does not match versioned hash {i}", offset=1)
        if verify:
            if cell_proofs:
                if kzg.blob_to_commitment(blob) != commitment:
                    raise DecodeError(f"blob {i} does not match its commitment", offset=1)
            elif proof is None or not kzg.verify_blob_proof(blob, commitment, proof):
                raise DecodeError(f"invalid KZG proof for blob {i}", offset=1)
        sidecars.append(BlobSidecar(blob, commitment, wanted, proof))
    return PooledTransaction(canonical, tx, tuple(sidecars))
