"""A batcher: L2 blocks -> channels -> frames -> batcher transactions on L1 (calldata or blobs).

The pure core is :class:`~opfleet.protocol.channel_out.ChannelBuilder` (re-exported here): add L2
blocks (:class:`BatchBlock`), get frames and batcher-transaction data. :class:`Batcher` is the trio service around it: it reads unsafe
blocks from any L2 execution client's ``eth_`` RPC, feeds a channel, closes it when it is full
or has been open for ``max_channel_duration`` L1 blocks, and posts the frames to the batch
inbox with ``eth_sendRawTransaction``, signed with the batcher key (type-2 calldata
transactions, or type-3 blob transactions with one frame per blob).

What it writes is what op-node derives: the wire format is described once, in
:mod:`opfleet.protocol.channel_out`.

Deposits are never batched: each block contributes its non-deposit transactions, and its L1
origin and sequence number come from its L1-info deposit (the first transaction).

Given the chain's rollup config (:attr:`BatcherConfig.rollup_config`), the batcher refuses to
batch a fork activation block that must be empty (Jovian, Karst, Interop:
:func:`~opfleet.protocol.upgrades.activation_block_must_be_empty`) but carries user
transactions: derivation would drop that batch without a word, every later batch would then
fail its parent check, and the safe chain would end up on deposit-only blocks instead of the
sequencer's. The batcher posts the blocks before it, logs one error naming the block and stops
batching (:attr:`BatcherStatistics.stopped`): a safe head that stops moving, with the reason
in the log, is what an operator can act on; a chain that quietly diverges is not (and no L1
gas goes to batches nobody derives). It resumes, from the safe head, once that block is
replaced on L2 (the sequencer reorged onto the derived chain).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import trio

from opfleet.devnet.blobtx import encode_pooled_blob_tx, make_sidecar
from opfleet.errors import DecodeError, TemporaryError
from opfleet.protocol.blob import MAX_BLOB_DATA_SIZE, encode_blob
from opfleet.protocol.block import floor_data_gas, intrinsic_gas
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.channel_out import BROTLI as BROTLI
from opfleet.protocol.channel_out import DEFAULT_MAX_L1_TX_SIZE as DEFAULT_MAX_L1_TX_SIZE
from opfleet.protocol.channel_out import SINGULAR as SINGULAR
from opfleet.protocol.channel_out import SPAN as SPAN
from opfleet.protocol.channel_out import ZLIB as ZLIB
from opfleet.protocol.channel_out import BatchBlock as BatchBlock
from opfleet.protocol.channel_out import ChannelBuilder as ChannelBuilder
from opfleet.protocol.channel_out import ChannelConfig as ChannelConfig
from opfleet.protocol.channel_out import ChannelFullError as ChannelFullError
from opfleet.protocol.channel_out import compress as compress
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.deposits import DEPOSIT_TX_TYPE
from opfleet.protocol.ethjson import (
    data as json_data,
)
from opfleet.protocol.ethjson import header_from_json, transaction_from_json, transaction_type
from opfleet.protocol.frame import CHANNEL_ID_LENGTH
from opfleet.protocol.hexjson import hex_data, hex_quantity, parse_data, parse_quantity
from opfleet.protocol.l1_block_info import decode_l1_block_info
from opfleet.protocol.rollup_config import RollupConfig
from opfleet.protocol.transactions import (
    BLOB_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    Transaction,
    encode_transaction,
    sign_transaction,
)
from opfleet.protocol.upgrades import activation_block_must_be_empty
from opfleet.providers.jsonrpc import JsonRpcClient

log = logging.getLogger("opfleet.devnet")

CALLDATA = "calldata"
BLOBS = "blobs"

MAX_BLOB_FRAME_SIZE = MAX_BLOB_DATA_SIZE - 1
"""A frame that, behind the version byte, fills one blob."""
MAX_BLOBS_PER_TX = 6
GWEI = 10**9


def batch_block_from_json(block: Any, raw_transactions: Sequence[bytes | None] | None = None) -> BatchBlock:
    """A :class:`BatchBlock` from an ``eth_getBlockByNumber(n, true)`` object of an OP Stack L2.

    The L1 origin and sequence number are decoded from the L1-info deposit (transaction 0);
    user transactions are rebuilt from their JSON (``raw_transactions`` may supply bytes the
    caller fetched, by index, for those that cannot be rebuilt). Raises :class:`DecodeError`.
    """
    header = header_from_json(block)
    txs = block.get("transactions")
    if not isinstance(txs, list) or not txs or not isinstance(txs[0], dict):
        raise DecodeError(f"L2 block {header.number} has no full transactions (no L1-info deposit)")
    if transaction_type(txs[0]) != DEPOSIT_TX_TYPE:
        raise DecodeError(f"L2 block {header.number}: transaction 0 is not the L1-info deposit")
    info = decode_l1_block_info(json_data(txs[0], "input"))
    user: list[bytes] = []
    for i, tx in enumerate(txs):
        if transaction_type(tx) == DEPOSIT_TX_TYPE:
            continue
        raw = raw_transactions[i] if raw_transactions is not None and i < len(raw_transactions) else None
        if raw is None:
            raw = encode_transaction(transaction_from_json(tx))
        if keccak256(raw) != parse_data(tx.get("hash"), 32, "transaction hash"):
            raise DecodeError(f"L2 block {header.number}: transaction {i} does not rebuild to its hash")
        user.append(raw)
    return BatchBlock(header.number, header.hash, header.parent_hash, header.timestamp,
                      BlockID(info.block_hash, info.number), info.sequence_number, tuple(user))


# --- the service ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatcherConfig:
    """A :class:`Batcher`'s settings. ``max_channel_duration`` is in L1 blocks (0: no limit)."""

    channel: ChannelConfig
    batch_inbox: bytes
    l1_chain_id: int
    batcher_key: bytes
    data_availability: str = CALLDATA
    max_channel_duration: int = 0
    blobs_per_tx: int = 1
    poll_interval: float = 1.0
    start_block: int | None = None
    """First L2 block to batch; None: one past the L2 safe head when the batcher starts."""
    max_priority_fee_per_gas: int = GWEI
    rollup_config: RollupConfig | None = None
    """The chain's rollup config: with it, an activation block that must be empty but is not
    stops the batcher (module docstring); None: blocks are batched as they are."""

    def __post_init__(self) -> None:
        if self.data_availability not in (CALLDATA, BLOBS):
            raise ValueError(f"data_availability must be {CALLDATA!r} or {BLOBS!r}")
        if not 1 <= self.blobs_per_tx <= MAX_BLOBS_PER_TX:
            raise ValueError(f"blobs_per_tx must be in 1..{MAX_BLOBS_PER_TX}")
        if self.data_availability == BLOBS and self.channel.max_frame_size > MAX_BLOB_FRAME_SIZE:
            raise ValueError(f"blob frames can be at most {MAX_BLOB_FRAME_SIZE} bytes")
        if len(self.batch_inbox) != 20:
            raise ValueError("batch_inbox must be 20 bytes")

    @property
    def batcher_address(self) -> bytes:
        return private_key_to_address(self.batcher_key)


@dataclass(slots=True)
class BatcherStatistics:
    """A snapshot of a :class:`Batcher`."""

    blocks_loaded: int = 0
    channels_closed: int = 0
    frames_sent: int = 0
    transactions_sent: int = 0
    blobs_sent: int = 0
    resets: int = 0
    next_block: int | None = None
    sent: list[bytes] = field(default_factory=list)
    """Hashes of the batcher transactions sent, in order."""
    stopped: str | None = None
    """Why the batcher stopped batching (an activation block with user transactions), or None."""


class Batcher:
    """Post an L2 chain's unsafe blocks to L1 (see the module docstring).

    ``l1`` and ``l2`` are JSON-RPC clients; ``channel_ids`` supplies channel ids (tests pass a
    seeded generator for reproducible output).
    """

    def __init__(
        self,
        config: BatcherConfig,
        l1: JsonRpcClient,
        l2: JsonRpcClient,
        *,
        channel_ids: Callable[[], bytes] | None = None,
    ):
        self.config = config
        self.l1 = l1
        self.l2 = l2
        self._channel_ids = channel_ids or (lambda: secrets.token_bytes(CHANNEL_ID_LENGTH))
        self._channel: ChannelBuilder | None = None
        self._channel_opened_at: int | None = None
        self._next: int | None = config.start_block
        self._last: BatchBlock | None = None
        self._stopped_at: BatchBlock | None = None
        self._stats = BatcherStatistics()

    def statistics(self) -> BatcherStatistics:
        stats = replace(self._stats, sent=list(self._stats.sent))
        stats.next_block = self._next
        return stats

    @property
    def stopped(self) -> str | None:
        """Why batching stopped, or None while it runs (see the module docstring)."""
        return self._stats.stopped

    @property
    def channel(self) -> ChannelBuilder | None:
        """The open channel, if any."""
        return self._channel

    # --- loading blocks ---------------------------------------------------------------------------------

    async def _start_block(self) -> int:
        safe = await self.l2.call("eth_getBlockByNumber", "safe", False)
        if safe is None:
            return 1
        return parse_quantity(safe.get("number"), "safe block number") + 1

    async def _fetch_block(self, number: int) -> BatchBlock | None:
        raw_block = await self.l2.call("eth_getBlockByNumber", hex_quantity(number), True)
        if raw_block is None:
            return None
        try:
            return batch_block_from_json(raw_block)
        except DecodeError:
            pass
        # Some transaction did not rebuild from its JSON: take the node's bytes instead.
        txs = raw_block.get("transactions") or []
        raws: list[bytes | None] = []
        for tx in txs:
            if isinstance(tx, dict) and transaction_type(tx) != DEPOSIT_TX_TYPE:
                value = await self.l2.call("eth_getRawTransactionByHash", tx.get("hash"))
                raws.append(parse_data(value, None, "raw transaction"))
            else:
                raws.append(None)
        try:
            return batch_block_from_json(raw_block, raws)
        except DecodeError as exc:
            raise TemporaryError(f"L2 block {number}: {exc}") from None

    def reset(self, next_block: int) -> None:
        """Forget the open channel and restart from ``next_block`` (after an L2 reorg; this also
        resumes a batcher that :attr:`stopped`)."""
        self._stats.resets += 1
        self._stats.stopped = None
        self._stopped_at = None
        self._channel = None
        self._channel_opened_at = None
        self._next = next_block
        self._last = None

    async def load_blocks(self) -> int:
        """Add the unsafe blocks not yet batched to channels; returns how many were added."""
        if self._stopped_at is not None and not await self._replaced(self._stopped_at):
            return 0
        if self._next is None:
            self._next = await self._start_block()
        head = parse_quantity(await self.l2.call("eth_blockNumber"), "L2 block number")
        added = 0
        while self._next <= head:
            block = await self._fetch_block(self._next)
            if block is None:
                break
            if self._last is not None and block.parent_hash != self._last.hash:
                log.warning("L2 reorg at block %d: restarting from the safe head", block.number)
                self.reset(await self._start_block())
                return added
            if self._must_stop_at(block):
                await self._stop_at(block)
                return added
            await self._add(block)
            self._last = block
            self._next += 1
            added += 1
            self._stats.blocks_loaded += 1
        return added

    def _must_stop_at(self, block: BatchBlock) -> bool:
        rollup = self.config.rollup_config
        return (rollup is not None and bool(block.transactions)
                and activation_block_must_be_empty(rollup, block.timestamp))

    async def _stop_at(self, block: BatchBlock) -> None:
        """Post the blocks before ``block`` and stop: its batch would be dropped by derivation."""
        fork = self.config.rollup_config.fork_at(block.timestamp) if self.config.rollup_config else "?"
        reason = (f"L2 block {block.number} (0x{block.hash.hex()}) activates {fork} and must hold no user "
                  f"transactions, but holds {len(block.transactions)}: derivation would drop its batch and "
                  "every later one")
        await self._submit_channel()
        self._stats.stopped = reason
        self._stopped_at = block
        log.error("Batcher stopped: %s. The safe head stays below it; batching resumes once the block is "
                  "replaced on L2", reason, extra={"fields": {"block": block.number, "fork": fork}})

    async def _replaced(self, block: BatchBlock) -> bool:
        """Whether the L2 chain no longer holds ``block`` (then batching resumes from the safe head)."""
        current = await self._fetch_block(block.number)
        if current is None or current.hash == block.hash:
            return False
        log.info("Batcher resumed: the activation block it stopped at was replaced",
                 extra={"fields": {"block": block.number, "hash": "0x" + current.hash.hex()}})
        self.reset(await self._start_block())
        return True

    async def _add(self, block: BatchBlock) -> None:
        if self._channel is None:
            self._channel = ChannelBuilder(self.config.channel, channel_id=self._channel_ids())
            self._channel_opened_at = await self._l1_head()
        try:
            self._channel.add_block(block)
        except ChannelFullError:
            await self._submit_channel()
            self._channel = ChannelBuilder(self.config.channel, channel_id=self._channel_ids())
            self._channel_opened_at = await self._l1_head()
            self._channel.add_block(block)
        if self._channel.is_full:
            await self._submit_channel()

    async def _l1_head(self) -> int:
        return parse_quantity(await self.l1.call("eth_blockNumber"), "L1 block number")

    # --- posting -------------------------------------------------------------------------------------------

    async def step(self) -> list[bytes]:
        """Load new blocks, close a channel that is full or timed out, post it; the tx hashes sent."""
        before = len(self._stats.sent)
        await self.load_blocks()
        if self._stats.stopped is not None:
            return self._stats.sent[before:]
        duration = self.config.max_channel_duration
        if self._channel is not None and duration and self._channel_opened_at is not None:
            if await self._l1_head() >= self._channel_opened_at + duration:
                await self._submit_channel()
        return self._stats.sent[before:]

    async def flush(self) -> list[bytes]:
        """Load new blocks and post whatever the open channel holds, full or not."""
        before = len(self._stats.sent)
        await self.load_blocks()
        if self._channel is not None and len(self._channel):
            await self._submit_channel()
        return self._stats.sent[before:]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Step every ``poll_interval`` seconds until cancelled (temporary failures are retried)."""
        task_status.started()
        while True:
            try:
                await self.step()
            except TemporaryError as exc:
                log.warning("batcher step failed: %s", exc)
            await trio.sleep(self.config.poll_interval)

    async def _submit_channel(self) -> None:
        channel = self._channel
        self._channel = None
        self._channel_opened_at = None
        if channel is None or not len(channel):
            return
        channel.close()
        self._stats.channels_closed += 1
        datas = channel.tx_datas()
        self._stats.frames_sent += len(datas)
        if self.config.data_availability == BLOBS:
            groups = [datas[i : i + self.config.blobs_per_tx] for i in range(0, len(datas), self.config.blobs_per_tx)]
        else:
            groups = [[d] for d in datas]
        nonce = parse_quantity(await self.l1.call("eth_getTransactionCount", hex_data(self.config.batcher_address),
                                                  "pending"), "nonce")
        fees = await self._fees()
        for group in groups:
            raw = await self._sign(group, nonce, fees)
            tx_hash = parse_data(await self.l1.call("eth_sendRawTransaction", hex_data(raw)), 32, "transaction hash")
            self._stats.sent.append(tx_hash)
            self._stats.transactions_sent += 1
            nonce += 1

    async def _fees(self) -> tuple[int, int]:
        latest = await self.l1.call("eth_getBlockByNumber", "latest", False)
        base_fee = parse_quantity(latest.get("baseFeePerGas", "0x0"), "baseFeePerGas")
        blob_fee = 1
        if self.config.data_availability == BLOBS:
            blob_fee = parse_quantity(await self.l1.call("eth_blobBaseFee"), "blob base fee")
        return 2 * base_fee + self.config.max_priority_fee_per_gas, max(2 * blob_fee, 1)

    async def _sign(self, group: Sequence[bytes], nonce: int, fees: tuple[int, int]) -> bytes:
        config = self.config
        max_fee, max_blob_fee = fees
        base = Transaction(type=DYNAMIC_FEE_TX_TYPE, chain_id=config.l1_chain_id, nonce=nonce,
                           max_priority_fee_per_gas=config.max_priority_fee_per_gas, max_fee_per_gas=max_fee,
                           to=config.batch_inbox)
        if config.data_availability == CALLDATA:
            (data,) = group
            tx = replace(base, data=data)
            tx = replace(tx, gas=max(intrinsic_gas(tx), floor_data_gas(data)))
            return encode_transaction(sign_transaction(tx, config.batcher_key))
        # KZG commitments and proofs take tens of milliseconds per blob: off the event loop.
        sidecars = await trio.to_thread.run_sync(lambda: [make_sidecar(encode_blob(d)) for d in group])
        tx = replace(base, type=BLOB_TX_TYPE, gas=21_000, max_fee_per_blob_gas=max_blob_fee,
                     blob_versioned_hashes=tuple(s.versioned_hash for s in sidecars))
        self._stats.blobs_sent += len(sidecars)
        return encode_pooled_blob_tx(sign_transaction(tx, config.batcher_key), sidecars)
