"""Span batches (type 1): vectors, rebuilt transactions, encoder round trips, bad input."""

from __future__ import annotations

import time
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.batch import (
    MAX_SPAN_BATCH_ELEMENT_COUNT,
    RawSpanBatch,
    SingularBatch,
    SpanBatchElement,
)
from opfleet.protocol.compression import decompress_channel
from opfleet.protocol.crypto import private_key_to_address
from opfleet.protocol.encoding import write_bitlist, write_uvarint
from opfleet.protocol.transactions import (
    AccessTuple,
    Authorization,
    Transaction,
    decode_transaction,
    encode_transaction,
    recover_sender,
    sign_transaction,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "batches"
OP_MAINNET_GENESIS_L2_TIME = 1686068903
OP_MAINNET_CHAIN_ID = 10


def _hex_vector(name: str) -> bytes:
    return bytes.fromhex((VECTORS / name).read_text().strip())


@pytest.fixture(scope="module")
def roundtrip_body() -> bytes:
    return _hex_vector("raw-span-batch-roundtrip.hex")


@pytest.fixture(scope="module")
def mainnet_span() -> RawSpanBatch:
    # Vector: batches/op-mainnet-span-channel-zlib.hex, one RLP string (4-byte header) then 0x01.
    channel = _hex_vector("op-mainnet-span-channel-zlib.hex")
    data = decompress_channel(channel, 10**8, fjord_active=True).data
    assert data[:5] == bytes.fromhex("ba1581b301")
    batch, consumed = RawSpanBatch.decode_with_length(data[5:])
    assert consumed == len(data) - 5  # README: every byte consumed
    return batch


# --- vectors ----------------------------------------------------------------------------------


def test_roundtrip_vector_is_byte_exact(roundtrip_body):
    # Vector: batches/raw-span-batch-roundtrip.hex (README: 4 blocks, 39 txs: 20 legacy,
    # 10 type 1, 9 type 2, 19 creations, l1_origin_num 16988980031808077784).
    batch, consumed = RawSpanBatch.decode_with_length(roundtrip_body)
    assert consumed == len(roundtrip_body)
    assert batch.encode() == roundtrip_body
    assert batch.block_count == 4 and batch.total_tx_count == 39
    assert batch.l1_origin_num == 16988980031808077784
    assert Counter(e[0] for e in batch.tx_layout()) == {0: 20, 1: 10, 2: 9}
    assert sum(batch.contract_creation_bits) == 19
    assert len(batch.tx_tos) == 20 and len(batch.protected_bits) == 20
    for raw in batch.full_transactions(OP_MAINNET_CHAIN_ID):
        assert encode_transaction(decode_transaction(raw)) == raw


def test_mainnet_channel_fields(mainnet_span):
    # Vector: batches/op-mainnet-span-channel-zlib.hex (README fields).
    b = mainnet_span
    assert (b.block_count, b.total_tx_count) == (143, 1766)
    assert (b.rel_timestamp, b.l1_origin_num) == (32295734, 20089770)
    assert b.parent_check.hex() == "ba1be7cfde4724e81290aa5ae3c082731ce44823"
    assert b.l1_origin_check.hex() == "4bd8da85bfabf4daa6a3f294d3d51dd927c6cbcb"
    assert Counter(e[0] for e in b.tx_layout()) == {0: 454, 1: 11, 2: 1301}
    assert sum(b.contract_creation_bits) == 1
    assert sum(b.block_tx_counts) == 1766
    assert b.epoch_numbers()[0] == 20089746  # README: first epoch


def test_mainnet_rebuilt_transactions_are_genuine(mainnet_span):
    # A wrong rebuild still "recovers" to random addresses; genuine txs show few senders whose
    # nonces run consecutively.
    txs = mainnet_span.full_transactions(OP_MAINNET_CHAIN_ID)
    assert len(txs) == 1766
    nonces_by_sender = defaultdict(list)
    for raw in txs:
        tx = decode_transaction(raw)
        assert encode_transaction(tx) == raw
        assert tx.type == 0 or tx.chain_id == OP_MAINNET_CHAIN_ID
        nonces_by_sender[recover_sender(tx)].append(tx.nonce)
    assert len(nonces_by_sender) < 1000
    repeated = [sorted(n) for n in nonces_by_sender.values() if len(n) > 1]
    assert len(repeated) > 200
    assert all(n == list(range(n[0], n[0] + len(n))) for n in repeated)


def test_mainnet_derive_and_re_encode_reproduce_the_batch(mainnet_span):
    elements = mainnet_span.derive(OP_MAINNET_GENESIS_L2_TIME, 2, OP_MAINNET_CHAIN_ID)
    assert len(elements) == 143
    assert elements[0].timestamp == OP_MAINNET_GENESIS_L2_TIME + 32295734
    assert elements[-1].timestamp == elements[0].timestamp + 142 * 2
    assert (elements[0].epoch_num, elements[-1].epoch_num) == (20089746, 20089770)
    assert [len(e.transactions) for e in elements] == list(mainnet_span.block_tx_counts)
    rebuilt = RawSpanBatch.from_elements(
        elements, OP_MAINNET_GENESIS_L2_TIME, OP_MAINNET_CHAIN_ID, mainnet_span.parent_check,
        mainnet_span.l1_origin_check, first_block_new_epoch=bool(mainnet_span.origin_bits[0]),
        block_time=2,
    )
    assert rebuilt == mainnet_span
    assert rebuilt.encode() == RawSpanBatch.from_elements(
        elements, OP_MAINNET_GENESIS_L2_TIME, OP_MAINNET_CHAIN_ID, mainnet_span.parent_check,
        mainnet_span.l1_origin_check, first_block_new_epoch=bool(mainnet_span.origin_bits[0]),
    ).encode()


def test_to_json(roundtrip_body):
    batch = RawSpanBatch.decode(roundtrip_body)
    out = batch.to_json(OP_MAINNET_CHAIN_ID)
    assert out["type"] == 1 and out["block_count"] == 4
    assert out["parent_check"] == "0x" + batch.parent_check.hex() and len(out["parent_check"]) == 42
    assert out["origin_bits"] == list(batch.origin_bits)
    assert out["block_tx_counts"] == list(batch.block_tx_counts)
    assert out["transactions"] == ["0x" + t.hex() for t in batch.full_transactions(10)]


# --- encoder round trips ----------------------------------------------------------------------

CHAIN = 901
keys = st.integers(min_value=1, max_value=2**200).map(lambda k: k.to_bytes(32, "big"))
u64 = st.integers(min_value=0, max_value=2**64 - 1)
u256 = st.integers(min_value=0, max_value=2**256 - 1)
addresses = st.binary(min_size=20, max_size=20)
access_tuples = st.builds(AccessTuple, addresses, st.just((b"\x07" * 32,)))
auths = st.builds(Authorization, u256, addresses, u64, st.integers(0, 1), u256, u256)


@st.composite
def signed_span_txs(draw):
    kind = draw(st.sampled_from(["legacy", "legacy155", 1, 2, 4]))
    tx_type = 0 if isinstance(kind, str) else kind
    tx = Transaction(
        type=tx_type,
        chain_id=None if kind == "legacy" else CHAIN,
        nonce=draw(u64),
        gas_price=draw(u256) if tx_type < 2 else 0,
        max_priority_fee_per_gas=draw(u256) if tx_type >= 2 else 0,
        max_fee_per_gas=draw(u256) if tx_type >= 2 else 0,
        gas=draw(u64),
        to=draw(addresses) if tx_type == 4 else draw(st.none() | addresses),
        value=draw(u256),
        data=draw(st.binary(max_size=300)),
        access_list=tuple(draw(st.lists(access_tuples, max_size=2))) if tx_type else (),
        authorization_list=tuple(draw(st.lists(auths, max_size=2))) if tx_type == 4 else (),
    )
    key = draw(keys)
    return encode_transaction(sign_transaction(tx, key)), private_key_to_address(key)


@st.composite
def span_blocks(draw):
    count = draw(st.integers(min_value=1, max_value=5))
    epoch = draw(st.integers(min_value=10, max_value=2**40))
    start = draw(st.integers(min_value=1000, max_value=2**40))
    blocks = []
    for i in range(count):
        if i:
            epoch += draw(st.integers(0, 1))
        txs = draw(st.lists(signed_span_txs(), max_size=3))
        element = SpanBatchElement(start + 2 * i, epoch, tuple(t for t, _ in txs))
        blocks.append((element, [s for _, s in txs]))
    return blocks


@settings(max_examples=25, deadline=None)
@given(span_blocks(), st.booleans())
def test_span_batch_round_trip(blocks_and_senders, new_epoch):
    blocks = [b for b, _ in blocks_and_senders]
    genesis = 1000
    body = RawSpanBatch.from_elements(blocks, genesis, CHAIN, b"\x0a" * 32, b"\x0b" * 32,
                                      first_block_new_epoch=new_epoch, block_time=2).encode()
    batch, consumed = RawSpanBatch.decode_with_length(body)
    assert consumed == len(body) and batch.encode() == body
    assert batch.origin_bits[0] == int(new_epoch)
    assert batch.parent_check == b"\x0a" * 20 and batch.l1_origin_check == b"\x0b" * 20
    originals = [tx for b in blocks for tx in b.transactions]
    assert batch.full_transactions(CHAIN) == originals
    assert batch.derive(genesis, 2, CHAIN) == blocks
    senders = [s for _, ss in blocks_and_senders for s in ss]
    assert [recover_sender(decode_transaction(t)) for t in originals] == senders


def test_from_singulars_sets_checks_and_first_origin_bit():
    tx = encode_transaction(sign_transaction(
        Transaction(type=2, chain_id=CHAIN, gas=21000, to=b"\x01" * 20), b"\x05" * 32))
    singulars = [
        SingularBatch(b"\xaa" * 32, 7, b"\xb7" * 32, 100, (tx,)),
        SingularBatch(b"\xab" * 32, 8, b"\xb8" * 32, 102, ()),
    ]
    batch = RawSpanBatch.from_singulars(singulars, first_sequence_number=0, genesis_time=90,
                                        chain_id=CHAIN, block_time=2)
    assert batch.parent_check == b"\xaa" * 20 and batch.l1_origin_check == b"\xb8" * 20
    assert batch.origin_bits == (1, 1) and batch.rel_timestamp == 10 and batch.l1_origin_num == 8
    later = RawSpanBatch.from_singulars(
        singulars, first_sequence_number=3, genesis_time=90, chain_id=CHAIN
    )
    assert later.origin_bits == (0, 1)


def _tx(tx_type=2, chain_id=CHAIN, to=b"\x01" * 20, **kw) -> bytes:
    return encode_transaction(sign_transaction(
        Transaction(type=tx_type, chain_id=chain_id, gas=21000, to=to, **kw), b"\x05" * 32))


@pytest.mark.parametrize(
    "raw, reason",
    [
        (_tx(chain_id=CHAIN + 1), "chain id"),
        (_tx(0, chain_id=CHAIN + 1), "chain id"),
        (_tx(3, max_fee_per_blob_gas=1), "cannot go in a span batch"),
    ],
)
def test_encoder_rejects_foreign_transactions(raw, reason):
    with pytest.raises(ValueError, match=reason):
        RawSpanBatch.from_elements([SpanBatchElement(10, 1, (raw,))], 0, CHAIN, b"\x00" * 20, b"\x00" * 20).encode()


ZERO20 = b"\x00" * 20


def test_encoder_rejects_deposits_and_bad_block_sequences():
    with pytest.raises(DecodeError, match="0x7e"):
        RawSpanBatch.from_elements([SpanBatchElement(10, 1, (b"\x7e\xc0",))], 0, CHAIN, ZERO20, ZERO20).encode()
    with pytest.raises(ValueError, match="advance by one"):
        jump = [SpanBatchElement(10, 1), SpanBatchElement(12, 3)]
        RawSpanBatch.from_elements(jump, 0, CHAIN, ZERO20, ZERO20).encode()
    with pytest.raises(ValueError, match="block_time apart"):
        gap = [SpanBatchElement(10, 1), SpanBatchElement(13, 1)]
        RawSpanBatch.from_elements(gap, 0, CHAIN, ZERO20, ZERO20, block_time=2).encode()
    with pytest.raises(ValueError, match="at least one block"):
        RawSpanBatch.from_elements([], 0, CHAIN, ZERO20, ZERO20).encode()


# --- malformed input --------------------------------------------------------------------------


def test_every_truncation_of_the_roundtrip_vector_fails_cleanly(roundtrip_body):
    # Vector: batches/raw-span-batch-roundtrip.hex consumes every byte, so every cut must fail.
    for cut in range(len(roundtrip_body)):
        with pytest.raises(DecodeError):
            RawSpanBatch.decode(roundtrip_body[:cut])


def _prefix() -> bytes:
    return write_uvarint(5) + write_uvarint(100) + b"\x01" * 20 + b"\x02" * 20


def _body(block_count: int, origin_bits: bytes, counts: list[int], txs: bytes = b"") -> bytes:
    counts_bytes = b"".join(map(write_uvarint, counts))
    return _prefix() + write_uvarint(block_count) + origin_bits + counts_bytes + txs


def _one_tx_section(tx_data: bytes, *, creation: int = 0, legacy: bool = False) -> bytes:
    return (
        write_bitlist([creation]) + write_bitlist([0]) + b"\x11" * 32 + b"\x22" * 32
        + (b"" if creation else b"\x33" * 20) + tx_data + write_uvarint(0) + write_uvarint(21000)
        + (write_bitlist([1]) if legacy else b"")
    )


def test_minimal_hand_built_batch_decodes():
    tx_data = b"\x02" + rlp.encode([b"", b"\x01", b"\x02", b"", []])
    batch = RawSpanBatch.decode(_body(1, b"\x00", [1], _one_tx_section(tx_data)))
    (raw,) = batch.full_transactions(CHAIN)
    tx = decode_transaction(raw)
    assert (tx.type, tx.chain_id, tx.to, tx.gas) == (2, CHAIN, b"\x33" * 20, 21000)
    assert (tx.r, tx.s) == (int("11" * 32, 16), int("22" * 32, 16))


@pytest.mark.parametrize(
    "body, reason",
    [
        (_body(0, b"", []), "no blocks"),
        (_body(3, b"\x08", [0, 0, 0]), "bits set past its length"),
        (_body(MAX_SPAN_BATCH_ELEMENT_COUNT + 1, b"", []), "too large"),
        (_body(1, b"\x00", [MAX_SPAN_BATCH_ELEMENT_COUNT + 1]), "too large"),
        (_body(2, b"\x00", [MAX_SPAN_BATCH_ELEMENT_COUNT, 1]), "total tx count"),
        (_body(MAX_SPAN_BATCH_ELEMENT_COUNT, b"\x00", [0]), "truncated span batch"),
        (_body(1, b"\x00", [MAX_SPAN_BATCH_ELEMENT_COUNT]), "truncated span batch"),
        (_body(1, b"\x00", [2**64 - 1]), "too large"),
        (_prefix() + b"\xff" * 10 + b"\x02", "overflow"),
    ],
)
def test_bad_counts_fail_fast_without_allocating(body, reason):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DecodeError, match=reason):
            RawSpanBatch.decode(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 0.5
    assert peak < 1_000_000


@pytest.mark.parametrize(
    "tx_data, reason",
    [
        (b"\x03" + rlp.encode([b"", b"", b"", b"", []]), "unsupported span batch transaction type"),
        (b"\x7e" + rlp.encode([b""]), "unsupported span batch transaction type 126"),
        (rlp.encode(b"abc"), "must be an RLP list"),
        (rlp.encode([b"\x00\x01", b"", b""]), "leading zero"),  # non-canonical value
        (rlp.encode([b"", b"", b"", b""]), "extra fields"),  # legacy takes 3 fields
        (rlp.encode([b"", b""]), "truncated RLP item"),  # missing data
        (b"\x02" + rlp.encode([b"", b"", b"", b"", [[b"\x01" * 19, []]]]), "access list address"),
        (b"\x01" + rlp.encode([b"", b"", [b""], []]), "expected an RLP string"),
        (b"\x04" + rlp.encode([b"", b"", b"", b"", [], []]), "cannot be a contract creation"),
        (b"\x04" + rlp.encode([b"\x01" * 33, b"", b"", b"", [], []]), "wider than 256 bits"),
        (b"\x02\xc6\x81\x01\x80\x80\x80\xc0", "single byte encoded as a string"),
    ],
)
def test_bad_tx_data_is_rejected(tx_data, reason):
    creation = 1 if tx_data[:1] == b"\x04" and b"\x01" * 33 not in tx_data else 0
    section = _one_tx_section(tx_data, creation=creation, legacy=tx_data[0] >= 0xC0)
    body = _body(1, b"\x00", [1], section)
    with pytest.raises(DecodeError, match=reason):
        RawSpanBatch.decode(body)


def test_directly_built_batches_are_validated_when_rebuilt():
    good = RawSpanBatch.decode(_body(1, b"\x00", [1], _one_tx_section(
        b"\x02" + rlp.encode([b"", b"", b"", b"", []]))))
    from dataclasses import replace

    bad_data = b"\x02" + rlp.encode([b"\x00", b"", b"", b"", []])
    bad = replace(good, tx_datas=(bad_data,))  # the cached layout must not be reused
    with pytest.raises(DecodeError, match="tx_data 0"):
        bad.full_transactions(CHAIN)
    with pytest.raises(DecodeError, match="tx_tos"):
        replace(good, tx_tos=()).full_transactions(CHAIN)


def test_l1_origin_underflow_is_rejected():
    batch = RawSpanBatch.decode(_body(3, write_bitlist([0, 1, 1]), [0, 0, 0]).replace(
        write_uvarint(100), write_uvarint(1), 1))
    with pytest.raises(DecodeError, match="below zero"):
        batch.epoch_numbers()
    ok = RawSpanBatch.decode(_body(3, write_bitlist([1, 1, 0]), [0, 0, 0]))
    assert ok.epoch_numbers() == [99, 100, 100]  # bit 0 does not count


def test_hand_built_batches_with_impossible_columns_raise_value_error():
    from dataclasses import replace

    good = RawSpanBatch.decode(_body(1, b"\x00", [1], _one_tx_section(
        b"\x02" + rlp.encode([b"", b"", b"", b"", []]))))
    with pytest.raises(ValueError, match="0 or 1"):
        replace(good, y_parity_bits=(2,)).full_transactions(CHAIN)
    with pytest.raises(ValueError, match="64 bytes"):
        replace(good, tx_sigs=(b"\x01" * 63,)).full_transactions(CHAIN)
    with pytest.raises(ValueError, match="one entry per block"):
        replace(good, origin_bits=(0, 1)).encode()


_ROUNDTRIP_TX_DATAS = RawSpanBatch.decode(_hex_vector("raw-span-batch-roundtrip.hex")).tx_datas


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fast_tx_data_scan_agrees_with_the_careful_parser(data):
    # The inline scan must accept exactly what the careful parser accepts, with the same layout.
    from opfleet.protocol.batch import span

    item = bytearray(data.draw(st.sampled_from(_ROUNDTRIP_TX_DATAS)))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, min(len(item), 12) - 1))
        item[position] = data.draw(st.sampled_from([0, 0x80, 0x81, 0xB8, 0xC0, 0xF8, 0xF9, 0x55]))
    item = bytes(item)
    try:
        careful = span._tx_data_item(item, 0, len(item))
        expected = (careful[:4], careful[4])
    except DecodeError:
        expected = None
    try:
        _, layout, _, end = span._scan_tx_datas(item, 0, len(item), 1, [0])
        found = (layout[0], end)
    except DecodeError:
        found = None
    assert found == expected


def test_replaced_creation_bits_revalidate_set_code_transactions():
    from dataclasses import replace

    set_code = b"\x04" + rlp.encode([b"", b"", b"", b"", [], []])
    good = RawSpanBatch.decode(_body(1, b"\x00", [1], _one_tx_section(set_code)))
    assert decode_transaction(good.full_transactions(CHAIN)[0]).type == 4
    bad = replace(good, contract_creation_bits=(1,), tx_tos=())
    with pytest.raises(DecodeError, match="cannot be a contract creation"):
        bad.full_transactions(CHAIN)


# --- long span batches: memory follows the wire, not the block count ------------------------------


def _empty_blocks_body(block_count: int, *, all_new_origins: bool = False, wide_zero_counts: bool = False) -> bytes:
    """A legal span batch of ``block_count`` empty blocks (it compresses to a few dozen bytes)."""
    bits = ((1 << block_count) - 1).to_bytes((block_count + 7) // 8, "big") if all_new_origins \
        else bytes((block_count + 7) // 8)
    counts = b"\x80\x00" * block_count if wide_zero_counts else bytes(block_count)  # 0, or 0 as 2 bytes
    return _prefix() + write_uvarint(block_count) + bits + counts


@pytest.mark.parametrize("shape", ["zero-bits", "all-new-origins", "wide-zero-counts"])
def test_a_span_batch_of_millions_of_empty_blocks_decodes_in_bounded_memory(shape):
    # A 49-byte brotli channel declared 8.8 M empty blocks: 340 MB to hold as tuples of ints, and
    # all-ones origin bits took minutes (bit by bit from one big integer). Acceptance is the
    # spec's (up to 10,000,000 blocks); only the representation changed.
    count = {"zero-bits": 8_800_000, "all-new-origins": 3_000_000, "wide-zero-counts": 1_000_000}[shape]
    body = _empty_blocks_body(count, all_new_origins=shape == "all-new-origins",
                              wide_zero_counts=shape == "wide-zero-counts")
    tracemalloc.start()
    try:
        batch = RawSpanBatch.decode(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert batch.block_count == len(batch.origin_bits) == len(batch.block_tx_counts) == count
    assert batch.total_tx_count == 0 and sum(batch.block_tx_counts) == 0
    assert batch.origin_bits[0] == batch.origin_bits[-1] == (1 if shape == "all-new-origins" else 0)
    extra = 8 * count if shape == "wide-zero-counts" else 0  # the uvarint loop's list, freed after
    assert peak < len(body) + 2.5 * count + extra, peak  # tuples: 16 bytes a block and more


def test_per_block_columns_compare_like_tuples_whichever_way_the_batch_was_made():
    from dataclasses import replace

    blocks = [SpanBatchElement(1000 + 2 * i, 7 + (i >= 2), ()) for i in range(4)]
    built = RawSpanBatch.from_elements(blocks, 0, 10, b"\x01" * 20, b"\x02" * 20)
    decoded = RawSpanBatch.decode(built.encode())
    assert decoded == built and hash(decoded) == hash(built)
    assert decoded.origin_bits == (0, 0, 1, 0) and decoded.origin_bits == [0, 0, 1, 0]
    assert (0, 0, 1, 0) == decoded.origin_bits and decoded.origin_bits != (0, 0, 1, 1)
    assert decoded.block_tx_counts == (0, 0, 0, 0)
    wide = replace(built, block_tx_counts=(300, 0, 0, 0))  # a count above a byte stays a tuple
    assert wide.block_tx_counts == (300, 0, 0, 0) and isinstance(wide.block_tx_counts, tuple)


def test_max_blocks_is_the_callers_limit_and_derivation_keeps_the_specs():
    from opfleet.protocol.batch import SpanBatchTooLong, read_batches

    body = b"\x01" + _empty_blocks_body(1000)
    channel_data = rlp.encode(body)
    with pytest.raises(SpanBatchTooLong) as raised:
        list(read_batches(channel_data, 10**8, max_blocks=999))
    assert (raised.value.block_count, raised.value.max_blocks) == (1000, 999)
    assert raised.value.offset == len(rlp.encode(body)) - len(body) + 1 + len(_prefix())
    [batch] = read_batches(channel_data, 10**8, max_blocks=1000)
    [same] = read_batches(channel_data, 10**8)  # derivation's call: no caller limit
    assert batch == same and batch.block_count == 1000


@settings(max_examples=60)
@given(st.lists(st.integers(0, 1), max_size=200))
def test_bit_lists_round_trip_through_the_linear_codec(bits):
    from opfleet.protocol.encoding import read_bit_column, read_bitlist

    encoded = write_bitlist(bits)
    reference = 0
    for i, bit in enumerate(bits):
        reference |= bit << i
    assert encoded == reference.to_bytes((len(bits) + 7) // 8, "big")
    assert read_bitlist(encoded, 0, len(bits)) == (bits, len(encoded))
    assert read_bit_column(encoded, 0, len(bits))[0] == bits
