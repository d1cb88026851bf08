"""Sync start: the safe start, the L1 base one channel timeout back, and the Holocene shortcut.

Spec: specs/protocol/derivation.md "Resetting the Pipeline"; holocene/derivation.md "Sync Start".
"""

from __future__ import annotations

import pytest
from derive_helpers import Rollup

from opfleet.derive.errors import ResetError
from opfleet.derive.pipeline import Pipeline
from opfleet.derive.reset import find_safe_start, find_sync_start
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.system_config import SystemConfig
from opfleet.testing.derive import FakeL1Chain, FakeL2Chain, derive_all, l2_transfer, make_rollup_config


def chain(l1_blocks: int = 100, **cfg):
    """L1 blocks every 12 s; L2 blocks every 2 s, 6 per epoch: block n has origin n // 6 and
    sequence number n % 6, and a system config whose gas limit is n (to tell them apart)."""
    l1 = FakeL1Chain()
    l1.mine_empty(l1_blocks)
    config = make_rollup_config(l1, **cfg)
    l2 = FakeL2Chain(config)
    for n in range(1, 6 * l1_blocks + 1):
        head = l2.head
        ref = L2BlockRef(keccak256(b"l2 %d" % n), n, head.hash, config.genesis.l2_time + 2 * n,
                         l1.ref(n // 6).id, n % 6)
        l2.add_block(ref, [], SystemConfig(gas_limit=n))
    return l1, config, l2


async def test_pre_holocene_start_is_a_sequencing_window_back_at_an_epoch_boundary():
    l1, cfg, l2 = chain()  # seq window 30, channel timeout 10
    start = await find_sync_start(cfg, l1, l2, l2.head)
    # newest origin 100: the first block of epoch 100 - 30 - 1 = 69 is 414; start on its parent
    assert start.safe_head.number == 413 and start.safe_head.l1_origin.number == 68
    # one channel timeout before epoch 68: the last block of epoch 58 is 353
    assert start.l1_base == l1.ref(58)
    assert start.system_config.gas_limit == 353


async def test_holocene_starts_at_the_safe_head():
    l1, cfg, l2 = chain(holocene_time=0)  # Holocene implies Granite: channel timeout 5
    start = await find_sync_start(cfg, l1, l2, l2.head)
    assert start.safe_head == l2.head
    assert start.l1_base == l1.ref(95)
    assert start.system_config.gas_limit == 6 * 95 + 5


@pytest.mark.parametrize("holocene, safe, base", [(False, 395, 55), (True, 587, 92)])
async def test_blocks_on_reorged_l1_origins_are_skipped(holocene, safe, base):
    l1, cfg, l2 = chain(holocene_time=0 if holocene else None)
    l1.reorg(98)
    l1.mine_empty(3)
    start = await find_sync_start(cfg, l1, l2, l2.head)
    assert start.safe_head.number == safe
    assert start.l1_base == l1.ref(base)


async def test_never_below_the_finalized_block_or_genesis():
    l1, cfg, l2 = chain()
    finalized = await l2.l2_block_ref(500)
    assert (await find_safe_start(cfg, l1, l2, l2.head, finalized=finalized)).number == 500
    short = await l2.l2_block_ref(30)
    start = await find_sync_start(cfg, l1, l2, short)
    assert start.safe_head.number == 0
    assert start.l1_base == l1.ref(0) and start.system_config == cfg.genesis.system_config


async def test_a_reorged_finalized_block_is_a_reset():
    l1, cfg, l2 = chain(l1_blocks=10)
    l1.reorg(1)
    l1.mine_empty(9)
    with pytest.raises(ResetError, match="finalized"):
        await find_safe_start(cfg, l1, l2, l2.head, finalized=await l2.l2_block_ref(20))


@pytest.mark.parametrize("holocene", [False, True])
async def test_a_restarted_pipeline_continues_the_same_chain(holocene):
    r = Rollup(seq_window_size=4, holocene_time=0 if holocene else None)
    for epoch in range(3):
        r.l1.mine()
        batches = r.seq.blocks_until(r.epoch(epoch), r.l1.ref(epoch + 1).timestamp - 2)
        batches.append(r.seq.block(r.epoch(epoch + 1), [l2_transfer(epoch)]))
        r.post(batches)
    await r.derive()
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks
    # restart: a new pipeline over the same chains, from the sync start
    start = await find_sync_start(r.cfg, r.l1, r.l2, r.l2.head)
    r.l2.truncate(start.safe_head.number)
    pipeline = Pipeline(r.cfg, chain=r.l1, l2=r.l2)
    pipeline.reset(start.l1_base, start.system_config)
    await derive_all(pipeline, r.l2)
    assert [b.ref for b in r.l2.blocks] == r.seq.blocks
