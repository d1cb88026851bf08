"""L2 execution-layer reads: block refs (with L1 origin and sequence number) and output-root pieces.

An :class:`~opfleet.protocol.block_ref.L2BlockRef` needs more than the header: its L1 origin
and sequence number are decoded from the block's first transaction, the L1-info deposit
(:func:`opfleet.protocol.l1_block_info.l2_block_ref`; the rollup's genesis block has none).

Every read goes to the execution client's engine (authenticated) endpoint, which the Engine
API specification guarantees to serve only ``eth_blockNumber``, ``eth_call``, ``eth_chainId``,
``eth_getCode``, ``eth_getBlockByHash``, ``eth_getBlockByNumber``, ``eth_getLogs``,
``eth_sendRawTransaction`` and ``eth_syncing`` (:data:`opfleet.providers.engine.ENGINE_ETH_METHODS`).
So, as op-node's ``L2Client``, a ref is read with one ``eth_getBlockByNumber(n, true)`` (or
``eth_getBlockByHash(h, true)``) and transaction 0 taken from the full block: header and
deposit always belong to the same block. Refs are cached by hash only (a number can be
reorged onto another block; a hash cannot).

Output roots (op-node ``L2Client.outputV0``): the message-passer storage root is the header's
``withdrawalsRoot`` from Isthmus, and before Isthmus ``eth_getProof(0x4200..0016, [], block)``
``.storageHash`` (the spec forbids reading a pre-Isthmus header's ``withdrawalsRoot``). That is
the one read beyond the specification's list: nothing else gives the storage root, and op-geth
and op-reth both serve it on the engine endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opfleet.errors import BlockNotFoundError, CriticalError, DecodeError, TemporaryError
from opfleet.protocol.account_proof import verify_account_proof
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE, DepositTx, decode_deposit_tx
from opfleet.protocol.ethjson import (
    BlockHeader,
    data,
    header_from_json,
    log_from_json,
    optional_quantity,
    quantity,
    transaction_from_json,
    transaction_type,
)
from opfleet.protocol.hexjson import hex_data, hex_quantity, json_object, parse_data, parse_quantity
from opfleet.protocol.l1_block_info import l2_block_ref, l2_block_ref_from_transactions, system_config_from_l2_block
from opfleet.protocol.log import Log
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS, OutputV0
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import SystemConfig
from opfleet.protocol.transactions import encode_transaction
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.l1 import LRUCache, normalize_block_id

DEFAULT_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class L2Block:
    """An L2 header with its :class:`L2BlockRef`."""

    header: BlockHeader
    ref: L2BlockRef


@dataclass(frozen=True, slots=True)
class FullL2Block(L2Block):
    """An L2 block with what consolidation and sync start compare, and its raw transactions."""

    fee_recipient: bytes
    extra_data: bytes
    withdrawals: tuple[Any, ...] | None
    """``None`` when the block has no withdrawals list (pre-Canyon)."""
    transactions: tuple[bytes, ...]


def deposit_from_json(tx: dict[str, Any]) -> DepositTx:
    """Rebuild a deposit transaction from op-geth's JSON (``mint``/``isSystemTx`` may be omitted)."""
    where = f"transaction {tx.get('hash')}: "
    to = tx.get("to")
    return DepositTx(
        source_hash=data(tx, "sourceHash", 32, where=where),
        from_address=data(tx, "from", 20, where=where),
        to=None if to is None else parse_data(to, 20, f"{where}to"),
        mint=optional_quantity(tx, "mint", where=where) or 0,
        value=quantity(tx, "value", where=where),
        gas=quantity(tx, "gas", where=where),
        is_system_tx=bool(tx.get("isSystemTx") or False),
        data=data(tx, "input", where=where),
    )


def raw_transaction(tx: Any) -> bytes:
    """The EIP-2718 bytes of a JSON transaction, checked against its ``hash``."""
    t = json_object(tx, "transaction")
    if transaction_type(t) == DEPOSIT_TX_TYPE:
        raw = deposit_from_json(t).encode()
    else:
        raw = encode_transaction(transaction_from_json(t))
    expected = data(t, "hash", 32, where="transaction ")
    if keccak256(raw) != expected:
        raise DecodeError(f"transaction 0x{expected.hex()}: rebuilt bytes do not hash to it")
    return raw


class L2Provider:
    """Read L2 blocks from the L2 execution client's RPC: refs, output-root inputs, and for the
    derivation pipeline and the engine driver (:class:`~opfleet.derive.interfaces.L2ChainProvider`)
    full blocks, their raw transactions and the system config that produced them.

    One cache of blocks by hash (a block's contents never change): a full block replaces the
    plain one read for its ref. Lookups by number or label always ask the node, since the chain
    at a height can be reorged.
    """

    def __init__(self, client: JsonRpcClient, rollup_config: RollupConfig, *, cache_size: int = DEFAULT_CACHE_SIZE):
        self.client = client
        self.rollup_config = rollup_config
        self._by_hash: LRUCache[bytes, L2Block] = LRUCache(cache_size)
        self._config: LRUCache[bytes, SystemConfig] = LRUCache(cache_size)  # derived from a cached block

    async def chain_id(self) -> int:
        """``eth_chainId``: which chain the execution client serves (and that it answers)."""
        return parse_quantity(await self.client.call("eth_chainId"), "eth_chainId")

    async def block_logs(self, block_hash: bytes) -> list[Log]:
        """Every log of one block, in log-index order: ``eth_getLogs`` by block hash, which the
        Engine API's ``eth_`` list guarantees on the authenticated port (``eth_getBlockReceipts``
        is not). A log without its ``logIndex`` is malformed (DecodeError)."""
        raw = await self.client.call("eth_getLogs", {"blockHash": hex_data(block_hash)})
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise DecodeError(f"eth_getLogs: expected a list, got {type(raw).__name__}")
        logs = [log_from_json(entry, where=f"eth_getLogs[{i}]") for i, entry in enumerate(raw)]
        for i, entry in enumerate(logs):
            if entry.log_index is None:
                raise DecodeError(f"eth_getLogs[{i}].logIndex: missing")
        return sorted(logs, key=lambda entry: entry.log_index or 0)

    async def l2_block_ref(self, block: int | str | bytes) -> L2BlockRef:
        """The ref of an L2 block by number, label (``latest``/``safe``/``finalized``) or hash."""
        return (await self.l2_block(block)).ref

    async def l2_block(self, block: int | str | bytes) -> L2Block:
        """Header and ref of an L2 block (one ``eth_getBlockBy*(…, true)`` call; cached by hash)."""
        kind, value = normalize_block_id(block)
        if kind == "hash":
            cached = self._by_hash.get(value)
            if cached is not None:
                return cached
            raw_block = await self.client.call("eth_getBlockByHash", hex_data(value), True)
        else:
            param = hex_quantity(value) if kind == "number" else value
            try:
                raw_block = await self.client.call("eth_getBlockByNumber", param, True)
            except RpcCallError as exc:
                # op-geth answers -32000 "safe block not found" ("finalized block not found") for a
                # label no forkchoice update has set yet; like op-node's L2Client, that is "not found".
                if kind == "label" and "not found" in exc.message.lower():
                    raise BlockNotFoundError(f"{self.client.endpoint}: L2 block {block!r} not found") from None
                raise
        if raw_block is None:
            raise BlockNotFoundError(f"{self.client.endpoint}: L2 block {block!r} not found")
        try:
            header = header_from_json(raw_block)
            transactions = raw_block.get("transactions")
            if not isinstance(transactions, list):
                raise DecodeError("transactions: expected a list of transaction objects")
        except DecodeError as exc:
            raise TemporaryError(f"{self.client.endpoint}: malformed L2 block {block!r}: {exc}") from None
        if kind == "hash" and header.hash != value:
            raise TemporaryError(f"{self.client.endpoint}: asked for L2 block {hex_data(value)}, got {hex_data(header.hash)}")
        result = L2Block(header, self._ref(header, transactions))
        self._by_hash.put(header.hash, result)
        return result

    def _ref(self, header: BlockHeader, transactions: list[Any]) -> L2BlockRef:
        where = f"{self.client.endpoint}: L2 block {header.number} ({hex_data(header.hash)})"
        first_type: int | None = None
        first_data = b""
        if transactions and header.number != self.rollup_config.genesis.l2.number:
            first = transactions[0]
            if not isinstance(first, dict):
                raise CriticalError(f"{where}: transaction 0 is a {type(first).__name__}, not a transaction "
                                    "object (the node ignored the request for full transactions)")
            try:
                first_type = transaction_type(first)
                if first_type == DEPOSIT_TX_TYPE:
                    first_data = data(first, "input")
            except DecodeError as exc:
                raise CriticalError(f"{where}: malformed transaction 0: {exc}") from None
        try:
            return l2_block_ref(self.rollup_config, block_hash=header.hash, number=header.number,
                                parent_hash=header.parent_hash, timestamp=header.timestamp,
                                first_tx_type=first_type, first_tx_data=first_data)
        except DecodeError as exc:
            raise CriticalError(f"{self.client.endpoint}: {exc}") from None

    # --- full blocks (the derivation pipeline and the engine driver) ----------------------------

    async def full_block(self, number: int, /) -> FullL2Block:
        """The canonical block at ``number`` with its raw transactions (each rebuilt from its JSON
        and checked against its hash, so a field we do not model cannot change the bytes)."""
        raw = await self.client.call("eth_getBlockByNumber", hex_quantity(number), True)
        if raw is None:
            raise BlockNotFoundError(f"{self.client.endpoint}: L2 block {number} not found")
        try:
            block = json_object(raw, "block")
            header = header_from_json(block)
            cached = self._by_hash.get(header.hash)
            if isinstance(cached, FullL2Block):
                return cached
            txs = block.get("transactions")
            if not isinstance(txs, list):
                raise DecodeError("transactions: expected a list")
            transactions = tuple(raw_transaction(tx) for tx in txs)
            withdrawals = block.get("withdrawals")
            fee_recipient = data(block, "miner", 20)
            extra_data = data(block, "extraData")
        except DecodeError as exc:
            raise TemporaryError(f"{self.client.endpoint}: malformed L2 block {number}: {exc}") from None
        try:
            ref = l2_block_ref_from_transactions(
                self.rollup_config, block_hash=header.hash, number=header.number, parent_hash=header.parent_hash,
                timestamp=header.timestamp, transactions=transactions)
        except DecodeError as exc:  # a block that breaks the rule is critical
            raise CriticalError(str(exc)) from None
        full = FullL2Block(header, ref, fee_recipient=fee_recipient, extra_data=extra_data,
                           withdrawals=tuple(withdrawals) if isinstance(withdrawals, list) else None,
                           transactions=transactions)
        self._by_hash.put(header.hash, full)
        return full

    async def system_config_by_number(self, number: int, /) -> SystemConfig:
        """The system config that produced block ``number`` (op-node ``SystemConfigByL2Hash``)."""
        block = await self.full_block(number)
        cached = self._config.get(block.header.hash)
        if cached is not None:
            return cached
        l1_info = None
        if block.transactions and block.transactions[0][:1] == bytes([DEPOSIT_TX_TYPE]):
            try:
                l1_info = decode_deposit_tx(block.transactions[0]).data
            except DecodeError:
                l1_info = None
        try:
            config = system_config_from_l2_block(
                self.rollup_config,
                number=block.header.number,
                timestamp=block.header.timestamp,
                gas_limit=block.header.gas_limit,
                extra_data=block.extra_data,
                l1_info_data=l1_info,
                block_hash=block.header.hash,
            )
        except DecodeError as exc:
            raise CriticalError(f"L2 block {number}: cannot read its system config: {exc}") from None
        self._config.put(block.header.hash, config)
        return config

    async def l2_transactions_by_number(self, number: int, /) -> Sequence[bytes]:
        return (await self.full_block(number)).transactions

    # --- outputs --------------------------------------------------------------------------------

    async def message_passer_storage_root(self, header: BlockHeader) -> bytes:
        """The L2ToL1MessagePasser storage root at this block (see the module docstring)."""
        if self.rollup_config.is_isthmus(header.timestamp):
            if header.withdrawals_root is None:
                raise CriticalError(
                    f"{self.client.endpoint}: Isthmus L2 block {header.number} has no withdrawalsRoot in its header")
            return header.withdrawals_root
        proof = await self.client.call(
            "eth_getProof", hex_data(L2_TO_L1_MESSAGE_PASSER_ADDRESS), [], hex_data(header.hash))
        try:  # as op-node: the storage root counts only once proven against the block's state root
            return verify_account_proof(header.state_root, L2_TO_L1_MESSAGE_PASSER_ADDRESS, proof).storage_hash
        except DecodeError as exc:
            raise TemporaryError(f"{self.client.endpoint}: L2 block {header.number}: the L2ToL1MessagePasser's "
                                 f"eth_getProof does not check against the state root: {exc}") from None

    async def output_v0(self, block: int | str | bytes) -> tuple[OutputV0, L2BlockRef]:
        """The version-0 output of an L2 block and its ref (inputs of ``optimism_outputAtBlock``)."""
        found = await self.l2_block(block)
        root = await self.message_passer_storage_root(found.header)
        return OutputV0(found.header.state_root, root, found.header.hash), found.ref

