"""List-backed fakes of the derivation providers, and builders for real batcher data.

Like ``trio.testing``: public, small and real enough to drive the whole pipeline in tests or
a devnet replay without a node.

- :class:`FakeL1Chain` (a :class:`~opfleet.derive.interfaces.ChainProvider`): L1 blocks with
  real signed transactions and receipts, mined one by one; reorgs; and :attr:`FakeL1Chain.beacon`,
  a :class:`FakeBeacon` (:class:`~opfleet.derive.interfaces.BlobProvider`) that serves the
  blobs of mined blob transactions by their index in the block.
- :class:`FakeL2Chain` (an :class:`~opfleet.derive.interfaces.L2ChainProvider`): the L2 chain
  derived so far; :meth:`FakeL2Chain.apply` "executes" derived attributes the way op-geth
  would for what derivation can observe (block ref from the L1-info deposit, system config
  from the L1-info deposit, gas limit and EIP-1559 ``extraData``).
- :func:`make_rollup_config`: a rollup config whose genesis matches a :class:`FakeL1Chain`.
- :class:`Batcher`: signs batcher transactions (calldata or blobs with real KZG
  commitments). Well-formed channels of sequenced blocks come from :meth:`Sequencer.channel`,
  which uses :class:`~opfleet.protocol.channel_out.ChannelBuilder` (the devnet batcher's; one encoder
  for tests, devnet and benchmarks); :func:`channel_data` and :func:`split_frames` stay for
  hand-made (often malformed) channel bytes; :func:`deposit_log` and :func:`config_update_log`
  build L1 logs.

Keys are fixed test keys; hashes are deterministic, so tests can write expected values out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import rlp

from opfleet.derive.errors import EndOfData
from opfleet.derive.interfaces import AttributesWithParent
from opfleet.derive.pipeline import Pipeline, StepKind
from opfleet.devnet.chain import ChainStore
from opfleet.errors import BlockNotFoundError, TemporaryError
from opfleet.protocol.batch.reader import Batch as RawBatch
from opfleet.protocol.batch.reader import encode_channel_batches
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.blob import encode_blob
from opfleet.protocol.block_ref import BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.channel_out import BatchBlock, ChannelBuilder, ChannelConfig
from opfleet.protocol.compression import compress_brotli, compress_zlib
from opfleet.protocol.crypto import ZERO_HASH, keccak256, private_key_to_address
from opfleet.protocol.deposits import decode_deposit_tx
from opfleet.protocol.ethjson import BlockHeader, L1Block, Receipt
from opfleet.protocol.frame import MAX_FRAME_LEN, Frame, encode_frames
from opfleet.protocol.kzg import blob_to_commitment, versioned_hash
from opfleet.protocol.l1_block_info import decode_l1_block_info, system_config_from_l2_block
from opfleet.protocol.log import Log
from opfleet.protocol.rollup_config import ChainOpConfig, Genesis, RollupConfig
from opfleet.protocol.system_config import ConfigUpdateType, SystemConfig, config_update_log
from opfleet.protocol.transactions import (
    BLOB_TX_TYPE,
    DYNAMIC_FEE_TX_TYPE,
    Transaction,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)

BATCHER_KEY = keccak256(b"opfleet test batcher")
BATCHER_ADDRESS = private_key_to_address(BATCHER_KEY)
OTHER_KEY = keccak256(b"opfleet test someone else")
OTHER_ADDRESS = private_key_to_address(OTHER_KEY)
USER_KEY = keccak256(b"opfleet test L1 user")
USER_ADDRESS = private_key_to_address(USER_KEY)
L2_USER_KEY = keccak256(b"opfleet test L2 user")

L1_CHAIN_ID = 900
L2_CHAIN_ID = 901
BATCH_INBOX = bytes.fromhex("ff00000000000000000000000000000000000901")
DEPOSIT_CONTRACT = bytes.fromhex("bebebebebebebebebebebebebebebebebebebebe")
SYSTEM_CONFIG_ADDRESS = bytes.fromhex("5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c")
GENESIS_L2_HASH = keccak256(b"opfleet test L2 genesis")
GENESIS_SYSTEM_CONFIG = SystemConfig(
    batcher_address=BATCHER_ADDRESS,
    overhead=(188).to_bytes(32, "big"),
    scalar=(684000).to_bytes(32, "big"),
    gas_limit=30_000_000,
)
DEFAULT_L1_BASE_FEE = 7
CANYON_EIP1559_DENOMINATOR = 250
EIP1559_ELASTICITY = 6


# --- L1 ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobTransaction:
    """A signed blob transaction and its blobs (the sidecar), for :meth:`FakeL1Chain.mine`."""

    raw: bytes
    blobs: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Event:
    """Logs emitted by one L1 transaction (``status`` 0 = the transaction failed)."""

    logs: tuple[Log, ...]
    status: int = 1


class FakeBeacon:
    """A :class:`~opfleet.derive.interfaces.BlobProvider` serving the blobs of a
    :class:`FakeL1Chain` by (block hash, index in block).

    A wrong index or hash is a :class:`TemporaryError`, as from a real beacon node (so a
    wrongly counted blob index shows up). ``fail_next`` makes that many calls fail;
    ``requests`` records every ``(block number, [(index, hash)])`` asked for.
    """

    def __init__(self) -> None:
        self._blobs: dict[tuple[bytes, int], tuple[bytes, bytes]] = {}
        self.fail_next = 0
        self.requests: list[tuple[int, list[tuple[int, bytes]]]] = []

    def add(self, block_hash: bytes, index: int, blob: bytes, vhash: bytes) -> None:
        self._blobs[(block_hash, index)] = (vhash, blob)

    async def get_blobs(
        self, ref: L1BlockRef, indexed_hashes: Sequence[tuple[int, bytes]]
    ) -> list[bytes]:
        self.requests.append((ref.number, list(indexed_hashes)))
        if self.fail_next:
            self.fail_next -= 1
            raise TemporaryError("fake beacon: unavailable")
        out = []
        for index, vhash in indexed_hashes:
            found = self._blobs.get((ref.hash, index))
            if found is None or found[0] != vhash:
                raise TemporaryError(
                    f"fake beacon: no blob {index} with hash 0x{vhash.hex()} in block {ref.number}"
                )
            out.append(found[1])
        return out


class _L1Store(ChainStore[L1Block]):
    def _transaction_hashes(self, block: L1Block) -> Iterable[bytes]:
        return block.tx_hashes


class FakeL1Chain:
    """A :class:`~opfleet.derive.interfaces.ChainProvider` over mined L1 blocks.

    Block 0 (the L1 genesis) exists from the start. :meth:`mine` appends a block with the
    given raw transactions (and :class:`BlobTransaction` s, whose blobs go to :attr:`beacon`)
    plus one transaction per :class:`Event` carrying its logs; every transaction gets a
    receipt. :meth:`reorg` replaces blocks from a height on. ``calls`` counts provider calls.
    The blocks are kept by the devnet's chain core (:class:`~opfleet.devnet.chain.ChainStore`).
    """

    def __init__(self, *, genesis_time: int = 1_700_000_000, block_time: int = 12, fork: int = 0):
        self.block_time = block_time
        self.fork = fork
        self.beacon = FakeBeacon()
        self.receipts: dict[bytes, tuple[Receipt, ...]] = {}
        self.calls = 0
        self._user_nonce = 0
        self._chain: _L1Store | None = None
        self._mine_block(genesis_time, [], [], ())

    # --- building ---

    @property
    def blocks(self) -> tuple[L1Block, ...]:
        """The canonical blocks, genesis first."""
        return self._store.blocks

    @property
    def _store(self) -> _L1Store:
        assert self._chain is not None, "the genesis is mined in __init__"
        return self._chain

    @property
    def head(self) -> L1BlockRef:
        return self._store.head.ref

    def ref(self, number: int) -> L1BlockRef:
        return self.blocks[number].ref

    def block(self, number: int) -> L1Block:
        return self.blocks[number]

    def mine(
        self,
        txs: Iterable[bytes | BlobTransaction] = (),
        *,
        events: Iterable[Event | Log] = (),
        timestamp: int | None = None,
        base_fee: int = DEFAULT_L1_BASE_FEE,
        excess_blob_gas: int | None = None,
        parent_beacon_block_root: bytes | None = None,
        mix_hash: bytes | None = None,
    ) -> L1BlockRef:
        """Append a block; returns its ref. ``timestamp`` defaults to parent + block time."""
        parent = self.blocks[-1].header
        time = parent.timestamp + self.block_time if timestamp is None else timestamp
        raws: list[bytes] = []
        sidecars: list[tuple[int, tuple[bytes, ...]]] = []
        for tx in txs:
            if isinstance(tx, BlobTransaction):
                sidecars.append((len(raws), tx.blobs))
                raws.append(tx.raw)
            else:
                raws.append(bytes(tx))
        event_list = [e if isinstance(e, Event) else Event((e,)) for e in events]
        for event in event_list:
            to = event.logs[0].address if event.logs else USER_ADDRESS
            raws.append(self._user_tx(to))
        statuses = [1] * (len(raws) - len(event_list)) + [e.status for e in event_list]
        logs = [()] * (len(raws) - len(event_list)) + [e.logs for e in event_list]
        return self._mine_block(
            time, raws, list(zip(statuses, logs)), tuple(sidecars),
            base_fee=base_fee, excess_blob_gas=excess_blob_gas,
            parent_beacon_block_root=parent_beacon_block_root, mix_hash=mix_hash,
        )

    def mine_empty(self, count: int) -> L1BlockRef:
        """Append ``count`` empty blocks; returns the last one's ref."""
        for _ in range(count):
            self.mine()
        return self.head

    def reorg(self, number: int) -> None:
        """Drop blocks ``number`` and later; later :meth:`mine` calls build a different branch."""
        if number < 1:
            raise ValueError("cannot reorg the L1 genesis")
        for block in self.blocks[number:]:
            self.receipts.pop(block.hash, None)
        self._store.truncate(number - 1)
        self.fork += 1

    def _user_tx(self, to: bytes) -> bytes:
        tx = Transaction(
            type=DYNAMIC_FEE_TX_TYPE, chain_id=L1_CHAIN_ID, nonce=self._user_nonce,
            max_priority_fee_per_gas=1, max_fee_per_gas=10**10, gas=100_000, to=to,
        )
        self._user_nonce += 1
        return encode_transaction(sign_transaction(tx, USER_KEY))

    def _mine_block(
        self,
        timestamp: int,
        raws: list[bytes],
        results: list[tuple[int, tuple[Log, ...]]],
        sidecars: tuple[tuple[int, tuple[bytes, ...]], ...],
        *,
        base_fee: int = DEFAULT_L1_BASE_FEE,
        excess_blob_gas: int | None = None,
        parent_beacon_block_root: bytes | None = None,
        mix_hash: bytes | None = None,
    ) -> L1BlockRef:
        parent = self._chain.head if self._chain is not None else None
        number = parent.number + 1 if parent is not None else 0
        parent_hash = parent.hash if parent is not None else ZERO_HASH
        tx_hashes = tuple(keccak256(raw) for raw in raws)
        block_hash = keccak256(
            rlp.encode([number, parent_hash, timestamp, self.fork, list(tx_hashes)])
        )
        header = BlockHeader(
            hash=block_hash,
            number=number,
            parent_hash=parent_hash,
            timestamp=timestamp,
            base_fee=base_fee,
            mix_hash=mix_hash if mix_hash is not None else keccak256(b"randao" + block_hash),
            gas_limit=30_000_000,
            gas_used=21_000 * len(raws),
            state_root=keccak256(b"state" + block_hash),
            receipts_root=keccak256(b"receipts" + block_hash),
            transactions_root=keccak256(b"txs" + block_hash),
            excess_blob_gas=excess_blob_gas,
            parent_beacon_block_root=parent_beacon_block_root,
        )
        receipts = []
        log_index = 0
        for i, (raw, (status, logs)) in enumerate(zip(raws, results)):
            placed = []
            for log in logs:
                placed.append(Log(
                    log.address, log.topics, log.data, block_hash, log_index, tx_hashes[i], i
                ))
                log_index += 1
            receipts.append(Receipt(
                tx_hash=tx_hashes[i], tx_index=i, block_hash=block_hash, block_number=number,
                status=status, type=raw[0] if raw[0] < 0x80 else 0, gas_used=21_000,
                cumulative_gas_used=21_000 * (i + 1), logs=tuple(placed),
            ))
        blob_index = 0
        sidecar_of = dict(sidecars)
        for i, raw in enumerate(raws):
            if raw[:1] != bytes([BLOB_TX_TYPE]):
                continue
            blobs = sidecar_of.get(i, ())
            for blob in blobs:
                vhash = versioned_hash(blob_to_commitment(blob))
                self.beacon.add(block_hash, blob_index, blob, vhash)
                blob_index += 1
            if not blobs:  # a blob tx whose blobs we were not given still takes indices
                blob_index += len(decode_transaction(raw).blob_versioned_hashes)
        block = L1Block(header, tx_hashes, tuple(raws))
        self.receipts[block_hash] = tuple(receipts)
        if self._chain is None:
            self._chain = _L1Store(block)
        else:
            self._chain.append(block)
        return header.ref

    # --- ChainProvider ---

    async def block_ref(self, number: int) -> L1BlockRef:
        self.calls += 1
        found = self._store.by_number(number)
        if found is None:
            raise BlockNotFoundError(f"fake L1: block {number} not found")
        return found.ref

    async def block_with_receipts(self, block: int | bytes) -> tuple[L1Block, tuple[Receipt, ...]]:
        self.calls += 1
        if isinstance(block, int):
            found = self._store.by_number(block)
            if found is None:
                raise BlockNotFoundError(f"fake L1: block {block} not found")
            return found, self.receipts[found.hash]
        block_hash = bytes(block)
        receipts = self.receipts.get(block_hash)  # canonical blocks only: a reorg drops the removed ones'
        by_hash = self._store.by_hash(block_hash)
        if receipts is None or by_hash is None:
            raise BlockNotFoundError(f"fake L1: block 0x{bytes(block_hash).hex()} not found")
        return by_hash, receipts


# --- rollup config ----------------------------------------------------------------------------


def make_rollup_config(l1: FakeL1Chain, **overrides: Any) -> RollupConfig:
    """A test rollup config whose genesis is ``l1``'s block 0 and :data:`GENESIS_L2_HASH`.

    Defaults: block time 2, sequencing window 30, channel timeout 10 (Granite: 5), max
    sequencer drift 600, Regolith at genesis, later forks unset; ``overrides`` set any field
    (e.g. ``ecotone_time=0``), ``genesis_system_config`` replaces the genesis system config.
    """
    genesis_l1 = l1.blocks[0]
    system_config = overrides.pop("genesis_system_config", GENESIS_SYSTEM_CONFIG)
    fields: dict[str, Any] = {
        "genesis": Genesis(
            l1=BlockID(genesis_l1.hash, 0),
            l2=BlockID(GENESIS_L2_HASH, 0),
            l2_time=genesis_l1.header.timestamp,
            system_config=system_config,
        ),
        "block_time": 2,
        "seq_window_size": 30,
        "channel_timeout": 10,
        "granite_channel_timeout": 5,
        "l1_chain_id": L1_CHAIN_ID,
        "l2_chain_id": L2_CHAIN_ID,
        "batch_inbox_address": BATCH_INBOX,
        "deposit_contract_address": DEPOSIT_CONTRACT,
        "l1_system_config_address": SYSTEM_CONFIG_ADDRESS,
        "max_sequencer_drift_pre_fjord": 600,
        "regolith_time": 0,
        "chain_op_config": ChainOpConfig(EIP1559_ELASTICITY, 50, CANYON_EIP1559_DENOMINATOR),
    }
    fields.update(overrides)
    return RollupConfig(**fields)


# --- L2 ---------------------------------------------------------------------------------------


def genesis_l2_ref(rollup_config: RollupConfig) -> L2BlockRef:
    """The L2 genesis block's ref as the rollup config describes it."""
    genesis = rollup_config.genesis
    return L2BlockRef(genesis.l2.hash, genesis.l2.number, ZERO_HASH, genesis.l2_time, genesis.l1, 0)


def l2_block_hash(
    parent_hash: bytes,
    number: int,
    timestamp: int,
    l1_origin: BlockID,
    sequence_number: int,
    user_transactions: Sequence[bytes],
) -> bytes:
    """The hash :class:`FakeL2Chain` gives a block: over what a batch determines (not the
    deposits), so that :class:`Sequencer` can predict it and write batches ahead of time."""
    fields = [parent_hash, number, timestamp, l1_origin.hash, l1_origin.number, sequence_number]
    return keccak256(rlp.encode(fields + [list(user_transactions)]))


class Sequencer:
    """Predicts the blocks a :class:`FakeL2Chain` will derive, to write batches ahead of time.

    :meth:`block` returns the singular batch of the next block (on top of :attr:`head`) and
    moves :attr:`head` to the block it will become.
    """

    def __init__(self, rollup_config: RollupConfig, head: L2BlockRef | None = None):
        self.rollup_config = rollup_config
        self.head = head if head is not None else genesis_l2_ref(rollup_config)
        self.blocks: list[L2BlockRef] = [self.head]
        self.transactions: list[tuple[bytes, ...]] = [()]
        """The user transactions of each block of :attr:`blocks`."""

    def block(self, epoch: L1BlockRef, transactions: Sequence[bytes] = ()) -> SingularBatch:
        head = self.head
        number = head.number + 1
        timestamp = head.timestamp + self.rollup_config.block_time
        seq = head.sequence_number + 1 if epoch.number == head.l1_origin.number else 0
        txs = tuple(transactions)
        ref = L2BlockRef(
            l2_block_hash(head.hash, number, timestamp, epoch.id, seq, txs),
            number, head.hash, timestamp, epoch.id, seq,
        )
        self.head = ref
        self.blocks.append(ref)
        self.transactions.append(txs)
        return SingularBatch(head.hash, epoch.number, epoch.hash, timestamp, txs)

    def batch_blocks(self, first: int, last: int | None = None) -> list[BatchBlock]:
        """Blocks ``first..last`` (default: to the head) as the devnet batcher's input."""
        base = self.blocks[0].number
        last = self.head.number if last is None else last
        return [
            BatchBlock(ref.number, ref.hash, ref.parent_hash, ref.timestamp, ref.l1_origin,
                       ref.sequence_number, self.transactions[ref.number - base])
            for ref in self.blocks[first - base : last - base + 1]
        ]

    def channel(
        self,
        first: int,
        last: int | None = None,
        *,
        name: str | bytes = "channel",
        batch_type: str = "span",
        compression: str = "zlib",
        max_frame_size: int = MAX_FRAME_LEN,
    ) -> ChannelBuilder:
        """Blocks ``first..last`` in one closed channel, built by the devnet batcher's
        :class:`~opfleet.protocol.channel_out.ChannelBuilder` (the encoder opfleet's batcher posts
        with): ``.frames()`` and ``.tx_datas()`` give what goes to L1. ``batch_type`` is
        ``"span"`` or ``"singular"``; ``compression`` ``"zlib"`` or ``"brotli"``."""
        cfg = self.rollup_config
        config = ChannelConfig(
            genesis_time=cfg.genesis.l2_time, block_time=cfg.block_time, chain_id=cfg.l2_chain_id,
            batch_type=batch_type, compression=compression, max_frame_size=max_frame_size,
            target_channel_size=1 << 40,  # never "full": the caller picks the blocks
        )
        builder = ChannelBuilder(config, channel_id=channel_id(name))
        for block in self.batch_blocks(first, last):
            builder.add_block(block)
        builder.close()
        return builder

    def blocks_until(self, epoch: L1BlockRef, timestamp: int) -> list[SingularBatch]:
        """Empty blocks of ``epoch`` up to and including ``timestamp``."""
        out = []
        while self.head.timestamp + self.rollup_config.block_time <= timestamp:
            out.append(self.block(epoch))
        return out


@dataclass
class _L2Block:
    ref: L2BlockRef
    transactions: tuple[bytes, ...]
    system_config: SystemConfig

    @property
    def hash(self) -> bytes:
        return self.ref.hash

    @property
    def number(self) -> int:
        return self.ref.number

    @property
    def parent_hash(self) -> bytes:
        return self.ref.parent_hash


class _L2Store(ChainStore[_L2Block]):
    def _transaction_hashes(self, block: _L2Block) -> Iterable[bytes]:
        return ()  # derivation reads the fake L2 by number only


class FakeL2Chain:
    """An :class:`~opfleet.derive.interfaces.L2ChainProvider` over the derived L2 blocks.

    Starts with the genesis block of ``rollup_config``. :meth:`apply` appends the block that
    derived attributes describe; ``fail_next`` makes that many provider calls fail
    (temporarily). The blocks are kept by the devnet's chain core
    (:class:`~opfleet.devnet.chain.ChainStore`).
    """

    def __init__(self, rollup_config: RollupConfig):
        self.rollup_config = rollup_config
        genesis_ref = genesis_l2_ref(rollup_config)
        self._chain = _L2Store(_L2Block(genesis_ref, (), rollup_config.genesis.system_config))
        self.fail_next = 0

    @property
    def blocks(self) -> tuple[_L2Block, ...]:
        """The L2 chain, genesis first."""
        return self._chain.blocks

    @property
    def head(self) -> L2BlockRef:
        return self._chain.head.ref

    def _block(self, number: int) -> _L2Block:
        if self.fail_next:
            self.fail_next -= 1
            raise TemporaryError("fake L2: unavailable")
        found = self._chain.by_number(number)
        if found is None:
            raise BlockNotFoundError(f"fake L2: block {number} not found")
        return found

    def add_block(
        self, ref: L2BlockRef, transactions: Sequence[bytes], system_config: SystemConfig
    ) -> None:
        """Append a block as given (its parent must be the head)."""
        if ref.parent_hash != self.head.hash or ref.number != self.head.number + 1:
            raise ValueError(f"L2 block {ref.number} does not extend the head {self.head.number}")
        self._chain.append(_L2Block(ref, tuple(transactions), system_config))

    def truncate(self, number: int) -> None:
        """Drop blocks after ``number`` (e.g. an unsafe chain being reorged)."""
        self._chain.truncate(number)

    def apply(self, attributes: AttributesWithParent) -> L2BlockRef:
        """Append the block the attributes describe (on top of the head) and return its ref."""
        parent = attributes.parent
        if parent != self.head:
            raise ValueError(f"attributes build on {parent.number}, the head is {self.head.number}")
        attrs = attributes.attributes
        info_tx = decode_deposit_tx(attrs.transactions[0])
        info = decode_l1_block_info(info_tx.data)
        number = parent.number + 1
        origin = BlockID(info.block_hash, info.number)
        user_txs = [tx for tx in attrs.transactions if tx[:1] != b"\x7e"]
        block_hash = l2_block_hash(
            parent.hash, number, attrs.timestamp, origin, info.sequence_number, user_txs
        )
        ref = L2BlockRef(
            block_hash, number, parent.hash, attrs.timestamp, origin, info.sequence_number
        )
        system_config = system_config_from_l2_block(
            self.rollup_config,
            number=number,
            timestamp=attrs.timestamp,
            gas_limit=attrs.gas_limit or 0,
            extra_data=self._extra_data(attrs.eip1559_params, attrs.min_base_fee, attrs.timestamp),
            l1_info_data=info_tx.data,
        )
        self._chain.append(_L2Block(ref, tuple(attrs.transactions), system_config))
        return ref

    def _extra_data(self, params: bytes | None, min_base_fee: int | None, timestamp: int) -> bytes:
        # op-geth: zero params mean the chain's Canyon EIP-1559 constants, written into extraData.
        cfg = self.rollup_config
        if not cfg.is_holocene(timestamp):
            return b""
        if not params or params == bytes(8):
            op = cfg.chain_op_config
            denominator = (op.eip1559_denominator_canyon or op.eip1559_denominator) if op else 250
            elasticity = op.eip1559_elasticity if op else 6
            params = denominator.to_bytes(4, "big") + elasticity.to_bytes(4, "big")
        if cfg.is_jovian(timestamp):
            return b"\x01" + params + (min_base_fee or 0).to_bytes(8, "big")
        return b"\x00" + params

    # --- L2ChainProvider ---

    async def l2_block_ref(self, number: int) -> L2BlockRef:
        return self._block(number).ref

    async def system_config_by_number(self, number: int) -> SystemConfig:
        return self._block(number).system_config

    async def l2_transactions_by_number(self, number: int) -> tuple[bytes, ...]:
        return self._block(number).transactions


# --- stage inputs ---------------------------------------------------------------------------


class FakeStage:
    """A list-backed previous stage, for testing one stage alone (any pull method).

    ``items`` are handed out in order by ``next_l1_block``/``next_data``/``next_frame``/
    ``next_channel``/``next_batch``; an item that is an exception is raised instead. With no
    items left, :class:`~opfleet.derive.errors.EndOfData`. ``advance_origin`` moves to the next
    ref of ``next_origins`` (``EndOfData`` when none). ``signals`` records what was received.
    """

    def __init__(
        self,
        origin: L1BlockRef | None = None,
        items: Iterable[Any] = (),
        *,
        next_origins: Iterable[L1BlockRef] = (),
        system_config: SystemConfig = GENESIS_SYSTEM_CONFIG,
    ):
        self.origin = origin
        self.items: deque[Any] = deque(items)
        self.next_origins: deque[L1BlockRef] = deque(next_origins)
        self.system_config = system_config
        self.signals: list[Any] = []
        self.span_in_progress = False

    async def _next(self) -> Any:
        if not self.items:
            raise EndOfData("fake stage: no more items")
        item = self.items.popleft()
        if isinstance(item, BaseException):
            raise item
        return item

    async def next_l1_block(self) -> Any:
        return await self._next()

    async def next_data(self) -> Any:
        return await self._next()

    async def next_frame(self) -> Any:
        return await self._next()

    async def next_channel(self) -> Any:
        return await self._next()

    async def next_batch(self, *_args: Any) -> Any:
        return await self._next()

    async def skip_batch(self) -> None:
        await self._next()

    async def advance_origin(self) -> None:
        if not self.next_origins:
            raise EndOfData("fake stage: no next origin")
        self.origin = self.next_origins.popleft()

    def signal(self, signal: Any) -> None:
        self.signals.append(signal)


async def derive_all(
    pipeline: Pipeline, l2: FakeL2Chain, *, max_steps: int = 100_000
) -> list[AttributesWithParent]:
    """Step ``pipeline`` on top of ``l2``'s head, applying each derived block to ``l2``,
    until the L1 head is reached; returns the attributes derived, in order."""
    derived: list[AttributesWithParent] = []
    for _ in range(max_steps):
        result = await pipeline.step(l2.head)
        if result.kind is StepKind.EOF:
            return derived
        if result.attributes is not None:
            l2.apply(result.attributes)
            derived.append(result.attributes)
    raise RuntimeError(f"derivation did not reach the L1 head in {max_steps} steps")


# --- batcher data -----------------------------------------------------------------------------


def channel_data(batches: Sequence[RawBatch], *, compression: str = "zlib") -> bytes:
    """A compressed channel holding ``batches`` (``"zlib"``, unterminated like op-batcher, or
    ``"brotli"``)."""
    raw = encode_channel_batches(batches)
    if compression == "zlib":
        return compress_zlib(raw, terminated=False)
    if compression == "brotli":
        return compress_brotli(raw)
    raise ValueError(f"unknown compression {compression!r}")


def split_frames(
    channel_id: bytes, data: bytes, *, max_frame_data: int = MAX_FRAME_LEN
) -> list[Frame]:
    """Cut channel bytes into frames ``0..n`` of at most ``max_frame_data`` bytes; the last
    one closes the channel."""
    chunks = [data[i : i + max_frame_data] for i in range(0, len(data), max_frame_data)] or [b""]
    return [
        Frame(channel_id, n, chunk, n == len(chunks) - 1) for n, chunk in enumerate(chunks)
    ]


def channel_id(name: str | bytes) -> bytes:
    """A 16-byte channel id derived from a readable name."""
    return keccak256(name.encode() if isinstance(name, str) else name)[:16]


@dataclass
class Batcher:
    """Signs batcher transactions to the batch inbox (nonce tracked).

    ``key`` defaults to :data:`BATCHER_KEY` (the genesis batcher of :func:`make_rollup_config`).
    """

    key: bytes = BATCHER_KEY
    inbox: bytes = BATCH_INBOX
    chain_id: int = L1_CHAIN_ID
    nonce: int = 0
    tx_type: int = DYNAMIC_FEE_TX_TYPE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> bytes:
        return private_key_to_address(self.key)

    def _sign(self, tx: Transaction) -> bytes:
        self.nonce += 1
        return encode_transaction(sign_transaction(tx, self.key))

    def calldata_tx(self, data: bytes, *, to: bytes | None = None) -> bytes:
        """A signed transaction carrying ``data`` (already version-prefixed) as calldata."""
        fees: dict[str, Any] = (
            {"gas_price": 10**9} if self.tx_type in (0, 1)
            else {"max_priority_fee_per_gas": 1, "max_fee_per_gas": 10**10}
        )
        tx = Transaction(
            type=self.tx_type, chain_id=self.chain_id, nonce=self.nonce, gas=1_000_000,
            to=self.inbox if to is None else to, data=data, **fees,
        )
        return self._sign(tx)

    def frames_tx(self, frames: Sequence[Frame]) -> bytes:
        """A calldata batcher transaction carrying ``frames``."""
        return self.calldata_tx(encode_frames(frames))

    def blob_tx(
        self, datas: Sequence[bytes], *, calldata: bytes = b"", to: bytes | None = None
    ) -> BlobTransaction:
        """A blob transaction with one blob per item of ``datas`` (each already
        version-prefixed batcher data, or a raw blob of 131072 bytes)."""
        blobs = tuple(d if len(d) == 131072 else encode_blob(d) for d in datas)
        hashes = tuple(versioned_hash(blob_to_commitment(b)) for b in blobs)
        tx = Transaction(
            type=BLOB_TX_TYPE, chain_id=self.chain_id, nonce=self.nonce, gas=100_000,
            max_priority_fee_per_gas=1, max_fee_per_gas=10**10, max_fee_per_blob_gas=10**9,
            to=self.inbox if to is None else to, data=calldata, blob_versioned_hashes=hashes,
        )
        return BlobTransaction(self._sign(tx), blobs)


def batcher_update_log(address: bytes) -> Log:
    """A ``ConfigUpdate`` setting the batcher address."""
    return config_update_log(SYSTEM_CONFIG_ADDRESS, ConfigUpdateType.BATCHER, bytes(12) + address)


def gas_limit_update_log(gas_limit: int) -> Log:
    """A ``ConfigUpdate`` setting the gas limit."""
    return config_update_log(SYSTEM_CONFIG_ADDRESS, ConfigUpdateType.GAS_LIMIT, gas_limit.to_bytes(32, "big"))


def l2_transfer(nonce: int, *, chain_id: int = L2_CHAIN_ID, key: bytes = L2_USER_KEY) -> bytes:
    """A signed L2 transfer (type 2), for batch contents."""
    tx = Transaction(
        type=DYNAMIC_FEE_TX_TYPE, chain_id=chain_id, nonce=nonce, max_priority_fee_per_gas=1,
        max_fee_per_gas=10**9, gas=21_000, to=bytes.fromhex("77" * 20), value=1,
    )
    return encode_transaction(sign_transaction(tx, key))


__all__ = [
    "BATCHER_ADDRESS",
    "BATCHER_KEY",
    "BATCH_INBOX",
    "DEPOSIT_CONTRACT",
    "GENESIS_L2_HASH",
    "GENESIS_SYSTEM_CONFIG",
    "L1_CHAIN_ID",
    "L2_CHAIN_ID",
    "OTHER_ADDRESS",
    "OTHER_KEY",
    "SYSTEM_CONFIG_ADDRESS",
    "USER_ADDRESS",
    "Batcher",
    "BlobTransaction",
    "Event",
    "FakeBeacon",
    "FakeL1Chain",
    "FakeL2Chain",
    "FakeStage",
    "Sequencer",
    "derive_all",
    "batcher_update_log",
    "channel_data",
    "channel_id",
    "gas_limit_update_log",
    "genesis_l2_ref",
    "l2_block_hash",
    "l2_transfer",
    "make_rollup_config",
    "split_frames",
]
