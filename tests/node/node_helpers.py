"""Shared pieces of the source-node tests: growing the loopback devnet's L2 chain, posting its
batches to L1 with the devnet Batcher, and a SourceConfig pointed at it (fast intervals)."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))
from engine_helpers import JWT_SECRET  # noqa: E402

from devnet_helpers import BATCHER_KEY, INBOX, L2_BLOCK_TIME, L2_CHAIN_ID  # noqa: E402
from opfleet.devnet.batcher import CALLDATA, SINGULAR, SPAN, Batcher, BatcherConfig, ChannelConfig  # noqa: E402
from opfleet.node.source import SourceConfig  # noqa: E402
from opfleet.providers.jsonrpc import JsonRpcClient  # noqa: E402

__all__ = ["SINGULAR", "SPAN", "grow", "post_batches", "same_chain", "send_batches", "source_config", "wait_for"]


async def grow(net, blocks: int) -> None:
    """L2 blocks with user txs; an L1 block every 6 L2 blocks (one 12 s L1 slot)."""
    for _ in range(blocks):
        if net.sequencer_engine.head.number % 6 == 0:
            net.l1.mine()
        await net.build(1, txs_per_block=2)


async def send_batches(net, da: str, start_block: int, *, batch_type: str = SPAN, key: bytes = BATCHER_KEY) -> int:
    """Batch the sequencer's blocks from ``start_block`` to its head into the L1 pool (mined
    with the next L1 block); returns the next block to batch."""
    channel = ChannelConfig(genesis_time=net.l1.config.genesis_time, block_time=L2_BLOCK_TIME, chain_id=L2_CHAIN_ID,
                            batch_type=batch_type, max_frame_size=1_000 if da == CALLDATA else 20_000)
    config = BatcherConfig(channel=channel, batch_inbox=INBOX, l1_chain_id=net.l1.config.chain_id,
                           batcher_key=key, data_availability=da, start_block=start_block)
    async with JsonRpcClient(net.l1_server.url) as l1_rpc, JsonRpcClient(net.sequencer_engine.rpc_url) as l2_rpc:
        assert await Batcher(config, l1_rpc, l2_rpc).flush()
    return net.sequencer_engine.head.number + 1


async def post_batches(net, da: str, start_block: int) -> None:
    """:func:`send_batches` (span batches), then mine the L1 block that carries them."""
    await send_batches(net, da, start_block)
    net.l1.mine()


async def wait_for(predicate, timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def source_config(net, engine, **overrides) -> SourceConfig:
    fields = dict(rollup_config=net.rollup, l1_url=net.l1_server.url, l2_url=engine.auth_url, jwt_secret=JWT_SECRET,
                  l1_beacon_url=net.l1_server.url, l1_poll_interval=0.02, rpc_port=0, backoff_base=0.01,
                  backoff_cap=0.05, metrics_enabled=True, metrics_port=0, metrics_addr="127.0.0.1")
    fields.update(overrides)
    return SourceConfig(**fields)


def same_chain(ours, theirs, upto: int) -> None:
    for n in range(upto + 1):
        assert ours.by_number(n).hash == theirs.by_number(n).hash, f"block {n} differs"
