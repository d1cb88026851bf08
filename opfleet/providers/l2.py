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

from dataclasses import dataclass
from typing import Any

from opfleet.errors import CriticalError, DecodeError, TemporaryError
from opfleet.protocol.account_proof import verify_account_proof
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE
from opfleet.protocol.l1_block_info import l2_block_ref
from opfleet.protocol.log import Log
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS, OutputV0
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.providers.ethjson import (
    BlockHeader,
    data,
    header_from_json,
    hex_data,
    hex_quantity,
    log_from_json,
    parse_quantity,
    transaction_type,
)
from opfleet.providers.jsonrpc import BlockNotFoundError, JsonRpcClient, RpcCallError
from opfleet.providers.l1 import LRUCache, normalize_block_id

DEFAULT_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class L2Block:
    """An L2 header with its :class:`L2BlockRef`."""

    header: BlockHeader
    ref: L2BlockRef


class L2Provider:
    """Read L2 block refs and output-root inputs from the L2 execution client's RPC."""

    def __init__(self, client: JsonRpcClient, rollup_config: RollupConfig, *, cache_size: int = DEFAULT_CACHE_SIZE):
        self.client = client
        self.rollup_config = rollup_config
        self._by_hash: LRUCache[bytes, L2Block] = LRUCache(cache_size)

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

