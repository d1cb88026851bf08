"""The in-memory chain core both devnet chains are configurations of.

:class:`ChainStore` keeps what every in-memory chain keeps: the blocks ever built (readable by
hash, canonical or not, as go-ethereum keeps side chains), the canonical chain by number, the
index of canonical transactions, the ``latest``/``safe``/``finalized``/``earliest`` tags and
reorgs (truncating the canonical chain, or moving the head to any known block).
:class:`EthReadApi` is the one read-only ``eth_`` JSON-RPC surface over a store, and the
parameters are read with the one hex reader (:mod:`opfleet.protocol.hexjson`, answered with
JSON-RPC ``-32602`` by :mod:`opfleet.rpc.server`). The embedded L1 (:mod:`opfleet.devnet.l1`) and the dev L2 engine
(:mod:`opfleet.devnet.engine`) add only what differs: how a block is built, what a block's
JSON holds, fees, and their write methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from opfleet.protocol.block import (
    Header,
    HeaderAccessors,
    block_rlp_size,
    bloom_or,
    log_json,
    max_gas_price,
    receipt_json,
    receipts_root,
    transaction_json,
    transactions_root,
)
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.crypto import ZERO_HASH
from opfleet.protocol.hexjson import hex_data as h
from opfleet.protocol.hexjson import hex_quantity as q
from opfleet.protocol.log import Log
from opfleet.protocol.state import WorldState
from opfleet.protocol.transactions import Transaction
from opfleet.rpc.server import InvalidParams, RpcError, param_data, param_quantity

BLOCK_TAGS = ("latest", "pending", "safe", "finalized", "earliest")


# --- parameters ------------------------------------------------------------------------------------


def parse_storage_key(value: Any) -> bytes:
    """A storage slot as 32 bytes: hex of up to 32 bytes, left-padded as go-ethereum does."""
    if not isinstance(value, str) or value[:2] not in ("0x", "0X") or len(value) > 66:
        raise InvalidParams(f"invalid storage key {value!r}")
    try:
        return bytes.fromhex(value[2:].rjust(64, "0"))
    except ValueError:
        raise InvalidParams(f"invalid storage key {value!r}") from None


def parse_one_or_list(value: Any, name: str) -> list[Any]:
    """A filter field that is absent, one value, or a list of values."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InvalidParams(f"invalid argument 0: {name}: expected a string or a list")
    return value


def parse_log_filter(criteria: Any) -> tuple[set[bytes], list[set[bytes] | None]]:
    """An ``eth_getLogs`` filter's addresses (any of) and topics (per position: any of, None for all)."""
    if not isinstance(criteria, dict):
        raise InvalidParams("invalid argument 0: filter must be an object")
    addresses = {param_data(a, "address", 20) for a in parse_one_or_list(criteria.get("address"), "address")}
    topics: list[set[bytes] | None] = []
    for entry in parse_one_or_list(criteria.get("topics"), "topics"):
        topics.append(None if entry is None else {param_data(t, "topic", 32) for t in parse_one_or_list(entry, "topic")})
    return addresses, topics


def log_matches(entry: Log, addresses: set[bytes], topics: Sequence[Iterable[bytes] | None]) -> bool:
    """go-ethereum's ``filterLogs``: any listed address; per position any listed topic; a filter
    with more positions than the log has topics never matches."""
    if addresses and entry.address not in addresses:
        return False
    if len(topics) > len(entry.topics):
        return False
    return all(not options or entry.topics[i] in options for i, options in enumerate(topics))


# --- blocks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderBlock(HeaderAccessors):
    """What both chains' blocks are: a header, its hash, the transactions with their receipts
    (each with ``raw``, ``hash``, ``index``, ``sender``, ``receipt``, ``first_log_index``,
    ``gas_used``, ``effective_gas_price``, ``contract_address``) and the post-state; the fields
    read from the header, and their JSON. Each chain's block adds its own fields."""

    header: Header
    hash: bytes
    transactions: tuple[Any, ...]
    state: WorldState = field(repr=False)

    @property
    def has_withdrawals(self) -> bool:
        """A block carries a (here always empty) withdrawals list from Shanghai (L1) or Canyon (L2)
        on: exactly when its header commits to one."""
        return self.header.withdrawals_root is not None

    @property
    def id(self) -> BlockID:
        return BlockID(self.hash, self.number)

    @property
    def raw_transactions(self) -> list[bytes]:
        return [t.raw for t in self.transactions]

    @property
    def logs(self) -> list[Log]:
        """All logs of the block in order, located (block hash, log index, tx hash and index)."""
        return [Log(entry.address, entry.topics, entry.data, self.hash, t.first_log_index + i, t.hash, t.index)
                for t in self.transactions for i, entry in enumerate(t.receipt.logs)]

    def block_json(self, full_transactions: bool, tx_json: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """``eth_getBlockBy*``: the header's fields, hash, size, and transactions (hashes or ``tx_json``)."""
        out = self.header.to_json()
        out["hash"] = h(self.hash)
        out["size"] = q(block_rlp_size(self.header, self.raw_transactions, withdrawals=self.has_withdrawals))
        out["uncles"] = []
        if self.has_withdrawals:
            out["withdrawals"] = []
        if full_transactions:
            out["transactions"] = [tx_json(t) for t in self.transactions]
        else:
            out["transactions"] = [h(t.hash) for t in self.transactions]
        return out

    def signed_transaction_json(self, t: Any) -> dict[str, Any]:
        """A signed (non-deposit) transaction of this block, as ``eth_getTransactionBy*`` answers."""
        return transaction_json(t.tx, tx_hash=t.hash, sender=t.sender, block_hash=self.hash,
                                block_number=self.number, index=t.index, base_fee=self.header.base_fee_per_gas)

    def base_receipt_json(self, t: Any, *, tx_type: int, to: bytes | None) -> dict[str, Any]:
        """The receipt fields every transaction of this block has."""
        return receipt_json(t.receipt, block_hash=self.hash, block_number=self.number,
                            block_timestamp=self.timestamp, tx_hash=t.hash, tx_index=t.index, tx_type=tx_type,
                            sender=t.sender, to=to, contract_address=t.contract_address, gas_used=t.gas_used,
                            effective_gas_price=t.effective_gas_price, first_log_index=t.first_log_index)


def child_header(parent: StoredBlock, included: Sequence[Any], state: WorldState, **fields: Any) -> Header:
    """The header of a child of ``parent`` holding ``included`` (transactions with ``raw`` and
    ``receipt``) on ``state``: what every builder seals; ``fields`` are the rest of the header."""
    receipts = [t.receipt for t in included]
    return Header(parent_hash=parent.hash, number=parent.number + 1, state_root=state.root(),
                  transactions_root=transactions_root([t.raw for t in included]),
                  receipts_root=receipts_root(receipts), logs_bloom=bloom_or([r.bloom() for r in receipts]),
                  **fields)


def genesis_header(state: WorldState, **fields: Any) -> Header:
    """The header of block 0 on ``state``: no parent, no transactions; ``fields`` are the rest."""
    return Header(parent_hash=ZERO_HASH, number=0, state_root=state.root(), **fields)


# --- the store -------------------------------------------------------------------------------------


class StoredBlock(Protocol):
    """What the core reads of a block."""

    @property
    def hash(self) -> bytes: ...
    @property
    def number(self) -> int: ...
    @property
    def parent_hash(self) -> bytes: ...


B = TypeVar("B", bound=StoredBlock)


class ChainStore(Generic[B]):
    """Blocks by hash, the canonical chain by number, canonical transactions by hash, and tags.

    ``safe``/``finalized`` are the head's ancestors ``safe_lag``/``finalized_lag`` blocks back
    (an L1's view) unless set with :meth:`set_safe`/:meth:`set_finalized` (an engine's forkchoice).
    The genesis may have any number (an L2 starts where its rollup config says). Subclasses hook
    :meth:`_transaction_hashes` (what the transaction index keeps) and :meth:`_indexed` /
    :meth:`_unindexed` to keep indexes of their own.
    """

    def __init__(self, genesis: B, *, safe_lag: int = 0, finalized_lag: int = 0):
        self._first = genesis.number
        self.safe_lag = safe_lag
        self.finalized_lag = finalized_lag
        self._canonical: list[B] = []
        self._by_hash: dict[bytes, B] = {}
        self._tx_index: dict[bytes, tuple[bytes, int]] = {}
        self._safe: B | None = None
        self._finalized: B | None = None
        self._add_canonical(genesis)

    # --- reading --------------------------------------------------------------------------------

    @property
    def genesis(self) -> B:
        return self._canonical[0]

    @property
    def head(self) -> B:
        return self._canonical[-1]

    @property
    def safe(self) -> B:
        if self._safe is not None:
            return self._safe
        return self._canonical[max(0, len(self._canonical) - 1 - self.safe_lag)]

    @property
    def finalized(self) -> B:
        if self._finalized is not None:
            return self._finalized
        return self._canonical[max(0, len(self._canonical) - 1 - self.finalized_lag)]

    def set_safe(self, block: B) -> None:
        self._safe = block

    def set_finalized(self, block: B) -> None:
        self._finalized = block

    @property
    def blocks(self) -> tuple[B, ...]:
        """The canonical chain, genesis first."""
        return tuple(self._canonical)

    def by_number(self, number: int) -> B | None:
        index = number - self._first
        return self._canonical[index] if 0 <= index < len(self._canonical) else None

    def by_hash(self, block_hash: bytes) -> B | None:
        """Any block ever built, canonical or not."""
        return self._by_hash.get(bytes(block_hash))

    def by_tag(self, tag: str) -> B:
        if tag in ("latest", "pending"):
            return self.head
        if tag == "safe":
            return self.safe
        if tag == "finalized":
            return self.finalized
        if tag == "earliest":
            return self.genesis
        raise ValueError(f"unknown block tag {tag!r}")

    def is_canonical(self, block: B) -> bool:
        found = self.by_number(block.number)
        return found is not None and found.hash == block.hash

    def is_ancestor(self, ancestor: B, block: B) -> bool:
        """Whether ``ancestor`` is ``block`` or one of its ancestors (through any known branch)."""
        cursor: B | None = block
        while cursor is not None and cursor.number > ancestor.number:
            if self.is_canonical(cursor):  # from here down the chain is the canonical one
                return self.is_canonical(ancestor)
            cursor = self._by_hash.get(cursor.parent_hash)
        return cursor is not None and cursor.hash == ancestor.hash

    def transaction(self, tx_hash: bytes) -> tuple[B, Any] | None:
        """The canonical inclusion of a transaction: (block, included transaction), or None."""
        located = self._tx_index.get(bytes(tx_hash))
        if located is None:
            return None
        block: Any = self._by_hash[located[0]]
        return block, block.transactions[located[1]]

    def logs(
        self,
        *,
        from_block: int | None = None,
        to_block: int | None = None,
        block_hash: bytes | None = None,
        addresses: Iterable[bytes] = (),
        topics: Sequence[Iterable[bytes] | None] = (),
    ) -> list[tuple[B, Any, Log]]:
        """(block, transaction, log) matching an ``eth_getLogs`` filter, the log located in its block."""
        if block_hash is not None:
            found = self.by_hash(block_hash)
            blocks = [found] if found is not None else []
        else:
            start = self._first if from_block is None else max(from_block, self._first)
            stop = self.head.number if to_block is None else min(to_block, self.head.number)
            blocks = self._canonical[start - self._first : stop - self._first + 1]
        wanted = {bytes(a) for a in addresses}
        out = []
        for block in blocks:
            for t in getattr(block, "transactions", ()):
                for i, entry in enumerate(t.receipt.logs):
                    if log_matches(entry, wanted, topics):
                        out.append((block, t, Log(entry.address, entry.topics, entry.data, block.hash,
                                                  t.first_log_index + i, t.hash, t.index)))
        return out

    # --- writing --------------------------------------------------------------------------------

    def append(self, block: B) -> None:
        """Extend the canonical chain by ``block`` (a child of the head)."""
        self._add_canonical(block)

    def truncate(self, number: int) -> list[B]:
        """Drop the canonical blocks above ``number``; the removed blocks stay readable by hash."""
        return self._drop_canonical_above(number)

    def insert(self, block: B) -> None:
        """Keep a block readable by hash without making it canonical."""
        self._by_hash[block.hash] = block

    def _add_canonical(self, block: B) -> None:
        self._canonical.append(block)
        self._by_hash[block.hash] = block
        for i, tx_hash in enumerate(self._transaction_hashes(block)):
            self._tx_index[tx_hash] = (block.hash, i)
        self._indexed(block)

    def _drop_canonical_above(self, number: int) -> list[B]:
        """Truncate the canonical chain to ``number``; the removed blocks stay readable by hash."""
        keep = max(0, number - self._first + 1)
        removed = self._canonical[keep:]
        del self._canonical[keep:]
        for block in removed:
            for tx_hash in self._transaction_hashes(block):
                self._tx_index.pop(tx_hash, None)
            self._unindexed(block)
        return removed

    def _set_head(self, head: B) -> list[B]:
        """Make a known block the head, reorganising onto its branch; the blocks removed."""
        branch: list[B] = []
        cursor: B | None = head
        while cursor is not None and not self.is_canonical(cursor):
            branch.append(cursor)
            cursor = self._by_hash.get(cursor.parent_hash)
        if cursor is None:
            raise ValueError("head does not connect to the canonical chain")
        removed = self._drop_canonical_above(cursor.number)
        for block in reversed(branch):
            self._add_canonical(block)
        return removed

    def _transaction_hashes(self, block: B) -> Iterable[bytes]:
        """The hashes of a block's transactions in block order."""
        return (t.hash for t in getattr(block, "transactions", ()))

    def _indexed(self, block: B) -> None:
        """Called when ``block`` becomes canonical."""

    def _unindexed(self, block: B) -> None:
        """Called when ``block`` leaves the canonical chain."""


# --- the transaction pool ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """A transaction waiting for a block: as submitted (a blob transaction in its network form,
    with ``sidecars``), its hash, sender and decoded form."""

    raw: bytes
    hash: bytes
    sender: bytes
    tx: Transaction
    sidecars: tuple[Any, ...] = ()

    @property
    def nonce(self) -> int:
        return self.tx.nonce


class TxPool:
    """Transactions waiting for a block, in arrival order, one per sender and nonce."""

    def __init__(self) -> None:
        self.entries: list[PoolEntry] = []

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(e.hash for e in self.entries)

    def get(self, tx_hash: bytes) -> PoolEntry | None:
        return next((e for e in self.entries if e.hash == bytes(tx_hash)), None)

    def pending_nonce(self, address: bytes, state_nonce: int) -> int:
        """The next nonce of ``address`` after its pooled transactions that follow ``state_nonce`` without a gap."""
        nonce = state_nonce
        for entry in sorted((e for e in self.entries if e.sender == bytes(address)), key=lambda e: e.nonce):
            if entry.nonce == nonce:
                nonce += 1
        return nonce

    def add(self, entry: PoolEntry, *, price_bump: int | None = None) -> bool:
        """Pool ``entry``, replacing the one with its sender and nonce in place; with ``price_bump``
        (percent) only when both fee caps rise by that much (go-ethereum's txpool rule), else False."""
        for i, other in enumerate(self.entries):
            if other.sender == entry.sender and other.nonce == entry.nonce:
                if price_bump is not None:
                    old, new, bump = other.tx, entry.tx, 100 + price_bump
                    if (max_gas_price(new) * 100 < max_gas_price(old) * bump
                            or new.max_priority_fee_per_gas * 100 < old.max_priority_fee_per_gas * bump):
                        return False
                self.entries[i] = entry
                return True
        self.entries.append(entry)
        return True

    def retain(self, keep: Callable[[PoolEntry], bool]) -> None:
        """Keep only the entries ``keep`` accepts."""
        self.entries = [e for e in self.entries if keep(e)]


# --- the read-only eth_ API ------------------------------------------------------------------------


class EthReadApi:
    """The read-only ``eth_`` methods of an in-memory chain, over :attr:`store`.

    A server mixes this in and says what differs: its chain id, client version, the JSON of a
    block and of a transaction, balances, the pending nonce and pending transactions.
    """

    client_version = "opfleet-devnet/v0"

    @property
    def store(self) -> ChainStore[Any]:
        raise NotImplementedError

    @property
    def chain_id(self) -> int:
        raise NotImplementedError

    def _block_json(self, block: Any, full: bool) -> dict[str, Any]:
        return block.to_json(full)

    def _transaction_json(self, block: Any, t: Any) -> dict[str, Any]:
        return block.transaction_json(t)

    def _pending_transaction(self, tx_hash: bytes) -> tuple[dict[str, Any], bytes] | None:
        """A pooled transaction's JSON and raw bytes, or None (not pooled)."""
        return None

    def _pending_nonce(self, address: bytes) -> int:
        return self.store.head.state.nonce(address)

    def _balance(self, block: Any, address: bytes) -> int:
        return block.state.balance(address)

    def _unknown_log_block(self) -> list[dict[str, Any]]:
        raise RpcError(-32000, "unknown block")

    # --- parameters -------------------------------------------------------------------------------

    def _block(self, ident: Any) -> Any | None:
        """The block a JSON-RPC block parameter names: tag, number, hash or EIP-1898 object."""
        store = self.store
        if isinstance(ident, dict):
            if "blockHash" in ident:
                return store.by_hash(param_data(ident["blockHash"], "blockHash", 32))
            if "blockNumber" in ident:
                return self._block(ident["blockNumber"])
            raise InvalidParams("invalid argument 0: block object needs blockHash or blockNumber")
        if isinstance(ident, str) and ident in BLOCK_TAGS:
            return store.by_tag(ident)
        if isinstance(ident, str) and len(ident) == 66:
            return store.by_hash(param_data(ident, "block hash", 32))
        return store.by_number(param_quantity(ident, "block number"))

    def _state_block(self, ident: Any) -> Any:
        found = self._block(ident)
        if found is None:
            raise RpcError(-32000, "header not found")
        return found

    def _located(self, tx_hash: Any) -> tuple[Any, Any] | None:
        return self.store.transaction(param_data(tx_hash, "transaction hash", 32))

    def _tx_at(self, block: Any, index: Any) -> dict[str, Any] | None:
        i = param_quantity(index, "index")
        if block is None or i >= len(block.transactions):
            return None
        return self._transaction_json(block, block.transactions[i])

    # --- methods ----------------------------------------------------------------------------------

    async def eth_chainId(self) -> str:
        return q(self.chain_id)

    async def net_version(self) -> str:
        return str(self.chain_id)

    async def web3_clientVersion(self) -> str:
        return self.client_version

    async def eth_syncing(self) -> bool:
        return False

    async def eth_blockNumber(self) -> str:
        return q(self.store.head.number)

    async def eth_getBlockByNumber(self, block: Any, full: bool = False) -> dict[str, Any] | None:
        found = self._block(block)
        return self._block_json(found, bool(full)) if found is not None else None

    async def eth_getBlockByHash(self, block_hash: Any, full: bool = False) -> dict[str, Any] | None:
        found = self.store.by_hash(param_data(block_hash, "block hash", 32))
        return self._block_json(found, bool(full)) if found is not None else None

    async def eth_getBlockReceipts(self, block: Any) -> list[dict[str, Any]] | None:
        found = self._block(block)
        return [found.receipt_json(t) for t in found.transactions] if found is not None else None

    async def eth_getBlockTransactionCountByNumber(self, block: Any) -> str | None:
        found = self._block(block)
        return q(len(found.transactions)) if found is not None else None

    async def eth_getTransactionByBlockNumberAndIndex(self, block: Any, index: Any) -> dict[str, Any] | None:
        return self._tx_at(self._block(block), index)

    async def eth_getTransactionByBlockHashAndIndex(self, block_hash: Any, index: Any) -> dict[str, Any] | None:
        return self._tx_at(self.store.by_hash(param_data(block_hash, "block hash", 32)), index)

    async def eth_getTransactionByHash(self, tx_hash: Any) -> dict[str, Any] | None:
        located = self._located(tx_hash)
        if located is not None:
            return self._transaction_json(*located)
        pending = self._pending_transaction(param_data(tx_hash, "transaction hash", 32))
        return pending[0] if pending is not None else None

    async def eth_getRawTransactionByHash(self, tx_hash: Any) -> str | None:
        located = self._located(tx_hash)
        if located is not None:
            return h(located[1].raw)
        pending = self._pending_transaction(param_data(tx_hash, "transaction hash", 32))
        return h(pending[1]) if pending is not None else None

    async def eth_getTransactionReceipt(self, tx_hash: Any) -> dict[str, Any] | None:
        located = self._located(tx_hash)
        if located is None:
            return None
        block, t = located
        return block.receipt_json(t)

    async def eth_getTransactionCount(self, address: Any, block: Any = "latest") -> str:
        addr = param_data(address, "address", 20)
        if block == "pending":
            return q(self._pending_nonce(addr))
        return q(self._state_block(block).state.nonce(addr))

    async def eth_getBalance(self, address: Any, block: Any = "latest") -> str:
        addr = param_data(address, "address", 20)
        return q(self._balance(self._state_block(block), addr))

    async def eth_getCode(self, address: Any, block: Any = "latest") -> str:
        found = self._state_block(block)
        return h(found.state.get(param_data(address, "address", 20)).code)

    async def eth_getStorageAt(self, address: Any, slot: Any, block: Any = "latest") -> str:
        found = self._state_block(block)
        value = found.state.get(param_data(address, "address", 20)).storage.get(parse_storage_key(slot), 0)
        return h(value.to_bytes(32, "big"))

    async def eth_getProof(self, address: Any, keys: Any, block: Any = "latest") -> dict[str, Any]:
        """EIP-1186: the account proof against the block's state root, and storage proofs against
        the account's storage root (what op-node verifies before it trusts a SystemConfig slot, and
        what pre-Isthmus output roots take the message passer's storage root from)."""
        found = self._state_block(block)
        if not isinstance(keys, list):
            raise InvalidParams("invalid argument 1: storage keys must be a list")
        addr = param_data(address, "address", 20)
        state = found.state
        account = state.get(addr)
        storage = []
        for raw in keys:
            key = parse_storage_key(raw)
            storage.append({"key": raw if isinstance(raw, str) and len(raw) == 66 else h(key),
                            "value": q(account.storage.get(key, 0)),
                            "proof": [h(node) for node in state.storage_proof(addr, key)]})
        return {"address": h(addr), "accountProof": [h(node) for node in state.account_proof(addr)],
                "balance": q(account.balance), "codeHash": h(account.code_hash), "nonce": q(account.nonce),
                "storageHash": h(account.storage_root), "storageProof": storage}

    async def eth_getLogs(self, criteria: Any) -> list[dict[str, Any]]:
        """Logs by ``blockHash`` or a ``fromBlock``..``toBlock`` range of the canonical chain,
        filtered by ``address`` (any of) and ``topics`` (per position: any of; null matches all)."""
        addresses, topics = parse_log_filter(criteria)
        store = self.store
        if criteria.get("blockHash") is not None:
            if "fromBlock" in criteria or "toBlock" in criteria:
                raise InvalidParams("invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock")
            block_hash = param_data(criteria["blockHash"], "blockHash", 32)
            if store.by_hash(block_hash) is None:
                return self._unknown_log_block()
            matches = store.logs(block_hash=block_hash, addresses=addresses, topics=topics)
        else:
            start = self._block(criteria.get("fromBlock", "latest"))
            end = self._block(criteria.get("toBlock", "latest"))
            if start is None or end is None:
                return []
            if start.number > end.number:
                raise RpcError(-32000, "invalid block range params")
            matches = store.logs(from_block=start.number, to_block=end.number, addresses=addresses, topics=topics)
        return [
            log_json(entry, block_hash=block.hash, block_number=block.number, block_timestamp=block.timestamp,
                     tx_hash=t.hash, tx_index=t.index, log_index=entry.log_index or 0)
            for block, t, entry in matches
        ]
