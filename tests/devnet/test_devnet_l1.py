"""The embedded L1 (L1Chain + L1Server) read back by the real clients over loopback.

L1Provider and BeaconClient are used unchanged: if they can read the server, a rollup node can.
Expected JSON shapes: what anvil 1.7.1, a real local L1, returns. Deposits are
decoded with opfleet.protocol.deposits (specs/protocol/deposits.md), config updates with
opfleet.protocol.system_config (specs/protocol/system-config.md), blobs checked by KZG.
"""

from __future__ import annotations

import httpx
import pytest
import rlp
import trio
from devnet_helpers import BATCHER, BATCHER_KEY, INBOX, OTHER_KEY, USER, USER_KEY

from opfleet.devnet.blobtx import decode_pooled_transaction, make_sidecar
from opfleet.devnet.l1 import (
    DEPOSIT_CALL_GAS,
    L1Chain,
    L1Server,
    TxRejected,
    config_update_calldata,
    deposit_calldata,
    setter_calldata,
)
from opfleet.protocol.state import Account
from opfleet.protocol.blob import decode_blob, encode_blob
from opfleet.protocol.crypto import keccak256, private_key_to_address
from opfleet.protocol.deposits import DEPOSIT_EVENT_TOPIC, user_deposits, user_deposit_source_hash
from opfleet.protocol.kzg import verify_blob_proof
from opfleet.protocol.system_config import (
    CONFIG_UPDATE_TOPIC,
    ConfigUpdateType,
    SystemConfig,
    batcher_hash,
    encode_scalar,
    update_system_config_with_receipts,
)
from opfleet.protocol.transactions import (
    AccessTuple,
    Authorization,
    Transaction,
    decode_transaction,
    encode_transaction,
    sign_transaction,
)
from opfleet.providers.beacon import BeaconClient
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.l1 import L1Provider


async def serve(nursery, chain: L1Chain, **kwargs) -> L1Server:
    server = L1Server(chain, **kwargs)
    await nursery.start(server.serve, "127.0.0.1", 0)
    return server


def signed(tx: Transaction, key: bytes = USER_KEY) -> bytes:
    return encode_transaction(sign_transaction(tx, key))


def header_hash_from_json(block: dict) -> bytes:
    """keccak(rlp(header)) rebuilt independently from the JSON block (Prague field order)."""
    def n(key: str) -> bytes:
        value = int(block[key], 16)
        return value.to_bytes((value.bit_length() + 7) // 8, "big")

    def d(key: str) -> bytes:
        return bytes.fromhex(block[key][2:])

    fields = [d("parentHash"), d("sha3Uncles"), d("miner"), d("stateRoot"), d("transactionsRoot"),
              d("receiptsRoot"), d("logsBloom"), n("difficulty"), n("number"), n("gasLimit"), n("gasUsed"),
              n("timestamp"), d("extraData"), d("mixHash"), d("nonce"), n("baseFeePerGas"), d("withdrawalsRoot"),
              n("blobGasUsed"), n("excessBlobGas"), d("parentBeaconBlockRoot")]
    if "requestsHash" in block:
        fields.append(d("requestsHash"))
    return keccak256(rlp.encode(fields))


async def test_provider_reads_every_transaction_type_and_receipts(nursery):
    chain = L1Chain()
    server = await serve(nursery, chain)
    chain_id = chain.config.chain_id
    access = (AccessTuple(INBOX, (bytes(31) + b"\x01",)),)
    raws = [
        signed(Transaction(type=0, chain_id=chain_id, nonce=0, gas_price=3 * 10**9, gas=21_000, to=INBOX, value=1)),
        signed(Transaction(type=0, chain_id=None, nonce=1, gas_price=3 * 10**9, gas=60_000, to=None, data=b"\x60\x00")),
        signed(Transaction(type=1, chain_id=chain_id, nonce=2, gas_price=3 * 10**9, gas=30_000, to=INBOX,
                           data=b"\x00abc", access_list=access)),
        chain.sign(USER_KEY, to=INBOX, data=b"\x00" + bytes(100), nonce=3),
        chain.sign(USER_KEY, to=INBOX, blobs=[encode_blob(b"blob data")], nonce=4),
        signed(Transaction(type=4, chain_id=chain_id, nonce=5, max_priority_fee_per_gas=1, max_fee_per_gas=3 * 10**9,
                           gas=60_000, to=INBOX, authorization_list=(Authorization(chain_id, INBOX, 0, 1, 12345, 678),))),
    ]
    async with JsonRpcClient(server.url) as client:
        hashes = [await client.call("eth_sendRawTransaction", "0x" + raw.hex()) for raw in raws]
        assert len(chain.pending) == 6
        chain.mine()
        provider = L1Provider(client)
        block, receipts = await provider.block_with_receipts(1)
        raw_block = await client.call("eth_getBlockByNumber", "0x1", False)
    canonical = [decode_pooled_transaction(r).raw for r in raws]
    assert block.transactions == tuple(canonical)
    assert [h.hex() for h in block.tx_hashes] == [x[2:] for x in hashes]
    assert [keccak256(r) for r in canonical] == list(block.tx_hashes)
    assert provider.statistics().raw_tx_fetches == 0  # every type rebuilt from the JSON alone
    assert [r.status for r in receipts] == [1] * 6
    assert receipts[1].contract_address is not None
    assert block.header.hash == chain.head.hash == header_hash_from_json(raw_block)
    assert block.header.parent_beacon_block_root == chain.genesis.beacon_root
    assert block.header.requests_hash is not None and block.header.blob_gas_used == 131072
    assert int(raw_block["size"], 16) > sum(len(r) for r in canonical)


async def test_deposits_decode_with_the_protocol_codec(nursery):
    chain = L1Chain()
    server = await serve(nursery, chain)
    target = b"\x77" * 20
    # chain.sign takes the pending nonce, so each is submitted before the next is signed.
    chain.submit(chain.deposit(USER_KEY, to=target, mint=10**18, value=5, gas_limit=200_000, data=b"call data"))
    chain.submit(chain.sign(OTHER_KEY, to=INBOX, value=1))  # an unrelated tx between deposits
    chain.submit(chain.deposit(USER_KEY, to=None, is_creation=True, gas_limit=500_000, data=b"\x60\x80"))
    chain.submit(chain.sign(USER_KEY, to=chain.config.portal_address, value=7))  # receive(): deposit to self
    chain.submit(chain.deposit(USER_KEY, to=target, gas_limit=21_000 - 1, gas=200_000))  # under minimumGasLimit
    block = chain.mine()
    async with JsonRpcClient(server.url) as client:
        found, receipts = await L1Provider(client).block_with_receipts(block.hash)
        logs = await client.call("eth_getLogs", {"fromBlock": "0x1", "toBlock": "latest",
                                                 "address": "0x" + chain.config.portal_address.hex(),
                                                 "topics": ["0x" + DEPOSIT_EVENT_TOPIC.hex()]})
    assert [r.status for r in receipts] == [1, 1, 1, 1, 0]
    assert receipts[4].logs == ()
    deposits = user_deposits([(r.status, r.logs) for r in receipts], chain.config.portal_address, found.hash)
    assert len(deposits) == 3 and len(logs) == 3
    first, creation, receive = deposits
    assert (first.from_address, first.to, first.mint, first.value, first.gas, first.data) == (
        USER, target, 10**18, 5, 200_000, b"call data")
    assert first.source_hash == user_deposit_source_hash(found.hash, 0)
    assert creation.to is None and creation.data == b"\x60\x80" and creation.gas == 500_000
    assert (receive.to, receive.mint, receive.value, receive.gas) == (USER, 7, 7, 100_000)  # receive(): value = msg.value
    assert receive.source_hash == user_deposit_source_hash(found.hash, 2)
    assert [int(entry["logIndex"], 16) for entry in logs] == [0, 1, 2]
    assert receipts[0].gas_used > 21_000 + DEPOSIT_CALL_GAS
    assert chain.balance(chain.config.portal_address) == 10**18 + 7  # the portal holds the minted ETH


async def test_every_config_update_type_decodes_with_system_config(nursery):
    owner_key = keccak256(b"system config owner")
    chain = L1Chain(system_config_owner=private_key_to_address(owner_key))
    server = await serve(nursery, chain)
    new_batcher = b"\x55" * 20
    calls = [
        config_update_calldata(ConfigUpdateType.BATCHER, batcher_hash(new_batcher)),
        setter_calldata("setGasConfigEcotone(uint32,uint32)", 1368, 810949),
        config_update_calldata(ConfigUpdateType.GAS_LIMIT, 60_000_000),
        config_update_calldata(ConfigUpdateType.UNSAFE_BLOCK_SIGNER, b"\x66" * 20),
        config_update_calldata(ConfigUpdateType.EIP_1559_PARAMS, 250, 6),
        config_update_calldata(ConfigUpdateType.OPERATOR_FEE_PARAMS, 7, 1000),
        config_update_calldata(ConfigUpdateType.MIN_BASE_FEE, 10**7),
        config_update_calldata(ConfigUpdateType.DA_FOOTPRINT_GAS_SCALAR, 123),
    ]
    for data in calls:
        chain.submit(chain.sign(owner_key, to=chain.config.system_config_address, data=data))
    chain.submit(chain.config_update(USER_KEY, ConfigUpdateType.GAS_LIMIT, 1, gas=100_000))  # not the owner: reverts
    block = chain.mine()
    async with JsonRpcClient(server.url) as client:
        _, receipts = await L1Provider(client).block_with_receipts(block.number)
    assert [r.status for r in receipts] == [1] * 8 + [0]
    assert [int.from_bytes(r.logs[0].topics[2], "big") for r in receipts[:8]] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert all(r.logs[0].topics[0] == CONFIG_UPDATE_TOPIC for r in receipts[:8])
    start = SystemConfig(batcher_address=BATCHER, gas_limit=30_000_000)
    updated = update_system_config_with_receipts(start, [(r.status, r.logs) for r in receipts],
                                                 chain.config.system_config_address, ecotone_active=True)
    assert updated == SystemConfig(
        batcher_address=new_batcher, overhead=bytes(32), scalar=encode_scalar(810949, 1368), gas_limit=60_000_000,
        eip1559_denominator=250, eip1559_elasticity=6, operator_fee_scalar=7, operator_fee_constant=1000,
        min_base_fee=10**7, da_footprint_gas_scalar=123,
    )


async def test_blobs_read_through_beacon_client_by_slot(nursery):
    chain = L1Chain()
    server = await serve(nursery, chain)
    payloads = [b"first blob " * 100, b"second", b"third blob"]
    # An unrelated blob tx first: blob indices count every blob of the block.
    chain.submit(chain.sign(OTHER_KEY, to=b"\x99" * 20, blobs=[encode_blob(payloads[0])]))
    chain.submit(chain.sign(BATCHER_KEY, to=INBOX, blobs=[encode_blob(p) for p in payloads[1:]]))
    chain.mine()
    block = chain.mine()  # the blobs sit in block 1; block 2 has none
    assert block.blob_sidecars == []
    one = chain.by_number(1)
    assert one.slot == 1 and one.header.blob_gas_used == 3 * 131072
    async with JsonRpcClient(server.url) as client:
        l1_block = await L1Provider(client).block_by_number(1)
    batcher_tx = decode_transaction(l1_block.transactions[1])
    wanted = [(1, batcher_tx.blob_versioned_hashes[0]), (2, batcher_tx.blob_versioned_hashes[1])]
    async with BeaconClient(server.url) as beacon:
        assert await beacon.block_id_mode() == "slot"
        assert await beacon.seconds_per_slot() == chain.config.block_time
        blobs = await beacon.get_blobs(l1_block.ref, wanted)
        stats = beacon.statistics()
    assert [decode_blob(b) for b in blobs] == payloads[1:]
    assert stats.sidecar_fallbacks == 0 and stats.verification_failures == 0
    async with httpx.AsyncClient(base_url=server.url) as http:
        sidecars = (await http.get("/eth/v1/beacon/blob_sidecars/1", params={"indices": "1,2"})).json()["data"]
        missing = await http.get("/eth/v1/beacon/blobs/7")
        bad = await http.get("/eth/v1/beacon/blobs/nonsense")
    assert [s["index"] for s in sidecars] == ["1", "2"]
    for sidecar in sidecars:
        blob, commitment, proof = (bytes.fromhex(sidecar[k][2:]) for k in ("blob", "kzg_commitment", "kzg_proof"))
        assert verify_blob_proof(blob, commitment, proof)
        assert sidecar["signed_block_header"]["message"]["slot"] == "1"
    assert missing.status_code == 404 and bad.status_code == 400


async def test_beacon_block_ids_name_the_tagged_blocks(nursery):
    chain = L1Chain(safe_lag=2, finalized_lag=4)
    server = await serve(nursery, chain)
    for number in range(1, 7):  # blocks 2, 4 and 6 carry a blob naming their number
        if number % 2 == 0:
            chain.submit(chain.sign(BATCHER_KEY, to=INBOX, blobs=[encode_blob(b"block %d" % number)]))
        chain.mine()
    wanted = {"head": b"block 6", "finalized": b"block 2", "justified": b"block 4", "genesis": None}
    async with httpx.AsyncClient(base_url=server.url) as http:
        for block_id, payload in wanted.items():
            answer = (await http.get(f"/eth/v1/beacon/blobs/{block_id}")).json()
            blobs = [decode_blob(bytes.fromhex(b[2:])) for b in answer["data"]]
            assert blobs == ([payload] if payload else []), block_id
            assert answer["finalized"] == (block_id in ("finalized", "genesis")), block_id
        unknown = await http.get("/eth/v1/beacon/blobs/safe")  # an execution tag, not a beacon block id
    assert unknown.status_code == 400


async def test_beacon_fallbacks_sidecars_and_anvil_style(nursery):
    chain = L1Chain()
    post_fulu_less = await serve(nursery, chain, blobs_endpoint=False)  # only blob_sidecars
    anvil_like = await serve(nursery, chain, spec_endpoint=False, sidecars_endpoint=False)
    chain.submit(chain.sign(BATCHER_KEY, to=INBOX, blobs=[encode_blob(b"payload")]))
    block = chain.mine()
    vh = block.transactions[0].tx.blob_versioned_hashes[0]
    async with BeaconClient(post_fulu_less.url) as beacon:
        assert [decode_blob(b) for b in await beacon.get_blobs(block.ref, [(0, vh)])] == [b"payload"]
        assert beacon.statistics().sidecar_fallbacks == 1
    async with BeaconClient(anvil_like.url) as beacon:
        assert [decode_blob(b) for b in await beacon.get_blobs(block.ref, [(0, vh)])] == [b"payload"]
        assert await beacon.block_id_mode() == "hash"  # no /eth/v1/config/spec: EL block hash, as with anvil
    async with httpx.AsyncClient(base_url=anvil_like.url) as http:
        gone = await http.get("/eth/v1/beacon/blob_sidecars/1")
    assert gone.status_code == 410


async def test_reorg_is_visible_through_the_provider(nursery):
    chain = L1Chain(safe_lag=1, finalized_lag=2)
    server = await serve(nursery, chain)
    chain.mine_blocks(3)
    transfer = chain.sign(USER_KEY, to=b"\x12" * 20, value=3)
    chain.submit(transfer)
    chain.mine()
    async with JsonRpcClient(server.url) as client:
        provider = L1Provider(client)
        old4 = await provider.block_by_number(4)
        assert old4.tx_hashes == (keccak256(transfer),)
        new_blocks = chain.reorg(2, [[], [], [transfer]])  # the transfer moves one block up, the chain grows
        new4 = await provider.block_by_number(4)
        new5, receipts5 = await provider.block_with_receipts(5)
        old_by_hash = await provider.block_by_hash(old4.hash)
        receipt = await client.call("eth_getTransactionReceipt", "0x" + keccak256(transfer).hex())
        safe = await provider.block_ref("safe")
        finalized = await provider.block_ref("finalized")
    assert [b.number for b in new_blocks] == [3, 4, 5]
    assert new4.hash != old4.hash and new4.tx_hashes == ()
    assert new5.tx_hashes == (keccak256(transfer),) and receipts5[0].status == 1
    assert old_by_hash.hash == old4.hash  # still readable by hash, like a geth side chain
    assert receipt["blockHash"] == "0x" + new5.hash.hex()
    assert (safe.number, finalized.number) == (4, 3)
    assert safe.hash == new4.hash
    with pytest.raises(ValueError):
        chain.reorg(3)  # would remove the finalized block


async def test_send_raw_transaction_validation(nursery):
    chain = L1Chain(alloc={BATCHER: Account(balance=10**15)}, default_balance=10**24)
    server = await serve(nursery, chain)
    good = chain.sign(USER_KEY, to=INBOX, value=1)
    wrong_chain = signed(Transaction(type=2, chain_id=1, nonce=0, max_fee_per_gas=10**10, gas=21_000, to=INBOX))
    low_gas = signed(Transaction(type=2, chain_id=chain.config.chain_id, nonce=0, max_fee_per_gas=10**10,
                                 gas=20_000, to=INBOX))
    pooled_blob = chain.sign(USER_KEY, to=INBOX, blobs=[encode_blob(b"x")], nonce=1)
    canonical_blob = decode_pooled_transaction(pooled_blob).raw
    outer = rlp.decode(pooled_blob[1:])
    other_proof = make_sidecar(encode_blob(b"y")).proof
    bad_proof = b"\x03" + rlp.encode([outer[0], outer[1], outer[2], [other_proof]])
    poor = chain.sign(BATCHER_KEY, to=INBOX, value=10**18)
    async with JsonRpcClient(server.url) as client:
        async def send(raw: bytes) -> str:
            return await client.call("eth_sendRawTransaction", "0x" + raw.hex())

        await send(good)
        for raw, message in ((good, "already known"), (wrong_chain, "invalid chain id"),
                             (low_gas, "intrinsic gas too low"), (canonical_blob, "without its sidecar"),
                             (bad_proof, "invalid KZG proof"), (poor, "insufficient funds"),
                             (b"\x05garbage", "invalid transaction")):
            with pytest.raises(RpcCallError) as caught:
                await send(raw)
            assert caught.value.code == -32000 and message in caught.value.message, message
        chain.mine()
        with pytest.raises(RpcCallError, match="nonce too low"):
            await send(chain.sign(USER_KEY, to=INBOX, nonce=0, value=2))
        # Replacement needs a 10% fee bump.
        first = chain.sign(USER_KEY, to=INBOX, nonce=1, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**9)
        await send(first)
        with pytest.raises(RpcCallError, match="underpriced"):
            await send(chain.sign(USER_KEY, to=INBOX, nonce=1, value=1, max_fee_per_gas=10**10,
                                  max_priority_fee_per_gas=10**9))
        bumped = chain.sign(USER_KEY, to=INBOX, nonce=1, max_fee_per_gas=2 * 10**10, max_priority_fee_per_gas=2 * 10**9)
        await send(bumped)
        assert chain.pending == (keccak256(bumped),)
        assert await client.call("eth_getTransactionCount", "0x" + USER.hex(), "pending") == "0x2"
        assert await client.call("eth_getTransactionCount", "0x" + USER.hex(), "latest") == "0x1"


async def test_pool_orders_by_nonce_and_respects_blob_limits():
    chain = L1Chain(fork="cancun")  # 6 blobs per block at most
    later = chain.sign(USER_KEY, to=INBOX, nonce=1)
    earlier = chain.sign(USER_KEY, to=INBOX, nonce=0)
    chain.submit(later)
    chain.submit(earlier)
    blob_txs = [chain.sign(OTHER_KEY, to=INBOX, nonce=i, blobs=[encode_blob(b"%d" % i)] * 4) for i in range(2)]
    for raw in blob_txs:
        chain.submit(raw)
    block = chain.mine()
    assert [t.tx.nonce for t in block.transactions if t.sender == USER] == [0, 1]
    assert block.header.blob_gas_used == 4 * 131072 and block.header.requests_hash is None
    assert len(chain.pending) == 1  # the second blob tx waits for the next block
    second = chain.mine()
    assert second.header.blob_gas_used == 4 * 131072
    # EIP-4844: excess grows by what a block used above the target (3 blobs on Cancun).
    assert (second.header.excess_blob_gas, chain.mine().header.excess_blob_gas) == (131072, 2 * 131072)
    # EIP-1559: an almost empty parent lowers the base fee by (almost) 1/8.
    assert chain.genesis.header.base_fee_per_gas == 10**9 and block.header.base_fee_per_gas == 875_000_000
    with pytest.raises(TxRejected):
        chain.mine([chain.sign(USER_KEY, to=INBOX, nonce=0)])  # explicit txs must apply


async def test_batch_requests_logs_and_misc_methods(nursery):
    chain = L1Chain()
    server = await serve(nursery, chain, automine=True)
    async with JsonRpcClient(server.url) as client:
        tx_hash = await client.call("eth_sendRawTransaction", "0x" + chain.deposit(USER_KEY, to=USER, mint=1).hex())
        assert chain.head.number == 1  # automine
        results = await client.batch([
            ("eth_chainId", []), ("eth_blockNumber", []), ("eth_getTransactionReceipt", [tx_hash]),
            ("eth_getRawTransactionByHash", [tx_hash]), ("eth_nope", []),
            ("eth_getLogs", [{"blockHash": "0x" + chain.head.hash.hex()}]),
            ("eth_getLogs", [{"topics": [None, "0x" + bytes(12).hex() + USER.hex()]}]),
            ("eth_getLogs", [{"topics": [None, None, None, None, None]}]),
            ("eth_getBlockByNumber", ["0x99", False]), ("eth_blobBaseFee", []),
            ("eth_estimateGas", [{"from": "0x" + USER.hex(), "to": "0x" + chain.config.portal_address.hex(),
                                  "data": "0x" + deposit_calldata(USER, 0, 100_000).hex()}]),
        ], return_errors=True)
    chain_id, number, receipt, raw, missing, by_hash, by_topic, too_long, future, blob_fee, gas = results
    assert (chain_id, number) == ("0x384", "0x1")
    assert receipt["status"] == "0x1" and receipt["logs"][0]["topics"][0] == "0x" + DEPOSIT_EVENT_TOPIC.hex()
    assert keccak256(bytes.fromhex(raw[2:])).hex() == tx_hash[2:]
    assert isinstance(missing, RpcCallError) and missing.is_method_not_found
    assert len(by_hash) == 1 and len(by_topic) == 1 and too_long == []
    assert future is None and blob_fee == "0x1"
    assert int(gas, 16) == chain.head.transactions[0].gas_used


async def test_timer_mining_produces_one_block_per_interval(autojump_clock):
    chain = L1Chain(block_time=12)
    server = L1Server(chain)
    heads = []
    chain.add_listener(lambda block: heads.append(block.number))
    with trio.move_on_after(60.5):
        await server.mine_every(12)
    assert chain.head.number == 5 and heads == [1, 2, 3, 4, 5]
    assert [b.timestamp - chain.config.genesis_time for b in chain.blocks] == [0, 12, 24, 36, 48, 60]
    assert [b.slot for b in chain.blocks] == [0, 1, 2, 3, 4, 5]


def test_explicit_timestamps_must_advance_the_slot():
    chain = L1Chain(block_time=12)
    chain.mine(timestamp=chain.config.genesis_time + 36)  # skipped slots are fine
    assert chain.by_slot(3) is chain.head and chain.by_slot(1) is None
    with pytest.raises(ValueError):
        chain.mine(timestamp=chain.head.timestamp + 5)  # same beacon slot


def test_cell_proof_wrapper_is_accepted_and_blob_proofs_are_computed():
    # EIP-7594 network form: [body, 1, blobs, commitments, cell_proofs] (128 cell proofs per blob).
    # Cell proofs are not checked; the commitment is recomputed from the blob instead.
    chain = L1Chain()
    pooled = chain.sign(USER_KEY, to=INBOX, blobs=[encode_blob(b"cells")])
    body, blobs, commitments, _ = rlp.decode(pooled[1:])
    wrapper = b"\x03" + rlp.encode([body, b"\x01", blobs, commitments, [bytes(48)] * 128])
    chain.submit(wrapper)
    (sidecar,) = chain.mine().blob_sidecars
    assert verify_blob_proof(sidecar.blob, sidecar.commitment, sidecar.proof)
    swapped = b"\x03" + rlp.encode([body, b"\x01", [encode_blob(b"other")], commitments, [bytes(48)] * 128])
    with pytest.raises(TxRejected, match="does not match its commitment"):
        L1Chain().submit(swapped)


@pytest.mark.parametrize("body", [
    b"",  # nothing after the type byte
    b"\xf9\xff",  # a long list header, truncated
    b"\xc3\x01\x02",  # list claims 3 bytes, holds 2
    b"\xc2\x81\x01",  # a single byte below 0x80 written long: non-canonical
    b"\xc1\x01\x00",  # trailing bytes after the list
])
def test_garbage_blob_transaction_network_form_is_one_decode_error(body):
    from opfleet.errors import DecodeError

    with pytest.raises(DecodeError, match="blob transaction"):
        decode_pooled_transaction(b"\x03" + body)
