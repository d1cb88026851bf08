"""op-node's follow-source rules as pure functions (op-node driver.go followUpstream,
engine_controller.go FollowSource): every sanity check with its result label, in op-node's order,
and every row of the decision table."""

from __future__ import annotations

import pytest

from opfleet.errors import BlockNotFoundError, TemporaryError
from opfleet.node.follow import (
    LOOKUP_FAILED,
    NOT_FOUND,
    FinalizedL1,
    FollowAction,
    FollowResult,
    FollowTarget,
    Heads,
    apply,
    check_status,
    check_status_batch,
    decide,
    follow_step,
    l1_refs_to_check,
)
from opfleet.protocol.block_ref import ZERO_L1_BLOCK_REF, ZERO_L2_BLOCK_REF, BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus


def h(tag: str) -> bytes:
    return tag.encode().ljust(32, b".")


L1 = {n: L1BlockRef(h(f"l1-{n}"), n, h(f"l1-{n - 1}"), 12 * n) for n in range(10)}


def l2(tag: str, n: int, origin: int = 1, seq: int = 0) -> L2BlockRef:
    return L2BlockRef(h(f"{tag}{n}"), n, h(f"{tag}{n - 1}"), 2 * n, L1[origin].id, seq)


class FakeL1:
    def __init__(self, blocks=L1, fail: bool = False):
        self.blocks, self.fail, self.asked = dict(blocks), fail, []

    async def __call__(self, number: int) -> L1BlockRef:
        self.asked.append(number)
        if self.fail:
            raise TemporaryError("L1 down")
        if number not in self.blocks:
            raise BlockNotFoundError(f"L1 block {number}")
        return self.blocks[number]


def sync(ls, s=None, f=None, current=ZERO_L1_BLOCK_REF) -> SyncStatus:
    s = s or ls
    return SyncStatus(current_l1=current, local_safe_l2=ls, safe_l2=s, finalized_l2=f or s, unsafe_l2=ls)


async def test_a_sane_status_is_success_and_each_l1_number_is_looked_up_once():
    l1 = FakeL1()
    check = await check_status(sync(l2("a", 9, origin=3), l2("a", 8, origin=3), l2("a", 4, origin=2), L1[5]), l1)
    assert check.ok and check.result is FollowResult.SUCCESS
    assert l1.asked == [3, 2, 5]


@pytest.mark.parametrize("status, result, words", [
    (sync(l2("a", 5), l2("a", 6)), FollowResult.ERROR_INVALID_STATE, "safe_l2 6 is above local_safe_l2 5"),
    (sync(l2("a", 6), l2("a", 5), l2("a", 6)), FollowResult.ERROR_INVALID_STATE, "finalized_l2 6 is above safe_l2 5"),
    (sync(L2BlockRef(h("x"), 6, h("y"), 0, BlockID(h("other"), 2), 0)), FollowResult.ERROR_L1_MISMATCH,
     "local_safe_l2.l1origin"),
    (sync(l2("a", 6), l2("a", 5, origin=9), l2("a", 5, origin=9)), FollowResult.ERROR_L1_LOOKUP, "ERR"),
    (sync(l2("a", 6), l2("a", 5), L2BlockRef(h("f"), 4, h("e"), 0, BlockID(h("nope"), 1), 0)),
     FollowResult.ERROR_L1_MISMATCH, "finalized_l2.l1origin"),
    (sync(l2("a", 6), current=L1BlockRef(h("fork"), 4, h("l1-3"), 48)), FollowResult.ERROR_L1_MISMATCH,
     "current_l1"),
    (sync(l2("a", 6), current=L1BlockRef(h("new"), 12, h("l1-11"), 144)), FollowResult.ERROR_L1_LOOKUP,
     "current_l1"),
])
async def test_each_sanity_check_has_op_nodes_label(status, result, words):
    blocks = {n: b for n, b in L1.items() if n != 9}
    check = await check_status(status, FakeL1(blocks))
    assert check.result is result and not check.ok
    if words != "ERR":
        assert words in check.reason


async def test_checks_run_in_op_nodes_order():
    # Invalid state wins over an L1 problem; local-safe's origin is checked before safe's.
    both = sync(l2("a", 5, origin=8), l2("a", 6, origin=7))
    l1 = FakeL1(fail=True)
    assert (await check_status(both, l1)).result is FollowResult.ERROR_INVALID_STATE and l1.asked == []
    order = FakeL1({n: b for n, b in L1.items() if n not in (7, 8)})
    await check_status(sync(l2("a", 6, origin=8), l2("a", 5, origin=7)), order)
    assert order.asked == [8]


async def test_zero_current_l1_is_ignored_and_our_l1_down_is_a_lookup_error():
    l1 = FakeL1()
    assert (await check_status(sync(l2("a", 3)), l1)).ok and l1.asked == [1]
    assert (await check_status(sync(l2("a", 3)), FakeL1(fail=True))).result is FollowResult.ERROR_L1_LOOKUP


# --- the decision table -------------------------------------------------------------------------------

A10, A5, A4, A2 = l2("a", 10), l2("a", 5), l2("a", 4), l2("a", 2)
B5 = l2("b", 5)


@pytest.mark.parametrize("unsafe, el, sequencing, action", [
    (l2("a", 4), None, False, FollowAction.SOURCE_AHEAD),
    (l2("a", 4), None, True, FollowAction.SOURCE_AHEAD),
    (A10, NOT_FOUND, False, FollowAction.EL_SYNCING),
    (A10, LOOKUP_FAILED, True, FollowAction.LOOKUP_ERROR),
    (A10, A5, False, FollowAction.MATCH),
    (A10, A5, True, FollowAction.MATCH),
    (A10, B5, False, FollowAction.CONFLICT),
    (A10, B5, True, FollowAction.FORCE_RESET),
    (A5, A5, False, FollowAction.MATCH),
    # A different sequence number at the same hash is not "the same block" (full ref equality).
    (A10, L2BlockRef(A5.hash, 5, A5.parent_hash, A5.timestamp, A5.l1_origin, 3), False, FollowAction.CONFLICT),
])
def test_decision_table_rows(unsafe, el, sequencing, action):
    assert decide(unsafe, A5, el, sequencing=sequencing) is action


def test_a_lookup_is_needed_unless_the_source_is_ahead():
    with pytest.raises(ValueError):
        decide(A10, A5, None)


HEADS = Heads(unsafe=A10, local_safe=A4, safe=A2, finalized=l2("a", 1))
TARGET = FollowTarget(A5, A4, A2)


def test_match_and_syncing_move_the_safe_heads_but_not_unsafe():
    for action in (FollowAction.MATCH, FollowAction.EL_SYNCING):
        out = apply(HEADS, action, TARGET)
        assert out == Heads(unsafe=A10, local_safe=A5, safe=A4, finalized=A2)


def test_source_ahead_and_verifier_conflict_move_unsafe_to_local_safe_keeping_a_backup():
    ahead = apply(Heads(unsafe=A2, local_safe=A2, safe=A2, finalized=A2), FollowAction.SOURCE_AHEAD, TARGET)
    assert ahead.unsafe == A5 and ahead.backup_unsafe == A2 and ahead.local_safe == A5
    conflict = apply(HEADS, FollowAction.CONFLICT, FollowTarget(B5, l2("b", 4), A2))
    assert conflict.unsafe == B5 and conflict.backup_unsafe == A10
    assert conflict.local_safe == B5 and conflict.safe == l2("b", 4)


def test_lookup_error_changes_nothing():
    assert apply(HEADS, FollowAction.LOOKUP_ERROR, TARGET) is HEADS


def test_safe_heads_never_move_back_and_finalized_never_passes_safe():
    behind = apply(HEADS, FollowAction.MATCH, FollowTarget(l2("a", 3), l2("a", 1), l2("a", 0)))
    assert behind == HEADS
    same_height = apply(HEADS, FollowAction.CONFLICT, FollowTarget(l2("b", 4), l2("b", 2), l2("a", 1)))
    assert same_height.local_safe == A4 and same_height.safe == A2  # only unsafe rewinds for a verifier
    capped = apply(Heads(unsafe=A10, local_safe=A5, safe=A2, finalized=A2), FollowAction.MATCH,
                   FollowTarget(A5, A2, A2))
    assert capped.finalized == A2


def test_safe_advances_from_the_zero_value():
    fresh = apply(Heads(unsafe=A10), FollowAction.MATCH, FollowTarget(ZERO_L2_BLOCK_REF, ZERO_L2_BLOCK_REF,
                                                                      ZERO_L2_BLOCK_REF))
    assert fresh.safe == ZERO_L2_BLOCK_REF
    genesis = l2("a", 0)
    assert apply(Heads(unsafe=A10), FollowAction.MATCH, FollowTarget(genesis, genesis, genesis)).safe == genesis


def test_force_reset_sets_every_head_at_once():
    out = apply(HEADS, FollowAction.FORCE_RESET, FollowTarget(B5, l2("b", 3), l2("a", 1)))
    assert out == Heads(unsafe=B5, local_safe=B5, safe=l2("b", 3), finalized=l2("a", 1), backup_unsafe=A10)


async def test_follow_step_looks_up_the_el_only_when_needed():
    asked = []

    async def el(number):
        asked.append(number)
        if number == 7:
            raise BlockNotFoundError("syncing")
        if number == 8:
            raise TemporaryError("EL down")
        return l2("a", number)

    ahead = await follow_step(Heads(unsafe=A2), TARGET, el)
    assert ahead[0] is FollowAction.SOURCE_AHEAD and asked == []
    assert (await follow_step(HEADS, TARGET, el))[0] is FollowAction.MATCH and asked == [5]
    assert (await follow_step(HEADS, FollowTarget(l2("a", 7), A4, A2), el))[0] is FollowAction.EL_SYNCING
    action, heads = await follow_step(HEADS, FollowTarget(l2("a", 8), A4, A2), el)
    assert action is FollowAction.LOOKUP_ERROR and heads is HEADS
    assert (await follow_step(HEADS, FollowTarget(B5, A4, A2), el, sequencing=True))[0] is FollowAction.FORCE_RESET


# --- batched checks and the verified-L1 cache --------------------------------------------------------


class BatchL1:
    """A batched lookup over FakeL1: records each call's numbers (one call = one request)."""

    def __init__(self, l1: FakeL1):
        self.l1, self.calls = l1, []

    async def __call__(self, blocks):
        numbers = sorted({b.number for b in blocks})
        self.calls.append(numbers)
        out = {}
        for n in numbers:
            try:
                out[n] = await self.l1(n)
            except TemporaryError as exc:
                out[n] = exc
        return out


@pytest.mark.parametrize("status, result, words", [
    (sync(L2BlockRef(h("x"), 6, h("y"), 0, BlockID(h("other"), 2), 0)), FollowResult.ERROR_L1_MISMATCH,
     "local_safe_l2.l1origin"),
    (sync(l2("a", 6), l2("a", 5, origin=9), l2("a", 5, origin=9)), FollowResult.ERROR_L1_LOOKUP, "safe_l2.l1origin"),
    (sync(l2("a", 6), current=L1BlockRef(h("fork"), 4, h("l1-3"), 48)), FollowResult.ERROR_L1_MISMATCH,
     "current_l1"),
    (sync(l2("a", 6, origin=8), l2("a", 5, origin=7)), FollowResult.ERROR_L1_LOOKUP,
     "local_safe_l2.l1origin L1 block 8"),
])
async def test_the_batched_check_gives_op_nodes_result_in_one_lookup(status, result, words):
    blocks = {n: b for n, b in L1.items() if n not in (7, 8, 9)}
    one_by_one = await check_status(status, FakeL1(blocks))
    batch = BatchL1(FakeL1(blocks))
    check = await check_status_batch(status, batch)
    assert check.result is result is one_by_one.result and words in check.reason
    assert check.reason.split(":")[0] == one_by_one.reason.split(":")[0]  # the same check fails first
    assert len(batch.calls) == 1


async def test_the_batched_check_asks_nothing_for_an_invalid_state_and_each_number_once():
    batch = BatchL1(FakeL1())
    bad = await check_status_batch(sync(l2("a", 5, origin=8), l2("a", 6, origin=7)), batch)
    assert bad.result is FollowResult.ERROR_INVALID_STATE and batch.calls == []
    ok = await check_status_batch(sync(l2("a", 9, origin=3), l2("a", 8, origin=3), l2("a", 4, origin=2), L1[5]), batch)
    assert ok.ok and batch.calls == [[2, 3, 5]]
    assert [n for n, _ in l1_refs_to_check(sync(l2("a", 3)))] == [
        "local_safe_l2.l1origin", "safe_l2.l1origin", "finalized_l2.l1origin"]  # zero current_l1 left out


def test_finalized_l1_keeps_only_refs_at_or_below_our_l1s_finalized_block():
    v = FinalizedL1()
    assert not v.add(L1[2])  # no finalized block known yet: nothing is kept
    v.set_finalized(L1[4])
    for n in (2, 3, 5):
        v.add(L1[n])
    assert v.confirms(L1[3].id) and v.confirms(L1[4].id)
    assert not v.confirms(L1[5].id)  # above the finalized block: read again at every tick
    assert not v.confirms(BlockID(h("fork"), 3))  # another hash: looked up, never failed from the cache
    assert not v.confirms(L1[1].id)  # never seen
    stats = v.statistics()
    assert (stats.hits, stats.misses, stats.cached, stats.finalized) == (2, 3, 3, 4)
    v.set_finalized(L1[6])  # finality moves on: what was kept stays, 5 is not there until read
    assert v.confirms(L1[2].id) and not v.confirms(L1[5].id) and v.statistics().invalidations == 0


def test_finalized_l1_forgets_everything_when_our_l1s_finality_goes_back_or_changes():
    v = FinalizedL1()
    v.set_finalized(L1[6])
    for n in (2, 3):
        v.add(L1[n])
    v.set_finalized(L1[4])  # finality went back (a dev chain reset)
    assert not v.confirms(L1[2].id) and v.confirms(L1[4].id) and v.statistics().invalidations == 1
    v.add(L1[3])
    v.set_finalized(L1BlockRef(h("other-4"), 4, h("l1-3"), 48))  # same height, another block
    assert not v.confirms(L1[3].id) and v.statistics().invalidations == 2
