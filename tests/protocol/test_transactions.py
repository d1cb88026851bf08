"""EIP-2718 transaction codec: vectors, signing round trips and malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from opfleet.errors import DecodeError
from opfleet.protocol.crypto import SECP256K1_N, private_key_to_address
from opfleet.protocol.transactions import (
    AccessTuple,
    Authorization,
    Transaction,
    decode_transaction,
    encode_transaction,
    recover_sender,
    sign_transaction,
    signing_hash,
    transaction_hash,
    tx_to_json,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def _hex_vector(name: str) -> bytes:
    return bytes.fromhex((VECTORS / "batches" / name).read_text().strip())


# --- vectors ----------------------------------------------------------------------------------


def test_real_batcher_tx_decodes_to_readme_fields():
    # Vector: batches/op-mainnet-batcher-tx-signed.hex (README: to, nonce, sender, hash, calldata).
    raw = _hex_vector("op-mainnet-batcher-tx-signed.hex")
    tx = decode_transaction(raw)
    assert tx.type == 2
    assert tx.chain_id == 1
    assert tx.nonce == 1104454
    assert tx.to == bytes.fromhex("ff00000000000000000000000000000000000010")
    assert len(tx.data) == 119823
    assert tx.data[0] == 0
    assert recover_sender(tx) == bytes.fromhex("6887246668a3b87f54deb3b94ba47a6f63f32985")
    assert transaction_hash(raw).hex() == (
        "e69d94330faafb4f716f7ad9b3b50ea8ff5ce57aea6d2f8be07afb7fe49cd6cf"
    )
    assert encode_transaction(tx) == raw


def test_eip155_example_signs_to_the_published_bytes():
    # EIP-155 "Example": key 0x46.., nonce 9, 20 gwei, 21000 gas, to 0x35.., 1 ether, chain 1.
    tx = Transaction(
        type=0, chain_id=1, nonce=9, gas_price=20 * 10**9, gas=21000, to=b"\x35" * 20, value=10**18
    )
    assert signing_hash(tx).hex() == (
        "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
    )
    signed = sign_transaction(tx, b"\x46" * 32)
    assert encode_transaction(signed).hex() == (
        "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025"
        "a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb70"
        "3304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    )
    assert signed.v == 37 and signed.is_protected


def test_pre_eip155_legacy_uses_v_27_or_28_and_recovers():
    key = b"\x11" * 32
    signed = sign_transaction(Transaction(type=0, nonce=1, gas=21000, to=b"\x01" * 20), key)
    assert signed.v in (27, 28)
    assert not signed.is_protected
    decoded = decode_transaction(encode_transaction(signed))
    assert decoded.chain_id is None
    assert recover_sender(decoded) == private_key_to_address(key)


def test_tx_to_json_lists_type_specific_fields():
    tx = sign_transaction(
        Transaction(
            type=4, chain_id=10, nonce=3, max_priority_fee_per_gas=1, max_fee_per_gas=2, gas=50000,
            to=b"\x22" * 20, data=b"\xab",
            access_list=(AccessTuple(b"\x33" * 20, (b"\x44" * 32,)),),
            authorization_list=(Authorization(10, b"\x55" * 20, 7, 1, 5, 6),),
        ),
        b"\x07" * 32,
    )
    out = tx_to_json(tx)
    assert out["type"] == 4 and out["chain_id"] == 10 and out["to"] == "0x" + "22" * 20
    assert out["data"] == "0xab"
    assert out["access_list"] == [{"address": "0x" + "33" * 20, "storage_keys": ["0x" + "44" * 32]}]
    assert out["authorization_list"][0]["nonce"] == 7
    assert out["y_parity"] == tx.v and "gas_price" not in out
    assert out["hash"] == "0x" + transaction_hash(encode_transaction(tx)).hex()
    legacy = tx_to_json(sign_transaction(Transaction(type=0, gas=1), b"\x07" * 32))
    assert legacy["to"] is None and legacy["v"] in (27, 28) and "access_list" not in legacy


# --- property round trips ---------------------------------------------------------------------

keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
u64 = st.integers(min_value=0, max_value=2**64 - 1)
u256 = st.integers(min_value=0, max_value=2**256 - 1)
addresses = st.binary(min_size=20, max_size=20)
hashes = st.binary(min_size=32, max_size=32)
access_lists = st.lists(
    st.builds(AccessTuple, addresses, st.lists(hashes, max_size=2).map(tuple)),
    max_size=2,
).map(tuple)
authorizations = st.lists(
    st.builds(Authorization, u256, addresses, u64, st.integers(0, 255), u256, u256), max_size=2
).map(tuple)


@st.composite
def unsigned_transactions(draw):
    tx_type = draw(st.sampled_from([0, 1, 2, 3, 4]))
    chain_id = draw(st.none() | u64) if tx_type == 0 else draw(u64)
    to = draw(addresses) if tx_type in (3, 4) else draw(st.none() | addresses)
    return Transaction(
        type=tx_type,
        chain_id=chain_id,
        nonce=draw(u64),
        gas_price=draw(u256) if tx_type in (0, 1) else 0,
        max_priority_fee_per_gas=draw(u256) if tx_type >= 2 else 0,
        max_fee_per_gas=draw(u256) if tx_type >= 2 else 0,
        gas=draw(u64),
        to=to,
        value=draw(u256),
        data=draw(st.binary(max_size=80)),
        access_list=draw(access_lists) if tx_type else (),
        max_fee_per_blob_gas=draw(u256) if tx_type == 3 else 0,
        blob_versioned_hashes=(
            tuple(draw(st.lists(hashes, max_size=3))) if tx_type == 3 else ()
        ),
        authorization_list=draw(authorizations) if tx_type == 4 else (),
    )


@settings(max_examples=60, deadline=None)
@given(unsigned_transactions(), keys)
def test_signed_transactions_round_trip_and_recover(tx, key):
    signed = sign_transaction(tx, key)
    raw = encode_transaction(signed)
    decoded = decode_transaction(raw)
    assert decoded == signed
    assert encode_transaction(decoded) == raw
    assert recover_sender(decoded) == private_key_to_address(key)
    assert (raw[0] >= 0xC0) == (tx.type == 0)


# --- malformed input --------------------------------------------------------------------------


def _signed_dynamic_fee() -> bytes:
    tx = Transaction(type=2, chain_id=10, nonce=5, max_priority_fee_per_gas=1, max_fee_per_gas=9,
                     gas=21000, to=b"\x01" * 20, value=1, data=b"\x00\x01")
    return encode_transaction(sign_transaction(tx, b"\x09" * 32))


def test_every_truncation_of_a_signed_tx_is_a_decode_error():
    raw = _signed_dynamic_fee()
    for cut in range(len(raw)):
        with pytest.raises(DecodeError):
            decode_transaction(raw[:cut])


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "empty"),
        (b"\x05\xc0", "unsupported transaction type 0x05"),
        (b"\x7e\xc0", "unsupported transaction type 0x7e"),
        (b"\x02", "too short"),
        (b"\x02\x80", "must be an RLP list"),
        (b"\x85hello", "must be an RLP list"),
    ],
)
def test_envelope_errors(raw, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_transaction(raw)


def _legacy_fields() -> list:
    return [b"\x01", b"\x02", b"\x52\x08", b"\x01" * 20, b"", b"", b"\x1b", b"\x01", b"\x01"]


@pytest.mark.parametrize(
    "index, value, reason",
    [
        (0, b"\x00\x01", "leading zero"),  # non-canonical nonce
        (0, b"\x00", "leading zero"),  # zero must be 0x80, not 0x00
        (0, b"\x01" * 9, "wider than 64 bits"),  # nonce is uint64
        (3, b"\x01" * 19, "expected 20 bytes"),  # short address
        (5, [b"\x01"], "expected a byte string"),  # data as a list
        (1, [], "expected an integer"),
    ],
)
def test_field_errors(index, value, reason):
    fields = _legacy_fields()
    fields[index] = value
    with pytest.raises(DecodeError, match=reason):
        decode_transaction(rlp.encode(fields))


def test_field_count_and_trailing_bytes_are_errors():
    with pytest.raises(DecodeError, match="9 fields"):
        decode_transaction(rlp.encode(_legacy_fields()[:8]))
    with pytest.raises(DecodeError, match="malformed RLP"):
        decode_transaction(rlp.encode(_legacy_fields()) + b"\x00")


@pytest.mark.parametrize(
    "nonce_encoding",
    [b"\x81\x01", b"\xb8\x01\x01"],  # a lone byte as a string; long form for a short string
)
def test_non_canonical_rlp_lengths_are_rejected(nonce_encoding):
    payload = nonce_encoding + b"".join(rlp.encode(f) for f in _legacy_fields()[1:])
    raw = bytes([0xC0 + len(payload)]) + payload
    with pytest.raises(DecodeError, match="malformed RLP"):
        decode_transaction(raw)


def test_blob_and_set_code_txs_need_a_destination():
    fields = [b"\x01", b"", b"", b"", b"", b"", b"", b"", [], b"", [], b"", b"\x01", b"\x01"]
    blob = rlp.encode(fields)
    with pytest.raises(DecodeError, match="to: expected 20 bytes"):
        decode_transaction(b"\x03" + blob)
    with pytest.raises(ValueError, match="cannot create contracts"):
        encode_transaction(Transaction(type=4, chain_id=1, to=None))


def test_deep_nesting_is_a_decode_error_not_a_recursion_error():
    with pytest.raises(DecodeError):
        decode_transaction(b"\x02" + b"\xc1" * 5000 + b"\xc0")


def test_bad_signatures_do_not_recover():
    tx = decode_transaction(_signed_dynamic_fee())
    from dataclasses import replace

    for bad in (replace(tx, v=2), replace(tx, r=0), replace(tx, s=SECP256K1_N - 1)):
        with pytest.raises(DecodeError):
            recover_sender(bad)
    with pytest.raises(DecodeError, match="invalid legacy signature"):
        recover_sender(Transaction(type=0, v=30, r=1, s=1))
