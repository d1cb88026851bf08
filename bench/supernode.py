"""L1 requests per L1 block: one chain vs two chains in one supernode (shared L1 provider, cache and
head watcher), vs two separate source nodes. Prints JSON.

The history is the loopback two-chain devnet of ``tests/interop`` (one
:class:`~opfleet.devnet.l1.L1Server`, a sequencer DevEngine per chain): ``--l1-blocks`` L1 blocks,
each carrying one batcher transaction per chain (calldata, 6 L2 blocks with user transactions),
built before anything is measured. Then, on fresh execution clients:

- ``one_chain``: a supernode with chain 901 only;
- ``two_chains``: a supernode with 901 and 902 (one L1 client, one cache, one head watcher);
- ``two_source_nodes``: two independent SourceNodes, each with its own L1 client (the baseline
  a supernode saves against).

Each run lasts until every chain has derived the whole history; counted are the JSON-RPC calls
the L1 client(s) sent (a batch item counts once), their HTTP requests, and the same per L1 block.

    .venv/bin/python bench/supernode.py [--l1-blocks 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from interop_helpers import A, B, JWT_SECRET, new_engine, start_interop_devnet  # noqa: E402

from opfleet.interop.supernode import Supernode  # noqa: E402
from opfleet.node.source import SourceConfig, SourceNode  # noqa: E402
from opfleet.providers.jsonrpc import JsonRpcClient  # noqa: E402
from opfleet.providers.l1 import L1Provider  # noqa: E402


async def _until(predicate: Any, timeout: float = 120.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def _result(name: str, chains: int, l1_blocks: int, calls: dict[str, int], http: int, seconds: float) -> dict:
    total = sum(calls.values())
    return {"run": name, "chains": chains, "l1_blocks": l1_blocks, "l1_calls": total, "l1_http_requests": http,
            "l1_calls_per_l1_block": round(total / l1_blocks, 2),
            "l1_http_per_l1_block": round(http / l1_blocks, 2), "calls_by_method": dict(sorted(calls.items())),
            "seconds": round(seconds, 2)}


async def main(l1_blocks: int) -> list[dict]:
    results = []
    async with trio.open_nursery() as nursery:
        net = await start_interop_devnet(nursery, serve_ours=())
        for _ in range(l1_blocks):
            for _ in range(6):
                txs = {cid: (c.emit(b"bench"),) for cid, c in net.chains.items()}
                await net.build(txs)
            await net.post_batches(mine=False)
        net.l1.mine()
        last = {cid: c.engine.head.number for cid, c in net.chains.items()}
        head = net.l1.head.number

        async def fresh(cids: tuple[int, ...]) -> None:
            for cid in cids:  # a new, empty execution client per run
                net.chains[cid].ours = new_engine(net.l1, cid)
                await nursery.start(net.chains[cid].ours.serve_auth, "127.0.0.1", 0)

        for name, cids in (("one_chain", (A,)), ("two_chains", (A, B))):
            await fresh(cids)
            config = net.config(chains=tuple(net.settings(cid) for cid in cids), l1_poll_interval=0.5,
                                interop_interval=0.05)
            started = time.perf_counter()
            async with trio.open_nursery() as run:
                node = await run.start(Supernode(config).run)
                await _until(lambda: all(node.sync_statuses()[c].safe_l2.number == last[c]
                                         and node.sync_statuses()[c].current_l1.number == head for c in cids))
                stats = node._l1_client.statistics()  # type: ignore[union-attr]
                results.append(_result(name, len(cids), head, dict(stats.requests_by_method), stats.http_requests,
                                       time.perf_counter() - started))
                run.cancel_scope.cancel()

        await fresh((A, B))
        started = time.perf_counter()
        async with trio.open_nursery() as run:
            clients, nodes = [], []
            for cid in (A, B):
                client = JsonRpcClient(net.l1_server.url, name="L1")
                clients.append(client)
                source = SourceConfig(
                    rollup_config=net.chains[cid].rollup, l1_url=net.l1_server.url,
                    l2_url=net.chains[cid].ours.auth_url, jwt_secret=JWT_SECRET, l1_beacon_url=net.l1_server.url,
                    l1_poll_interval=0.5)
                nodes.append(await run.start(SourceNode(source, l1=L1Provider(client), serve_rpc=False).run))
            await _until(lambda: all(n.sync_status().safe_l2.number == last[cid]
                                     and n.sync_status().current_l1.number == head for n, cid in zip(nodes, (A, B))))
            calls: dict[str, int] = {}
            http = 0
            for client in clients:
                s = client.statistics()
                http += s.http_requests
                for method, count in s.requests_by_method.items():
                    calls[method] = calls.get(method, 0) + count
                await client.aclose()
            results.append(_result("two_source_nodes", 2, head, calls, http, time.perf_counter() - started))
            run.cancel_scope.cancel()
        nursery.cancel_scope.cancel()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l1-blocks", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(trio.run(main, args.l1_blocks), indent=2))
