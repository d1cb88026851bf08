"""The fleet benchmark: the seed's headline claim, measured on the devnet (issue 8).

For N = 1, 4, 10 nodes, run the same chain for the same duration in two topologies:

- homogeneous: every node derives (N source nodes);
- specialized: 1 source node + N-1 light nodes following it.

Both also run the devnet's light sequencer and batcher (the same in every run, not counted).
Printed as JSON: L1 requests per topology (JSON-RPC calls + beacon GETs made by the measured
nodes' L1 clients), L1 requests per L2 block, safe-lag median/p99 per tier, CPU seconds and RSS.

Every node polls L1 heads once per L2 block time (light nodes poll their source every 50 ms;
an opfleet source pushes changes), so the L1 figure is dominated by what differs: derivation.

Safe lag of a node for block n: when that node's EL had n as safe, minus when the first source
had it (so the first source's own lag is 0; a light node's lag is follow latency). Sampled every
10 ms. All nodes share one process (and the 2-core machine), so CPU seconds and RSS are the
process's, also given per measured node; they overstate a real per-node figure.

    .venv/bin/python bench/fleet.py [--duration 20] [--sizes 1,4,10]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import sys
import time
from typing import Any

import trio

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from opfleet.devnet.fleet import Devnet, FleetConfig  # noqa: E402

SAMPLE = 0.01


def _l1_requests(node: Any) -> int:
    total = 0
    for name, client in getattr(node, "_clients", {}).items():
        if client is None or not (name == "l1" or name == "beacon"):
            continue
        stats = client.statistics()
        counts = getattr(stats, "requests_by_method", None) or getattr(stats, "requests_by_path", {}) or {}
        total += sum(counts.values())
    return total


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(topology: str, n: int, duration: float, block_time: int) -> dict[str, Any]:
    sources, lights = (n, 0) if topology == "homogeneous" else (1, n - 1)
    config = FleetConfig(base_port=0, sources=sources, lights=lights, l2_block_time=block_time,
                         l1_block_time=2 * block_time, node_poll=0.05, l1_poll=block_time, tx_interval=0.2, deposit_interval=0)
    cpu0 = time.process_time()
    async with trio.open_nursery() as nursery:
        devnet: Devnet = await nursery.start(Devnet(config).run)
        seq = devnet.sequencer_engine
        assert seq is not None
        engines = [("source", e) for e in devnet.source_engines] + [("light", e) for e in devnet.light_engines]
        reached: list[dict[int, float]] = [{} for _ in engines]
        first_source: dict[int, float] = {}
        start_l1 = sum(_l1_requests(node) for node in [*devnet.sources, *devnet.lights])
        start_block = seq.head.number
        end = time.monotonic() + duration
        while time.monotonic() < end:
            now = time.monotonic()
            for i, (_, engine) in enumerate(engines):
                safe = engine.safe.number
                seen = reached[i]
                for k in range(max(seen, default=0) + 1, safe + 1):
                    seen[k] = now
            for k, t in reached[0].items():
                first_source.setdefault(k, t)
            await trio.sleep(SAMPLE)
        l1_requests = sum(_l1_requests(node) for node in [*devnet.sources, *devnet.lights]) - start_l1
        l2_blocks = seq.head.number - start_block
        nursery.cancel_scope.cancel()
    cpu = time.process_time() - cpu0
    lags: dict[str, list[float]] = {"source": [], "light": []}
    for (tier, _), seen in zip(engines, reached):
        for k, t in seen.items():
            if k in first_source:
                lags[tier].append(1000 * (t - first_source[k]))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "topology": topology, "nodes": n, "sources": sources, "lights": lights,
        "l2_blocks": l2_blocks, "l1_requests": l1_requests,
        "l1_requests_per_l2_block": round(l1_requests / l2_blocks, 2) if l2_blocks else None,
        "safe_lag_ms": {tier: {"median": _round(_percentile(v, 0.5)), "p99": _round(_percentile(v, 0.99)),
                               "samples": len(v)} for tier, v in lags.items() if v},
        "cpu_seconds": round(cpu, 2), "cpu_seconds_per_node": round(cpu / n, 2),
        "max_rss_mib_process": round(rss_mib, 1),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def main(sizes: list[int], duration: float, block_time: int) -> dict[str, Any]:
    runs = []
    for n in sizes:
        for topology in ("homogeneous", "specialized"):
            runs.append(await measure(topology, n, duration, block_time))
            print(json.dumps(runs[-1]), file=sys.stderr)
    by = {(r["topology"], r["nodes"]): r for r in runs}
    summary: dict[str, Any] = {}
    if len(sizes) > 1:
        lo, hi = min(sizes), max(sizes)
        for topology in ("homogeneous", "specialized"):
            a, b = by[(topology, lo)]["l1_requests_per_l2_block"], by[(topology, hi)]["l1_requests_per_l2_block"]
            summary[f"{topology}_l1_growth_{lo}_to_{hi}"] = round(b / a, 2) if a and b else None
    return {"duration_s": duration, "l2_block_time_s": block_time, "runs": runs, "summary": summary}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--sizes", default="1,4,10")
    parser.add_argument("--block-time", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("opfleet").setLevel(logging.ERROR)
    result = trio.run(main, [int(s) for s in args.sizes.split(",")], args.duration, args.block_time)
    print(json.dumps(result, indent=2))
