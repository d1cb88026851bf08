"""Derivation throughput: L2 blocks/s from L1, engine excluded. Prints JSON.

Two runs over the same kind of history (``--l1 memory``, ``--l1 loopback`` or ``--l1 both``):

- ``memory``: the L1 is :class:`opfleet.testing.derive.FakeL1Chain` (real signed batcher
  transactions, real blobs with KZG commitments) behind a by-hash cache like L1Provider's;
  each ChainProvider call that reaches the fake counts as one request.
- ``loopback``: the L1 is the devnet's :class:`opfleet.devnet.l1.L1Chain` served by
  :class:`~opfleet.devnet.l1.L1Server` on 127.0.0.1, read through the real
  :class:`~opfleet.providers.l1.L1Provider` and :class:`~opfleet.providers.beacon.BeaconClient`
  over HTTP. Requests are counted twice: JSON-RPC calls (each call of a batch counts) and HTTP
  requests, from the client's ``statistics()``.

In both, the L2 is :class:`~opfleet.testing.derive.FakeL2Chain`, which "executes" derived
attributes. Every ``--chunk`` epochs (6 L2 blocks each, ~``--txs`` user transactions per block)
one channel holding one span batch is posted, alternately as calldata and as blobs, in the L1
block after the chunk's last epoch; channels are encoded by the devnet batcher's
:class:`~opfleet.devnet.batcher.ChannelBuilder` (via :meth:`opfleet.testing.derive.Sequencer.channel`).

Counted: L1 requests per L1 block, beacon requests per blob-carrying L1 block, wall time of
the derivation loop only (building the L1 history is excluded), and the process's peak RSS.
Targets: >= 1,000 L2 blocks/s, <= 2 L1 requests per L1 block, <= 200 MB.

    .venv/bin/python bench/derive.py [--blocks 20000] [--txs 10] [--chunk 20] [--l1 both]
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
from opfleet.devnet.l1 import L1Chain, L1Server  # noqa: E402
from opfleet.errors import BlockNotFoundError
from opfleet.protocol.blob import encode_blob  # noqa: E402
from opfleet.protocol.block_ref import BlockID  # noqa: E402
from opfleet.protocol.frame import FRAME_V0_OVERHEAD_SIZE as FRAME_OVERHEAD  # noqa: E402
from opfleet.protocol.frame import encode_frames  # noqa: E402
from opfleet.protocol.rollup_config import Genesis  # noqa: E402
from opfleet.providers.beacon import BeaconClient  # noqa: E402
from opfleet.providers.jsonrpc import JsonRpcClient  # noqa: E402
from opfleet.providers.l1 import L1Provider  # noqa: E402
from opfleet.testing.derive import (  # noqa: E402
    BATCH_INBOX,
    BATCHER_KEY,
    GENESIS_L2_HASH,
    GENESIS_SYSTEM_CONFIG,
    Batcher,
    FakeL1Chain,
    FakeL2Chain,
    Sequencer,
    l2_transfer,
    make_rollup_config,
)

BLOCKS_PER_EPOCH = 6  # 12 s L1 blocks, 2 s L2 blocks
BLOB_FRAME_DATA = 120_000  # fits one blob with framing and the version byte
TX_POOL = 1_000  # distinct signed transactions, reused (derivation never checks nonces)
FORKS = dict(canyon_time=0, delta_time=0, ecotone_time=0, fjord_time=0, granite_time=0, holocene_time=0,
             seq_window_size=3600)


class CountingL1:
    """The fake L1 behind a by-hash cache like L1Provider's, counting what reaches it (each
    call that reaches the fake is one request), gated at the head like :class:`HeadGated`."""

    def __init__(self, chain: FakeL1Chain, *, head: int, cache_size: int = 256):
        self.chain, self.head = chain, head
        self.by_hash = {b.hash: n for n, b in enumerate(chain.blocks)}
        self.cache: OrderedDict[bytes, object] = OrderedDict()
        self.cache_size = cache_size
        self.requests = 0

    async def block_ref(self, number: int):
        self.requests += 1
        return await self.chain.block_ref(number)

    async def block_with_receipts(self, block):
        if isinstance(block, int) and block > self.head:  # as HeadGated: no request above the head
            raise BlockNotFoundError(f"L1 block {block} is above the head")
        key = self.chain.blocks[block].hash if isinstance(block, int) and block < len(self.chain.blocks) else block
        cached = self.cache.get(key) if isinstance(key, bytes) else None
        if cached is not None:
            self.cache.move_to_end(key)
            return cached
        self.requests += 1
        result = await self.chain.block_with_receipts(block)
        self.cache[result[0].hash] = result
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


class HeadGated:
    """The L1 provider as the source node's derivation sees it: blocks above the L1 head the
    watcher last saw are "not found" without a request (``opfleet.node.source``); the
    watcher's own polling (one batched request per poll interval) is not per L1 block."""

    def __init__(self, l1: L1Provider, head: int):
        self.l1, self.head = l1, head

    async def block_ref(self, number: int):
        return await self.l1.block_ref(number)

    async def block_with_receipts(self, block):
        if isinstance(block, int) and block > self.head:
            raise BlockNotFoundError(f"L1 block {block} is above the head")
        return await self.l1.block_with_receipts(block)


class _FakeL1Writer:
    """Posts batcher data on a FakeL1Chain."""

    def __init__(self) -> None:
        self.l1 = FakeL1Chain()
        self.batcher = Batcher()

    def head(self):
        return self.l1.head

    def mine(self, calldata: list[bytes], blobs: list[bytes]) -> None:
        txs = [self.batcher.calldata_tx(d) for d in calldata]
        if blobs:
            txs.append(self.batcher.blob_tx(blobs))
        self.l1.mine(txs)

    def rollup_config(self):
        return make_rollup_config(self.l1, **FORKS)


class _DevnetL1Writer:
    """Posts batcher data on the devnet's L1Chain (real headers, state, blob sidecars)."""

    def __init__(self) -> None:
        self.l1 = L1Chain()
        self.fake = FakeL1Chain()  # only for make_rollup_config's defaults

    def head(self):
        return self.l1.head.ref

    def mine(self, calldata: list[bytes], blobs: list[bytes]) -> None:
        txs = [self.l1.sign(BATCHER_KEY, to=BATCH_INBOX, data=d) for d in calldata]
        if blobs:
            txs.append(self.l1.sign(BATCHER_KEY, to=BATCH_INBOX, blobs=[encode_blob(d) for d in blobs],
                                    nonce=self.l1.nonce(Batcher().address, pending=True) + len(txs)))
        self.l1.mine(txs, include_pool=False)

    def rollup_config(self):
        genesis = self.l1.genesis
        return make_rollup_config(
            self.fake, **FORKS, l1_chain_id=self.l1.config.chain_id,
            deposit_contract_address=self.l1.config.portal_address,
            l1_system_config_address=self.l1.config.system_config_address,
            genesis=Genesis(BlockID(genesis.hash, 0), BlockID(GENESIS_L2_HASH, 0), genesis.timestamp,
                            GENESIS_SYSTEM_CONFIG))


def build_history(writer, blocks: int, txs_per_block: int, chunk_epochs: int):
    cfg = writer.rollup_config()
    seq = Sequencer(cfg)
    pool = itertools.cycle([l2_transfer(n) for n in range(TX_POOL)])
    epochs = -(-blocks // BLOCKS_PER_EPOCH)
    blob_blocks = calldata_txs = blob_count = 0
    chunk_first = 1
    for epoch in range(epochs):
        ref = writer.head()  # epoch `epoch` is L1 block `epoch`
        for _ in range(BLOCKS_PER_EPOCH):
            if seq.head.number >= blocks:
                break
            seq.block(ref, [next(pool) for _ in range(txs_per_block)])
        last = epoch == epochs - 1
        calldata: list[bytes] = []
        blobs: list[bytes] = []
        if (epoch + 1) % chunk_epochs == 0 or last:
            # One span batch per channel, encoded by the devnet batcher's ChannelBuilder.
            use_blobs = (epoch // chunk_epochs) % 2 == 1
            channel = seq.channel(chunk_first, name=f"chunk {epoch}", max_frame_size=FRAME_OVERHEAD + (
                BLOB_FRAME_DATA if use_blobs else 1_000_000))
            if use_blobs:
                blobs = channel.tx_datas()  # one frame per blob, version byte included
                blob_blocks += 1
                blob_count += len(blobs)
            else:
                calldata = [encode_frames(channel.frames())]
                calldata_txs += 1
            chunk_first = seq.head.number + 1
        writer.mine(calldata, blobs)
    return cfg, seq, {"calldata_txs": calldata_txs, "blob_carrying_l1_blocks": blob_blocks, "blobs": blob_count}


async def _derive_loop(pipeline: Pipeline, l2: FakeL2Chain) -> float:
    start = time.perf_counter()
    while True:
        result = await pipeline.step(l2.head)
        if result.kind is StepKind.PREPARED_ATTRIBUTES:
            l2.apply(result.attributes)
        elif result.kind is StepKind.EOF:
            break
    return time.perf_counter() - start


async def derive_memory(cfg, l1: FakeL1Chain) -> dict:
    chain, beacon, l2 = CountingL1(l1, head=l1.head.number), CountingBeacon(l1.beacon), FakeL2Chain(cfg)
    pipeline = Pipeline(cfg, chain=chain, l2=l2, blobs=beacon)
    pipeline.reset(l1.ref(0), cfg.genesis.system_config)
    elapsed = await _derive_loop(pipeline, l2)
    return {"l2": l2, "elapsed": elapsed, "l1_calls": chain.requests, "l1_http": chain.requests,
            "beacon_requests": beacon.requests}


async def derive_loopback(cfg, l1: L1Chain) -> dict:
    server = L1Server(l1)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        async with JsonRpcClient(server.url, name="L1") as client, BeaconClient(server.url) as beacon:
            chain, l2 = HeadGated(L1Provider(client), l1.head.number), FakeL2Chain(cfg)
            pipeline = Pipeline(cfg, chain=chain, l2=l2, blobs=beacon)
            pipeline.reset(l1.genesis.ref, cfg.genesis.system_config)
            elapsed = await _derive_loop(pipeline, l2)
            stats, beacon_stats = client.statistics(), beacon.statistics()
        nursery.cancel_scope.cancel()
    beacon_requests = sum(getattr(beacon_stats, "requests_by_path", {}).values())
    return {"l2": l2, "elapsed": elapsed, "l1_calls": sum(stats.requests_by_method.values()),
            "l1_http": stats.http_requests, "l1_calls_by_method": dict(stats.requests_by_method),
            "beacon_requests": beacon_requests}


def run(kind: str, args) -> dict:
    writer = _FakeL1Writer() if kind == "memory" else _DevnetL1Writer()
    built = time.perf_counter()
    cfg, seq, posted = build_history(writer, args.blocks, args.txs, args.chunk)
    build_seconds = time.perf_counter() - built
    out = trio.run(derive_memory if kind == "memory" else derive_loopback, cfg, writer.l1)
    l2, elapsed = out["l2"], out["elapsed"]
    derived = l2.head.number
    assert [b.ref for b in l2.blocks] == seq.blocks, "derived chain differs from the sequenced one"
    l1_blocks = writer.head().number + 1  # every one is read, the genesis (the first origin) included
    result = {
        "l1": kind,
        "l2_blocks": derived,
        "user_txs_per_block": args.txs,
        "l1_blocks": l1_blocks,
        **posted,
        "history_build_seconds": round(build_seconds, 2),
        "derive_seconds": round(elapsed, 3),
        "l2_blocks_per_second": round(derived / elapsed, 1),
        "l1_jsonrpc_calls_per_l1_block": round(out["l1_calls"] / l1_blocks, 3),
        "l1_http_requests_per_l1_block": round(out["l1_http"] / l1_blocks, 3),
        "beacon_requests_per_blob_l1_block": round(
            out["beacon_requests"] / max(1, posted["blob_carrying_l1_blocks"]), 3),
    }
    if "l1_calls_by_method" in out:
        result["l1_calls_by_method"] = out["l1_calls_by_method"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20_000)
    parser.add_argument("--txs", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=20, help="epochs per channel")
    parser.add_argument("--l1", choices=("memory", "loopback", "both"), default="both")
    args = parser.parse_args()
    kinds = ("memory", "loopback") if args.l1 == "both" else (args.l1,)
    runs = [run(kind, args) for kind in kinds]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    targets = {"l2_blocks_per_second": 1000, "l1_requests_per_l1_block": 2, "peak_rss_mb": 200}
    result = {
        "benchmark": "derive",
        "runs": runs,
        "peak_rss_mb": round(rss_mb, 1),
        "targets": targets,
        "meets_targets": rss_mb <= 200 and all(
            r["l2_blocks_per_second"] >= 1000 and r["l1_jsonrpc_calls_per_l1_block"] <= 2
            and r["l1_http_requests_per_l1_block"] <= 2 for r in runs),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
