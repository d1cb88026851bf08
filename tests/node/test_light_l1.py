"""A light node's own L1 traffic: op-node's sanity checks (ref section 1.3) through the verified-L1
cache, on a real in-memory L1 served over loopback. Unchanged refs cost no call, a tick's lookups
go in one batched request, a lying source is still caught with a warm cache, a reorg on our L1
drops the cache, and L1 heads are polled at op-node's 12 s default."""

from __future__ import annotations

import trio

from light_helpers import FakeEL, FakeSource, Setup, status, wait_for
from opfleet.node.light import DEFAULT_L1_POLL_INTERVAL, LightNode
from opfleet.protocol.block_ref import L1BlockRef


async def start(nursery, **overrides):
    setup = await Setup().start(nursery)
    source = await FakeSource(setup.rollup).start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    c = setup.chains
    c.extend("a", c.genesis, 20)
    el.have([c[f"a{n}"] for n in range(1, 11)])
    source.set(status(c.genesis))
    node = await nursery.start(LightNode(setup.config([source.url], el, **overrides)).run)
    await wait_for(lambda: len(el.fcus) == 1)
    el.fcus.clear()
    return setup, source, el, node


def successes(node) -> int:
    return node.statistics().results.get("success", 0)


async def test_unchanged_l1_refs_cost_no_call_and_new_ones_one_batch(nursery):
    setup, source, el, node = await start(nursery, l1_poll_interval=60)
    c, l1 = setup.chains, setup.l1
    await wait_for(lambda: node.head_l1.number == l1.head.number)  # the one head poll of the minute
    before = setup.l1_switch.requests
    # New numbers: a7/a6 have L1 origin 1, a2 origin 0 (known from the head poll), current_l1 3:
    # the two unknown numbers (1, 3) are read in one HTTP request.
    source.set(status(c["a7"], c["a6"], c["a2"], current_l1=l1.by_number(3).ref))
    await wait_for(lambda: node.l2_heads.safe == c["a6"])
    assert setup.l1_switch.requests == before + 1
    # Same L1 refs, L2 heads moving (a safe-head change within one L1 block): no L1 call at all.
    for n in (8, 9, 10):
        source.set(status(c[f"a{n}"], c[f"a{n - 1}"], c["a2"], current_l1=l1.by_number(3).ref))
        await wait_for(lambda: node.l2_heads.safe == c[f"a{n - 1}"])
    assert setup.l1_switch.requests == before + 1
    # current_l1 equal to the head our poll saw: derived from the poll, no call.
    source.set(status(c["a11"], c["a10"], c["a2"], current_l1=l1.head.ref))
    await wait_for(lambda: node.l2_heads.safe == c["a10"])
    assert setup.l1_switch.requests == before + 1
    stats = node.statistics().verified_l1
    assert stats.misses == 3 and stats.hits >= 15 and stats.invalidations == 0  # refs: 1 (twice) and 3


async def test_a_lying_source_is_still_caught_once_the_cache_is_warm(nursery):
    setup, source, el, node = await start(nursery, l1_poll_interval=60)
    c, l1 = setup.chains, setup.l1
    honest = l1.by_number(3).ref
    source.set(status(c["a7"], c["a6"], c["a2"], current_l1=honest))
    await wait_for(lambda: node.l2_heads.safe == c["a6"])
    assert node.statistics().verified_l1.cached >= 3  # 0 and 4 from the head poll, 1 and 3 checked
    forged_current = L1BlockRef(b"\x08" * 32, 3, honest.parent_hash, honest.timestamp)
    a8 = c["a8"]
    forged_origin = a8.__class__(a8.hash, 8, a8.parent_hash, a8.timestamp,
                                 a8.l1_origin.__class__(b"\x07" * 32, a8.l1_origin.number), a8.sequence_number)
    for lie in (status(c["a8"], c["a7"], c["a2"], current_l1=forged_current), status(forged_origin)):
        before = node.statistics().results.get("error_l1_mismatch", 0)
        requests = setup.l1_switch.requests
        source.set(lie)
        await wait_for(lambda: node.statistics().results.get("error_l1_mismatch", 0) > before)
        assert setup.l1_switch.requests > requests  # a ref the cache does not hold is asked, fresh
    assert node.l2_heads.safe == c["a6"] and node.current_l1 == honest
    # Our L1 down: a cached ref needs no call, but a new one is a lookup error as in op-node.
    setup.l1_switch.down = True
    source.set(status(c["a9"], c["a8"], c["a2"], current_l1=l1.by_number(2).ref))
    await wait_for(lambda: node.statistics().results.get("error_l1_lookup", 0) >= 1)
    assert node.l2_heads.safe == c["a6"]
    setup.l1_switch.down = False
    await wait_for(lambda: node.l2_heads.safe == c["a8"])


async def test_a_reorg_on_our_l1_drops_the_cache(nursery):
    setup, source, el, node = await start(nursery, l1_poll_interval=0.05)
    c, l1 = setup.chains, setup.l1
    old_tip = l1.head.ref  # L1 block 4
    source.set(status(c["a7"], c["a6"], c["a2"], current_l1=old_tip))
    await wait_for(lambda: node.l2_heads.safe == c["a6"])
    assert node.statistics().verified_l1.invalidations == 0
    # Blocks 3 and 4 replaced and the chain grown past them: the new head (6) does not link to the
    # block 4 we knew; the head poll re-reads height 4 and drops the cache.
    l1.reorg(2)
    l1.mine_blocks(2)
    await wait_for(lambda: node.statistics().verified_l1.invalidations >= 1)
    await wait_for(lambda: node.head_l1 == l1.head.ref)
    # A source still on the old L1 branch: its current_l1 (old block 4) is looked up again: mismatch.
    source.set(status(c["a8"], c["a7"], c["a2"], current_l1=old_tip))
    await wait_for(lambda: node.statistics().results.get("error_l1_mismatch", 0) >= 1)
    assert node.l2_heads.safe == c["a6"]
    source.set(status(c["a8"], c["a7"], c["a2"], current_l1=l1.by_number(4).ref))
    await wait_for(lambda: node.l2_heads.safe == c["a7"])
    assert node.current_l1 == l1.by_number(4).ref


async def test_l1_heads_are_polled_at_op_nodes_default_interval(nursery):
    assert DEFAULT_L1_POLL_INTERVAL == 12.0
    setup = await Setup().start(nursery)
    source = await FakeSource(setup.rollup).start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    source.set(status(setup.chains.genesis))
    config = setup.config([source.url], el)
    fields = {f: getattr(config, f) for f in config.__dataclass_fields__ if f != "l1_poll_interval"}
    node = await nursery.start(LightNode(config.__class__(**fields)).run)
    assert node.config.l1_poll_interval == 12.0
    await wait_for(lambda: node.head_l1.number == setup.l1.head.number)
    setup.l1.mine_blocks(3)
    await trio.sleep(0.5)  # 10 polls at the tests' usual 0.05 s: none at the default
    assert node.head_l1.number == setup.l1.head.number - 3
    assert setup.l1_switch.requests <= 2  # one head poll; the genesis status needs no call
