"""The L2 execution layer as the derivation pipeline and the engine driver read it.

:class:`~opfleet.providers.l2.L2Provider` gives block refs and outputs; the pipeline's
:class:`~opfleet.derive.interfaces.L2ChainProvider` also needs, by number, the system config
that produced a block and its transactions as EIP-2718 bytes, and the driver needs the fields
it compares when consolidating derived attributes with an existing unsafe block (fee
recipient, ``extraData``, withdrawals). Both come from one ``eth_getBlockByNumber(n, true)``:
transactions are rebuilt from their JSON (deposits from ``sourceHash``/``mint``/
``isSystemTx``) and each rebuild is checked against the transaction hash, so a field we do not
model can never silently change the bytes we compare.

Spec: ``specs/protocol/derivation.md`` ("Resetting the Pipeline"); op-node
``sources.L2Client.SystemConfigByL2Hash`` / ``PayloadToSystemConfig``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opfleet.errors import CriticalError, DecodeError, TemporaryError
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE, DepositTx
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.system_config import SystemConfig, system_config_from_l2_block
from opfleet.protocol.transactions import encode_transaction
from opfleet.providers.ethjson import (
    BlockHeader,
    data,
    header_from_json,
    hex_quantity,
    json_object,
    optional_quantity,
    parse_data,
    quantity,
    transaction_from_json,
    transaction_type,
)
from opfleet.providers.jsonrpc import BlockNotFoundError, JsonRpcClient
from opfleet.providers.l1 import LRUCache
from opfleet.providers.l2 import L2Provider


@dataclass(frozen=True, slots=True)
class FullL2Block:
    """An L2 block with what consolidation and sync start compare."""

    header: BlockHeader
    ref: L2BlockRef
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


class EngineL2Chain:
    """:class:`~opfleet.derive.interfaces.L2ChainProvider` over the L2 execution client's RPC.

    Full blocks are cached by hash (a block's contents never change); lookups by number always
    ask the node, since the chain at a height can be reorged.
    """

    def __init__(self, client: JsonRpcClient, rollup_config: RollupConfig, *, cache_size: int = 256):
        self.client = client
        self.rollup_config = rollup_config
        self.refs = L2Provider(client, rollup_config)
        self._full: LRUCache[bytes, FullL2Block] = LRUCache(cache_size)
        self._config: LRUCache[bytes, SystemConfig] = LRUCache(cache_size)

    async def l2_block_ref(self, number: int | str | bytes, /) -> L2BlockRef:
        return await self.refs.l2_block_ref(number)

    async def full_block(self, number: int, /) -> FullL2Block:
        """The canonical block at ``number`` with its raw transactions."""
        raw = await self.client.call("eth_getBlockByNumber", hex_quantity(number), True)
        if raw is None:
            raise BlockNotFoundError(f"{self.client.endpoint}: L2 block {number} not found")
        try:
            block = json_object(raw, "block")
            header = header_from_json(block)
            cached = self._full.get(header.hash)
            if cached is not None:
                return cached
            txs = block.get("transactions")
            if not isinstance(txs, list):
                raise DecodeError("transactions: expected a list")
            transactions = tuple(raw_transaction(tx) for tx in txs)
            withdrawals = block.get("withdrawals")
            full = FullL2Block(
                header=header,
                ref=self._ref(header, transactions),
                fee_recipient=data(block, "miner", 20),
                extra_data=data(block, "extraData"),
                withdrawals=tuple(withdrawals) if isinstance(withdrawals, list) else None,
                transactions=transactions,
            )
        except DecodeError as exc:
            raise TemporaryError(f"{self.client.endpoint}: malformed L2 block {number}: {exc}") from None
        self._full.put(header.hash, full)
        return full

    def _ref(self, header: BlockHeader, transactions: Sequence[bytes]) -> L2BlockRef:
        from opfleet.engine.driver import ref_from_transactions  # the driver owns this rule

        return ref_from_transactions(self.rollup_config, header.hash, header.number, header.parent_hash,
                                     header.timestamp, transactions)

    async def system_config_by_number(self, number: int, /) -> SystemConfig:
        block = await self.full_block(number)
        cached = self._config.get(block.header.hash)
        if cached is not None:
            return cached
        l1_info = None
        if block.transactions and block.transactions[0][:1] == bytes([DEPOSIT_TX_TYPE]):
            from opfleet.protocol.deposits import decode_deposit_tx

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
