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

``--engine op-geth`` runs the same measurement on the reference op-geth (found as
:func:`opfleet.devnet.opgeth.find_op_geth` does; forks through Granite, the newest it runs): the
chain is built on a sequencer op-geth over its Engine API (same blocks: L1-info deposit, an L1
block every 6 L2 blocks, ``--txs`` transfers), then a fresh op-geth sits behind the light node,
whose ``--l2.follow.payloads`` points at the sequencer op-geth's RPC. There is no target for it:
the figure is op-geth's import speed with the light node driving it. Its RSS is op-geth's own and
not in ``max_rss_mib_process``.

    .venv/bin/python bench/catchup.py [--engine dev|op-geth] [--blocks 10000] [--txs 2] [--safe-lag 30]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "devnet"))
sys.path.insert(0, str(ROOT / "tests" / "node"))

from devnet_helpers import (  # noqa: E402
    JWT_SECRET,
    L2_CHAIN_ID,
    USER,
    MiniSequencer,
    dev_engine,
    make_rollup_config,
    transfer,
)
from light_helpers import FakeSource, status  # noqa: E402  (the tests' loopback fakes)

from opfleet.devnet.engine import DevEngine, ForkTimes  # noqa: E402
from opfleet.devnet.l1 import L1Chain, L1Server  # noqa: E402
from opfleet.devnet.opgeth import OpGeth, OpGethConfig, find_op_geth  # noqa: E402
from opfleet.engine.driver import ref_from_transactions  # noqa: E402
from opfleet.errors import ConfigError  # noqa: E402
from opfleet.node.light import LightConfig, LightNode  # noqa: E402
from opfleet.protocol.block_ref import L2BlockRef  # noqa: E402
from opfleet.protocol.hexjson import parse_quantity  # noqa: E402
from opfleet.protocol.hexjson import hex_data, parse_data
from opfleet.providers.engine import EngineClient  # noqa: E402
from opfleet.providers.jsonrpc import JsonRpcClient  # noqa: E402

FORKS = ForkTimes.up_to("isthmus")
OP_GETH_FORKS = ForkTimes.up_to("granite")  # the reference op-geth runs nothing later


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


async def follow(nursery: trio.Nursery, config: LightConfig, tip: int, el_head: Callable[[], Awaitable[int]],
                 blocks: int) -> dict[str, Any]:
    """Start the light node and wait until it and its EL are at ``tip``; the timed part's figures."""
    violations = samples = 0
    cpu0 = time.process_time()
    t0 = trio.current_time()
    node = await nursery.start(LightNode(config).run)
    with trio.fail_after(max(120.0, blocks / 20)):
        while not (node.l2_heads.unsafe.number == tip and await el_head() == tip):
            st = node.sync_status()
            samples += 1
            if st.safe_l2.number > st.unsafe_l2.number or st.local_safe_l2.number > st.unsafe_l2.number:
                violations += 1
            await trio.sleep(0.001)
    elapsed = trio.current_time() - t0
    cpu = time.process_time() - cpu0
    stats = node.statistics()
    puller = node.puller.statistics() if node.puller is not None else None
    return {
        "blocks": tip,
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
    }


async def run_dev(blocks: int, txs: int, safe_lag: int) -> dict[str, Any]:
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

        async def el_head() -> int:
            return light_engine.head.number

        figures = await follow(nursery, config, tip, el_head, blocks)
        for n in (1, tip // 2, tip):
            assert light_engine.by_number(n).hash == seq_engine.by_number(n).hash
        nursery.cancel_scope.cancel()
    return {"engine": "dev", "user_txs_per_block": txs, "chain_build_s": round(build_s, 2), **figures}


@dataclass
class _Head:
    """The piece of a block :class:`MiniSequencer` reads from its engine's heads."""

    hash: bytes
    number: int
    timestamp: int


@dataclass
class _Heads:
    """An op-geth's heads as the chain builder sets them (safe and finalized stay at genesis)."""

    head: _Head
    safe: _Head
    finalized: _Head


def payload_ref(rollup: Any, payload: dict[str, Any]) -> L2BlockRef:
    return ref_from_transactions(rollup, parse_data(payload["blockHash"], 32), parse_quantity(payload["blockNumber"]),
                                 parse_data(payload["parentHash"], 32), parse_quantity(payload["timestamp"]),
                                 [parse_data(t) for t in payload["transactions"]])


async def run_op_geth(blocks: int, txs: int, safe_lag: int) -> dict[str, Any]:
    binary = find_op_geth()
    l1 = L1Chain(block_time=12)
    geth_config = OpGethConfig(chain_id=L2_CHAIN_ID, genesis_time=l1.config.genesis_time, forks=OP_GETH_FORKS,
                               jwt_secret=JWT_SECRET, alloc={USER: 10**21}, name="sequencer")
    async with trio.open_nursery() as nursery:
        seq_geth = await nursery.start(OpGeth(geth_config, binary=binary).run)
        light_geth = await nursery.start(OpGeth(replace(geth_config, name="light"), binary=binary).run)
        rollup = make_rollup_config(l1, seq_geth, OP_GETH_FORKS)
        genesis = _Head(seq_geth.genesis.hash, 0, seq_geth.genesis.timestamp)
        heads = _Heads(genesis, genesis, genesis)
        keep = {max(0, blocks - safe_lag), max(0, blocks - 10 * safe_lag), 1, blocks // 2, blocks}
        kept: dict[int, dict[str, Any]] = {}
        t_build = time.monotonic()
        async with EngineClient(seq_geth.auth_url, JWT_SECRET, forks=rollup) as client:
            seq = MiniSequencer(rollup, l1, client, heads)  # type: ignore[arg-type]  # heads quack like a DevEngine's
            nonce = 0
            for _ in range(blocks):
                if heads.head.number % 6 == 0:
                    l1.mine()
                payload = await seq.build(tuple(transfer(nonce + i) for i in range(txs)))
                nonce += txs
                heads.head = _Head(parse_data(payload["blockHash"], 32), parse_quantity(payload["blockNumber"]),
                                   parse_quantity(payload["timestamp"]))
                if heads.head.number in keep:
                    kept[heads.head.number] = payload
        build_s = time.monotonic() - t_build
        tip = heads.head.number
        l1_server = L1Server(l1)
        await nursery.start(l1_server.serve, "127.0.0.1", 0)
        safe = payload_ref(rollup, kept[tip - safe_lag])  # main() keeps both above genesis
        finalized = payload_ref(rollup, kept[tip - 10 * safe_lag])
        source = await FakeSource(rollup).start(nursery)
        source.set(status(safe, safe, finalized, current_l1=l1.by_number(max(0, l1.head.number - 1)).ref))
        config = LightConfig(rollup_config=rollup, sources=(source.url,), l1_url=l1_server.url,
                             l2_url=light_geth.auth_url, jwt_secret=JWT_SECRET,
                             payloads_url=seq_geth.rpc_url, rpc_port=0)
        async with JsonRpcClient(light_geth.rpc_url, name="light-op-geth") as light_rpc:

            async def el_head() -> int:
                return parse_quantity(await light_rpc.call("eth_blockNumber"))

            figures = await follow(nursery, config, tip, el_head, blocks)
            for n in (1, tip // 2, tip):
                block = await light_rpc.call("eth_getBlockByNumber", hex(n), False)
                assert block is not None and block["hash"] == kept[n]["blockHash"], n
        nursery.cancel_scope.cancel()
    return {"engine": "op-geth", "op_geth": str(binary), "user_txs_per_block": txs,
            "chain_build_s": round(build_s, 2), **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("dev", "op-geth"), default="dev",
                        help="the execution engine of both the chain and the joining node")
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--txs", type=int, default=2, help="user transactions per L2 block")
    parser.add_argument("--safe-lag", type=int, default=30, help="the source's safe head: this many blocks behind")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("opfleet").setLevel(logging.ERROR)
    if args.engine == "op-geth":
        if args.blocks <= 10 * args.safe_lag:
            parser.error("--engine op-geth: --blocks must be above 10 x --safe-lag (the source's finalized head)")
        try:
            find_op_geth()
        except ConfigError as exc:
            sys.exit(f"catchup: {exc}")
        result = trio.run(run_op_geth, args.blocks, args.txs, args.safe_lag)
        result["max_rss_mib_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(result, indent=2))
        return
    result = trio.run(run_dev, args.blocks, args.txs, args.safe_lag)
    result["max_rss_mib_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps({**result, "target_blocks_per_s": 200}, indent=2))


if __name__ == "__main__":
    main()
