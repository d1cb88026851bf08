"""Batcher transactions: authentication (inbox + sender) and frame extraction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opfleet.errors import DecodeError
from opfleet.protocol.batcher_tx import (
    batcher_tx_frames,
    batcher_tx_to_json,
    is_batcher_transaction,
)
from opfleet.protocol.crypto import private_key_to_address
from opfleet.protocol.frame import Frame, encode_frames
from opfleet.protocol.transactions import (
    Transaction,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
RAW = bytes.fromhex((VECTORS / "batches/op-mainnet-batcher-tx-signed.hex").read_text().strip())
CONFIG = json.loads((VECTORS / "rollup-configs/op-mainnet.rollup.json").read_text())
INBOX = bytes.fromhex(CONFIG["batch_inbox_address"][2:])
BATCHER = bytes.fromhex(CONFIG["genesis"]["system_config"]["batcherAddr"][2:])
KEY = b"\x42" * 32


def test_real_batcher_tx_is_authenticated_against_op_mainnet_config():
    # Vector: batches/op-mainnet-batcher-tx-signed.hex with rollup-configs/op-mainnet.rollup.json.
    assert is_batcher_transaction(RAW, INBOX, BATCHER)
    assert is_batcher_transaction(decode_transaction(RAW), INBOX, BATCHER)
    assert not is_batcher_transaction(RAW, b"\x00" * 20, BATCHER)
    assert not is_batcher_transaction(RAW, INBOX, private_key_to_address(KEY))


def test_real_batcher_tx_frames_and_json():
    tx, sender, frames = batcher_tx_frames(RAW)
    assert sender.hex() == "6887246668a3b87f54deb3b94ba47a6f63f32985"
    assert tx.nonce == 1104454
    assert len(frames) == 1
    frame = frames[0]
    assert (frame.channel_id.hex(), frame.frame_number, len(frame.data), frame.is_last) == (
        "ac329933f5efdcc35ccd284232a376d3", 0, 119799, True)
    out = batcher_tx_to_json(RAW)
    assert out["hash"] == "0xe69d94330faafb4f716f7ad9b3b50ea8ff5ce57aea6d2f8be07afb7fe49cd6cf"
    assert out["from"] == "0x6887246668a3b87f54deb3b94ba47a6f63f32985"
    assert out["to"] == "0xff00000000000000000000000000000000000010"
    assert out["type"] == 2
    assert out["frames"] == [frame.to_json()]


def _sent(tx: Transaction) -> bytes:
    return encode_transaction(sign_transaction(tx, KEY))


def test_other_senders_destinations_and_garbage_are_not_batcher_txs():
    frames = encode_frames([Frame(b"\x01" * 16, 0, b"data", True)])
    mine = private_key_to_address(KEY)
    legacy = _sent(Transaction(type=0, chain_id=1, gas=50000, to=INBOX, data=frames))
    assert is_batcher_transaction(legacy, INBOX, mine)
    assert not is_batcher_transaction(legacy, INBOX, BATCHER)
    creation = _sent(Transaction(type=2, chain_id=1, gas=50000, to=None, data=frames))
    assert not is_batcher_transaction(creation, INBOX, mine)
    for garbage in (b"", b"\x05\xc0", b"\x7e\xc0", b"\xff" * 10):
        assert not is_batcher_transaction(garbage, INBOX, mine)
    unsigned = encode_transaction(Transaction(type=2, chain_id=1, to=INBOX))
    assert not is_batcher_transaction(unsigned, INBOX, b"\x00" * 20)


def test_blob_batcher_tx_has_no_calldata_frames():
    blob = _sent(Transaction(type=3, chain_id=1, gas=50000, to=INBOX, data=b"\x00junk",
                             max_fee_per_blob_gas=1, blob_versioned_hashes=(b"\x01" * 32,)))
    tx, sender, frames = batcher_tx_frames(blob)
    assert tx.type == 3 and sender == private_key_to_address(KEY) and frames == []
    assert is_batcher_transaction(blob, INBOX, sender)


def test_bad_frame_data_and_bad_transactions_raise_decode_error():
    with pytest.raises(DecodeError):
        alt_da = Transaction(type=2, chain_id=1, gas=1, to=INBOX, data=b"\x01alt-da")
        batcher_tx_frames(_sent(alt_da))
    with pytest.raises(DecodeError):
        batcher_tx_frames(RAW[:-1])
    with pytest.raises(DecodeError):
        unsigned = Transaction(type=2, chain_id=1, to=INBOX, data=b"\x00")
        batcher_tx_frames(encode_transaction(unsigned))
