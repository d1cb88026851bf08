"""L1Provider: headers, raw transactions rebuilt from JSON, receipts, request budget, caching, reorgs."""

from __future__ import annotations

import pytest
from l1_chain import DEPOSIT_CONTRACT, SENDER, TOPIC, UNKNOWN_TYPE_RAW, FakeL1

from opfleet.errors import BlockNotFoundError, TemporaryError
from opfleet.protocol.block_ref import L1BlockRef
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.ethjson import transaction_from_json
from opfleet.protocol.transactions import decode_transaction, recover_sender
from opfleet.providers import JsonRpcClient
from opfleet.providers.l1 import L1Provider, LRUCache


def provider(chain: FakeL1, **kwargs) -> L1Provider:
    return L1Provider(JsonRpcClient("http://l1.test", transport=chain.transport()), **kwargs)


async def test_header_fields_and_ref():
    chain = FakeL1()
    l1 = provider(chain)
    block = await l1.block_by_number(3)
    header = block.header
    source = chain.block(3).header
    assert (header.number, header.timestamp, header.base_fee) == (3, 1_700_000_036, source.base_fee_per_gas)
    assert header.base_fee != chain.block(2).header.base_fee_per_gas  # the fee moves, so the field is read
    assert header.mix_hash == source.mix_hash == header.prev_randao
    assert header.excess_blob_gas == 0 and header.parent_beacon_block_root == chain.block(2).beacon_root
    assert header.parent_beacon_block_root != bytes(32)
    assert block.hash == source.hash() == chain.block(3).hash
    assert block.ref == L1BlockRef(block.hash, 3, chain.block(2).hash, 1_700_000_036)
    assert block.ref.to_json() == {"hash": chain.hash_hex(3), "number": 3,
                                   "parentHash": chain.hash_hex(2), "timestamp": 1_700_000_036}


async def test_raw_transactions_of_every_type_are_rebuilt_exactly():
    chain = FakeL1()
    l1 = provider(chain)
    block = await l1.block_by_number(1)
    expected = chain.block(1).raw_transactions
    assert block.transactions == tuple(expected)
    assert [raw[0] if raw[0] < 0x7F else 0 for raw in block.transactions] == [0, 0, 1, 2, 3, 4]
    assert block.tx_hashes == tuple(keccak256(raw) for raw in expected)
    assert SENDER == private_key_to_address(keccak256(b"opfleet test key"))
    assert all(recover_sender(decode_transaction(raw)) == SENDER for raw in block.transactions)
    assert "eth_getRawTransactionByHash" not in chain.calls  # nothing needed fetching
    assert l1.statistics().raw_tx_fetches == 0


async def test_unrebuildable_transactions_are_fetched_raw_and_checked():
    chain = FakeL1(unknown_type_in=3)
    l1 = provider(chain)
    block = await l1.block_by_number(3)
    assert block.transactions[-1] == UNKNOWN_TYPE_RAW
    assert chain.http_log[-1] == ["eth_getRawTransactionByHash"]
    assert l1.statistics().raw_tx_fetches == 1
    chain.server.unknown_raw = b"\x64tampered"
    with pytest.raises(TemporaryError, match="does not hash to its hash"):
        await provider(chain).block_by_number(3)


async def test_one_http_request_per_block_with_receipts():
    chain = FakeL1()
    l1 = provider(chain)
    for number in range(8):
        block, receipts = await l1.block_with_receipts(number)
        assert len(receipts) == len(block.tx_hashes)
    assert len(chain.http_log) == 8
    assert all(req == ["eth_getBlockByNumber", "eth_getBlockReceipts"] for req in chain.http_log)
    stats = l1.client.statistics()
    assert stats.requests_by_method == {"eth_getBlockByNumber": 8, "eth_getBlockReceipts": 8}


async def test_receipts_carry_logs():
    chain = FakeL1()
    l1 = provider(chain)
    block, receipts = await l1.block_with_receipts(chain.block(5).hash)
    assert chain.http_log == [["eth_getBlockByHash", "eth_getBlockReceipts"]]
    assert [r.tx_hash for r in receipts] == list(block.tx_hashes)
    assert [len(r.logs) for r in receipts] == [0, 0, 1, 1, 0, 1]  # the three deposits
    log = receipts[3].logs[0]
    source = chain.block(5).logs[1]
    assert (log.address, log.topics, log.data, log.log_index) == (DEPOSIT_CONTRACT, source.topics, source.data, 1)
    assert log.topics[0] == TOPIC and b"\x12\x34" in log.data  # the deposit's opaque data
    assert log.block_hash == block.hash and log.tx_hash == block.tx_hashes[3] and receipts[0].status == 1


async def test_fallback_to_transaction_receipts_when_block_receipts_is_missing():
    chain = FakeL1(block_receipts=False)
    l1 = provider(chain)
    block, receipts = await l1.block_with_receipts(1)
    assert [r.tx_hash for r in receipts] == list(block.tx_hashes)
    assert chain.http_log == [["eth_getBlockByNumber", "eth_getBlockReceipts"], ["eth_getTransactionReceipt"] * 6]
    assert l1.statistics().block_receipts_supported is False
    await l1.block_with_receipts(3)  # no second attempt at eth_getBlockReceipts
    assert chain.http_log[2:] == [["eth_getBlockByNumber"], ["eth_getTransactionReceipt"] * 6]
    assert await l1.receipts(block.hash) == receipts  # cached


async def test_receipts_that_do_not_match_the_block_are_refused():
    chain = FakeL1()
    l1 = provider(chain)
    block3 = await l1.block_by_number(3)
    receipts_of = chain.server.eth_getBlockReceipts
    chain.server.tampered_receipts[block3.hash] = (await receipts_of(chain.hash_hex(3)))[:5]
    with pytest.raises(TemporaryError, match="block 3 has 6 transactions but 5 receipts"):
        await l1.receipts(block3.hash)
    block1 = await l1.block_by_number(1)
    chain.server.tampered_receipts[block1.hash] = await receipts_of(chain.hash_hex(5))  # another block's
    with pytest.raises(TemporaryError, match="receipt 0 of block 1 belongs to block " + chain.hash_hex(5)):
        await l1.receipts(block1.hash)


async def test_missing_block_raises_block_not_found():
    l1 = provider(FakeL1())
    with pytest.raises(BlockNotFoundError, match="L1 block 99 not found"):
        await l1.block_by_number(99)
    with pytest.raises(BlockNotFoundError):
        await l1.block_with_receipts(99)
    with pytest.raises(BlockNotFoundError):
        await l1.block_by_hash(b"\x99" * 32)


async def test_hash_cache_is_bounded_lru():
    chain = FakeL1()
    l1 = provider(chain, cache_size=3)
    hashes = [(await l1.block_by_number(n)).hash for n in range(6)]
    assert l1.statistics().cached_blocks == 3
    before = len(chain.http_log)
    await l1.block_by_hash(hashes[5])  # recent: cached
    await l1.block_by_hash(hashes[4])
    assert len(chain.http_log) == before
    await l1.block_by_hash(hashes[0])  # evicted: asks again
    assert len(chain.http_log) == before + 1
    assert l1.statistics().cached_blocks == 3


def test_lru_cache_order():
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    with pytest.raises(ValueError):
        LRUCache(0)


async def test_header_only_fetch_is_upgraded_by_full_fetch():
    chain = FakeL1()
    l1 = provider(chain)
    ref = await l1.block_ref(1)
    block = await l1.block_by_hash(ref.hash)  # needs transactions: asks again
    assert block.transactions is not None
    await l1.block_ref(ref.hash)  # full block satisfies a header lookup
    assert chain.calls == ["eth_getBlockByNumber", "eth_getBlockByHash"]


async def test_number_index_serves_finalized_only_and_is_dropped_on_reorg():
    chain = FakeL1()
    chain.finalize(4)
    l1 = provider(chain)
    finalized = await l1.block_by_number("finalized")
    assert finalized.number == 4
    for n in range(7):
        await l1.block_by_number(n)
    calls = len(chain.calls)
    await l1.block_by_number(3)  # at or below finalized: from cache
    assert len(chain.calls) == calls
    await l1.block_by_number(6)  # above finalized: always asks
    assert len(chain.calls) == calls + 1

    chain.reorg(5)
    new5 = await l1.block_by_number(5)
    assert new5.hash == chain.block(5).hash
    assert l1.statistics().reorgs_seen == 1
    assert l1.statistics().indexed_numbers == 1  # everything but the new observation forgotten
    calls = len(chain.calls)
    assert (await l1.block_by_number(3)).number == 3
    assert len(chain.calls) == calls + 1  # index was dropped: asked the node again


async def test_label_lookups_always_ask_the_node():
    chain = FakeL1()
    l1 = provider(chain)
    first = await l1.block_by_number("latest")
    chain.add_block()
    second = await l1.block_by_number("latest")
    assert second.number == first.number + 1
    assert chain.calls == ["eth_getBlockByNumber", "eth_getBlockByNumber"]


@pytest.mark.parametrize("bad", [-1, "pendingx", b"\x00" * 31, "0x1234", True])
async def test_bad_block_ids_are_refused(bad):
    l1 = provider(FakeL1())
    with pytest.raises((ValueError, TypeError)):
        await l1.block(bad)


def test_json_conversion_rejects_deposits_and_garbage():
    from opfleet.errors import DecodeError

    with pytest.raises(DecodeError, match="cannot rebuild transaction type 0x7e"):
        transaction_from_json({"type": "0x7e", "nonce": "0x0", "gas": "0x1", "value": "0x0", "input": "0x",
                               "r": "0x0", "s": "0x0", "hash": "0x" + "00" * 32})
    with pytest.raises(DecodeError, match="nonce"):
        transaction_from_json({"type": "0x2", "nonce": "12", "gas": "0x1"})


async def test_over_real_loopback_with_our_server(nursery):
    chain = FakeL1()
    port = await nursery.start(chain.server.serve, "127.0.0.1", 0)
    async with JsonRpcClient(f"http://127.0.0.1:{port}", name="L1 RPC") as client:
        l1 = L1Provider(client)
        for n in range(8):
            block, receipts = await l1.block_with_receipts(n)
            assert len(block.transactions) == len(receipts)
    stats = chain.server.rpc.statistics()
    assert stats.http_requests == 8 and stats.batches == 8 and stats.total_connections == 1


async def test_receipts_race_by_number_is_resolved_by_hash():
    # The chain moves between the two batched calls: receipts by number belong to another block.
    chain = FakeL1()
    served = chain.server.eth_getBlockReceipts

    async def racing(ident):
        if not ident.startswith("0x") or len(ident) != 66:
            return await served(chain.hash_hex(5))
        return await served(ident)

    chain.override("eth_getBlockReceipts", racing)
    l1 = provider(chain)
    block, receipts = await l1.block_with_receipts(3)
    assert all(r.block_hash == block.hash for r in receipts) and len(receipts) == 6
    assert chain.http_log == [["eth_getBlockByNumber", "eth_getBlockReceipts"], ["eth_getBlockReceipts"]]


async def test_cached_block_only_needs_its_receipts():
    chain = FakeL1()
    l1 = provider(chain)
    block = await l1.block_by_number(1)
    again, receipts = await l1.block_with_receipts(block.hash)
    assert again is block and len(receipts) == 6
    assert chain.http_log == [["eth_getBlockByNumber"], ["eth_getBlockReceipts"]]
    assert await l1.block_with_receipts(block.hash) == (block, receipts)
    assert len(chain.http_log) == 2


async def test_head_labels_are_one_batched_request():
    chain = FakeL1()
    chain.finalize(2)
    l1 = provider(chain)
    head, safe, finalized = await l1.block_refs("latest", "safe", "finalized")
    assert (head.number, safe.number, finalized.number) == (7, 5, 2)
    assert chain.http_log == [["eth_getBlockByNumber"] * 3]  # 3 JSON-RPC calls, 1 HTTP request
    assert l1.client.statistics().http_requests == 1
    # "finalized" feeds the number index: block 2 by number is now a cache hit.
    await l1.block_with_receipts(2)
    requests = l1.client.statistics().http_requests
    assert (await l1.block_ref(2)).hash == finalized.hash
    assert l1.client.statistics().http_requests == requests
    with pytest.raises(ValueError, match="not a block label"):
        await l1.block_refs("latest", "0x1")


async def test_traversal_reads_each_l1_block_with_one_request():
    """Derivation's access pattern: by number (traversal) then by hash (data source, attributes)."""
    chain = FakeL1()
    l1 = provider(chain)
    for number in range(1, 8):
        block, _ = await l1.block_with_receipts(number)
        again, receipts = await l1.block_with_receipts(block.hash)
        assert again is block and len(receipts) == len(block.tx_hashes)
    stats = l1.client.statistics()
    assert stats.http_requests == 7
    assert sum(stats.requests_by_method.values()) == 14  # two JSON-RPC calls per L1 block
    with pytest.raises(BlockNotFoundError):
        await l1.block_with_receipts(8)


async def test_heights_reorged_before_finality_are_not_served_from_the_index():
    """A block indexed while unfinalized and then silently reorged out must not be answered from
    cache once finalized passes its height (finality after an L1 reorg depends on it)."""
    chain = FakeL1()
    l1 = provider(chain)
    for number in range(1, 4):
        await l1.block_with_receipts(number)  # traversal indexes 1..3
    stale = (await l1.block_ref(3)).hash
    chain.reorg(3)  # 3.. replaced; the provider is not asked about the new blocks
    while len(chain.chain.blocks) < 8:
        chain.add_block()
    chain.finalize(6)  # no indexed neighbour of 6 to reveal the reorg
    (finalized,) = await l1.block_refs("finalized")
    assert finalized.number == 6
    fresh = await l1.block_ref(3)
    assert fresh.hash == chain.block(3).hash != stale


async def test_heights_linked_to_finalized_stay_cached():
    chain = FakeL1()
    l1 = provider(chain)
    for number in range(1, 6):
        await l1.block_with_receipts(number)
    chain.finalize(5)
    await l1.block_refs("finalized")
    calls = len(chain.calls)
    assert [(await l1.block_ref(n)).number for n in (2, 4)] == [2, 4]  # hash-linked to finalized #5
    assert len(chain.calls) == calls
