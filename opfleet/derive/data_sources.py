"""Batcher data of one L1 block: calldata before Ecotone, calldata and blobs from Ecotone.

A batcher transaction goes to the rollup's batch inbox and is signed by the batcher address
of the system config at that L1 block. Before Ecotone (by the L1 block's time) each batcher
transaction's calldata is one data item. From Ecotone, a blob transaction's calldata is
ignored and each of its blobs is one data item; other batcher transactions still give their
calldata. Blob indices count the blobs of *all* transactions of the block, batcher or not,
because that is the position the beacon API knows them by. A blob that does not decode is
skipped (the other items stand); a beacon failure is temporary, never a skip.

Accepted batcher transaction types follow op-node ``isValidBatchTx``: 0-3 (set-code and later
types are never batcher transactions). Before Ecotone a blob transaction's calldata counts,
as op-node's calldata source does (kona ignores type 3 there).

Spec: ``specs/protocol/derivation.md`` ("L1 Retrieval"), ``specs/protocol/ecotone/derivation.md``
("Blob Retrieval", "Blob Encoding"); op-node ``calldata_source.go``, ``blob_data_source.go``;
kona ``sources/{calldata,blobs,ethereum}.rs``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from opfleet.derive.errors import CriticalError, TemporaryError
from opfleet.derive.interfaces import BlobProvider, ChainProvider
from opfleet.errors import DecodeError
from opfleet.protocol.blob import decode_blob
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.transactions import (
    BLOB_TX_TYPE,
    Transaction,
    decode_transaction,
    recover_sender,
)

log = logging.getLogger("opfleet.derive")

_MAX_BATCHER_TX_TYPE = BLOB_TX_TYPE


@dataclass(frozen=True, slots=True)
class _BlobRef:
    """A placeholder for a blob in the item list: its index in the block and versioned hash."""

    index: int
    versioned_hash: bytes


def _is_batcher_tx(tx: Transaction, inbox: bytes, batcher: bytes) -> bool:
    """op-node ``isValidBatchTx``: type 0-3, sent to the inbox, signed by the batcher."""
    if tx.type > _MAX_BATCHER_TX_TYPE or tx.to != inbox:
        return False
    try:
        return recover_sender(tx) == batcher
    except DecodeError:
        return False


def _decode(raw: bytes) -> Transaction | None:
    try:
        return decode_transaction(raw)
    except DecodeError:
        return None  # a type we do not know: cannot be a batcher transaction, carries no blobs


class CalldataSource:
    """Batcher data before Ecotone: the calldata of each batcher transaction.

    Spec: specs/protocol/derivation.md, L1 Retrieval; op-node ``calldata_source.go``.
    """

    def __init__(self, rollup_config: RollupConfig, chain: ChainProvider):
        self.rollup_config = rollup_config
        self.chain = chain

    async def data_for_block(self, ref: L1BlockRef, batcher_address: bytes) -> list[bytes]:
        return calldata_items(
            await _transactions(self.chain, ref), self.rollup_config.batch_inbox_address,
            batcher_address,
        )


class BlobSource:
    """Batcher data from Ecotone: calldata of non-blob batcher transactions and the blobs of
    blob batcher transactions, in block order. ``skipped`` counts undecodable blobs
    (``"blob_decode"``).

    Spec: specs/protocol/ecotone/derivation.md, Blob Retrieval; op-node ``blob_data_source.go``.
    """

    def __init__(
        self, rollup_config: RollupConfig, chain: ChainProvider, blobs: BlobProvider | None
    ):
        self.rollup_config = rollup_config
        self.chain = chain
        self.blobs = blobs
        self.skipped: Counter[str] = Counter()

    async def data_for_block(self, ref: L1BlockRef, batcher_address: bytes) -> list[bytes]:
        inbox = self.rollup_config.batch_inbox_address
        slots: list[bytes | _BlobRef] = []
        blob_index = 0
        for raw in await _transactions(self.chain, ref):
            is_blob_tx = raw[:1] == bytes([BLOB_TX_TYPE])
            if not is_blob_tx and inbox not in raw:
                continue
            tx = _decode(raw)
            if tx is None:
                continue
            if not _is_batcher_tx(tx, inbox, batcher_address):
                blob_index += len(tx.blob_versioned_hashes)  # indices count every blob
                continue
            if tx.type != BLOB_TX_TYPE:
                slots.append(tx.data)
                continue
            if tx.data:
                log.warning("L1 block %d: blob batcher tx has calldata, ignored", ref.number)
            for versioned_hash in tx.blob_versioned_hashes:
                slots.append(_BlobRef(blob_index, versioned_hash))
                blob_index += 1
        wanted = [(s.index, s.versioned_hash) for s in slots if isinstance(s, _BlobRef)]
        if not wanted:
            return [s for s in slots if isinstance(s, bytes)]
        if self.blobs is None:
            raise CriticalError(
                f"L1 block {ref.number} has batcher blobs, but no beacon endpoint is configured"
            )
        blobs = await self.blobs.get_blobs(ref, wanted)
        if len(blobs) != len(wanted):
            raise TemporaryError(
                f"L1 block {ref.number}: asked the beacon node for {len(wanted)} blobs, "
                f"got {len(blobs)}"
            )
        fetched = iter(blobs)
        items = []
        for slot in slots:
            if isinstance(slot, bytes):
                items.append(slot)
                continue
            try:
                items.append(decode_blob(next(fetched)))
            except DecodeError as exc:
                self.skipped["blob_decode"] += 1
                log.warning(
                    "L1 block %d: skipping blob %d that does not decode: %s",
                    ref.number, slot.index, exc,
                )
        return items


class EthereumDataSource:
    """The :class:`~opfleet.derive.interfaces.DataAvailabilityProvider` of L1: the calldata
    source before Ecotone and the blob source from Ecotone, by the L1 block's time.

    Spec: specs/protocol/derivation.md, L1 Retrieval; kona ``sources/ethereum.rs``.
    """

    def __init__(
        self,
        rollup_config: RollupConfig,
        chain: ChainProvider,
        blobs: BlobProvider | None = None,
    ):
        self.rollup_config = rollup_config
        self.calldata = CalldataSource(rollup_config, chain)
        self.blob = BlobSource(rollup_config, chain, blobs)

    @property
    def skipped(self) -> Counter[str]:
        """Data left out, by reason."""
        return self.blob.skipped

    async def data_for_block(self, ref: L1BlockRef, batcher_address: bytes) -> list[bytes]:
        """Every data item of the L1 block ``ref``, in transaction (and blob) order."""
        if self.rollup_config.is_ecotone(ref.timestamp):
            return await self.blob.data_for_block(ref, batcher_address)
        return await self.calldata.data_for_block(ref, batcher_address)


async def _transactions(chain: ChainProvider, ref: L1BlockRef) -> Sequence[bytes]:
    block, _ = await chain.block_with_receipts(ref.hash)
    if block.transactions is None:
        raise CriticalError(f"L1 block {ref.number}: the chain provider returned no transactions")
    return block.transactions


def calldata_items(raw_txs: Sequence[bytes], inbox: bytes, batcher: bytes) -> list[bytes]:
    """The calldata of each batcher transaction among ``raw_txs``, in order.

    Spec: specs/protocol/derivation.md, L1 Retrieval; op-node ``DataFromEVMTransactions``.
    """
    items = []
    for raw in raw_txs:
        if inbox not in raw:  # cheap pre-filter: a transaction to the inbox holds its address
            continue
        tx = _decode(raw)
        if tx is not None and _is_batcher_tx(tx, inbox, batcher):
            items.append(tx.data)
    return items
