"""L1 retrieval and its data sources: batcher authentication, calldata, blobs.

Spec: specs/protocol/derivation.md "L1 Retrieval"; ecotone/derivation.md "Blob Retrieval".
"""

from __future__ import annotations

import pytest

from opfleet.derive.data_sources import EthereumDataSource
from opfleet.derive.errors import CriticalError, EndOfData, TemporaryError
from opfleet.derive.interfaces import Reset
from opfleet.derive.l1_retrieval import L1Retrieval
from opfleet.derive.l1_traversal import L1Traversal
from opfleet.protocol.blob import BLOB_SIZE
from opfleet.protocol.transactions import (
    BLOB_TX_TYPE,
    SET_CODE_TX_TYPE,
    Authorization,
    Transaction,
    encode_transaction,
    sign_transaction,
)
from opfleet.testing.derive import (
    BATCH_INBOX,
    BATCHER_KEY,
    GENESIS_SYSTEM_CONFIG,
    L1_CHAIN_ID,
    OTHER_KEY,
    Batcher,
    FakeL1Chain,
    make_rollup_config,
)


def retrieval_for(l1: FakeL1Chain, *, blobs=True, **cfg) -> tuple[L1Retrieval, EthereumDataSource]:
    config = make_rollup_config(l1, **cfg)
    traversal = L1Traversal(l1, config)
    source = EthereumDataSource(config, l1, l1.beacon if blobs else None)
    retrieval = L1Retrieval(traversal, source)
    retrieval.signal(Reset(l1.ref(0), GENESIS_SYSTEM_CONFIG))
    return retrieval, source


async def items_of_next_block(retrieval: L1Retrieval) -> list[bytes]:
    with pytest.raises(EndOfData):
        while True:
            await retrieval.next_data()
    await retrieval.advance_origin()
    items = []
    try:
        while True:
            items.append(await retrieval.next_data())
    except EndOfData:
        return items


def fake_blob_hash_tx(key: bytes, nonce: int, hashes: int, to: bytes = BATCH_INBOX) -> bytes:
    """A signed blob tx whose blobs are never served (only its calldata and index count matter)."""
    tx = Transaction(
        type=BLOB_TX_TYPE, chain_id=L1_CHAIN_ID, nonce=nonce, gas=50_000, max_priority_fee_per_gas=1,
        max_fee_per_gas=10**10, max_fee_per_blob_gas=1, to=to, data=b"\x00blob-calldata",
        blob_versioned_hashes=tuple(b"\x01" + bytes([i]) * 31 for i in range(hashes)),
    )
    return encode_transaction(sign_transaction(tx, key))


async def test_calldata_only_from_the_batcher_to_the_inbox_in_block_order():
    l1 = FakeL1Chain()
    batcher = Batcher()
    stranger = Batcher(key=OTHER_KEY)
    legacy = Batcher(tx_type=0, nonce=100)
    access_list = Batcher(tx_type=1, nonce=200)
    l1.mine([
        batcher.calldata_tx(b"\x00first"),
        stranger.calldata_tx(b"\x00from a stranger"),
        batcher.calldata_tx(b"\x00to another address", to=bytes.fromhex("12" * 20)),
        legacy.calldata_tx(b"\x00legacy"),
        access_list.calldata_tx(b"\x00type one"),
    ])
    retrieval, _ = retrieval_for(l1)
    assert await items_of_next_block(retrieval) == [b"\x00first", b"\x00legacy", b"\x00type one"]


async def test_set_code_transactions_are_never_batcher_transactions():
    l1 = FakeL1Chain()
    tx = Transaction(
        type=SET_CODE_TX_TYPE, chain_id=L1_CHAIN_ID, nonce=0, gas=80_000, max_priority_fee_per_gas=1,
        max_fee_per_gas=10**10, to=BATCH_INBOX, data=b"\x00setcode",
        authorization_list=(Authorization(L1_CHAIN_ID, bytes(20), 0, 0, 1, 1),),
    )
    l1.mine([encode_transaction(sign_transaction(tx, BATCHER_KEY))])
    retrieval, _ = retrieval_for(l1)
    assert await items_of_next_block(retrieval) == []


async def test_before_ecotone_a_blob_batcher_tx_gives_its_calldata_as_op_node_does():
    l1 = FakeL1Chain()
    l1.mine([fake_blob_hash_tx(BATCHER_KEY, 0, 2)])
    retrieval, _ = retrieval_for(l1)
    assert await items_of_next_block(retrieval) == [b"\x00blob-calldata"]


async def test_blobs_indexed_over_all_transactions_and_undecodable_blobs_skipped():
    l1 = FakeL1Chain()
    batcher = Batcher()
    other = Batcher(key=OTHER_KEY)
    garbage = bytearray(BLOB_SIZE)
    garbage[1] = 7  # encoding version 7: a valid field element, not a valid OP blob
    l1.mine([
        other.blob_tx([b"\x00not ours, index 0", b"\x00not ours, index 1"]),  # shifts indices
        batcher.calldata_tx(b"\x00calldata still counts"),
        batcher.blob_tx([b"\x00blob at index 2", bytes(garbage), b"\x00blob at index 4"],
                        calldata=b"\x00ignored calldata"),
    ])
    retrieval, source = retrieval_for(l1, ecotone_time=0)
    items = await items_of_next_block(retrieval)
    assert items == [b"\x00calldata still counts", b"\x00blob at index 2", b"\x00blob at index 4"]
    assert source.skipped["blob_decode"] == 1
    number, asked = l1.beacon.requests[-1]
    assert number == 1 and [index for index, _ in asked] == [2, 3, 4]


async def test_a_beacon_failure_is_temporary_and_the_block_is_retried_not_skipped():
    l1 = FakeL1Chain()
    l1.mine([Batcher().blob_tx([b"\x00only blob"])])
    retrieval, _ = retrieval_for(l1, ecotone_time=0)
    with pytest.raises(EndOfData):
        await retrieval.next_data()
    await retrieval.advance_origin()
    l1.beacon.fail_next = 1
    with pytest.raises(TemporaryError):
        await retrieval.next_data()
    assert await retrieval.next_data() == b"\x00only blob"
    with pytest.raises(EndOfData):
        await retrieval.next_data()


async def test_batcher_blobs_without_a_beacon_endpoint_are_critical():
    l1 = FakeL1Chain()
    l1.mine([fake_blob_hash_tx(BATCHER_KEY, 0, 1)])
    retrieval, _ = retrieval_for(l1, blobs=False, ecotone_time=0)
    with pytest.raises(EndOfData):
        await retrieval.next_data()
    await retrieval.advance_origin()
    with pytest.raises(CriticalError, match="beacon"):
        await retrieval.next_data()


async def test_ecotone_switch_goes_by_the_l1_block_time():
    l1 = FakeL1Chain()
    batcher = Batcher()
    l1.mine([fake_blob_hash_tx(BATCHER_KEY, 0, 1)])  # before Ecotone: calldata
    l1.mine([batcher.calldata_tx(b"\x00plain")])  # from Ecotone: calldata of type 2 still counts
    retrieval, _ = retrieval_for(l1, ecotone_time=l1.ref(2).timestamp)
    assert await items_of_next_block(retrieval) == [b"\x00blob-calldata"]
    assert await items_of_next_block(retrieval) == [b"\x00plain"]
