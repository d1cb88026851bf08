"""Decode throughput on the real 143-block OP Mainnet span-batch channel.

Vector: tests/vectors/batches/op-mainnet-span-channel-zlib.hex (one zlib channel holding one
span batch: 143 blocks, 1766 transactions). Prints one JSON object with the median seconds
of decompression alone (the floor) and of decompression + span decode + rebuilding every
transaction with chain id 10, and their ratio (target: <= 3).

Run: .venv/bin/python bench/protocol.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from opfleet.protocol.batch.reader import read_batches
from opfleet.protocol.compression import MAX_RLP_BYTES_PER_CHANNEL_FJORD, decompress_channel

ROOT = Path(__file__).resolve().parent.parent
VECTOR = ROOT / "tests/vectors/batches/op-mainnet-span-channel-zlib.hex"
CHAIN_ID = 10


def decompress_only(channel: bytes) -> int:
    return len(decompress_channel(channel, MAX_RLP_BYTES_PER_CHANNEL_FJORD, fjord_active=True).data)


def full_decode(channel: bytes) -> int:
    data = decompress_channel(channel, MAX_RLP_BYTES_PER_CHANNEL_FJORD, fjord_active=True).data
    count = 0
    for batch in read_batches(data, MAX_RLP_BYTES_PER_CHANNEL_FJORD):
        count += len(batch.full_transactions(CHAIN_ID))
    return count


def median_seconds(func, channel: bytes, runs: int) -> float:
    func(channel)  # warm up caches and imports
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func(channel)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    channel = bytes.fromhex(VECTOR.read_text().strip())
    # Interleave the two measurements so machine noise hits both alike.
    floor_samples, full_samples = [], []
    for _ in range(3):
        floor_samples.append(median_seconds(decompress_only, channel, args.runs))
        full_samples.append(median_seconds(full_decode, channel, args.runs))
    floor = statistics.median(floor_samples)
    full = statistics.median(full_samples)
    print(
        json.dumps(
            {
                "vector": VECTOR.name,
                "compressed_bytes": len(channel),
                "decompressed_bytes": decompress_only(channel),
                "transactions": full_decode(channel),
                "runs": args.runs,
                "decompress_s": round(floor, 6),
                "decompress_decode_rebuild_s": round(full, 6),
                "ratio": round(full / floor, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
