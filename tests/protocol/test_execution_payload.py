"""The header an Engine API execution payload commits to (``header_from_execution_payload``).

Vector: ethereum/tests ``eip2930_Cancun`` block 1 (``tests/vectors/execution``), whose hash is
known: written as a ``ExecutionPayloadV3`` its fields must rebuild exactly that header.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rlp

from opfleet.protocol.block import (
    EMPTY_REQUESTS_HASH,
    header_from_execution_payload,
    payload_data,
    payload_quantity,
    payload_transactions,
)
from opfleet.protocol.hexjson import HexJsonError
from opfleet.protocol.trie import EMPTY_TRIE_ROOT

DATA = Path(__file__).parent.parent / "vectors" / "execution"
CANCUN_BLOCK_HASH = "ec8f711531a4aa2ddcf1a066f8bb95928dc68bd32c5063c4315c506ff9027d96"
V3 = {"withdrawals": True, "withdrawals_root": False, "blob_properties": True}


def _cancun_payload() -> tuple[dict, bytes]:
    raw = bytes.fromhex((DATA / "eip2930_cancun_block1.rlp.hex").read_text().strip())
    fields, txs, _ommers, _withdrawals = rlp.decode(raw)
    (parent, _ommers_hash, coinbase, state, _txs_root, receipts, bloom, _difficulty, number, gas_limit,
     gas_used, timestamp, extra, mix, _nonce, base_fee, _withdrawals_root, blob_used, excess, beacon) = fields

    def quantity(value: bytes) -> str:
        return hex(int.from_bytes(value, "big"))

    payload = {
        "parentHash": "0x" + parent.hex(), "feeRecipient": "0x" + coinbase.hex(), "stateRoot": "0x" + state.hex(),
        "receiptsRoot": "0x" + receipts.hex(), "logsBloom": "0x" + bloom.hex(), "prevRandao": "0x" + mix.hex(),
        "blockNumber": quantity(number), "gasLimit": quantity(gas_limit), "gasUsed": quantity(gas_used),
        "timestamp": quantity(timestamp), "extraData": "0x" + extra.hex(), "baseFeePerGas": quantity(base_fee),
        "transactions": ["0x" + (t if isinstance(t, bytes) else rlp.encode(t)).hex() for t in txs],
        "withdrawals": [], "blobGasUsed": quantity(blob_used), "excessBlobGas": quantity(excess),
    }
    return payload, beacon


def test_a_cancun_payload_rebuilds_the_block_header():
    payload, beacon = _cancun_payload()
    header = header_from_execution_payload(payload, parent_beacon_block_root=beacon, **V3)
    assert header.hash().hex() == CANCUN_BLOCK_HASH
    assert header.withdrawals_root == EMPTY_TRIE_ROOT and header.requests_hash is None
    # The version decides the fields: without blob properties it is another block.
    v2 = header_from_execution_payload(payload, withdrawals=True, withdrawals_root=False, blob_properties=False,
                                       parent_beacon_block_root=beacon)
    assert v2.blob_gas_used is None and v2.parent_beacon_block_root is None
    assert v2.hash().hex() != CANCUN_BLOCK_HASH


def test_payloads_built_in_process_may_hold_bytes_and_ints():
    payload, beacon = _cancun_payload()
    native = {k: (bytes.fromhex(v[2:]) if k in ("parentHash", "logsBloom", "extraData") else
                  int(v, 16) if k in ("blockNumber", "gasUsed", "baseFeePerGas") else v) for k, v in payload.items()}
    native["transactions"] = [bytes.fromhex(t[2:]) for t in payload["transactions"]]
    header = header_from_execution_payload(native, parent_beacon_block_root=beacon, **V3)
    assert header.hash().hex() == CANCUN_BLOCK_HASH


def test_from_isthmus_the_payload_gives_the_withdrawals_root_and_requests_are_empty():
    payload, beacon = _cancun_payload()
    payload["withdrawalsRoot"] = "0x" + "ab" * 32
    header = header_from_execution_payload(payload, withdrawals=True, withdrawals_root=True, blob_properties=True,
                                           parent_beacon_block_root=beacon)
    assert header.withdrawals_root == b"\xab" * 32 and header.requests_hash == EMPTY_REQUESTS_HASH
    del payload["withdrawalsRoot"]
    with pytest.raises(HexJsonError, match="payload withdrawalsRoot"):
        header_from_execution_payload(payload, withdrawals=True, withdrawals_root=True, blob_properties=True,
                                      parent_beacon_block_root=beacon)


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("parentHash", "0x" + "11" * 31, "payload parentHash: expected 32 bytes"),
    ("parentHash", b"\x11" * 33, "payload parentHash: expected 32 bytes"),
    ("stateRoot", None, "payload stateRoot"),
    ("logsBloom", "0x" + "zz" * 256, "not hex"),
    ("blockNumber", "7", "payload blockNumber"),
    ("gasLimit", hex(2**64), "out of range"),  # uint64
    ("gasUsed", -1, "out of range"),
    ("timestamp", True, "payload timestamp"),
    ("baseFeePerGas", "0x" + "f" * 65, "wider than 256 bits"),
    ("blobGasUsed", "0x", "payload blobGasUsed"),
    ("transactions", ["0x02", 7], "payload transaction"),
])
def test_malformed_fields_name_the_field(key, value, problem):
    payload, beacon = _cancun_payload()
    payload[key] = value
    with pytest.raises(HexJsonError, match=problem):
        header_from_execution_payload(payload, parent_beacon_block_root=beacon, **V3)


def test_over_long_extra_data_is_refused():
    payload, beacon = _cancun_payload()
    payload["extraData"] = "0x" + "00" * 33
    with pytest.raises(ValueError, match="extra"):
        header_from_execution_payload(payload, parent_beacon_block_root=beacon, **V3)


def test_the_field_readers():
    assert payload_data({"a": "0x0102"}, "a") == b"\x01\x02"
    assert payload_data({"a": bytearray(b"\x01")}, "a", 1) == b"\x01"
    assert payload_quantity({"a": "0xff"}, "a", 8) == 255
    with pytest.raises(HexJsonError, match="out of range"):
        payload_quantity({"a": 256}, "a", 8)
    assert payload_transactions({}) == [] and payload_transactions({"transactions": None}) == []
