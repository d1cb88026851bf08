"""The pure rules of proxyd's CL consensus (opfleet.proxy.consensus), one by one."""

from __future__ import annotations

import pytest

from fakes import Clock, FakeBackend
from opfleet.proxy.consensus import (BackendView, Heads, check_in_sync, expected_tags, filter_candidates,
                                     lowest_heads, parse_output_root, parse_peer_count, parse_sync_status,
                                     resolve_output_roots, select_pin, zero_head)


def status(**changes):
    backend = FakeBackend("x", Clock())
    for key, value in changes.items():
        setattr(backend, key, value)
    return backend.status()


def test_parse_sync_status_reads_proxyds_fields():
    parsed = parse_sync_status(status())
    assert (parsed.unsafe, parsed.safe, parsed.local_safe, parsed.finalized) == (110, 100, 100, 90)
    assert (parsed.current_l1, parsed.head_l1, parsed.head_l1_timestamp) == (50, 52, Clock()())


@pytest.mark.parametrize("mutate", [
    lambda s: s.pop("safe_l2"),
    lambda s: s.update(head_l1="0x1"),
    lambda s: s["unsafe_l2"].update(number="0x6e"),
    lambda s: s["unsafe_l2"].update(number=True),
    lambda s: s["unsafe_l2"].update(number=-1),
    lambda s: s["local_safe_l2"].pop("hash"),
    lambda s: s["head_l1"].update(timestamp=1.5),
    lambda s: s["head_l1"].pop("timestamp"),
])
def test_parse_sync_status_refuses_garbage(mutate):
    body = status()
    mutate(body)
    with pytest.raises(ValueError):
        parse_sync_status(body)
    with pytest.raises(ValueError):
        parse_sync_status([body])


def test_zero_heads_only_without_a_hash():
    assert zero_head(parse_sync_status(status(zero=True))) == "latest"
    genesis = status()
    for key in ("unsafe_l2", "safe_l2", "local_safe_l2", "finalized_l2"):
        genesis[key]["number"] = 0  # genesis: number 0 with a real hash passes (infra #645)
    assert zero_head(parse_sync_status(genesis)) is None


def test_in_sync():
    s = parse_sync_status(status())
    now = Clock()()
    assert check_in_sync(s, now, sync_threshold=10, head_l1_max_age=300) == (True, None)
    assert not check_in_sync(s, now, sync_threshold=1, head_l1_max_age=300)[0]
    assert not check_in_sync(s, now + 301, sync_threshold=10, head_l1_max_age=300)[0]
    assert check_in_sync(s, now + 10_000, sync_threshold=10, head_l1_max_age=0)[0]  # 0 disables the age check


def test_expected_tags():
    assert expected_tags(latest=10, old_safe=8, safe=8, old_finalized=5, finalized=5)
    assert not expected_tags(latest=10, old_safe=8, safe=7, old_finalized=5, finalized=5)
    assert expected_tags(latest=10, old_safe=8, safe=7, old_finalized=5, finalized=5, safe_drift=1)
    assert not expected_tags(latest=10, old_safe=0, safe=11, old_finalized=0, finalized=5)
    assert not expected_tags(latest=10, old_safe=0, safe=8, old_finalized=0, finalized=9)
    assert not expected_tags(latest=10, old_safe=8, safe=8, old_finalized=5, finalized=3, finalized_drift=1)


def view(name, **kw):
    base = dict(peer_count=5, in_sync=True, last_update=100.0, latest=110, safe=100, local_safe=100, finalized=90,
                current_l1=50, has_body=True)
    base.update(kw)
    return BackendView(name, **base)


def test_filter_candidates_rules():
    views = [view("ok"), view("banned", banned=True), view("sick", healthy=False), view("peers", peer_count=2),
             view("skip", peer_count=0, skip_peer_count=True), view("unsync", in_sync=False),
             view("unsync-skip", in_sync=False, skip_is_syncing_check=True), view("old", last_update=60.0),
             view("never", last_update=None), view("lag", latest=101), view("low-fin", finalized=80),
             view("low-ls", local_safe=95), view("forced", banned=True, forced=True)]
    kept = filter_candidates(views, now=100.0, min_peer_count=3, max_update_threshold=30, max_block_lag=8,
                             consensus=Heads(110, 100, 100, 90))
    assert kept == ["ok", "skip", "unsync-skip", "forced"]


def test_lowest_heads_and_vote():
    assert lowest_heads([view("a"), view("b", latest=120, safe=99, finalized=91)]) == Heads(110, 99, 100, 90)
    assert lowest_heads([]) == Heads()
    assert resolve_output_roots({}).agreed is None
    assert resolve_output_roots({"a": "r", "b": "r"}).minority == ()
    vote = resolve_output_roots({"a": "r", "b": "r", "c": "x"})
    assert vote.agreed == "r" and vote.minority == ("c",) and not vote.halt
    assert resolve_output_roots({"a": "r", "b": "x"}).halt
    assert resolve_output_roots({"a": "r", "b": "x", "c": "y"}).halt
    assert resolve_output_roots({"a": "r", "b": "r", "c": "x", "d": "x"}).halt
    assert not resolve_output_roots({"a": "r", "b": "r", "c": "r", "d": "x", "e": "y"}).halt


def test_select_pin_lowest_l1_above_floor():
    group = [view("a", current_l1=52), view("b", current_l1=50), view("c", current_l1=50), view("d", current_l1=49)]
    assert select_pin(group, 0) == "d"
    assert select_pin(group, 50) == "b"  # ties go to the first in group order
    assert select_pin(group, 53) is None
    assert select_pin([view("e", current_l1=10, has_body=False)], 0) is None


def test_output_root_and_peer_count_parsing():
    assert parse_output_root({"outputRoot": "0xAB"}) == "0xab"
    assert parse_peer_count({"connected": 4}) == 4
    for bad in (None, [], {"outputRoot": 1}):
        with pytest.raises(ValueError):
            parse_output_root(bad)
    for bad in (None, {"connected": "4"}, {"connected": True}, {"connected": -1}):
        with pytest.raises(ValueError):
            parse_peer_count(bad)
