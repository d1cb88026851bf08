"""The chain core every in-memory chain is a configuration of: store, tags, reorgs, pool, parameters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from opfleet.devnet.chain import ChainStore, PoolEntry, TxPool, parse_log_filter, parse_storage_key
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.transactions import DYNAMIC_FEE_TX_TYPE, LEGACY_TX_TYPE, Transaction
from opfleet.rpc.server import InvalidParams


@dataclass(frozen=True)
class Tx:
    hash: bytes


@dataclass(frozen=True)
class Block:
    number: int
    parent_hash: bytes
    branch: str = "a"
    transactions: tuple[Tx, ...] = ()

    @property
    def hash(self) -> bytes:
        return keccak256(b"%d/%s" % (self.number, self.branch.encode()) + self.parent_hash)


def grow(store: ChainStore[Block], count: int, branch: str = "a") -> list[Block]:
    out = []
    for _ in range(count):
        head = store.head
        block = Block(head.number + 1, head.hash, branch, (Tx(keccak256(b"tx" + head.hash + branch.encode())),))
        store.append(block)
        out.append(block)
    return out


def test_tags_trail_the_head_by_their_lags_and_can_be_set():
    store = ChainStore(Block(0, bytes(32)), safe_lag=2, finalized_lag=3)
    assert store.safe is store.finalized is store.genesis  # clamped at genesis
    blocks = grow(store, 5)
    assert [store.by_tag(t).number for t in ("latest", "pending", "safe", "finalized", "earliest")] == [5, 5, 3, 2, 0]
    store.set_safe(blocks[3])
    store.set_finalized(blocks[0])
    assert (store.safe.number, store.finalized.number) == (4, 1)
    with pytest.raises(ValueError, match="unknown block tag"):
        store.by_tag("justified")


def test_a_genesis_above_zero_is_read_by_its_own_numbers():
    store = ChainStore(Block(100, bytes(32)), safe_lag=1)
    grow(store, 3)
    assert store.by_number(99) is None and store.by_number(104) is None
    assert [store.by_number(n).number for n in range(100, 104)] == [100, 101, 102, 103]
    assert store.safe.number == 102
    removed = store.truncate(101)
    assert [b.number for b in removed] == [102, 103] and store.head.number == 101
    assert store.by_hash(removed[0].hash) == removed[0]  # still readable, not canonical
    assert not store.is_canonical(removed[0])


def test_truncate_unindexes_transactions_and_a_branch_becomes_canonical():
    store = ChainStore(Block(0, bytes(32)))
    a = grow(store, 3, "a")
    tx = a[2].transactions[0].hash
    assert store.transaction(tx) == (a[2], a[2].transactions[0])
    store.truncate(1)
    assert store.transaction(tx) is None
    b = grow(store, 2, "b")
    assert store.head == b[-1] and store.is_ancestor(a[0], b[-1]) and not store.is_ancestor(a[2], b[-1])
    store._set_head(a[2])  # back onto the first branch, as a forkchoice update would
    assert store.blocks == (store.genesis, *a) and store.transaction(tx) == (a[2], a[2].transactions[0])
    assert store.transaction(b[0].transactions[0].hash) is None
    orphan = Block(9, keccak256(b"nowhere"))
    store.insert(orphan)
    with pytest.raises(ValueError, match="does not connect"):
        store._set_head(orphan)


def _entry(nonce: int, fee: int, tip: int, sender: bytes = b"\x01" * 20, tx_type: int = DYNAMIC_FEE_TX_TYPE) -> PoolEntry:
    tx = Transaction(type=tx_type, chain_id=1, nonce=nonce, max_fee_per_gas=fee, max_priority_fee_per_gas=tip,
                     gas_price=fee, gas=21_000, to=b"\x02" * 20)
    return PoolEntry(bytes([nonce, fee % 256, tip % 256]), keccak256(b"%d %d %d" % (nonce, fee, tip)), sender, tx)


def test_pool_replacement_needs_both_fee_caps_bumped_and_nonces_follow_without_gaps():
    pool = TxPool()
    first, gap = _entry(0, 100, 10), _entry(2, 100, 10)
    assert pool.add(first) and pool.add(gap)
    assert pool.pending_nonce(b"\x01" * 20, 0) == 1  # nonce 2 waits behind the gap
    assert pool.pending_nonce(b"\x03" * 20, 7) == 7  # another sender: its state nonce
    assert not pool.add(_entry(0, 109, 11), price_bump=10)  # fee cap up 9% only
    assert not pool.add(_entry(0, 200, 10), price_bump=10)  # tip not raised
    assert pool.hashes == (first.hash, gap.hash)
    bumped = _entry(0, 110, 11)
    assert pool.add(bumped, price_bump=10)
    assert pool.hashes == (bumped.hash, gap.hash)  # replaced in place
    legacy = _entry(5, 50, 50, sender=b"\x04" * 20, tx_type=LEGACY_TX_TYPE)
    assert pool.add(legacy) and pool.get(legacy.hash) == legacy and pool.get(b"\x00" * 32) is None
    pool.retain(lambda e: e.sender != b"\x01" * 20)
    assert pool.hashes == (legacy.hash,)


def test_parameters_are_refused_with_invalid_params():
    assert parse_storage_key("0x1") == bytes(31) + b"\x01"  # short keys are left-padded, as geth does
    assert parse_storage_key("0x" + "ab" * 32) == b"\xab" * 32
    for bad in ("0x" + "00" * 33, "1", 1, None, "0xzz"):
        with pytest.raises(InvalidParams):
            parse_storage_key(bad)
    addresses, topics = parse_log_filter({"address": "0x" + "11" * 20, "topics": [None, ["0x" + "22" * 32]]})
    assert addresses == {b"\x11" * 20} and topics == [None, {b"\x22" * 32}]
    for bad_filter in ([], {"topics": [7]}, {"address": 5}, {"address": "0x11"}, {"topics": "0x" + "22" * 31}):
        with pytest.raises(InvalidParams):
            parse_log_filter(bad_filter)
