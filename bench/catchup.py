"""Light-node catch-up: a light node joining a chain ``--blocks`` long, time to reach the tip. Prints JSON.

Everything runs in one process on 127.0.0.1: the devnet's in-memory L1
(:class:`opfleet.devnet.l1.L1Server`), a sequencer's :class:`~opfleet.devnet.engine.DevEngine`
holding the chain (built before the clock starts: an L1 block every 6 L2 blocks, ``--txs`` user
transactions per L2 block, each block with its L1-info deposit), a follow source serving a fixed
``optimism_syncStatus`` near the tip (the tests' loopback fake; its refs are the sequencer's real
blocks, so the sanity checks pass against the L1), and one real
:class:`~opfleet.node.light.LightNode` with a fresh dev engine (genesis only) and
``--l2.follow.payloads`` pointing at the sequencer's EL RPC.

Timed: from the light node's start (its RPC server listening) to the moment its EL's head and its
own unsafe head are the tip. Reported: blocks per second, the puller's rounds and imports (each
block imported once), forkchoice updates, whether the node ever reported a safe head above its
unsafe head (sampled every millisecond or so), the light node's L1 calls per follow tick, and the
process's peak RSS. Target: >= 200 blocks/s on the dev engine (it re-executes every block).

    .venv/bin/python bench/catchup.py [--blocks 10000] [--txs 2] [--safe-lag 30]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "devnet"))
sys.path.insert(0, str(ROOT / "tests" / "node"))

from devnet_helpers import JWT_SECRET, MiniSequencer, dev_engine, make_rollup_config, transfer  # noqa: E402
from light_helpers import FakeSource, status  # noqa: E402  (the tests' loopback fakes)

from opfleet.devnet.engine import DevEngine, ForkTimes  # noqa: E402
from opfleet.devnet.l1 import L1Chain, L1Server  # noqa: E402
from opfleet.engine.driver import ref_from_transactions  # noqa: E402
from opfleet.node.light import LightConfig, LightNode  # noqa: E402
from opfleet.protocol.block_ref import L2BlockRef  # noqa: E402
from opfleet.providers.ethjson import hex_data  # noqa: E402

FORKS = ForkTimes.up_to("isthmus")


def build_chain(l1: L1Chain, engine: DevEngine, rollup: Any, blocks: int, txs: int) -> None:
    """``blocks`` L2 blocks on ``engine`` through its Engine API methods, in process (no HTTP)."""
    seq = MiniSequencer(rollup, l1, None, engine)  # type: ignore[arg-type]  # no client: called directly
    nonce = 0
    for _ in range(blocks):
        if engine.head.number % 6 == 0:
            l1.mine()
        user = tuple(transfer(nonce + i) for i in range(txs))
        nonce += txs
        attrs = seq.attributes(user)
        state = {"headBlockHash": hex_data(engine.head.hash), "safeBlockHash": hex_data(engine.safe.hash),
                 "finalizedBlockHash": hex_data(engine.finalized.hash)}
        started = engine.forkchoice_updated(state, attrs.to_json(), version=3)
        envelope = engine.get_payload(started["payloadId"], version=4)
        payload = envelope["executionPayload"]
        status_ = engine.new_payload(payload, [], envelope["parentBeaconBlockRoot"], [], version=4)
        assert status_["status"] == "VALID", status_
        engine.forkchoice_updated({**state, "headBlockHash": payload["blockHash"]}, version=3)


def block_ref(engine: DevEngine, rollup: Any, number: int) -> L2BlockRef:
    b = engine.by_number(number)
    assert b is not None
    return ref_from_transactions(rollup, b.hash, b.number, b.parent_hash, b.timestamp, [t.raw for t in b.transactions])


async def run(blocks: int, txs: int, safe_lag: int) -> dict[str, Any]:
    l1 = L1Chain(block_time=12)
    seq_engine = dev_engine(l1, FORKS)
    rollup = make_rollup_config(l1, seq_engine, FORKS)
    t_build = time.monotonic()
    build_chain(l1, seq_engine, rollup, blocks, txs)
    build_s = time.monotonic() - t_build
    tip = seq_engine.head.number
    async with trio.open_nursery() as nursery:
        l1_server = L1Server(l1)
        await nursery.start(l1_server.serve, "127.0.0.1", 0)
        await nursery.start(seq_engine.serve_rpc, "127.0.0.1", 0)
        safe = block_ref(seq_engine, rollup, max(0, tip - safe_lag))
        finalized = block_ref(seq_engine, rollup, max(0, tip - 10 * safe_lag))
        source = await FakeSource(rollup).start(nursery)
        source.set(status(safe, safe, finalized, current_l1=l1.by_number(max(0, l1.head.number - 1)).ref))
        light_engine = dev_engine(l1, FORKS)
        await nursery.start(light_engine.serve_auth, "127.0.0.1", 0)
        config = LightConfig(rollup_config=rollup, sources=(source.url,), l1_url=l1_server.url,
                             l2_url=light_engine.auth_url, jwt_secret=JWT_SECRET,
                             payloads_url=seq_engine.rpc_url, rpc_port=0)
        violations = samples = 0
        cpu0 = time.process_time()
        t0 = trio.current_time()
        node = await nursery.start(LightNode(config).run)
        with trio.fail_after(max(120.0, blocks / 20)):
            while not (light_engine.head.number == tip and node.l2_heads.unsafe.number == tip):
                st = node.sync_status()
                samples += 1
                if st.safe_l2.number > st.unsafe_l2.number or st.local_safe_l2.number > st.unsafe_l2.number:
                    violations += 1
                await trio.sleep(0.001)
        elapsed = trio.current_time() - t0
        cpu = time.process_time() - cpu0
        for n in (1, tip // 2, tip):
            assert light_engine.by_number(n).hash == seq_engine.by_number(n).hash
        stats = node.statistics()
        puller = node.puller.statistics() if node.puller is not None else None
        nursery.cancel_scope.cancel()
    return {
        "blocks": tip,
        "user_txs_per_block": txs,
        "chain_build_s": round(build_s, 2),
        "catch_up_s": round(elapsed, 2),
        "blocks_per_s": round(tip / elapsed, 1),
        "cpu_s": round(cpu, 2),
        "puller": {"rounds": puller.rounds, "blocks_imported": puller.blocks_imported,
                   "reorgs": puller.reorgs, "invalid": puller.invalid} if puller else None,
        "forkchoice_updates": stats.forkchoice_updates,
        "safe_above_unsafe_samples": violations,
        "status_samples": samples,
        "l1_checks": {"ticks": stats.l1_checks.ticks, "calls": stats.l1_checks.calls,
                      "requests": stats.l1_checks.requests,
                      "calls_per_tick": round(stats.l1_checks.calls_per_tick, 2)},
        "max_rss_mib_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--txs", type=int, default=2, help="user transactions per L2 block")
    parser.add_argument("--safe-lag", type=int, default=30, help="the source's safe head: this many blocks behind")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("opfleet").setLevel(logging.ERROR)
    result = trio.run(run, args.blocks, args.txs, args.safe_lag)
    print(json.dumps({**result, "target_blocks_per_s": 200}, indent=2))


if __name__ == "__main__":
    main()
