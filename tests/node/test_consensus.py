"""Several follow sources: proxyd-style candidates and majority agreement (ref section 4)."""

from __future__ import annotations

from opfleet.node.consensus import agree, candidates, in_sync, majority
from opfleet.node.follow import FollowTarget
from opfleet.protocol.block_ref import BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.sync_status import SyncStatus


def h(tag: str) -> bytes:
    return tag.encode().ljust(32, b".")


def l2(tag: str, n: int) -> L2BlockRef:
    return L2BlockRef(h(f"{tag}{n}"), n, h(f"{tag}{n - 1}"), 2 * n, BlockID(h("l1"), 1), 0)


def l1(n: int) -> L1BlockRef:
    return L1BlockRef(h(f"L1-{n}"), n, h(f"L1-{n - 1}"), 12 * n)


def st(ls, s=None, f=None, *, current=5, head=6) -> SyncStatus:
    s = s or ls
    return SyncStatus(current_l1=l1(current), head_l1=l1(head), local_safe_l2=ls, safe_l2=s, finalized_l2=f or s)


class Chains:
    """Each source's canonical chain, for ref_at (optimism_outputAtBlock's blockRef)."""

    def __init__(self, **tags: str):
        self.tags, self.asked = tags, []

    async def __call__(self, url: str, number: int, reported: L2BlockRef) -> L2BlockRef:
        self.asked.append((url, number))
        return l2(self.tags[url], number)


def test_majority_and_in_sync():
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    assert in_sync(st(l2("a", 1), current=5, head=15)) and not in_sync(st(l2("a", 1), current=5, head=16))
    zero = SyncStatus(local_safe_l2=l2("a", 1), safe_l2=l2("a", 1), finalized_l2=l2("a", 1))
    assert in_sync(zero)


def test_candidates_drop_down_out_of_sync_and_set_aside_sources():
    statuses = {"a": st(l2("a", 5)), "b": None, "c": st(l2("a", 5), current=1, head=30), "d": st(l2("a", 5))}
    assert list(candidates(statuses, set_aside=("d",))) == ["a"]
    # One source: op-node's behaviour, no in-sync filter.
    assert list(candidates({"c": statuses["c"]})) == ["c"]


async def test_one_source_is_followed_as_is():
    result = await agree({"a": st(l2("a", 9), l2("a", 8), l2("a", 3))}, Chains())
    assert result.target == FollowTarget(l2("a", 9), l2("a", 8), l2("a", 3), l1(5))


async def test_lockstep_sources_agree_without_lookups():
    chains = Chains(a="a", b="a", c="a")
    result = await agree({u: st(l2("a", 9), l2("a", 8), l2("a", 3)) for u in "abc"}, chains)
    assert result.target == FollowTarget(l2("a", 9), l2("a", 8), l2("a", 3), l1(5)) and chains.asked == []


async def test_a_lagging_minority_does_not_hold_the_node_back():
    chains = Chains(a="a", b="a", c="a")
    statuses = {"a": st(l2("a", 12), current=7), "b": st(l2("a", 10)), "c": st(l2("a", 4))}
    result = await agree(statuses, chains)
    # k = 2: the second-highest height (10); a's block there is looked up and agrees with b's.
    assert result.target.local_safe == l2("a", 10) and result.disagreeing == ()
    assert chains.asked == [("a", 10), ("a", 10), ("a", 10)]  # cached by the caller in the node
    assert result.target.current_l1 == l1(5)  # the lowest of the agreeing sources'


async def test_a_source_on_another_fork_is_set_aside():
    chains = Chains(a="a", b="a", c="x")
    statuses = {"a": st(l2("a", 10)), "b": st(l2("a", 10)), "c": st(l2("x", 10))}
    result = await agree(statuses, chains)
    assert result.target.local_safe == l2("a", 10) and result.disagreeing == ("c",)
    assert "local_safe_l2 at 10" in result.reasons["c"]


async def test_no_majority_holds():
    statuses = {"a": st(l2("a", 10)), "b": st(l2("b", 10))}
    result = await agree(statuses, Chains(a="a", b="b"))
    assert result.target is None and result.no_majority
    three_way = {"a": st(l2("a", 10)), "b": st(l2("b", 10)), "c": st(l2("c", 10))}
    assert (await agree(three_way, Chains(a="a", b="b", c="c"))).no_majority


async def test_targets_keep_finalized_le_safe_le_local_safe():
    statuses = {"a": st(l2("a", 20), l2("a", 8), l2("a", 2)), "b": st(l2("a", 11), l2("a", 10), l2("a", 9)),
                "c": st(l2("a", 9), l2("a", 9), l2("a", 1))}
    target = (await agree(statuses, Chains(a="a", b="a", c="a"))).target
    assert target.finalized.number <= target.safe.number <= target.local_safe.number
    assert (target.local_safe.number, target.safe.number, target.finalized.number) == (11, 9, 2)


async def test_nothing_to_follow_without_candidates():
    result = await agree({"a": None, "b": None}, Chains())
    assert result.target is None and not result.no_majority
