"""Deposit transactions (0x7E), source hashes and TransactionDeposited log decoding.

Vectors: tests/vectors/deposits.json (kona deposits.rs), tests/vectors/source-hashes.json,
tests/vectors/upgrade-txs/*_tx_*.hex (kona's encoded upgrade deposits).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import (
    DEPOSIT_EVENT_TOPIC,
    OPTIMISTIC_BLOCK_DEPOSITOR,
    DepositTx,
    after_force_include_source_hash,
    decode_deposit_tx,
    deposit_from_log,
    invalidated_block_deposit,
    invalidated_block_source_hash,
    l1_info_source_hash,
    upgrade_source_hash,
    user_deposit_source_hash,
    user_deposits,
)
from opfleet.protocol.log import Log

VECTORS = Path(__file__).parents[1] / "vectors"
DEPOSITS = json.loads((VECTORS / "deposits.json").read_text())
SOURCE_HASHES = json.loads((VECTORS / "source-hashes.json").read_text())
PORTAL = bytes.fromhex("beb5fc579115071764c7423a4f12edde41f106ed")


def h(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def vector_log(case: dict) -> Log:
    return Log(address=PORTAL, topics=tuple(h(t) for t in case["topics"]), data=h(case["data"]))


def deposit_log(opaque: bytes, *, to: bytes = b"\x22" * 20, version: int = 0) -> Log:
    padded = opaque + bytes(-len(opaque) % 32)
    data = word(32) + word(len(opaque)) + padded
    topics = (DEPOSIT_EVENT_TOPIC, bytes(12) + b"\x11" * 20, bytes(12) + to, word(version))
    return Log(address=PORTAL, topics=topics, data=data)


def opaque_data(
    mint: int = 0, value: int = 0, gas: int = 21000, creation: bool = False, data: bytes = b""
) -> bytes:
    return word(mint) + word(value) + gas.to_bytes(8, "big") + bytes([int(creation)]) + data


# --- vectors --------------------------------------------------------------------------------------


def test_event_topic_is_signature_hash() -> None:
    assert DEPOSIT_EVENT_TOPIC == keccak256(b"TransactionDeposited(address,address,uint256,bytes)")
    assert DEPOSIT_EVENT_TOPIC == h(DEPOSITS["event_topic0"])


@pytest.mark.parametrize("case", DEPOSITS["vectors"], ids=lambda c: c["name"])
def test_deposit_log_vectors(case: dict) -> None:
    tx = deposit_from_log(vector_log(case), h(case["l1_block_hash"]), case["log_index"])
    assert tx.encode() == h(case["expected_tx"])
    assert decode_deposit_tx(h(case["expected_tx"])) == tx
    assert tx.is_system_tx is False


def test_creation_vector_has_no_recipient() -> None:
    case = next(c for c in DEPOSITS["vectors"] if c["name"] == "creation_mint10_value100_gas1000")
    tx = deposit_from_log(vector_log(case), h(case["l1_block_hash"]), case["log_index"])
    assert (tx.to, tx.mint, tx.value, tx.gas) == (None, 10, 100, 1000)
    assert tx.from_address == b"\x11" * 20


UPGRADE_TX_FILES = sorted((VECTORS / "upgrade-txs").glob("*_tx_*.hex"))


@pytest.mark.parametrize("path", UPGRADE_TX_FILES, ids=lambda p: p.stem)
def test_upgrade_tx_vectors_decode_and_reencode(path: Path) -> None:
    raw = bytes.fromhex(path.read_text().strip())
    tx = decode_deposit_tx(raw)
    assert tx.encode() == raw
    assert tx.mint == 0 and tx.value == 0 and not tx.is_system_tx


@pytest.mark.parametrize(
    "case",
    [case for fork in SOURCE_HASHES["upgrade"].values() for case in fork],
    ids=lambda c: c["intent"],
)
def test_upgrade_source_hashes(case: dict) -> None:
    assert upgrade_source_hash(case["intent"]) == h(case["source_hash"])


def test_other_source_hash_domains() -> None:
    for case in SOURCE_HASHES["l1_info"]:
        got = l1_info_source_hash(h(case["l1_block_hash"]), case["seq_number"])
        assert got == h(case["source_hash"])
    for case in SOURCE_HASHES["user_deposit"]:
        got = user_deposit_source_hash(h(case["l1_block_hash"]), case["log_index"])
        assert got == h(case["source_hash"])
    for case in SOURCE_HASHES["after_force_include"]:
        got = after_force_include_source_hash(h(case["l1_block_hash"]), case["seq_number"])
        assert got == h(case["source_hash"])


def test_invalidated_block_deposit() -> None:
    # op-node deposit_source_test.go TestInvalidatedBlockTx: source = keccak(u256(4) ++ outputRoot).
    preimage = bytes(32) + b"\x01" * 32 + b"\x02" * 32 + b"\x03" * 32
    tx = invalidated_block_deposit(preimage)
    root = keccak256(preimage)
    assert tx.source_hash == keccak256(word(4) + root) == invalidated_block_source_hash(root)
    assert (tx.from_address, tx.to, tx.gas) == (OPTIMISTIC_BLOCK_DEPOSITOR, bytes(20), 36_000)
    assert (tx.data, tx.mint, tx.value, tx.is_system_tx) == (preimage, 0, 0, False)
    assert decode_deposit_tx(tx.encode()) == tx
    with pytest.raises(ValueError):
        invalidated_block_deposit(preimage[:-1])


# --- TransactionDeposited decoding: op-node's checks --------------------------------------------


def test_accepts_well_formed_log() -> None:
    tx = deposit_from_log(deposit_log(opaque_data(5, 6, 100_000, data=b"hello")), b"\xaa" * 32, 7)
    assert (tx.mint, tx.value, tx.gas, tx.data, tx.to) == (5, 6, 100_000, b"hello", b"\x22" * 20)
    assert tx.source_hash == user_deposit_source_hash(b"\xaa" * 32, 7)


def test_any_non_zero_creation_byte_means_creation() -> None:
    opaque = opaque_data(data=b"x")
    opaque = opaque[:72] + b"\x07" + opaque[73:]
    assert deposit_from_log(deposit_log(opaque), bytes(32), 0).to is None


def test_non_zero_padding_bytes_are_accepted_like_op_node() -> None:
    log = deposit_log(opaque_data(data=b"abc"))
    data = log.data[:-1] + b"\x01"  # a stray byte in the ABI padding
    tx = deposit_from_log(replace(log, data=data), bytes(32), 0)
    assert tx.data == b"abc"


@pytest.mark.parametrize(
    ("mutate", "message", "offset"),
    [
        (lambda log: replace(log, topics=log.topics[:3]), "4 topics", None),
        (lambda log: replace(log, topics=(*log.topics, bytes(32))), "4 topics", None),
        (
            lambda log: replace(log, topics=(bytes(32), *log.topics[1:])),
            "TransactionDeposited",
            None,
        ),
        (lambda log: replace(log, data=log.data[:63]), "too short", 0),
        (lambda log: replace(log, data=log.data + b"\x00"), "multiple of 32", None),
        (lambda log: replace(log, data=word(64) + log.data[32:]), "offset", 0),
        (lambda log: replace(log, data=word(2**255 + 32) + log.data[32:]), "offset", 0),
        (lambda log: replace(log, data=log.data[:32] + word(10_000) + log.data[64:]), "length", 32),
        (lambda log: replace(log, data=log.data[:32] + word(2**200) + log.data[64:]), "length", 32),
        (lambda log: replace(log, data=log.data + bytes(32)), "length", 32),  # padding not minimal
        (lambda log: replace(log, topics=(*log.topics[:3], word(1))), "version", None),
    ],
)
def test_rejects_malformed_logs(mutate, message: str, offset: int | None) -> None:
    log = mutate(deposit_log(opaque_data(data=b"payload")))
    with pytest.raises(DecodeError, match=message) as info:
        deposit_from_log(log, bytes(32), 0)
    if offset is not None:
        assert info.value.offset == offset


def test_rejects_short_opaque_data() -> None:
    with pytest.raises(DecodeError, match="opaqueData too short"):
        deposit_from_log(deposit_log(opaque_data()[:72]), bytes(32), 0)
    # Exactly 73 bytes is fine.
    assert deposit_from_log(deposit_log(opaque_data()), bytes(32), 0).data == b""


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), topic_count=st.integers(0, 5))
def test_garbage_logs_only_raise_decode_error(data: bytes, topic_count: int) -> None:
    topics = (DEPOSIT_EVENT_TOPIC,) + (bytes(32),) * max(0, topic_count - 1)
    try:
        deposit_from_log(Log(PORTAL, topics[:topic_count], data), bytes(32), 0)
    except DecodeError:
        pass


# --- user_deposits over a block's receipts -------------------------------------------------------


def test_user_deposits_use_block_wide_log_index() -> None:
    block = b"\xbb" * 32
    other = Log(b"\x99" * 20, (b"\x01" * 32,), b"")
    dep = deposit_log(opaque_data(data=b"a"))
    not_deposit_event = replace(dep, topics=(b"\x02" * 32, *dep.topics[1:]))
    receipts = [
        (1, [other, other]),
        (1, [dep, not_deposit_event]),  # log index 2
        (0, []),
        (1, [replace(dep, address=b"\x98" * 20), dep]),  # other contract at 4, deposit at 5
    ]
    deposits = user_deposits(receipts, PORTAL, block)
    expected = [user_deposit_source_hash(block, 2), user_deposit_source_hash(block, 5)]
    assert [d.source_hash for d in deposits] == expected


def test_user_deposits_skip_failed_receipts() -> None:
    dep = deposit_log(opaque_data())
    assert user_deposits([(0, [dep])], PORTAL, bytes(32)) == []


def test_user_deposits_detect_incomplete_receipts() -> None:
    dep = replace(deposit_log(opaque_data()), log_index=3)
    with pytest.raises(DecodeError, match="incomplete"):
        user_deposits([(1, [dep])], PORTAL, bytes(32))
    assert len(user_deposits([(1, [replace(dep, log_index=0)])], PORTAL, bytes(32))) == 1


def test_user_deposits_malformed_deposit_raises() -> None:
    bad = replace(deposit_log(opaque_data()), topics=(DEPOSIT_EVENT_TOPIC, bytes(32)))
    with pytest.raises(DecodeError):
        user_deposits([(1, [bad])], PORTAL, bytes(32))


# --- deposit tx encoding -------------------------------------------------------------------------


deposit_txs = st.builds(
    DepositTx,
    source_hash=st.binary(min_size=32, max_size=32),
    from_address=st.binary(min_size=20, max_size=20),
    to=st.none() | st.binary(min_size=20, max_size=20),
    mint=st.integers(0, 2**256 - 1),
    value=st.integers(0, 2**256 - 1),
    gas=st.integers(0, 2**64 - 1),
    is_system_tx=st.booleans(),
    data=st.binary(max_size=300),
)


@settings(max_examples=120, deadline=None)
@given(deposit_txs)
def test_encode_decode_round_trip_and_matches_rlp_package(tx: DepositTx) -> None:
    raw = tx.encode()
    assert raw[0] == 0x7E
    assert decode_deposit_tx(raw) == tx
    fields = [tx.source_hash, tx.from_address, tx.to or b"", tx.mint, tx.value, tx.gas]
    fields += [tx.is_system_tx, tx.data]
    assert raw[1:] == rlp.encode(fields)  # independent RLP implementation agrees
    assert tx.tx_hash() == keccak256(raw)


def test_to_json() -> None:
    tx = invalidated_block_deposit(bytes(128))
    out = tx.to_json()
    assert out["type"] == 0x7E and out["gas"] == 36_000 and out["to"] == "0x" + "00" * 20
    assert out["from"] == "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0002"
    assert out["isSystemTx"] is False


def _raw(fields: list) -> bytes:
    return b"\x7e" + rlp.encode(fields)


GOOD_FIELDS = [b"\x01" * 32, b"\x02" * 20, b"\x03" * 20, 0, 0, 21000, False, b""]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"\x02" + rlp.encode(GOOD_FIELDS), "type 0x02"),
        (b"\x7e", "truncated"),
        (_raw(GOOD_FIELDS)[:-1], "exceeds"),
        (_raw(GOOD_FIELDS) + b"\x00", "trailing"),
        (_raw(GOOD_FIELDS[:7]), "7 fields"),
        (_raw([*GOOD_FIELDS, b""]), "9 fields"),
        (_raw([b"\x01" * 31, *GOOD_FIELDS[1:]]), "source hash"),
        (_raw([GOOD_FIELDS[0], b"\x02" * 19, *GOOD_FIELDS[2:]]), "from"),
        (_raw([*GOOD_FIELDS[:2], b"\x03" * 10, *GOOD_FIELDS[3:]]), "to"),
        (_raw([*GOOD_FIELDS[:3], b"\x00\x01", *GOOD_FIELDS[4:]]), "leading zero"),
        (_raw([*GOOD_FIELDS[:5], b"\x01" * 9, *GOOD_FIELDS[6:]]), "gas is longer"),
        (_raw([*GOOD_FIELDS[:3], b"\x01" * 33, *GOOD_FIELDS[4:]]), "mint is longer"),
        (_raw([*GOOD_FIELDS[:6], b"\x02", b""]), "isSystemTx"),
        (_raw([*GOOD_FIELDS[:7], [b""]]), "nested"),
        (b"\x7e\x80", "expected an RLP list"),
        (b"\x7e\xf9\xff\xff", "exceeds"),  # declares a 65535-byte list with 0 bytes left
        (b"\x7e\xf8\x05\x81\x01\x80\x80\x80", "long form"),
        (b"\x7e\xf9\x00\x05", "leading zero"),
        (b"\x7e\xc2\x81\x05", "non-canonical"),
    ],
)
def test_decode_rejects_bad_encodings(raw: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        decode_deposit_tx(raw)
    assert info.value.offset is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_decode_garbage_only_raises_decode_error(raw: bytes) -> None:
    try:
        decode_deposit_tx(b"\x7e" + raw)
    except DecodeError:
        pass


def test_dataclass_validation() -> None:
    with pytest.raises(ValueError):
        DepositTx(bytes(31), bytes(20), None, 0, 0, 0, False, b"")
    with pytest.raises(ValueError):
        DepositTx(bytes(32), bytes(20), None, 0, 0, 2**64, False, b"")
