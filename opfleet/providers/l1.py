"""The L1 execution-layer provider: blocks, raw transactions and receipts for derivation.

Requests per L1 block: one HTTP exchange carrying ``eth_getBlockByNumber``/``ByHash`` (full
transactions) and ``eth_getBlockReceipts`` as a two-call batch (:meth:`L1Provider.block_with_receipts`);
derivation's L1 traversal asks by number, so the header it checks for reorgs comes with that same
batch and every later by-hash read of the block (data source, attributes) is a cache hit. Heads
(``latest``/``safe``/``finalized``) are read together in one batch (:meth:`L1Provider.block_refs`).
Nodes without ``eth_getBlockReceipts`` (-32601) fall back, once and for good, to batched
``eth_getTransactionReceipt``.

Raw transactions: derivation needs each transaction's EIP-2718 bytes (to recover the batcher's
signature). They are rebuilt from the JSON (types 0-4) and checked against the transaction
hash; any that cannot be rebuilt, or whose hash does not match, are fetched with batched
``eth_getRawTransactionByHash``. Receipts are checked against the block (same count, same
transaction hashes in order, same block hash), so a reorg between two calls is caught.

Caching: bounded LRUs keyed by block hash (a hash names immutable content), and a
number -> hash index filled from by-number/by-label lookups. The index is dropped on any
sign of a reorg (a number seen with a new hash, or a parent hash that does not link), and is
only used to answer by-number lookups at or below the last seen finalized block: above it,
the canonical block at a height can change, so those lookups always ask the node. When
finalized advances, entries it passes are kept only if they hash-link to the new finalized
block (a height indexed before a reorg the provider never saw is forgotten).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from opfleet.errors import BlockNotFoundError, DecodeError, TemporaryError
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.ethjson import L1Block, Receipt, header_from_json, receipt_from_json, transaction_from_json
from opfleet.protocol.hexjson import hex_data, hex_quantity, parse_data
from opfleet.protocol.transactions import encode_transaction
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError

LABELS = ("latest", "safe", "finalized", "earliest", "pending")
DEFAULT_CACHE_SIZE = 256

BlockId = int | str | bytes
"""A block number, a label (``latest``, ``safe``, ``finalized``...), or a 32-byte hash (bytes or 0x-hex)."""

K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """A small bounded mapping that forgets the least recently used entry."""

    def __init__(self, max_size: int):
        if max_size < 1:
            raise ValueError("cache size must be at least 1")
        self.max_size = max_size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.max_size:
            self._data.popitem(last=False)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def peek(self, key: K) -> V | None:
        """The value without refreshing its recency."""
        return self._data.get(key)

    def keys(self) -> list[K]:
        return list(self._data)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data


@dataclass(frozen=True, slots=True)
class L1Statistics:
    """A snapshot of an :class:`L1Provider`; request counts are in ``client.statistics()``."""

    cache_hits: int
    cache_misses: int
    cached_blocks: int
    cached_receipts: int
    indexed_numbers: int
    reorgs_seen: int
    raw_tx_fetches: int
    """Transactions whose bytes had to be fetched with ``eth_getRawTransactionByHash``."""
    block_receipts_supported: bool | None


def normalize_block_id(block: BlockId) -> tuple[str, Any]:
    """``("hash", bytes)``, ``("number", int)`` or ``("label", str)`` for any accepted block id."""
    if isinstance(block, bool):
        raise TypeError("block id must be a number, label or hash")
    if isinstance(block, int):
        if block < 0:
            raise ValueError("block number must be non-negative")
        return "number", block
    if isinstance(block, (bytes, bytearray)):
        if len(block) != 32:
            raise ValueError("block hash must be 32 bytes")
        return "hash", bytes(block)
    if isinstance(block, str):
        if block in LABELS:
            return "label", block
        if block[:2] in ("0x", "0X") and len(block) == 66:
            return "hash", parse_data(block, 32, "block hash")
    raise ValueError(f"not a block number, label or hash: {block!r}")


class L1Provider:
    """Read L1 blocks and receipts through a :class:`JsonRpcClient`."""

    def __init__(self, client: JsonRpcClient, *, cache_size: int = DEFAULT_CACHE_SIZE):
        self.client = client
        self._blocks: LRUCache[bytes, L1Block] = LRUCache(cache_size)
        self._receipts: LRUCache[bytes, tuple[Receipt, ...]] = LRUCache(cache_size)
        self._by_number: LRUCache[int, bytes] = LRUCache(cache_size * 4)
        self._finalized_number = -1
        self._block_receipts: bool | None = None  # None: not known yet
        self._hits = 0
        self._misses = 0
        self._reorgs = 0
        self._raw_fetches = 0

    def statistics(self) -> L1Statistics:
        return L1Statistics(
            cache_hits=self._hits,
            cache_misses=self._misses,
            cached_blocks=len(self._blocks),
            cached_receipts=len(self._receipts),
            indexed_numbers=len(self._by_number),
            reorgs_seen=self._reorgs,
            raw_tx_fetches=self._raw_fetches,
            block_receipts_supported=self._block_receipts,
        )

    # --- blocks ---------------------------------------------------------------------------------

    async def block_by_number(self, number: int | str, *, full_txs: bool = True) -> L1Block:
        """The canonical block at a height or label (``latest``, ``safe``, ``finalized``...)."""
        kind, value = normalize_block_id(number)
        if kind == "hash":
            raise ValueError("block_by_number takes a number or a label; use block_by_hash")
        cached = self._count(self._lookup_number(value, full_txs) if kind == "number" else None)
        if cached is not None:
            return cached
        param = hex_quantity(value) if kind == "number" else value
        raw = await self.client.call("eth_getBlockByNumber", param, full_txs)
        block = await self._block_from_json(raw, f"L1 block {value}", full_txs)
        self._remember(block, canonical=True, label=value if kind == "label" else None)
        return block

    async def block_by_hash(self, block_hash: bytes | str, *, full_txs: bool = True) -> L1Block:
        """The block with this hash (canonical or not)."""
        kind, value = normalize_block_id(block_hash)
        if kind != "hash":
            raise ValueError("block_by_hash takes a 32-byte hash")
        cached = self._count(self._lookup(value, full_txs))
        if cached is not None:
            return cached
        raw = await self.client.call("eth_getBlockByHash", hex_data(value), full_txs)
        block = await self._block_from_json(raw, f"L1 block {_describe(kind, value)}", full_txs)
        if block.hash != value:
            raise TemporaryError(f"{self.client.endpoint}: asked for block {hex_data(value)}, got {hex_data(block.hash)}")
        self._remember(block, canonical=False)
        return block

    async def block(self, block: BlockId, *, full_txs: bool = True) -> L1Block:
        """:meth:`block_by_hash` or :meth:`block_by_number`, by the kind of ``block``."""
        kind, value = normalize_block_id(block)
        if kind == "hash":
            return await self.block_by_hash(value, full_txs=full_txs)
        return await self.block_by_number(value, full_txs=full_txs)

    async def block_ref(self, block: BlockId) -> L1BlockRef:
        """The :class:`L1BlockRef` of a block (header only: one small request, or none if cached)."""
        return (await self.block(block, full_txs=False)).ref

    async def block_refs(self, *labels: str) -> tuple[L1BlockRef, ...]:
        """The refs of several labelled blocks (``latest``, ``safe``, ``finalized``...) in ONE
        batched HTTP request (one header-only ``eth_getBlockByNumber`` per label), in order.

        A label the node does not know yet (``null``) raises :class:`BlockNotFoundError`.
        """
        for label in labels:
            if label not in LABELS:
                raise ValueError(f"not a block label: {label!r}")
        answers = await self.client.batch([("eth_getBlockByNumber", [label, False]) for label in labels])
        refs = []
        for label, raw in zip(labels, answers):
            block = await self._block_from_json(raw, f"L1 block {label}", False)
            self._remember(block, canonical=True, label=label)
            refs.append(block.ref)
        return tuple(refs)

    # --- receipts -------------------------------------------------------------------------------

    async def receipts(self, block_hash: bytes | str) -> tuple[Receipt, ...]:
        """The receipts of the block with this hash, in transaction order."""
        kind, value = normalize_block_id(block_hash)
        if kind != "hash":
            raise ValueError("receipts are fetched by block hash")
        cached_receipts = self._count(self._receipts.get(value))
        if cached_receipts is not None:
            return cached_receipts
        block = await self.block_by_hash(value, full_txs=False)
        return await self._fetch_receipts(block)

    async def block_with_receipts(self, block: BlockId) -> tuple[L1Block, tuple[Receipt, ...]]:
        """A block with full transactions and its receipts, in one HTTP request when possible."""
        kind, value = normalize_block_id(block)
        cached = None
        if kind == "hash":
            cached = self._lookup(value, True)
        elif kind == "number":
            cached = self._lookup_number(value, True)
        cached_receipts = self._count(self._receipts.get(cached.hash) if cached is not None else None)
        if cached is not None and cached_receipts is not None:
            return cached, cached_receipts
        if cached is not None:
            return cached, await self._fetch_receipts(cached)
        if self._block_receipts is False:
            found = await self.block(value, full_txs=True)
            return found, await self._fetch_receipts(found)
        calls: list[tuple[str, list[Any]]]
        if kind == "hash":
            calls = [("eth_getBlockByHash", [hex_data(value), True]), ("eth_getBlockReceipts", [hex_data(value)])]
        else:
            param = hex_quantity(value) if kind == "number" else value
            calls = [("eth_getBlockByNumber", [param, True]), ("eth_getBlockReceipts", [param])]
        raw_block, raw_receipts = await self.client.batch(calls, return_errors=True)
        if isinstance(raw_block, RpcCallError):
            raise raw_block
        found = await self._block_from_json(raw_block, f"L1 block {_describe(kind, value)}", True)
        if kind == "hash" and found.hash != value:
            raise TemporaryError(f"{self.client.endpoint}: asked for block {hex_data(value)}, got {hex_data(found.hash)}")
        self._remember(found, canonical=kind != "hash", label=value if kind == "label" else None)
        if isinstance(raw_receipts, RpcCallError):
            if not raw_receipts.is_method_not_found:
                raise raw_receipts
            self._block_receipts = False
            return found, await self._fetch_receipts(found)
        self._block_receipts = True
        try:
            receipts = self._check_receipts(found, raw_receipts)
        except _ReceiptsMismatch:
            # By number or label, the chain may have moved between the two calls: ask by hash.
            receipts = await self._fetch_receipts(found)
        self._receipts.put(found.hash, receipts)
        return found, receipts

    async def _fetch_receipts(self, block: L1Block) -> tuple[Receipt, ...]:
        cached = self._receipts.get(block.hash)
        if cached is not None:
            return cached
        receipts: tuple[Receipt, ...] | None = None
        if self._block_receipts is not False:
            try:
                raw = await self.client.call("eth_getBlockReceipts", hex_data(block.hash))
            except RpcCallError as exc:
                if not exc.is_method_not_found:
                    raise
                self._block_receipts = False
            else:
                self._block_receipts = True
                try:
                    receipts = self._check_receipts(block, raw)
                except _ReceiptsMismatch as exc:
                    raise TemporaryError(f"{self.client.endpoint}: {exc}") from None
        if receipts is None:
            raw_list = await self.client.batch(
                [("eth_getTransactionReceipt", [hex_data(h)]) for h in block.tx_hashes]
            )
            try:
                receipts = self._check_receipts(block, raw_list)
            except _ReceiptsMismatch as exc:
                raise TemporaryError(f"{self.client.endpoint}: {exc}") from None
        self._receipts.put(block.hash, receipts)
        return receipts

    def _check_receipts(self, block: L1Block, raw: Any) -> tuple[Receipt, ...]:
        if raw is None or not isinstance(raw, list):
            raise _ReceiptsMismatch(f"no receipts for block {block.number} ({hex_data(block.hash)})")
        try:
            receipts = tuple(receipt_from_json(item) for item in raw)
        except DecodeError as exc:
            raise TemporaryError(f"{self.client.endpoint}: malformed receipt in block {block.number}: {exc}") from None
        if len(receipts) != len(block.tx_hashes):
            raise _ReceiptsMismatch(
                f"block {block.number} has {len(block.tx_hashes)} transactions but {len(receipts)} receipts")
        for i, (receipt, tx_hash) in enumerate(zip(receipts, block.tx_hashes)):
            if receipt.block_hash != block.hash or receipt.tx_hash != tx_hash or receipt.tx_index != i:
                raise _ReceiptsMismatch(
                    f"receipt {i} of block {block.number} belongs to block {hex_data(receipt.block_hash)}, "
                    f"tx {hex_data(receipt.tx_hash)} (expected {hex_data(block.hash)}, tx {hex_data(tx_hash)})")
        return receipts

    # --- parsing --------------------------------------------------------------------------------

    async def _block_from_json(self, raw: Any, what: str, full_txs: bool) -> L1Block:
        if raw is None:
            raise BlockNotFoundError(f"{self.client.endpoint}: {what} not found")
        try:
            header = header_from_json(raw)
            txs = raw.get("transactions")
            if not isinstance(txs, list):
                raise DecodeError("transactions: expected a list")
            if not full_txs:
                hashes = tuple(parse_data(t if isinstance(t, str) else t.get("hash"), 32, "transaction hash")
                               for t in txs)
                return L1Block(header, hashes)
            hashes, raw_txs = self._rebuild_transactions(txs)
        except (DecodeError, AttributeError) as exc:
            raise TemporaryError(f"{self.client.endpoint}: malformed {what}: {exc}") from None
        missing = [i for i, tx in enumerate(raw_txs) if tx is None]
        fetched: dict[int, bytes] = {}
        if missing:
            self._raw_fetches += len(missing)
            answers = await self.client.batch(
                [("eth_getRawTransactionByHash", [hex_data(hashes[i])]) for i in missing])
            for i, value in zip(missing, answers):
                try:
                    tx_bytes = parse_data(value, None, "raw transaction")
                except DecodeError as exc:
                    raise TemporaryError(f"{self.client.endpoint}: {what}: {exc}") from None
                if keccak256(tx_bytes) != hashes[i]:
                    raise TemporaryError(
                        f"{self.client.endpoint}: raw transaction {hex_data(hashes[i])} does not hash to its hash")
                fetched[i] = tx_bytes
        return L1Block(header, hashes, tuple(tx if tx is not None else fetched[i] for i, tx in enumerate(raw_txs)))

    @staticmethod
    def _rebuild_transactions(txs: list[Any]) -> tuple[tuple[bytes, ...], list[bytes | None]]:
        hashes: list[bytes] = []
        raw_txs: list[bytes | None] = []
        for tx in txs:
            if not isinstance(tx, dict):
                raise DecodeError("expected full transaction objects")
            tx_hash = parse_data(tx.get("hash"), 32, "transaction hash")
            hashes.append(tx_hash)
            try:
                encoded: bytes | None = encode_transaction(transaction_from_json(tx))
            except (DecodeError, ValueError):
                encoded = None
            if encoded is not None and keccak256(encoded) != tx_hash:
                encoded = None  # a field we do not model: take the node's bytes instead
            raw_txs.append(encoded)
        return tuple(hashes), raw_txs

    # --- caching --------------------------------------------------------------------------------

    def _count(self, cached: V | None) -> V | None:
        """``cached`` as is, counted as a cache hit or (None) a miss."""
        if cached is None:
            self._misses += 1
        else:
            self._hits += 1
        return cached

    def _lookup(self, block_hash: bytes, full_txs: bool) -> L1Block | None:
        block = self._blocks.get(block_hash)
        if block is not None and (block.transactions is not None or not full_txs):
            return block
        return None

    def _lookup_number(self, number: int, full_txs: bool) -> L1Block | None:
        if number > self._finalized_number:
            return None  # above finalized the canonical block can change: always ask
        block_hash = self._by_number.get(number)
        return self._lookup(block_hash, full_txs) if block_hash is not None else None

    def _remember(self, block: L1Block, *, canonical: bool, label: str | None = None) -> None:
        existing = self._blocks.get(block.hash)
        if existing is None or existing.transactions is None or block.transactions is not None:
            self._blocks.put(block.hash, block)
        if not canonical:
            return
        number = block.number
        previous = self._by_number.get(number)
        parent = self._by_number.get(number - 1) if number > 0 else None
        child = self._by_number.get(number + 1)
        child_block = self._blocks.get(child) if child is not None else None
        if (
            (previous is not None and previous != block.hash)
            or (parent is not None and parent != block.header.parent_hash)
            or (child_block is not None and child_block.header.parent_hash != block.hash)
        ):
            self._reorgs += 1
            self._by_number.clear()
            self._finalized_number = min(self._finalized_number, number - 1)
        self._by_number.put(number, block.hash)
        if label == "finalized" and number > self._finalized_number:
            self._vouch_for_finalized(block)
            self._finalized_number = number

    def _vouch_for_finalized(self, finalized: L1Block) -> None:
        """Keep only the index entries newly below ``finalized`` that hash-link to it.

        Those heights were indexed while above finalized, when a reorg could still replace them
        without this provider noticing (it only sees the blocks it is asked for); an entry that
        cannot be linked to the finalized block by parent hashes through cached blocks is
        dropped, so the next lookup at that height asks the node.
        """
        linked: set[int] = set()
        number, expected = finalized.number - 1, finalized.header.parent_hash
        while number > self._finalized_number and self._by_number.peek(number) == expected:
            linked.add(number)
            parent = self._blocks.peek(expected)
            if parent is None:
                break
            number, expected = number - 1, parent.header.parent_hash
        for key in self._by_number.keys():
            if self._finalized_number < key < finalized.number and key not in linked:
                self._by_number.pop(key)

    def invalidate(self) -> None:
        """Forget the number index (e.g. after the caller saw a reorg); hash caches stay valid."""
        self._by_number.clear()
        self._finalized_number = -1


class _ReceiptsMismatch(Exception):
    pass


def _describe(kind: str, value: Any) -> str:
    return hex_data(value) if kind == "hash" else str(value)
