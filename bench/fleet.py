"""The fleet benchmark: the seed's headline claim, measured on the devnet (issue 8).

For N = 1, 4, 10 nodes, run the same chain for the same duration in two topologies:

- homogeneous: every node derives (N source nodes);
- specialized: 1 source node + N-1 light nodes following it.

Both also run the devnet's light sequencer, batcher, L1 and tx generator (the same in every run,
not counted). Each (topology, N) runs in its own process, so CPU and RSS figures do not mix runs.

L1 requests are those of the measured nodes' own L1 clients (JSON-RPC client + beacon client),
counted on the client side, in two units: JSON-RPC calls (a batch item counts once; a beacon GET
counts as one) and HTTP requests (a batch is one). Each is split by purpose:

- ``derivation``: what a deriving node reads to derive (blocks with transactions, receipts,
  blobs, headers by number or hash for resets), by method;
- ``head_polling``: L1 ``latest``/``safe``/``finalized`` reads;
- ``sanity_checks``: a light node's op-node checks of the source's L1 refs (headers by number,
  read on every tick except those at or below the L1's finalized block).

Settings: L2 block time 1 s, L1 block time 2 s, source nodes poll L1 heads every L2 block time,
light nodes run with their defaults (L1 heads every 12 s, op-node's ``--l1.http-poll-interval``;
an opfleet source pushes safe-head changes to them). The counts start after a warm-up.

Safe lag of a node for block n: when that node's EL had n as safe, minus when the first source's
EL had it (so the first source's own lag is 0; a light node's lag is follow latency), sampled
every 10 ms. CPU: the run's process CPU seconds (everything, including the L1, sequencer, batcher
and every DevEngine), and per measured node the event-loop CPU time of its own tasks (a trio
instrument; work a node hands to threads, e.g. KZG checks of blobs, is not in it). RSS: the run
process's peak (one process holds the whole devnet; per-node RSS cannot be separated).

    .venv/bin/python bench/fleet.py [--duration 30] [--sizes 1,4,10] [--warmup 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opfleet.devnet.fleet import Devnet, FleetConfig  # noqa: E402
from opfleet.node.light import LightNode  # noqa: E402
from opfleet.providers.jsonrpc import JsonRpcClient  # noqa: E402

SAMPLE = 0.01
LABELS = ("latest", "safe", "finalized", "earliest", "pending")
TOPOLOGIES = ("homogeneous", "specialized")


# --- counting L1 requests by purpose ----------------------------------------------------------------


class _L1Tally:
    """Counts each measured L1 client's JSON-RPC calls and HTTP requests by purpose.

    Instrumentation only: wraps ``JsonRpcClient._post`` (every HTTP exchange goes through it) for
    the clients registered with :meth:`watch`; any other client is passed through uncounted."""

    def __init__(self) -> None:
        self.kind: dict[int, str] = {}
        self.counting = False
        self.calls: dict[int, Counter[str]] = {}
        self.http: dict[int, Counter[str]] = {}
        self._original = JsonRpcClient._post
        tally = self

        async def post(client: JsonRpcClient, payload: Any, what: str) -> Any:
            if tally.counting and id(client) in tally.kind:
                tally._count(client, payload)
            return await tally._original(client, payload, what)

        JsonRpcClient._post = post  # type: ignore[method-assign]

    def watch(self, client: Any, kind: str) -> None:
        self.kind[id(client)] = kind
        self.calls[id(client)] = Counter()
        self.http[id(client)] = Counter()

    def _count(self, client: JsonRpcClient, payload: Any) -> None:
        messages = payload if isinstance(payload, list) else [payload]
        head_poll = any(m.get("method") == "eth_getBlockByNumber" and m.get("params") and m["params"][0] in LABELS
                        for m in messages)
        purpose = "head_polling" if head_poll else ("sanity_checks" if self.kind[id(client)] == "light"
                                                    else "derivation")
        self.http[id(client)][purpose] += 1
        for m in messages:
            method = m.get("method", "?")
            if method == "eth_getBlockByNumber" and not head_poll:
                full = bool(m.get("params", [None, False])[1])
                method = f"eth_getBlockByNumber({'full txs' if full else 'header'})"
            self.calls[id(client)][f"{purpose}:{method}"] += 1


def _beacon_requests(node: Any) -> int:
    beacon = getattr(node, "_clients", {}).get("beacon")
    return sum(beacon.statistics().requests_by_path.values()) if beacon is not None else 0


# --- CPU per node ----------------------------------------------------------------------------------


class _NodeCpu(trio.abc.Instrument):
    """Event-loop CPU time of each node's tasks (the task tree under the node's ``run``)."""

    def __init__(self, nodes: dict[int, str]):
        self.nodes = nodes
        self.seconds: Counter[str] = Counter()
        self._owner: dict[Any, str | None] = {}
        self._t0 = 0.0

    def _owner_of(self, task: Any) -> str | None:
        if task in self._owner:
            return self._owner[task]
        owner, t = None, task
        while t is not None and owner is None:
            frame = getattr(t.coro, "cr_frame", None)
            if frame is not None:
                local = frame.f_locals
                for value in (local.get("self"), getattr(local.get("run"), "__self__", None)):
                    if id(value) in self.nodes:
                        owner = self.nodes[id(value)]
                        break
            nursery = t.parent_nursery
            t = nursery.parent_task if nursery is not None else None
        self._owner[task] = owner
        return owner

    def before_task_step(self, task: Any) -> None:
        self._t0 = time.thread_time()

    def after_task_step(self, task: Any) -> None:
        owner = self._owner_of(task)
        if owner is not None:
            self.seconds[owner] += time.thread_time() - self._t0


# --- one run -----------------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


async def measure(topology: str, n: int, duration: float, warmup: float, block_time: int) -> dict[str, Any]:
    sources, lights = (n, 0) if topology == "homogeneous" else (1, n - 1)
    config = FleetConfig(base_port=0, sources=sources, lights=lights, l2_block_time=block_time,
                         l1_block_time=2 * block_time, node_poll=0.05, l1_poll=block_time, tx_interval=0.2,
                         deposit_interval=0)  # light_l1_poll_interval: None = the light default (12 s)
    tally = _L1Tally()
    cpu0 = time.process_time()
    async with trio.open_nursery() as nursery:
        devnet: Devnet = await nursery.start(Devnet(config).run)
        seq = devnet.sequencer_engine
        assert seq is not None
        measured = [(f"source-{i + 1}", node) for i, node in enumerate(devnet.sources)]
        measured += [(f"light-{i + 1}", node) for i, node in enumerate(devnet.lights)]
        for name, node in measured:
            tally.watch(node._clients["l1"], "light" if isinstance(node, LightNode) else "source")
        light_poll = {node.config.l1_poll_interval for node in devnet.lights}
        cpu = _NodeCpu({id(node): name for name, node in measured})
        engines = [("source", e) for e in devnet.source_engines] + [("light", e) for e in devnet.light_engines]
        await trio.sleep(warmup)
        trio.lowlevel.add_instrument(cpu)
        tally.counting = True
        beacon0 = sum(_beacon_requests(node) for _, node in measured)
        start_block = seq.head.number
        reached: list[dict[int, float]] = [{} for _ in engines]
        floor = [e.safe.number for _, e in engines]
        first_source: dict[int, float] = {}
        end = time.monotonic() + duration
        while time.monotonic() < end:
            now = time.monotonic()
            for i, (_, engine) in enumerate(engines):
                seen = reached[i]
                for k in range(max(max(seen, default=0), floor[i]) + 1, engine.safe.number + 1):
                    seen[k] = now
            for k, t in reached[0].items():
                first_source.setdefault(k, t)
            await trio.sleep(SAMPLE)
        tally.counting = False
        trio.lowlevel.remove_instrument(cpu)
        beacon = sum(_beacon_requests(node) for _, node in measured) - beacon0
        l2_blocks = seq.head.number - start_block
        verified = [node.statistics().verified_l1 for node in devnet.lights]
        nursery.cancel_scope.cancel()
    cpu_total = time.process_time() - cpu0

    calls: Counter[str] = Counter()
    http: Counter[str] = Counter()
    for key in tally.calls:
        calls.update(tally.calls[key])
        http.update(tally.http[key])
    calls["derivation:beacon GET"] += beacon
    http["derivation"] += beacon
    by_purpose = {p: {"calls": sum(v for k, v in calls.items() if k.startswith(p + ":")), "http": http[p]}
                  for p in ("derivation", "head_polling", "sanity_checks")}
    total_calls = sum(calls.values())
    total_http = sum(http.values())
    lags: dict[str, list[float]] = {"source": [], "light": []}
    for (tier, _), seen in zip(engines, reached):
        for k, t in seen.items():
            if k in first_source:
                lags[tier].append(1000 * (t - first_source[k]))
    per_block = (lambda x: round(x / l2_blocks, 2)) if l2_blocks else (lambda x: None)
    return {
        "topology": topology, "nodes": n, "sources": sources, "lights": lights,
        "light_l1_poll_interval_s": sorted(light_poll), "l2_blocks": l2_blocks,
        "l1_requests": {"calls": total_calls, "http": total_http,
                        "calls_per_l2_block": per_block(total_calls), "http_per_l2_block": per_block(total_http),
                        "by_purpose": by_purpose,
                        "derivation_per_l2_block": {"calls": per_block(by_purpose["derivation"]["calls"]),
                                                    "http": per_block(by_purpose["derivation"]["http"])},
                        "by_method": dict(sorted(calls.items()))},
        "light_sanity_cache": {"confirmed_without_call": sum(v.hits for v in verified if v),
                               "looked_up": sum(v.misses for v in verified if v),
                               "invalidations": sum(v.invalidations for v in verified if v)} if verified else None,
        "safe_lag_ms": {tier: {"median": _round(_percentile(v, 0.5)), "p99": _round(_percentile(v, 0.99)),
                               "samples": len(v)} for tier, v in lags.items() if v},
        "cpu_seconds_process": round(cpu_total, 2),
        "cpu_seconds_event_loop_per_node": {k: round(v, 3) for k, v in sorted(cpu.seconds.items())},
        "max_rss_mib_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


# --- all runs -----------------------------------------------------------------------------------------


def _growth(by: dict[tuple[str, int], dict[str, Any]], topology: str, lo: int, hi: int, path: tuple[str, ...]) -> Any:
    def get(run: dict[str, Any]) -> Any:
        for key in path:
            run = run[key]
        return run

    a, b = get(by[(topology, lo)]), get(by[(topology, hi)])
    return round(b / a, 2) if a and b is not None else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["topology"], r["nodes"]): r for r in runs}
    sizes = sorted({r["nodes"] for r in runs})
    summary: dict[str, Any] = {}
    if len(sizes) < 2:
        return summary
    lo, hi = sizes[0], sizes[-1]
    for topology in TOPOLOGIES:
        if (topology, lo) not in by or (topology, hi) not in by:
            continue
        growth = {
            "total_calls_per_l2_block": _growth(by, topology, lo, hi, ("l1_requests", "calls_per_l2_block")),
            "total_http_per_l2_block": _growth(by, topology, lo, hi, ("l1_requests", "http_per_l2_block")),
            "derivation_calls_per_l2_block": _growth(by, topology, lo, hi,
                                                     ("l1_requests", "derivation_per_l2_block", "calls")),
            "derivation_http_per_l2_block": _growth(by, topology, lo, hi,
                                                    ("l1_requests", "derivation_per_l2_block", "http")),
        }
        summary[f"{topology}_growth_{lo}_to_{hi}"] = growth
        if topology == "specialized":
            summary[f"specialized_flat_within_10pct_{lo}_to_{hi}"] = {
                k: (v is not None and v <= 1.10) for k, v in growth.items()}
    lights = [r["safe_lag_ms"]["light"]["median"] for r in runs if "light" in r["safe_lag_ms"]]
    if lights:
        summary["light_safe_lag_median_ms_max_over_runs"] = max(lights)
        summary["light_safe_lag_median_under_250ms"] = max(lights) < 250
    return summary


def run_one(topology: str, n: int, duration: float, warmup: float, block_time: int) -> dict[str, Any]:
    """One run in a fresh process (clean CPU and RSS figures)."""
    out = subprocess.run([sys.executable, __file__, "--one", f"{topology}:{n}", "--duration", str(duration),
                          "--warmup", str(warmup), "--block-time", str(block_time)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after start before counting")
    parser.add_argument("--sizes", default="1,4,10")
    parser.add_argument("--block-time", type=int, default=1)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # TOPOLOGY:N, in the child process
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("opfleet").setLevel(logging.ERROR)
    if args.one:
        topology, n = args.one.split(":")
        print(json.dumps(trio.run(measure, topology, int(n), args.duration, args.warmup, args.block_time)))
        return
    runs = []
    for n in (int(s) for s in args.sizes.split(",")):
        for topology in TOPOLOGIES:
            runs.append(run_one(topology, n, args.duration, args.warmup, args.block_time))
            print(json.dumps(runs[-1]), file=sys.stderr)
    print(json.dumps({"duration_s": args.duration, "warmup_s": args.warmup, "l2_block_time_s": args.block_time,
                      "l1_block_time_s": 2 * args.block_time, "runs": runs, "summary": summarize(runs)}, indent=2))


if __name__ == "__main__":
    main()
