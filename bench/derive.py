"""Derivation throughput: L2 blocks/s from an in-memory L1, engine excluded. Prints JSON.

The L1 is :class:`opfleet.derive.testing.FakeL1Chain` (real signed batcher transactions, real
blobs with KZG commitments); the L2 is :class:`~opfleet.derive.testing.FakeL2Chain`, which
"executes" derived attributes. Every ``--chunk`` epochs (6 L2 blocks each, ~``--txs`` user
transactions per block) one channel holding one span batch is posted, alternately as calldata
and as blobs, in the L1 block after the chunk's last epoch.

Counted: ChainProvider calls (the fake answers each as one request; an L1Provider-like cache by
block hash sits in front, as the real provider has), beacon ``get_blobs`` calls per blob-carrying
L1 block, wall time of the derivation loop only (building the L1 history is excluded), and the
process's peak RSS. Targets: >= 1,000 L2 blocks/s, <= 2 L1 requests per L1 block, <= 200 MB.

    .venv/bin/python bench/derive.py [--blocks 20000] [--txs 10] [--chunk 20]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from collections import OrderedDict
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opfleet.derive.pipeline import Pipeline, StepKind  # noqa: E402
from opfleet.derive.testing import (  # noqa: E402
    Batcher,
    FakeL1Chain,
    FakeL2Chain,
    Sequencer,
    channel_data,
    channel_id,
    l2_transfer,
    make_rollup_config,
    split_frames,
)
from opfleet.protocol.batch.span import RawSpanBatch  # noqa: E402
from opfleet.protocol.frame import encode_frames  # noqa: E402

BLOCKS_PER_EPOCH = 6  # 12 s L1 blocks, 2 s L2 blocks
BLOB_FRAME_DATA = 120_000  # fits one blob with framing and the version byte
TX_POOL = 1_000  # distinct signed transactions, reused (derivation never checks nonces)


class CountingL1:
    """The fake L1 behind a by-hash cache like L1Provider's, counting what reaches it."""

    def __init__(self, chain: FakeL1Chain, cache_size: int = 512):
        self.chain = chain
        self.by_hash = {b.hash: n for n, b in enumerate(chain.blocks)}
        self.cache: OrderedDict[bytes, object] = OrderedDict()
        self.cache_size = cache_size
        self.requests = 0

    async def block_ref(self, number: int):
        self.requests += 1
        return await self.chain.block_ref(number)

    async def block_with_receipts(self, block_hash: bytes):
        cached = self.cache.get(block_hash)
        if cached is not None:
            self.cache.move_to_end(block_hash)
            return cached
        self.requests += 1
        number = self.by_hash[bytes(block_hash)]
        result = (self.chain.blocks[number], self.chain.receipts[self.chain.blocks[number].hash])
        self.cache[block_hash] = result
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return result


class CountingBeacon:
    def __init__(self, beacon):
        self.beacon = beacon
        self.requests = 0

    async def get_blobs(self, ref, indexed_hashes):
        self.requests += 1
        return await self.beacon.get_blobs(ref, indexed_hashes)


def build_history(blocks: int, txs_per_block: int, chunk_epochs: int):
    l1 = FakeL1Chain()
    cfg = make_rollup_config(l1, canyon_time=0, delta_time=0, ecotone_time=0, fjord_time=0, granite_time=0,
                             holocene_time=0, seq_window_size=3600)
    seq, batcher = Sequencer(cfg), Batcher()
    pool = itertools.cycle([l2_transfer(n) for n in range(TX_POOL)])
    epochs = -(-blocks // BLOCKS_PER_EPOCH)
    blob_blocks = calldata_txs = blob_count = 0
    pending: list = []
    chunk_start_seq = 0
    for epoch in range(epochs):
        ref = l1.head  # epoch `epoch` is L1 block `epoch`
        if not pending:
            chunk_start_seq = seq.head.sequence_number + 1 if seq.head.l1_origin.number == ref.number else 0
        for _ in range(BLOCKS_PER_EPOCH):
            if seq.head.number >= blocks:
                break
            pending.append(seq.block(ref, [next(pool) for _ in range(txs_per_block)]))
        last = epoch == epochs - 1
        txs = []
        if (epoch + 1) % chunk_epochs == 0 or last:
            span = RawSpanBatch.from_singulars(pending, first_sequence_number=chunk_start_seq,
                                               genesis_time=cfg.genesis.l2_time, chain_id=cfg.l2_chain_id)
            data = channel_data([span])
            use_blobs = (epoch // chunk_epochs) % 2 == 1
            frames = split_frames(channel_id(f"chunk {epoch}"), data,
                                  max_frame_data=BLOB_FRAME_DATA if use_blobs else 1_000_000)
            if use_blobs:
                datas = [encode_frames([f]) for f in frames]  # version byte included
                txs.append(batcher.blob_tx(datas))
                blob_blocks += 1
                blob_count += len(datas)
            else:
                txs.append(batcher.frames_tx(frames))
                calldata_txs += 1
            pending = []
        l1.mine(txs)
    return cfg, l1, seq, {"calldata_txs": calldata_txs, "blob_carrying_l1_blocks": blob_blocks, "blobs": blob_count}


async def derive(cfg, l1: FakeL1Chain, expected_blocks: int):
    chain, beacon, l2 = CountingL1(l1), CountingBeacon(l1.beacon), FakeL2Chain(cfg)
    pipeline = Pipeline(cfg, chain=chain, l2=l2, blobs=beacon)
    pipeline.reset(l1.ref(0), cfg.genesis.system_config)
    start = time.perf_counter()
    while True:
        result = await pipeline.step(l2.head)
        if result.kind is StepKind.PREPARED_ATTRIBUTES:
            l2.apply(result.attributes)
        elif result.kind is StepKind.EOF:
            break
    elapsed = time.perf_counter() - start
    return l2, chain, beacon, pipeline, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20_000)
    parser.add_argument("--txs", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=20, help="epochs per channel")
    args = parser.parse_args()
    built = time.perf_counter()
    cfg, l1, seq, posted = build_history(args.blocks, args.txs, args.chunk)
    build_seconds = time.perf_counter() - built
    l2, chain, beacon, pipeline, elapsed = trio.run(derive, cfg, l1, args.blocks)
    derived = l2.head.number
    assert [b.ref for b in l2.blocks] == seq.blocks, "derived chain differs from the sequenced one"
    l1_blocks = l1.head.number + 1  # every one is read, the genesis (the first origin) included
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result = {
        "benchmark": "derive",
        "l2_blocks": derived,
        "user_txs_per_block": args.txs,
        "l1_blocks": l1_blocks,
        **posted,
        "history_build_seconds": round(build_seconds, 2),
        "derive_seconds": round(elapsed, 3),
        "l2_blocks_per_second": round(derived / elapsed, 1),
        "l1_requests_per_l1_block": round(chain.requests / l1_blocks, 3),
        "beacon_requests_per_blob_l1_block": round(beacon.requests / max(1, posted["blob_carrying_l1_blocks"]), 3),
        "peak_rss_mb": round(rss_mb, 1),
        "targets": {"l2_blocks_per_second": 1000, "l1_requests_per_l1_block": 2, "peak_rss_mb": 200},
    }
    result["meets_targets"] = (result["l2_blocks_per_second"] >= 1000 and result["l1_requests_per_l1_block"] <= 2
                               and result["peak_rss_mb"] <= 200)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
