"""Batcher transactions: recognising them on L1 and reading the frames they carry.

Spec: ``specs/protocol/derivation.md`` ("L1 Retrieval", "Batcher Transaction Format").
A batcher transaction is sent to the rollup's batch inbox address by the batcher address held
in the SystemConfig at that L1 block; its calldata (types 0-2) is ``version ++ frames``. Blob
transactions (type 3) carry their frames in blobs, not calldata.
"""

from __future__ import annotations

from typing import Any

from opfleet.errors import DecodeError
from opfleet.protocol.frame import Frame, parse_frames
from opfleet.protocol.transactions import (
    BLOB_TX_TYPE,
    Transaction,
    decode_transaction,
    recover_sender,
    transaction_hash,
)


def is_batcher_transaction(raw_tx_or_tx: bytes | Transaction, inbox: bytes, batcher: bytes) -> bool:
    """Whether the transaction goes to ``inbox`` and was signed by ``batcher``.

    Raw bytes that do not decode (an unknown type, garbage) or a signature that does not
    recover make this ``False``: such a transaction cannot be a batcher transaction. The
    cheap ``to`` check runs before signature recovery.

    Spec: specs/protocol/derivation.md, L1 Retrieval.
    """
    if isinstance(raw_tx_or_tx, Transaction):
        tx = raw_tx_or_tx
    else:
        try:
            tx = decode_transaction(raw_tx_or_tx)
        except DecodeError:
            return False
    if tx.to is None or tx.to != bytes(inbox):
        return False
    try:
        return recover_sender(tx) == bytes(batcher)
    except DecodeError:
        return False


def batcher_tx_frames(raw: bytes) -> tuple[Transaction, bytes, list[Frame]]:
    """Decode a batcher transaction; return ``(tx, sender, frames)``.

    The frames come from the calldata (all or nothing, see ``parse_frames``); a blob
    transaction's calldata is not batcher data, so it yields no frames here (its blobs are
    fetched separately). Raises :class:`DecodeError` for an undecodable transaction, a bad
    signature or malformed frame data.

    Spec: specs/protocol/derivation.md, Batcher Transaction Format.
    """
    tx = decode_transaction(raw)
    sender = recover_sender(tx)
    frames = [] if tx.type == BLOB_TX_TYPE else parse_frames(tx.data)
    return tx, sender, frames


def batcher_tx_to_json(raw: bytes) -> dict[str, Any]:
    """JSON-ready view for ``opfleet decode batcher-tx``: hash, from, to, type and frames."""
    tx, sender, frames = batcher_tx_frames(raw)
    return {
        "hash": "0x" + transaction_hash(bytes(raw)).hex(),
        "from": "0x" + sender.hex(),
        "to": "0x" + tx.to.hex() if tx.to is not None else None,
        "type": tx.type,
        "frames": [frame.to_json() for frame in frames],
    }
