"""Batch validity rules for singular and span batches (pre-Holocene and Holocene outcomes).

Spec: specs/protocol/derivation.md "Batch Queue"; delta/span-batches.md "Span batch
validation"; holocene/derivation.md; isthmus/derivation.md (set-code txs); jovian/derivation.md
("Activation Block Rules").
"""

from __future__ import annotations

import dataclasses

import pytest

from opfleet.derive.batches import (
    BatchValidity,
    check_singular_batch,
    check_span_batch,
    span_singular_batches,
)
from opfleet.derive.interfaces import SpanBatch
from opfleet.protocol.batch.singular import SingularBatch
from opfleet.protocol.batch.span import SpanBatchElement
from opfleet.protocol.block_ref import BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.crypto import keccak256
from opfleet.testing.derive import FakeL1Chain, FakeL2Chain, l2_transfer, make_rollup_config

DROP, ACCEPT, UNDECIDED, FUTURE, PAST = (
    BatchValidity.DROP, BatchValidity.ACCEPT, BatchValidity.UNDECIDED, BatchValidity.FUTURE,
    BatchValidity.PAST,
)
T = 1_700_000_000


def h(*parts) -> bytes:
    return keccak256(repr(parts).encode())


def l1(n: int, ts: int) -> L1BlockRef:
    return L1BlockRef(h("l1", n), n, h("l1", n - 1), ts)


E0, E1, E2 = l1(10, T), l1(11, T + 12), l1(12, T + 24)
PARENT = L2BlockRef(h("l2", 100), 100, h("l2", 99), T + 10, E0.id, 5)
TX = l2_transfer(0)


def config(**overrides):
    chain = FakeL1Chain(genesis_time=T - 1000)
    return make_rollup_config(chain, **overrides)


def batch(**changes) -> SingularBatch:
    base = SingularBatch(PARENT.hash, 11, E1.hash, T + 12, (TX,))
    return dataclasses.replace(base, **changes)


def check(b: SingularBatch, *, cfg=None, blocks=(E0, E1, E2), parent=PARENT, inclusion=E2):
    return check_singular_batch(cfg or config(), list(blocks), parent, b, inclusion).validity


def test_a_valid_batch_is_accepted():
    assert check(batch()) is ACCEPT
    assert check(batch(epoch_num=10, epoch_hash=E0.hash)) is ACCEPT


@pytest.mark.parametrize(
    "changes, pre_holocene, holocene",
    [
        ({"timestamp": T + 14}, FUTURE, DROP),
        ({"timestamp": T + 10}, DROP, PAST),
        ({"timestamp": T + 8}, DROP, PAST),
    ],
)
def test_timestamp_outcomes_change_with_holocene_by_inclusion_time(changes, pre_holocene, holocene):
    assert check(batch(**changes)) is pre_holocene
    assert check(batch(**changes), cfg=config(holocene_time=E2.timestamp)) is holocene
    # Holocene is judged by the inclusion block: an earlier inclusion keeps the old outcome
    assert check(batch(**changes), cfg=config(holocene_time=E2.timestamp + 1)) is pre_holocene


@pytest.mark.parametrize(
    "changes",
    [
        {"parent_hash": h("someone else")},
        {"epoch_num": 9, "epoch_hash": h("l1", 9)},  # older than the current epoch
        {"epoch_num": 12, "epoch_hash": E2.hash},  # more than one epoch ahead
        {"epoch_hash": h("another L1 chain")},
        {"transactions": (b"",)},
        {"transactions": (b"\x7e" + bytes(10),)},  # deposits never come from batches
        {"transactions": (b"\x04" + bytes(10),)},  # set-code before Isthmus
    ],
)
def test_drop_rules(changes):
    assert check(batch(**changes)) is DROP


def test_sequencing_window_counts_from_the_batch_epoch_to_the_inclusion_block():
    cfg = config()  # seq_window_size 30
    assert check(batch(), inclusion=l1(41, T + 400)) is ACCEPT
    assert check(batch(), inclusion=l1(42, T + 400)) is DROP


def test_advancing_the_epoch_needs_the_next_l1_block():
    assert check(batch(), blocks=(E0,)) is UNDECIDED
    assert check(batch(), blocks=()) is UNDECIDED


def test_l2_time_must_not_be_before_its_l1_origin():
    late = l1(11, T + 13)
    assert check(batch(epoch_hash=late.hash), blocks=(E0, late, E2)) is DROP


def test_sequencer_drift_rules():
    parent = dataclasses.replace(PARENT, timestamp=T + 600)  # next block at T + 602 > T + 600
    same_epoch = {"epoch_num": 10, "epoch_hash": E0.hash, "timestamp": T + 602}
    b = batch(parent_hash=parent.hash, **same_epoch)
    assert check(b, parent=parent) is DROP  # transactions past the drift
    empty = dataclasses.replace(b, transactions=())
    assert check(empty, parent=parent, blocks=(E0,)) is UNDECIDED
    assert check(empty, parent=parent) is DROP  # the next origin (T + 12) could have been adopted
    slow_l1 = l1(11, T + 700)
    assert check(empty, parent=parent, blocks=(E0, slow_l1)) is ACCEPT
    cfg = config(fjord_time=0)  # Fjord: the drift is 1800
    assert check(b, parent=parent, cfg=cfg) is ACCEPT


def test_set_code_transactions_from_isthmus():
    b = batch(transactions=(b"\x04" + bytes(10),))
    assert check(b, cfg=config(isthmus_time=T + 12)) is ACCEPT


def test_jovian_activation_block_must_be_empty():
    cfg = config(jovian_time=T + 12)
    assert check(batch(), cfg=cfg) is DROP
    assert check(batch(transactions=()), cfg=cfg) is ACCEPT
    assert check(batch(transactions=()), cfg=config(jovian_time=T + 10)) is ACCEPT
    cfg_later = config(jovian_time=T + 10)  # the block after activation may have transactions
    assert check(batch(), cfg=cfg_later) is ACCEPT


@pytest.mark.parametrize("fork", ["karst", "interop"])
def test_karst_and_interop_activation_blocks_must_be_empty(fork):
    cfg = config(jovian_time=0, **{f"{fork}_time": T + 12})
    assert check(batch(), cfg=cfg) is DROP
    assert check(batch(transactions=()), cfg=cfg) is ACCEPT
    assert check(batch(), cfg=config(jovian_time=0, **{f"{fork}_time": T + 10})) is ACCEPT


# --- span batches ---------------------------------------------------------------------------


class Scenario:
    """A short safe chain: genesis, blocks 1 and 2 (epoch 0), and an L1 with blocks 0 and 1."""

    def __init__(self, **cfg):
        self.l1 = FakeL1Chain(block_time=4)
        self.l1.mine()
        self.cfg = make_rollup_config(self.l1, delta_time=0, **cfg)
        self.l2 = FakeL2Chain(self.cfg)
        g = self.l2.head
        for n, tx in ((1, l2_transfer(1)), (2, l2_transfer(2))):
            head = self.l2.head
            ref = L2BlockRef(h("l2", n), n, head.hash, g.timestamp + 2 * n, g.l1_origin, n)
            self.l2.add_block(ref, [b"\x7e" + bytes(8), tx], self.cfg.genesis.system_config)
        self.blocks = [self.l1.ref(0), self.l1.ref(1)]

    def span(self, start: int, txs, *, parent_hash=None, epochs=None) -> SpanBatch:
        g = self.l2.blocks[0].ref
        parent = parent_hash or self.l2.blocks[min(start - 1, len(self.l2.blocks) - 1)].ref.hash
        epochs = epochs or [0] * len(txs)
        elements = tuple(
            SpanBatchElement(g.timestamp + 2 * (start + i), epochs[i], tuple(t))
            for i, t in enumerate(txs)
        )
        origin = self.blocks[epochs[-1]]
        return SpanBatch(parent[:20], origin.hash[:20], elements)

    async def check(self, span, **kw):
        return (await check_span_batch(
            kw.get("cfg", self.cfg), kw.get("blocks", self.blocks), self.l2.head, span,
            self.l1.ref(1), self.l2,
        )).validity


async def test_span_batch_after_the_safe_head_is_accepted_and_expanded():
    s = Scenario()
    span = s.span(3, [[l2_transfer(3)], [], [l2_transfer(4)]])
    assert await s.check(span) is ACCEPT
    singles = span_singular_batches(span, s.blocks, s.l2.head)
    assert [b.timestamp for b in singles] == [e.timestamp for e in span.elements]
    assert all(b.epoch_hash == s.blocks[0].hash for b in singles)


async def test_span_batch_overlapping_the_safe_chain_must_match_it():
    s = Scenario()
    matching = s.span(1, [[l2_transfer(1)], [l2_transfer(2)], [l2_transfer(3)]])
    assert await s.check(matching) is ACCEPT
    assert [b.timestamp for b in span_singular_batches(matching, s.blocks, s.l2.head)] == [
        s.l2.head.timestamp + 2
    ]
    different = s.span(1, [[l2_transfer(1)], [l2_transfer(9)], [l2_transfer(3)]])
    assert await s.check(different) is DROP
    s.l2.fail_next = 1
    assert await s.check(matching) is UNDECIDED  # the safe block could not be fetched


async def test_span_batch_drop_rules():
    s = Scenario()
    assert await s.check(s.span(3, [[]], parent_hash=h("wrong parent"))) is DROP
    assert await s.check(s.span(1, [[l2_transfer(1)], [l2_transfer(2)]])) is DROP  # nothing new
    assert await s.check(s.span(4, [[]])) is FUTURE
    before_delta = make_rollup_config(s.l1, delta_time=s.l1.ref(1).timestamp)
    assert await s.check(s.span(3, [[]]), cfg=before_delta) is DROP
    assert await s.check(s.span(3, [[b"\x7e\x01"]])) is DROP  # a deposit inside


async def test_span_batch_holocene_outcomes():
    s = Scenario(holocene_time=0)
    assert await s.check(s.span(4, [[]])) is DROP  # future
    assert await s.check(s.span(1, [[l2_transfer(1)], [l2_transfer(2)]])) is PAST


async def test_span_batch_needs_its_last_origin_among_the_l1_blocks():
    s = Scenario()
    span = s.span(3, [[], []], epochs=[0, 1])
    assert await s.check(span) is ACCEPT
    assert await s.check(span, blocks=[s.blocks[0]]) is UNDECIDED


def test_span_expansion_rejects_unknown_origins():
    s = Scenario()
    span = s.span(3, [[], []], epochs=[0, 1])
    with pytest.raises(Exception, match="unknown"):
        span_singular_batches(span, [s.blocks[0]], s.l2.head)


def test_block_id_equality_is_what_the_epoch_check_uses():
    assert PARENT.l1_origin == BlockID(E0.hash, 10)
