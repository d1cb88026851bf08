"""Unsafe-block gossip: sequencer-to-light propagation on loopback and CPU per validated block. Prints JSON.

One sequencer :class:`~opfleet.p2p.BlockGossip` (this process) listens on 127.0.0.1 and publishes
``--blocks`` signed blocks, one every ``--interval`` seconds, each with ``--txs`` transactions of
``--tx-size`` bytes (a real Ecotone/V3 payload: SSZ, snappy, secp256k1 signature, a block hash
that commits to the transactions). ``N`` light gossip nodes (1, 10, 50 by default) peer with it
statically, spread over worker processes (so they do not share one event loop); each validates
every block exactly as op-node does (:func:`opfleet.protocol.gossip.validate`) and records when it
accepted it. Latency of a block at a node = its acceptance time - the moment the sequencer
published it (one machine, one clock). Reported per N: median, p99 and max latency, blocks
delivered, and CPU seconds per validated block in the workers (``process_time`` over the run /
blocks validated, the connection handling included). Also: the CPU of one ``validate`` call alone.

Target: < 100 ms median on loopback.

    .venv/bin/python bench/gossip.py [--nodes 1,10,50] [--blocks 60] [--interval 0.5] [--txs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opfleet.p2p import BlockGossip, P2PConfig  # noqa: E402
from opfleet.protocol import gossip as g  # noqa: E402
from opfleet.protocol.crypto import keccak256, private_key_to_address  # noqa: E402

KEY = keccak256(b"bench gossip sequencer")
SIGNER = private_key_to_address(KEY)
CHAIN_ID = 901
VERSION = g.BlockVersion.V3


class Rollup:
    l2_chain_id = CHAIN_ID
    block_time = 1

    @staticmethod
    def is_isthmus(ts: int) -> bool:
        return False

    @staticmethod
    def is_ecotone(ts: int) -> bool:
        return True

    is_canyon = is_ecotone


def make_block(number: int, txs: int, tx_size: int) -> g.Envelope:
    body = [bytes([2]) + os.urandom(tx_size - 1) for _ in range(txs)]
    p = {
        "parentHash": "0x" + keccak256(number.to_bytes(8, "big")).hex(), "feeRecipient": "0x" + "42" * 20,
        "stateRoot": "0x" + os.urandom(32).hex(), "receiptsRoot": "0x" + os.urandom(32).hex(),
        "logsBloom": "0x" + "00" * 256, "prevRandao": "0x" + os.urandom(32).hex(), "blockNumber": hex(number),
        "gasLimit": hex(30_000_000), "gasUsed": hex(21_000 * txs), "timestamp": hex(int(time.time())),
        "extraData": "0x", "baseFeePerGas": hex(1_000_000), "transactions": ["0x" + t.hex() for t in body],
        "withdrawals": [], "blobGasUsed": "0x0", "excessBlobGas": "0x0",
    }
    env = g.Envelope(p, os.urandom(32))
    p["blockHash"] = "0x" + g.payload_block_hash(env, VERSION).hex()
    return env


# --- worker: light nodes in a process of their own ------------------------------------------------


async def worker(count: int, static: str, duration: float) -> None:
    accepted: list[tuple[int, int, float]] = []
    ready = 0

    def make_on_block(i: int):
        async def on_block(env: g.Envelope, peer: str) -> None:
            accepted.append((i, env.number, time.time()))
        return on_block

    async with trio.open_nursery() as nursery:
        nodes = []
        for i in range(count):
            node = BlockGossip(P2PConfig(listen_tcp=None, static=(static,)), Rollup(), signer=lambda: SIGNER,
                               on_block=make_on_block(i))
            nodes.append(await nursery.start(node.run))
        with trio.move_on_after(30):
            while ready < count:
                ready = sum(n.statistics().mesh[g.blocks_topic(CHAIN_ID, VERSION)] > 0 for n in nodes)
                await trio.sleep(0.05)
        print(json.dumps({"ready": ready}), flush=True)
        cpu0 = time.process_time()
        await trio.sleep(duration)
        cpu = time.process_time() - cpu0
        validated = sum(n.statistics().accepted + n.statistics().rejected + n.statistics().ignored for n in nodes)
        print(json.dumps({"accepted": accepted, "cpu": cpu, "validated": validated}), flush=True)
        nursery.cancel_scope.cancel()


# --- the sequencer and the run --------------------------------------------------------------------


async def run(nodes: int, blocks: int, interval: float, txs: int, tx_size: int, workers: int) -> dict:
    async with trio.open_nursery() as nursery:
        seq = await nursery.start(BlockGossip(P2PConfig(listen_ip="127.0.0.1", listen_tcp=0, sequencer_key=KEY),
                                              Rollup(), signer=lambda: SIGNER).run)
        addr = seq.multiaddrs()[0]
        duration = blocks * interval + 3.0
        per = [nodes // workers + (1 if i < nodes % workers else 0) for i in range(workers)]
        procs = [await trio.lowlevel.open_process(
            [sys.executable, __file__, "--worker", str(n), "--static", addr, "--duration", str(duration)],
            stdout=subprocess.PIPE) for n in per if n]
        outputs: list[list[dict]] = [[] for _ in procs]

        async def read(i: int, proc) -> None:
            buf = b""
            async for chunk in proc.stdout:
                buf += chunk
            outputs[i] = [json.loads(line) for line in buf.decode().splitlines() if line.strip()]

        async with trio.open_nursery() as readers:
            for i, proc in enumerate(procs):
                readers.start_soon(read, i, proc)
            with trio.fail_after(60):
                while seq.statistics().peers < nodes:
                    await trio.sleep(0.05)
            await trio.sleep(1.0)  # the workers' grafts settle
            published: dict[int, float] = {}
            for n in range(1, blocks + 1):
                env = make_block(n, txs, tx_size)
                published[n] = time.time()
                seq.publish(env)
                await trio.sleep(interval)
        for proc in procs:
            await proc.wait()
        nursery.cancel_scope.cancel()

    latencies, cpu, validated = [], 0.0, 0
    for out in outputs:
        final = out[-1]
        cpu += final["cpu"]
        validated += final["validated"]
        latencies += [(t - published[number]) * 1000 for _, number, t in final["accepted"]]
    latencies.sort()
    return {
        "nodes": nodes,
        "blocks_published": blocks,
        "deliveries": len(latencies),
        "deliveries_expected": blocks * nodes,
        "latency_ms_median": round(statistics.median(latencies), 2) if latencies else None,
        "latency_ms_p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2)
        if latencies else None,
        "latency_ms_max": round(latencies[-1], 2) if latencies else None,
        "worker_processes": len(procs),
        "cpu_ms_per_validated_block": round(cpu / validated * 1000, 3) if validated else None,
    }


def validate_cpu(txs: int, tx_size: int, rounds: int = 200) -> float:
    """CPU milliseconds of one op-node validation (decompress, recover, decode, hash) alone."""
    msgs = [g.encode_message(make_block(n, txs, tx_size), VERSION, CHAIN_ID, KEY) for n in range(rounds)]
    seen = g.SeenBlocks()
    start = time.process_time()
    for m in msgs:
        assert g.validate(m, version=VERSION, chain_id=CHAIN_ID, signer=SIGNER, now=time.time(),
                          seen=seen).verdict is g.Verdict.ACCEPT
    return (time.process_time() - start) / rounds * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default="1,10,50")
    ap.add_argument("--blocks", type=int, default=60)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--txs", type=int, default=20)
    ap.add_argument("--tx-size", type=int, default=150)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--static", help=argparse.SUPPRESS)
    ap.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        trio.run(worker, args.worker, args.static, args.duration)
        return
    sample = g.encode_message(make_block(1, args.txs, args.tx_size), VERSION, CHAIN_ID, KEY)
    result = {
        "benchmark": "gossip",
        "cpus": os.cpu_count(),
        "txs_per_block": args.txs,
        "message_bytes": len(sample),
        "validate_cpu_ms": round(validate_cpu(args.txs, args.tx_size), 3),
        "runs": [trio.run(run, int(n), args.blocks, args.interval, args.txs, args.tx_size,
                          min(args.workers, int(n))) for n in args.nodes.split(",")],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
