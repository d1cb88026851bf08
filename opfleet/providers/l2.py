"""L2 execution-layer reads: block refs (with L1 origin and sequence number) and output-root pieces.

An :class:`~opfleet.protocol.block_ref.L2BlockRef` needs more than the header: its L1 origin
and sequence number are decoded from the block's first transaction, the L1-info deposit
(``specs/protocol/deposits.md``, "L1 Attributes Deposited Transaction"). The rollup's genesis
block has no such deposit: its origin is the rollup config's ``genesis.l1`` and its sequence
number 0, and its hash must be ``genesis.l2.hash`` (op-node ``derive.L2BlockToBlockRef``).

Rather than download every transaction of the block, one HTTP request carries a batch of two
small calls: the header with transaction hashes, and transaction 0 alone. The transaction's
``blockHash`` must name the same block, which catches a reorg between the two calls.

Output roots (op-node ``L2Client.outputV0``): the message-passer storage root is the header's
``withdrawalsRoot`` from Isthmus, and before Isthmus ``eth_getProof(0x4200..0016, [], block)``
``.storageHash`` (the spec forbids reading a pre-Isthmus header's ``withdrawalsRoot``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opfleet.errors import CriticalError, DecodeError, TemporaryError
from opfleet.protocol.account_proof import verify_account_proof
from opfleet.protocol.block_ref import BlockID, L2BlockRef
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE
from opfleet.protocol.l1_block_info import decode_l1_block_info
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS, OutputV0
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.providers.ethjson import (
    BlockHeader,
    data,
    header_from_json,
    hex_data,
    hex_quantity,
    json_object,
    parse_data,
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

    async def l2_block_ref(self, block: int | str | bytes) -> L2BlockRef:
        """The ref of an L2 block by number, label (``latest``/``safe``/``finalized``) or hash."""
        return (await self.l2_block(block)).ref

    async def l2_block(self, block: int | str | bytes) -> L2Block:
        """Header and ref of an L2 block (one HTTP request; cached by hash)."""
        kind, value = normalize_block_id(block)
        if kind == "hash":
            cached = self._by_hash.get(value)
            if cached is not None:
                return cached
            calls = [
                ("eth_getBlockByHash", [hex_data(value), False]),
                ("eth_getTransactionByBlockHashAndIndex", [hex_data(value), "0x0"]),
            ]
        else:
            param = hex_quantity(value) if kind == "number" else value
            calls = [
                ("eth_getBlockByNumber", [param, False]),
                ("eth_getTransactionByBlockNumberAndIndex", [param, "0x0"]),
            ]
        raw_block, raw_tx = await self.client.batch(calls, return_errors=True)
        if isinstance(raw_block, RpcCallError):
            # op-geth answers -32000 "safe block not found" ("finalized block not found") for a
            # label no forkchoice update has set yet; like op-node's L2Client, that is "not found".
            if kind == "label" and "not found" in raw_block.message.lower():
                raise BlockNotFoundError(f"{self.client.endpoint}: L2 block {block!r} not found") from None
            raise raw_block
        if raw_block is None:
            raise BlockNotFoundError(f"{self.client.endpoint}: L2 block {block!r} not found")
        try:
            header = header_from_json(raw_block)
        except DecodeError as exc:
            raise TemporaryError(f"{self.client.endpoint}: malformed L2 block {block!r}: {exc}") from None
        if kind == "hash" and header.hash != value:
            raise TemporaryError(f"{self.client.endpoint}: asked for L2 block {hex_data(value)}, got {hex_data(header.hash)}")
        if isinstance(raw_tx, RpcCallError):
            raise raw_tx
        if not self._is_genesis(header) and (raw_tx is None or _tx_block_hash(raw_tx) != header.hash):
            # The chain moved between the two calls (by number/label): ask for tx 0 by hash.
            raw_tx = await self.client.call("eth_getTransactionByBlockHashAndIndex", hex_data(header.hash), "0x0")
        result = L2Block(header, self._ref(header, raw_tx))
        self._by_hash.put(header.hash, result)
        return result

    def _is_genesis(self, header: BlockHeader) -> bool:
        return header.number == self.rollup_config.genesis.l2.number

    def _ref(self, header: BlockHeader, raw_tx: Any) -> L2BlockRef:
        genesis = self.rollup_config.genesis
        if self._is_genesis(header):
            if header.hash != genesis.l2.hash:
                raise CriticalError(
                    f"{self.client.endpoint}: L2 block {header.number} has hash {hex_data(header.hash)}, "
                    f"but the rollup config's L2 genesis is {hex_data(genesis.l2.hash)} (wrong chain or rollup config?)"
                )
            return L2BlockRef(header.hash, header.number, header.parent_hash, header.timestamp, genesis.l1, 0)
        where = f"{self.client.endpoint}: L2 block {header.number} ({hex_data(header.hash)})"
        if raw_tx is None:
            raise CriticalError(f"{where} has no transactions: it is missing the L1-info deposit")
        try:
            tx = json_object(raw_tx, "transaction 0")
            if transaction_type(tx) != DEPOSIT_TX_TYPE:
                raise CriticalError(f"{where}: first transaction is not a deposit, so not the L1-info deposit")
            info = decode_l1_block_info(data(tx, "input"))
        except DecodeError as exc:
            raise CriticalError(f"{where}: cannot decode the L1-info deposit: {exc}") from None
        return L2BlockRef(
            header.hash, header.number, header.parent_hash, header.timestamp,
            BlockID(info.block_hash, info.number), info.sequence_number,
        )

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


def _tx_block_hash(raw_tx: Any) -> bytes | None:
    if not isinstance(raw_tx, dict) or not isinstance(raw_tx.get("blockHash"), str):
        return None
    try:
        return parse_data(raw_tx["blockHash"], 32, "blockHash")
    except DecodeError:
        return None
