"""The batcher's output decoded back with the protocol codecs, as op-node would derive it.

frames (specs/protocol/derivation.md "Frame Format") -> Holocene channel assembler ->
channel decompression and batch reading ("Channel Format", fjord/derivation.md for brotli) ->
span batch (delta/span-batches.md, origin_bits[0] = first block starts an epoch) or singular
batches -> the same L2 transactions. Over calldata and blobs (ecotone/derivation.md).
"""

from __future__ import annotations

import random

import pytest
from devnet_helpers import (
    BATCHER,
    BATCHER_KEY,
    INBOX,
    JWT_SECRET,
    L2_BLOCK_TIME,
    L2_CHAIN_ID,
    USER,
    USER_KEY,
    MiniSequencer,
    make_rollup_config,
)

from opfleet.devnet.batcher import (
    BLOBS,
    BROTLI,
    CALLDATA,
    MAX_BLOB_FRAME_SIZE,
    SINGULAR,
    SPAN,
    ZLIB,
    BatchBlock,
    Batcher,
    BatcherConfig,
    ChannelBuilder,
    ChannelConfig,
    ChannelFullError,
)
from opfleet.devnet.engine import DevEngine, ForkTimes
from opfleet.devnet.l1 import L1Chain, L1Server
from opfleet.protocol.state import Account
from opfleet.protocol.batch.reader import decode_channel
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.batch.span import RawSpanBatch
from opfleet.protocol.batcher_tx import batcher_tx_frames, is_batcher_transaction
from opfleet.protocol.blob import decode_blob
from opfleet.protocol.block_ref import BlockID
from opfleet.protocol.channel import ChannelAssembler
from opfleet.protocol.compression import decompress_channel
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.frame import parse_frames
from opfleet.protocol.transactions import AccessTuple, Transaction, decode_transaction, encode_transaction, sign_transaction
from opfleet.providers.beacon import BeaconClient
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient
from opfleet.providers.l1 import L1Provider

GENESIS_TIME = 1_700_000_000


def user_tx(nonce: int, kind: int, rng: random.Random) -> bytes:
    data = rng.randbytes(rng.randrange(0, 300))
    fields = dict(chain_id=L2_CHAIN_ID, nonce=nonce, gas=100_000, to=rng.randbytes(20), value=rng.randrange(10**6), data=data)
    if kind == 0:
        tx = Transaction(type=0, gas_price=10**9, **fields)
    elif kind == 1:
        tx = Transaction(type=0, gas_price=10**9, **{**fields, "chain_id": None})  # pre-EIP-155
    elif kind == 2:
        tx = Transaction(type=1, gas_price=10**9, access_list=(AccessTuple(b"\x11" * 20, (bytes(32),)),), **fields)
    elif kind == 3:
        tx = Transaction(type=2, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**8,
                         **{**fields, "to": None})  # contract creation
    else:
        tx = Transaction(type=2, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**8, **fields)
    return encode_transaction(sign_transaction(tx, USER_KEY))


def make_blocks(count: int, *, first_seq: int = 0, seed: int = 1, txs_per_block: int = 3) -> list[BatchBlock]:
    """Consecutive blocks; the L1 origin advances every 3 blocks (sequence numbers wrap to 0)."""
    rng = random.Random(seed)
    blocks, parent, nonce = [], keccak256(b"parent of the first block"), 0
    for i in range(count):
        seq = (first_seq + i) % 3
        epoch = 100 + (first_seq + i) // 3
        txs = []
        for _ in range(rng.randrange(0, txs_per_block + 1)):
            txs.append(user_tx(nonce, rng.randrange(5), rng))
            nonce += 1
        block_hash = keccak256(b"block %d" % i)
        blocks.append(BatchBlock(number=10 + i, hash=block_hash, parent_hash=parent,
                                 timestamp=GENESIS_TIME + (10 + i) * L2_BLOCK_TIME,
                                 l1_origin=BlockID(keccak256(b"l1 %d" % epoch), epoch),
                                 sequence_number=seq, transactions=tuple(txs)))
        parent = block_hash
    return blocks


def channel_config(**kwargs) -> ChannelConfig:
    return ChannelConfig(genesis_time=GENESIS_TIME, block_time=L2_BLOCK_TIME, chain_id=L2_CHAIN_ID, **kwargs)


def reassemble(tx_datas: list[bytes]) -> bytes:
    """Frames -> channel bytes through the Holocene channel stage."""
    assembler = ChannelAssembler(rollup_channel_timeout=50)
    out = None
    for data in tx_datas:
        for frame in parse_frames(data):
            result = assembler.ingest_frame(frame, origin_number=1, origin_time=GENESIS_TIME)
            if result is not None:
                assert out is None, "one channel expected"
                out = result
    assert out is not None, "channel never completed"
    return out


def check_span(batch: RawSpanBatch, blocks: list[BatchBlock]) -> None:
    elements = batch.derive(GENESIS_TIME, L2_BLOCK_TIME, L2_CHAIN_ID)
    assert [e.transactions for e in elements] == [b.transactions for b in blocks]
    assert [e.timestamp for e in elements] == [b.timestamp for b in blocks]
    assert [e.epoch_num for e in elements] == [b.l1_origin.number for b in blocks]
    assert batch.parent_check == blocks[0].parent_hash[:20]
    assert batch.l1_origin_check == blocks[-1].l1_origin.hash[:20]
    assert batch.origin_bits[0] == (1 if blocks[0].sequence_number == 0 else 0)


@pytest.mark.parametrize("batch_type", [SPAN, SINGULAR])
@pytest.mark.parametrize("compression", [ZLIB, BROTLI])
def test_channel_round_trip(batch_type, compression):
    blocks = make_blocks(8)
    builder = ChannelBuilder(channel_config(batch_type=batch_type, compression=compression, target_channel_size=10**6),
                             channel_id=b"\x01" * 16)
    for block in blocks:
        builder.add_block(block)
    builder.close()
    datas = builder.tx_datas()
    assert len(datas) == 1 and datas[0][0] == 0
    channel = reassemble(datas)
    assert channel == builder.data
    assert len(decompress_channel(channel, 10**8, fjord_active=True).data) == builder.input_bytes
    name, batches = decode_channel(channel, fjord_active=True, chain_id=L2_CHAIN_ID)
    assert name == compression
    if batch_type == SPAN:
        assert len(batches) == 1 and isinstance(batches[0], RawSpanBatch)
        check_span(batches[0], blocks)
    else:
        assert batches == [SingularBatch(b.parent_hash, b.l1_origin.number, b.l1_origin.hash, b.timestamp,
                                         b.transactions) for b in blocks]


def test_first_block_mid_epoch_clears_origin_bit_zero():
    blocks = make_blocks(5, first_seq=1)
    builder = ChannelBuilder(channel_config(target_channel_size=10**6))
    for block in blocks:
        builder.add_block(block)
    builder.close()
    (batch,) = decode_channel(builder.data, chain_id=L2_CHAIN_ID)[1]
    assert batch.origin_bits == (0, 0, 1, 0, 0)  # blocks 2 (seq 0) opens epoch 101
    check_span(batch, blocks)


def test_frames_respect_the_max_frame_size():
    blocks = make_blocks(12, txs_per_block=6)
    builder = ChannelBuilder(channel_config(max_frame_size=300, target_channel_size=10**6))
    for block in blocks:
        builder.add_block(block)
    builder.close()
    frames = builder.frames()
    assert len(frames) > 5
    assert [f.frame_number for f in frames] == list(range(len(frames)))
    assert [f.is_last for f in frames] == [False] * (len(frames) - 1) + [True]
    assert all(len(f.encode()) <= 300 for f in frames) and len(frames[0].encode()) == 300
    datas = builder.tx_datas()
    assert all(len(d) <= 301 for d in datas)
    check_span(decode_channel(reassemble(datas), chain_id=L2_CHAIN_ID)[1][0], blocks)


def test_channel_fills_up_and_refuses_more_blocks():
    blocks = make_blocks(40, txs_per_block=6)
    builder = ChannelBuilder(channel_config(target_channel_size=2_000))
    added = 0
    with pytest.raises(ChannelFullError):
        for block in blocks:
            builder.add_block(block)
            added += 1
    assert builder.is_full and 0 < added < 40
    builder.close()
    assert builder.compressed_size >= 2_000  # the block crossing the target stays in
    check_span(decode_channel(builder.data, chain_id=L2_CHAIN_ID)[1][0], blocks[:added])
    small = ChannelBuilder(channel_config(batch_type=SINGULAR, max_rlp_bytes=500))
    with pytest.raises(ChannelFullError):
        for block in blocks:
            small.add_block(block)
    with pytest.raises(ValueError):
        ChannelBuilder(channel_config()).add_block(blocks[0]) or ChannelBuilder(channel_config()).close()


def test_blocks_must_be_consecutive():
    blocks = make_blocks(3)
    builder = ChannelBuilder(channel_config())
    builder.add_block(blocks[0])
    with pytest.raises(ValueError):
        builder.add_block(blocks[2])


# --- the service, end to end -------------------------------------------------------------------------------


async def devnet(nursery, *, forks: ForkTimes = ForkTimes.up_to("isthmus")):
    l1 = L1Chain(block_time=12)
    l1_server = L1Server(l1)
    await nursery.start(l1_server.serve, "127.0.0.1", 0)
    engine = DevEngine(chain_id=L2_CHAIN_ID, genesis_time=l1.config.genesis_time, forks=forks,
                       alloc={USER: Account(balance=10**21)}, jwt_secret=JWT_SECRET)
    await nursery.start(engine.serve_auth, "127.0.0.1", 0)
    await nursery.start(engine.serve_rpc, "127.0.0.1", 0)
    rollup = make_rollup_config(l1, engine, forks)
    sequencer = MiniSequencer(rollup, l1, EngineClient(engine.auth_url, JWT_SECRET, forks=rollup), engine)
    return l1, l1_server, engine, rollup, sequencer


async def build_blocks(sequencer: MiniSequencer, count: int, rng: random.Random, start_nonce: int = 0) -> int:
    nonce = start_nonce
    for _ in range(count):
        txs = []
        for _ in range(rng.randrange(0, 3)):
            txs.append(encode_transaction(sign_transaction(Transaction(
                type=2, chain_id=L2_CHAIN_ID, nonce=nonce, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**8,
                gas=100_000, to=b"\x12" * 20, value=1, data=rng.randbytes(400)), USER_KEY)))
            nonce += 1
        await sequencer.build(tuple(txs))
    return nonce


def expected_blocks(engine: DevEngine, first: int, last: int) -> list[tuple[int, tuple[bytes, ...]]]:
    out = []
    for number in range(first, last + 1):
        block = engine.by_number(number)
        out.append((block.timestamp, tuple(t.raw for t in block.transactions if not t.is_deposit)))
    return out


def derived(channel: bytes) -> list[tuple[int, tuple[bytes, ...]]]:
    _, batches = decode_channel(channel, fjord_active=True, chain_id=L2_CHAIN_ID)
    out = []
    for batch in batches:
        assert isinstance(batch, RawSpanBatch)
        out += [(e.timestamp, e.transactions) for e in batch.derive(GENESIS_TIME, L2_BLOCK_TIME, L2_CHAIN_ID)]
    return out


async def test_batcher_posts_calldata_that_derives_back(nursery):
    l1, l1_server, engine, rollup, sequencer = await devnet(nursery)
    rng = random.Random(7)
    await build_blocks(sequencer, 6, rng)
    ids = iter(bytes([i]) * 16 for i in range(1, 100))
    config = BatcherConfig(channel=channel_config(max_frame_size=1_000, target_channel_size=50_000),
                           batch_inbox=INBOX, l1_chain_id=l1.config.chain_id, batcher_key=BATCHER_KEY)
    async with JsonRpcClient(l1_server.url) as l1_rpc, JsonRpcClient(engine.rpc_url) as l2_rpc:
        batcher = Batcher(config, l1_rpc, l2_rpc, channel_ids=lambda: next(ids))
        assert await batcher.step() == []  # not full, no duration limit: nothing to post yet
        sent = await batcher.flush()
        assert len(sent) > 1 and tuple(sent) == l1.pending
        block = l1.mine()
        found = await L1Provider(l1_rpc).block_by_number(block.number)
    datas = []
    for raw in found.transactions:
        assert is_batcher_transaction(raw, rollup.batch_inbox_address, rollup.genesis.system_config.batcher_address)
        tx, sender, frames = batcher_tx_frames(raw)
        assert sender == BATCHER and tx.to == INBOX and all(f.channel_id == b"\x01" * 16 for f in frames)
        datas.append(tx.data)
    assert all(len(d) <= 1_001 for d in datas)
    assert derived(reassemble(datas)) == expected_blocks(engine, 1, 6)
    stats = batcher.statistics()
    assert (stats.blocks_loaded, stats.channels_closed, stats.next_block) == (6, 1, 7)
    assert stats.transactions_sent == len(datas)


async def test_batcher_posts_blobs_that_derive_back(nursery):
    l1, l1_server, engine, rollup, sequencer = await devnet(nursery)
    rng = random.Random(11)
    await build_blocks(sequencer, 12, rng)
    config = BatcherConfig(channel=channel_config(max_frame_size=1_000, target_channel_size=10**6),
                           batch_inbox=INBOX, l1_chain_id=l1.config.chain_id, batcher_key=BATCHER_KEY,
                           data_availability=BLOBS, blobs_per_tx=2)
    async with JsonRpcClient(l1_server.url) as l1_rpc, JsonRpcClient(engine.rpc_url) as l2_rpc:
        batcher = Batcher(config, l1_rpc, l2_rpc)
        sent = await batcher.flush()
        block = l1.mine()
        found = await L1Provider(l1_rpc).block_by_number(block.number)
        wanted, index = [], 0
        for raw in found.transactions:
            tx = decode_transaction(raw)
            assert tx.type == 3 and is_batcher_transaction(tx, INBOX, BATCHER)
            for vh in tx.blob_versioned_hashes:
                wanted.append((index, vh))
                index += 1
        async with BeaconClient(l1_server.url) as beacon:
            blobs = await beacon.get_blobs(found.ref, wanted)
    stats = batcher.statistics()
    assert len(sent) == len(found.transactions) >= 2
    assert stats.blobs_sent == len(blobs) == stats.frames_sent > 2
    assert [len(decode_transaction(r).blob_versioned_hashes) for r in found.transactions][:-1] == [2] * (len(sent) - 1)
    assert derived(reassemble([decode_blob(b) for b in blobs])) == expected_blocks(engine, 1, 12)


async def test_channel_duration_and_l2_reorg(nursery):
    l1, l1_server, engine, rollup, sequencer = await devnet(nursery)
    rng = random.Random(3)
    nonce = await build_blocks(sequencer, 3, rng)
    config = BatcherConfig(channel=channel_config(), batch_inbox=INBOX, l1_chain_id=l1.config.chain_id,
                           batcher_key=BATCHER_KEY, max_channel_duration=2)
    async with JsonRpcClient(l1_server.url) as l1_rpc, JsonRpcClient(engine.rpc_url) as l2_rpc:
        batcher = Batcher(config, l1_rpc, l2_rpc)
        assert await batcher.step() == [] and len(batcher.channel) == 3
        l1.mine()
        assert await batcher.step() == []
        l1.mine()
        sent = await batcher.step()  # open for 2 L1 blocks: closed and posted
        assert len(sent) == 1 and batcher.channel is None
        l1.mine()
        assert derived(reassemble([l1.head.transactions[0].tx.data])) == expected_blocks(engine, 1, 3)
        # Reorg the unsafe L2 chain below the batcher's position: it restarts from the safe head.
        await build_blocks(sequencer, 1, rng, nonce)
        await batcher.step()
        rewound = engine.forkchoice_updated({"headBlockHash": "0x" + engine.by_number(2).hash.hex()})
        assert rewound["payloadStatus"]["status"] == "VALID" and engine.head.number == 2  # blocks 3, 4 dropped
        sequencer.rewind()
        await build_blocks(sequencer, 3, rng, engine.head.state.nonce(USER))
        await batcher.step()
        stats = batcher.statistics()
        assert stats.resets == 1 and stats.next_block == 1
        await batcher.step()
        sent = await batcher.flush()
    assert len(sent) == 1
    l1.mine()
    assert derived(reassemble([l1.head.transactions[0].tx.data])) == expected_blocks(engine, 1, 5)


def test_batcher_config_validation():
    with pytest.raises(ValueError):
        BatcherConfig(channel=channel_config(max_frame_size=MAX_BLOB_FRAME_SIZE + 1), batch_inbox=INBOX,
                      l1_chain_id=900, batcher_key=BATCHER_KEY, data_availability=BLOBS)
    with pytest.raises(ValueError):
        BatcherConfig(channel=channel_config(), batch_inbox=INBOX, l1_chain_id=900, batcher_key=BATCHER_KEY,
                      data_availability="carrier pigeon")
    with pytest.raises(ValueError):
        channel_config(max_frame_size=23)
    assert BatcherConfig(channel=channel_config(), batch_inbox=INBOX, l1_chain_id=900,
                         batcher_key=BATCHER_KEY).data_availability == CALLDATA


@pytest.fixture
def devnet_log(log_records):
    return log_records("opfleet.devnet")


async def test_batcher_stops_before_an_activation_block_with_user_transactions(nursery, devnet_log):
    # Karst's activation block must be empty (karst/derivation.md; op-node batches.go): a batch
    # for it with transactions is dropped, and so is everything after it.
    l1, l1_server, engine, rollup, sequencer = await devnet(
        nursery, forks=ForkTimes.up_to("karst", at=GENESIS_TIME + 3 * L2_BLOCK_TIME))
    rng = random.Random(5)
    assert rollup.is_karst_activation_block(GENESIS_TIME + 3 * L2_BLOCK_TIME)
    nonce = await build_blocks(sequencer, 2, rng)
    await sequencer.build((user_tx(nonce, 4, rng),))  # block 3, activating Karst, with a user tx
    nonce = await build_blocks(sequencer, 2, rng, nonce + 1)
    config = BatcherConfig(channel=channel_config(), batch_inbox=INBOX, l1_chain_id=l1.config.chain_id,
                           batcher_key=BATCHER_KEY, rollup_config=rollup)
    async with JsonRpcClient(l1_server.url) as l1_rpc, JsonRpcClient(engine.rpc_url) as l2_rpc:
        batcher = Batcher(config, l1_rpc, l2_rpc)
        sent = await batcher.step()
        assert len(sent) == 1  # blocks 1 and 2 are posted
        assert batcher.stopped is not None and "L2 block 3" in batcher.stopped and "karst" in batcher.stopped
        assert await batcher.step() == [] and await batcher.flush() == []
        errors = [r for r in devnet_log.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and "Batcher stopped" in errors[0].getMessage()
        l1.mine()
        assert derived(reassemble([l1.head.transactions[0].tx.data])) == expected_blocks(engine, 1, 2)
        # The sequencer replaces block 3 by an empty one: batching resumes from the safe head.
        engine.forkchoice_updated({"headBlockHash": "0x" + engine.by_number(2).hash.hex()})
        sequencer.rewind()
        await sequencer.build()
        await build_blocks(sequencer, 1, rng, engine.head.state.nonce(USER))
        assert await batcher.step() == [] and batcher.stopped is None
        sent = await batcher.flush()
    assert len(sent) == 1 and batcher.statistics().next_block == 5
    l1.mine()
    assert derived(reassemble([l1.head.transactions[0].tx.data])) == expected_blocks(engine, 1, 4)
