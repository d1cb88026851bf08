from __future__ import annotations

import pytest

from opfleet.errors import ConfigError
from opfleet.node.safedb import SafeHeadDB, SafeHeadEntry, SafeHeadNotFound
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.rollup_config import BlockID


def bid(n: int, tag: int = 0) -> BlockID:
    return BlockID(bytes([n % 256, tag]) * 16, n)


def test_lookup_returns_the_latest_entry_at_or_below(tmp_path):
    db = SafeHeadDB(tmp_path / "safedb.sqlite")
    with pytest.raises(SafeHeadNotFound, match="not found"):
        db.safe_head_at(100)
    db.record(bid(10), bid(100))
    db.record(bid(12), bid(110))
    assert db.safe_head_at(9999).safe_head == bid(110)
    assert db.safe_head_at(11).l1_block == bid(10)
    with pytest.raises(SafeHeadNotFound):
        db.safe_head_at(9)


def l2(n: int, origin: int, tag: int = 0) -> L2BlockRef:
    block = bid(n, tag)
    return L2BlockRef(block.hash, n, bytes(32), 1000 + n, bid(origin), 0)


def entries(db: SafeHeadDB, upto: int = 100) -> dict[int, int]:
    """L1 number -> L2 number of every entry (each L1 block answered by its own entry)."""
    found: dict[int, int] = {}
    for n in range(upto + 1):
        try:
            entry = db.safe_head_at(n)
        except SafeHeadNotFound:
            continue
        if entry.l1_block.number == n:
            found[n] = entry.safe_head.number
    return found


def test_survives_restart_and_reset_truncates_from_the_reset_safe_head(tmp_path):
    path = tmp_path / "dir" / "safedb.sqlite"
    db = SafeHeadDB(path)
    for i in range(5):
        db.record(bid(10 + i), bid(100 + 10 * i))
    db.close()
    db = SafeHeadDB(path)
    assert db.safe_head_at(14).safe_head == bid(140)
    # Reset to #120 (L1 origin #9): the first entry from L1 #9 on naming #120 or later is L1
    # #12; it and every later entry go, and #120 is recorded as safe at L1 #12.
    assert db.reset(l2(120, origin=9)) == 3
    assert entries(db) == {10: 100, 11: 110, 12: 120}
    assert db.safe_head_at(14) == SafeHeadEntry(bid(12), bid(120))
    db.record(bid(13, tag=1), bid(121, tag=1))  # re-derived after the reset
    assert db.safe_head_at(20).safe_head == bid(121, tag=1)


def test_reset_to_a_safe_head_between_entries_keeps_its_l1_block():
    db = SafeHeadDB(None)
    db.record(bid(10), bid(20))
    db.record(bid(20), bid(40))
    db.record(bid(40), bid(80))
    db.record(bid(50), bid(100))
    # #70 became safe somewhere up to L1 #40 (the entry naming #80): kept there.
    assert db.reset(l2(70, origin=35)) == 2
    assert entries(db) == {10: 20, 20: 40, 40: 70}
    assert db.safe_head_at(45).safe_head == bid(70)


def test_reset_searches_from_the_safe_heads_l1_origin():
    db = SafeHeadDB(None)
    db.record(bid(10), bid(20))
    db.record(bid(20), bid(40))
    db.record(bid(40), bid(80))
    # Entries before the reset head's L1 origin stay, even naming later blocks (none does
    # normally); the first entry from the origin on naming #30 or later is L1 #40.
    assert db.reset(l2(30, origin=25)) == 1
    assert entries(db) == {10: 20, 20: 40, 40: 30}


def test_reset_below_every_entry_records_nothing():
    db = SafeHeadDB(None)
    db.record(bid(10), bid(20))
    db.record(bid(20), bid(40))
    # Where #15 became safe is unknown (before our first record): everything goes.
    assert db.reset(l2(15, origin=5)) == 2
    assert entries(db) == {}
    with pytest.raises(SafeHeadNotFound):
        db.safe_head_at(30)


def test_reset_past_every_entry_and_rederiving_the_same_l1_keep_everything():
    db = SafeHeadDB(None)
    db.record(bid(10), bid(20))
    db.record(bid(20), bid(40))
    assert db.reset(l2(50, origin=22)) == 0  # nothing names #50 or later: nothing to drop
    assert db.reset(l2(40, origin=19)) == 1  # the restart case: the last entry is the reset head
    assert entries(db) == {10: 20, 20: 40}


def test_unusable_path_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="safe-head database"):
        SafeHeadDB(blocker / "safedb.sqlite")


# --- a source killed and restarted keeps op-node's answers ----------------------------------------

async def _answers(url: str, upto: int) -> list[object]:
    """``optimism_safeHeadAtL1Block`` for every L1 block 0..upto: the result, or the error."""
    from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError

    answers: list[object] = []
    async with JsonRpcClient(url) as rpc:
        for n in range(upto + 1):
            try:
                answers.append(await rpc.call("optimism_safeHeadAtL1Block", hex(n)))
            except RpcCallError as exc:
                answers.append(("error", exc.code, exc.message))
    return answers


async def test_restarted_source_answers_as_one_never_restarted(nursery, tmp_path):
    """Kill and restart a source five times (same sqlite safe-head database, same execution
    client) while the batcher posts: every ``optimism_safeHeadAtL1Block`` answer must equal a
    never-restarted source's on the same L1. Re-reading L1 after a restart must not overwrite
    older entries with the safe head at restart (op-node ``safedb``: entries are written when
    the safe head moves, and a reset only truncates what is re-derived)."""
    import sys
    from pathlib import Path

    import trio

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from node_helpers import grow, post_batches, source_config, wait_for

    from engine_helpers import new_engine, start_devnet
    from opfleet.devnet.batcher import BLOBS, CALLDATA
    from opfleet.devnet.engine import ForkTimes
    from opfleet.node.source import SourceNode

    net = await start_devnet(nursery)
    steady_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    restarted_engine = new_engine(net.l1, ForkTimes.up_to("isthmus"))
    await net.serve_engine(nursery, steady_engine)
    await net.serve_engine(nursery, restarted_engine)
    steady = await nursery.start(SourceNode(source_config(
        net, steady_engine, safedb_path=tmp_path / "steady.sqlite")).run)
    restarted_config = source_config(net, restarted_engine, safedb_path=tmp_path / "restarted.sqlite")

    next_block = 1
    for round_ in range(6):
        for da in (CALLDATA, BLOBS):
            await grow(net, 6 + round_)
            await post_batches(net, da, next_block)
            next_block = net.sequencer_engine.head.number + 1
            net.l1.mine()  # an L1 block without batches between the batch blocks
        target = next_block - 1
        if round_ == 5:
            break  # the sixth run stays up to answer
        async with trio.open_nursery() as run:
            node = await run.start(SourceNode(restarted_config).run)
            await wait_for(lambda: node.driver is not None and node.driver.safe_head.number >= target)
            run.cancel_scope.cancel()  # killed: nothing is flushed or closed on the way out

    node = await nursery.start(SourceNode(restarted_config).run)
    head = net.l1.head.number
    for source in (steady, node):
        await wait_for(lambda s=source: s.sync_status().current_l1.number == head
                       and s.driver.safe_head.number == next_block - 1)
    expected = await _answers(f"http://127.0.0.1:{steady.rpc_port}", head)
    got = await _answers(f"http://127.0.0.1:{node.rpc_port}", head)
    differing = [n for n in range(head + 1) if expected[n] != got[n]]
    assert not differing, (f"{len(differing)} of {head + 1} L1 blocks differ, e.g. L1 #{differing[0]}: "
                           f"{got[differing[0]]} instead of {expected[differing[0]]}")
    assert any(isinstance(a, dict) and a["safeHead"]["number"] == next_block - 1 for a in expected)
