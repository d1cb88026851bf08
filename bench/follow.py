"""Light-node follow latency: how fast a source's new safe head reaches 1, 10 and 100 light nodes.

Everything runs in one process on 127.0.0.1: an in-memory L1 (:class:`opfleet.devnet.l1.L1Server`),
one follow source serving ``optimism_syncStatus`` and the ``opfleet_waitSyncStatus`` long poll
(the same handler an opfleet source node serves, :func:`opfleet.rpc.optimism.wait_sync_status_method`),
one lightweight recording execution client shared by the light nodes (it has every block, so each
tick is the decision table's "match" row), and N real :class:`opfleet.node.light.LightNode`\\ s,
each with its own HTTP clients, RPC server and follow loop.

Every ``--interval`` seconds the source's local-safe/safe head moves one block; the latency of a
light node is the time from that change to the moment the node's own safe head is that block
(sanity checks against its L1, the EL lookup and the forkchoice update included). ``--poll``
adds a run where the source cannot push, so the light nodes poll it like op-node (every 2 x
block time = 4 s): the figure op-node users see.

Also counted: requests each light node sends to the source (per second and per safe-head
change), and to its own L1 and execution client per change.

    .venv/bin/python bench/follow.py [--nodes 1,10,100] [--steps 20] [--interval 0.25] [--poll]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "node"))

from light_helpers import FakeEL, FakeSource, Setup, status  # noqa: E402  (the tests' loopback fakes)

from opfleet.node.light import LightNode  # noqa: E402


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _arrival(node: LightNode, number: int, started: float, out: list[float]) -> None:
    while node.l2_heads.safe.number < number:
        await node.wait_status_change(5.0)
    out.append(trio.current_time() - started)


async def run(nodes: int, steps: int, interval: float, push: bool) -> dict[str, Any]:
    async with trio.open_nursery() as nursery:
        setup = await Setup(l1_blocks=8).start(nursery)
        chains = setup.chains
        chain = chains.extend("a", chains.genesis, steps + 2)
        source = await FakeSource(setup.rollup, push=push).start(nursery)
        source.set(status(chains.genesis))
        el = await FakeEL(chains).start(nursery)
        el.have(chain)
        poll = 2.0 * setup.rollup.block_time
        light = []
        for _ in range(nodes):
            config = setup.config([source.url], el, poll_interval=poll, push_wait=5.0, source_rpc_timeout=10.0,
                                  l1_poll_interval=12.0, metrics_enabled=False, backoff_base=0.5, backoff_cap=30.0)
            light.append(await nursery.start(LightNode(config).run))
        with trio.fail_after(30):
            while not all(n.statistics().forkchoice_updates for n in light):
                await trio.sleep(0.01)
        await trio.sleep(0.2)
        before = dict(source.calls)
        l1_before = setup.l1_switch.requests
        el_before = el.switch.requests
        latencies: list[float] = []
        started_at = trio.current_time()
        for k in range(1, steps + 1):
            source.set(status(chain[k - 1]))
            t0 = trio.current_time()
            arrivals: list[float] = []
            with trio.fail_after(max(30.0, 3 * poll)):
                async with trio.open_nursery() as waiting:
                    for node in light:
                        waiting.start_soon(_arrival, node, k, t0, arrivals)
            latencies.extend(arrivals)
            await trio.sleep(max(0.0, interval - (trio.current_time() - t0)))
        elapsed = trio.current_time() - started_at
        calls = {m: source.calls[m] - before.get(m, 0) for m in source.calls}
        total = sum(calls.values())
        result = {
            "nodes": nodes,
            "mode": "push" if push else "poll",
            "safe_head_changes": steps,
            "latency_ms": {"median": round(1000 * statistics.median(latencies), 1),
                           "p99": round(1000 * _percentile(latencies, 0.99), 1),
                           "max": round(1000 * max(latencies), 1)},
            "source_requests_per_node_per_s": round(total / nodes / elapsed, 3),
            "source_requests_per_node_per_change": round(total / nodes / steps, 2),
            "source_requests_by_method": calls,
            "l1_requests_per_node_per_change": round((setup.l1_switch.requests - l1_before) / nodes / steps, 2),
            "el_requests_per_node_per_change": round((el.switch.requests - el_before) / nodes / steps, 2),
        }
        nursery.cancel_scope.cancel()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,10,100")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--poll", action="store_true", help="also measure op-node-style polling (slow)")
    args = parser.parse_args()
    import logging

    logging.getLogger("opfleet").setLevel(logging.WARNING)
    results = [trio.run(run, int(n), args.steps, args.interval, True) for n in args.nodes.split(",")]
    if args.poll:
        results.append(trio.run(run, 1, min(args.steps, 8), args.interval, False))
    print(json.dumps({"runs": results, "target_median_ms": 250}, indent=2))


if __name__ == "__main__":
    main()
