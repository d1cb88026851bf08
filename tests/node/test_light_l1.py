"""A light node's own L1 traffic: op-node's sanity checks (ref section 1.3) on a real in-memory L1
served over loopback. Every tick reads our L1 (one batched request for the tick's numbers), only
refs at or below our L1's finalized block are remembered, a lying source is caught, a reorg on
our L1 between two head polls fails the next status naming a replaced block, and L1 heads are
polled at op-node's 12 s default."""

from __future__ import annotations

import httpx
import trio

from light_helpers import FakeEL, FakeSource, Setup, status, wait_for
from opfleet.config import defaults
from opfleet.node.light import LightNode
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.providers.jsonrpc import JsonRpcClient


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


async def test_each_tick_reads_its_l1_numbers_in_one_batch_even_if_unchanged(nursery):
    setup, source, el, node = await start(nursery, l1_poll_interval=60)
    c, l1 = setup.chains, setup.l1
    await wait_for(lambda: node.head_l1.number == l1.head.number)  # the one head poll of the minute
    before = setup.l1_switch.requests
    base = node.statistics().verified_l1
    # a7/a6 have L1 origin 1, a2 origin 0 (our L1's finalized block: known from the head poll),
    # current_l1 3: the two other numbers (1, 3) are read in one HTTP request.
    source.set(status(c["a7"], c["a6"], c["a2"], current_l1=l1.by_number(3).ref))
    await wait_for(lambda: node.l2_heads.safe == c["a6"])
    assert setup.l1_switch.requests == before + 1
    # Same L1 refs, L2 heads moving (a safe-head change within one L1 block): read again every
    # tick, as op-node does (a reorg may have replaced them since), one request each.
    for n in (8, 9, 10):
        source.set(status(c[f"a{n}"], c[f"a{n - 1}"], c["a2"], current_l1=l1.by_number(3).ref))
        await wait_for(lambda: node.l2_heads.safe == c[f"a{n - 1}"])
    assert setup.l1_switch.requests == before + 4
    stats = node.statistics()
    v = stats.verified_l1
    assert (v.misses - base.misses, v.hits - base.hits) == (12, 4)  # hits: origin 0 (finalized), each tick
    assert stats.l1_checks.requests_per_tick <= 1 and stats.l1_checks.calls >= 8


async def test_a_lying_source_is_caught_by_a_fresh_read(nursery):
    setup, source, el, node = await start(nursery, l1_poll_interval=60)
    c, l1 = setup.chains, setup.l1
    honest = l1.by_number(3).ref
    source.set(status(c["a7"], c["a6"], c["a2"], current_l1=honest))
    await wait_for(lambda: node.l2_heads.safe == c["a6"])
    assert node.statistics().verified_l1.cached == 1  # block 0, our L1's finalized block; 1 and 3 are not
    forged_current = L1BlockRef(b"\x08" * 32, 3, honest.parent_hash, honest.timestamp)
    a8 = c["a8"]
    forged_origin = a8.__class__(a8.hash, 8, a8.parent_hash, a8.timestamp,
                                 a8.l1_origin.__class__(b"\x07" * 32, a8.l1_origin.number), a8.sequence_number)
    for lie in (status(c["a8"], c["a7"], c["a2"], current_l1=forged_current), status(forged_origin)):
        before = node.statistics().results.get("error_l1_mismatch", 0)
        requests = setup.l1_switch.requests
        source.set(lie)
        await wait_for(lambda: node.statistics().results.get("error_l1_mismatch", 0) > before)
        assert setup.l1_switch.requests > requests  # asked fresh
    assert node.l2_heads.safe == c["a6"] and node.current_l1 == honest
    # Our L1 down: a lookup error as in op-node, even for refs our L1 confirmed a tick earlier.
    setup.l1_switch.down = True
    source.set(status(c["a9"], c["a8"], c["a2"], current_l1=l1.by_number(2).ref))
    await wait_for(lambda: node.statistics().results.get("error_l1_lookup", 0) >= 1)
    assert node.l2_heads.safe == c["a6"]
    setup.l1_switch.down = False
    await wait_for(lambda: node.l2_heads.safe == c["a8"])


async def test_a_source_left_on_a_reorged_out_l1_branch_is_refused(nursery):
    setup, source, el, node = await start(nursery, l1_poll_interval=0.05)
    c, l1 = setup.chains, setup.l1
    old_tip = l1.head.ref  # L1 block 4
    source.set(status(c["a7"], c["a6"], c["a2"], current_l1=old_tip))
    await wait_for(lambda: node.l2_heads.safe == c["a6"])
    # Blocks 3 and 4 replaced and the chain grown past them.
    l1.reorg(2)
    l1.mine_blocks(2)
    await wait_for(lambda: node.head_l1 == l1.head.ref)
    # A source still on the old L1 branch: its current_l1 (old block 4) is looked up again: mismatch.
    source.set(status(c["a8"], c["a7"], c["a2"], current_l1=old_tip))
    await wait_for(lambda: node.statistics().results.get("error_l1_mismatch", 0) >= 1)
    assert node.l2_heads.safe == c["a6"]
    source.set(status(c["a8"], c["a7"], c["a2"], current_l1=l1.by_number(4).ref))
    await wait_for(lambda: node.l2_heads.safe == c["a7"])
    assert node.current_l1 == l1.by_number(4).ref


async def test_l1_heads_are_polled_at_op_nodes_default_interval(nursery):
    assert defaults.L1_HTTP_POLL_INTERVAL == 12.0
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


async def test_a_reorg_between_head_polls_is_caught_at_the_next_tick(nursery):
    # Heads polled once a minute: between two polls our L1 reorgs out the block the source's
    # heads were derived from. The next status naming it must be refused at once (op-node reads
    # its L1 by number on every tick), not confirmed from what our L1 answered a tick earlier.
    setup, source, el, node = await start(nursery, l1_poll_interval=60)
    c, l1 = setup.chains, setup.l1
    await wait_for(lambda: node.head_l1.number == l1.head.number)
    old_2 = l1.by_number(2).ref  # a12..a17 were derived from it
    source.set(status(c["a13"], c["a12"], c["a2"], current_l1=old_2))
    await wait_for(lambda: node.l2_heads.local_safe == c["a13"])
    l1.reorg(3)  # blocks 2, 3, 4 replaced; no head poll before the next status
    assert l1.by_number(2).hash != old_2.hash
    source.set(status(c["a14"], c["a13"], c["a2"], current_l1=old_2))
    await wait_for(lambda: node.statistics().results.get("error_l1_mismatch", 0) >= 1)
    h = node.l2_heads
    assert (h.local_safe, h.safe) == (c["a13"], c["a12"])  # never adopted: local-safe only moves up
    assert node.current_l1 == old_2


async def test_every_tick_reads_our_l1_except_at_or_below_its_finalized_block(nursery):
    setup = await Setup(l1_blocks=20).start(nursery)  # finalized: block 12 (8 behind the head)
    source = await FakeSource(setup.rollup).start(nursery)
    el = await FakeEL(setup.chains).start(nursery)
    c, l1 = setup.chains, setup.l1
    c.extend("a", c.genesis, 110)
    el.have([c[f"a{n}"] for n in range(1, 101)])
    source.set(status(c.genesis))
    node = await nursery.start(LightNode(setup.config([source.url], el, l1_poll_interval=60)).run)
    await wait_for(lambda: node.finalized_l1.number == 12 and node.statistics().results.get("success", 0) >= 1)
    await trio.sleep(0.05)
    base = node.statistics()
    requests = setup.l1_switch.requests
    # Five ticks, the L2 heads moving within L1 block 14 (local-safe a85..a89 and safe a84..a88
    # were derived from it), the finalized head a60 from block 10, current_l1 block 16.
    current = l1.by_number(16).ref
    for n in range(85, 90):
        source.set(status(c[f"a{n}"], c[f"a{n - 1}"], c["a60"], current_l1=current))
        await wait_for(lambda: node.l2_heads.safe == c[f"a{n - 1}"])
    stats = node.statistics()
    assert stats.l1_checks.ticks - base.l1_checks.ticks == 5
    # Each tick: ONE request for the numbers above our L1's finalized block (14 and 16); block 10
    # is below it: read at the first tick, then known for good.
    assert stats.l1_checks.requests - base.l1_checks.requests == 5 == setup.l1_switch.requests - requests
    assert stats.l1_checks.calls - base.l1_checks.calls == 2 * 5 + 1
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{node.metrics_port}/metrics")).text
    assert f"opfleet_follow_l1_check_calls_total {stats.l1_checks.calls}" in metrics
    assert f"opfleet_follow_l1_check_ticks_total {stats.l1_checks.ticks}" in metrics


async def test_current_l1_is_never_reported_above_the_l1_head(nursery):
    setup, source, el, node = await start(nursery, l1_poll_interval=60, enable_admin=True)
    c, l1 = setup.chains, setup.l1
    await wait_for(lambda: node.head_l1.number == l1.head.number)  # block 4; next poll in a minute
    l1.mine_blocks(3)
    # The source has seen block 7 already: the check reads it from our L1, which has it, so block
    # 7 is the newest L1 block we know; our head_l1 moves up with it rather than stay below.
    source.set(status(c["a7"], c["a6"], c["a2"], current_l1=l1.by_number(7).ref))
    await wait_for(lambda: node.l2_heads.safe == c["a6"])
    async with JsonRpcClient(f"http://127.0.0.1:{node.rpc_port}") as rpc:
        st = await rpc.call("optimism_syncStatus")
    assert st["current_l1"]["number"] == 7 and st["head_l1"]["number"] == 7
    assert st["head_l1"]["hash"] == "0x" + l1.by_number(7).hash.hex()


async def test_current_l1_follows_our_l1_head_down_when_our_l1_goes_back(nursery):
    setup, source, el, node = await start(nursery, l1_poll_interval=0.05)
    c, l1 = setup.chains, setup.l1
    source.set(status(c["a7"], c["a6"], c["a2"], current_l1=l1.head.ref))  # block 4
    await wait_for(lambda: node.current_l1 == l1.head.ref)
    l1.reorg(3, 1)  # blocks 2..4 replaced by one: our L1's head is block 2 now
    await wait_for(lambda: node.head_l1 == l1.head.ref)
    st = node.sync_status()
    assert st.head_l1.number == 2 and st.current_l1.number <= 2
