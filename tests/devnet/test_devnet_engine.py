"""The dev Engine API server driven by the real Engine API client and read by the L2 provider.

Engine API usage as op-node's (op-node ``op-node/rollup/types.go``, ``op-service/sources/engine_client.go``): FCU V3 (V2 before
Ecotone), getPayload/newPayload V4 from Isthmus (V3 from Ecotone, V2 before; getPayload V5 from Karst), JWT on every
call. Block hashes are recomputed here from the payload fields with plain RLP; extraData per
specs/protocol/holocene/exec-engine.md and jovian/exec-engine.md.
"""

from __future__ import annotations

import dataclasses
import hashlib

import httpx
import pytest
import rlp
from devnet_helpers import JWT_SECRET, L2_CHAIN_ID, OTHER_KEY, USER, USER_KEY, MiniSequencer, make_rollup_config

from opfleet.devnet.engine import DevEngine, ForkTimes, header_from_payload
from opfleet.devnet.l1 import L1Chain
from opfleet.errors import CriticalError
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.deposits import decode_deposit_tx
from opfleet.protocol.engine_api import ForkchoiceState, PayloadStatus
from opfleet.protocol.l1_block_info import system_config_from_l2_block
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS
from opfleet.protocol.state import Account
from opfleet.protocol.transactions import Transaction, encode_transaction, sign_transaction
from opfleet.protocol.trie import EMPTY_TRIE_ROOT, ordered_trie_root, secure_trie_root, verify_proof
from opfleet.providers.engine import EngineClient, InvalidForkchoiceState, InvalidPayloadAttributes, UnsupportedFork
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.l2 import L2Provider

PASSER_SLOT = (7).to_bytes(32, "big")
BASE_FEE_VAULT = bytes.fromhex("4200000000000000000000000000000000000019")


def make_engine(l1: L1Chain, forks: ForkTimes, **kwargs) -> DevEngine:
    alloc = {USER: Account(balance=10**21),
             L2_TO_L1_MESSAGE_PASSER_ADDRESS: Account(nonce=1, code=b"\x60\x00", storage={PASSER_SLOT: 0xABCD})}
    return DevEngine(chain_id=L2_CHAIN_ID, genesis_time=l1.config.genesis_time, forks=forks, alloc=alloc,
                     jwt_secret=JWT_SECRET, **kwargs)


async def start(nursery, l1: L1Chain, forks: ForkTimes, **kwargs):
    engine = make_engine(l1, forks, **kwargs)
    await nursery.start(engine.serve_auth, "127.0.0.1", 0)
    await nursery.start(engine.serve_rpc, "127.0.0.1", 0)
    rollup = make_rollup_config(l1, engine, forks)
    client = EngineClient(engine.auth_url, JWT_SECRET, forks=rollup)
    return engine, rollup, client


def n(payload: dict, key: str) -> bytes:
    value = int(payload[key], 16)
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def d(payload: dict, key: str) -> bytes:
    return bytes.fromhex(payload[key][2:])


def isthmus_block_hash(payload: dict, beacon_root: bytes) -> bytes:
    """keccak(rlp(header)) of an Isthmus payload, built field by field (Prague header layout)."""
    txs = [d({"x": t}, "x") for t in payload["transactions"]]
    fields = [
        d(payload, "parentHash"), keccak256(rlp.encode([])), d(payload, "feeRecipient"), d(payload, "stateRoot"),
        ordered_trie_root(txs), d(payload, "receiptsRoot"), d(payload, "logsBloom"), b"", n(payload, "blockNumber"),
        n(payload, "gasLimit"), n(payload, "gasUsed"), n(payload, "timestamp"), d(payload, "extraData"),
        d(payload, "prevRandao"), bytes(8), n(payload, "baseFeePerGas"), d(payload, "withdrawalsRoot"),
        n(payload, "blobGasUsed"), n(payload, "excessBlobGas"), beacon_root, hashlib.sha256(b"").digest(),
    ]
    return keccak256(rlp.encode(fields))


async def test_engine_builds_a_chain_from_attributes(nursery):
    l1 = L1Chain()
    l1.submit(l1.deposit(OTHER_KEY, to=keccak256(b"recipient")[:20], mint=3 * 10**18, value=10**18))
    l1.mine()
    forks = ForkTimes.up_to("isthmus")
    engine, rollup, client = await start(nursery, l1, forks)
    sequencer = MiniSequencer(rollup, l1, client, engine)
    payloads = [await sequencer.build() for _ in range(7)]
    beacon_roots = [engine.block(d(p, "blockHash")).header.parent_beacon_block_root for p in payloads]
    for payload, root in zip(payloads, beacon_roots):
        assert isthmus_block_hash(payload, root) == d(payload, "blockHash")
    assert [int(p["blockNumber"], 16) for p in payloads] == list(range(1, 8))
    # Block 6 (t = genesis + 12) is the first with L1 origin 1 and carries its deposit.
    assert [len(p["transactions"]) for p in payloads] == [1, 1, 1, 1, 1, 2, 1]
    passer_root = secure_trie_root({PASSER_SLOT: rlp.encode(0xABCD)})
    assert all(d(p, "withdrawalsRoot") == passer_root for p in payloads)
    async with JsonRpcClient(engine.rpc_url) as rpc:
        l2 = L2Provider(rpc, rollup)
        refs = [await l2.l2_block_ref(i) for i in range(8)]
        output, ref7 = await l2.output_v0("latest")
        balance = await rpc.call("eth_getBalance", "0x" + keccak256(b"recipient")[:20].hex(), "latest")
        block6 = await rpc.call("eth_getBlockByNumber", "0x6", True)
        receipt = await rpc.call("eth_getTransactionReceipt", block6["transactions"][1]["hash"])
    assert [(r.l1_origin.number, r.sequence_number) for r in refs] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5),
                                                                      (1, 0), (1, 1)]
    assert refs[6].l1_origin.hash == l1.by_number(1).hash
    assert ref7.number == 7 and output.message_passer_storage_root == passer_root
    assert output.state_root == engine.head.header.state_root
    assert int(balance, 16) == 10**18
    assert block6["transactions"][1]["type"] == "0x7e" and block6["transactions"][1]["mint"] == hex(3 * 10**18)
    assert receipt["status"] == "0x1" and receipt["depositNonce"] == "0x0" and receipt["depositReceiptVersion"] == "0x1"
    assert block6["withdrawals"] == [] and block6["requestsHash"] == "0x" + hashlib.sha256(b"").hexdigest()
    assert int(block6["transactionsRoot"], 16) == int.from_bytes(
        ordered_trie_root([d({"x": t}, "x") for t in payloads[5]["transactions"]]), "big")


async def test_new_payload_statuses(nursery):
    l1 = L1Chain()
    forks = ForkTimes.up_to("isthmus")
    engine, rollup, client = await start(nursery, l1, forks)
    sequencer = MiniSequencer(rollup, l1, client, engine)
    transfer = encode_transaction(sign_transaction(Transaction(
        type=2, chain_id=L2_CHAIN_ID, nonce=0, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**9, gas=21_000,
        to=b"\x44" * 20, value=123), USER_KEY))
    payload1 = await sequencer.build((transfer,))
    payload2 = await sequencer.build()
    root = engine.block(d(payload1, "blockHash")).header.parent_beacon_block_root
    # A second engine with the same genesis re-executes the payloads: VALID, same hashes.
    verifier = make_engine(l1, forks)
    assert verifier.genesis.hash == engine.genesis.hash
    assert verifier.new_payload(payload2, [], "0x" + root.hex(), [], version=4)["status"] == "SYNCING"
    first = verifier.new_payload(payload1, [], "0x" + root.hex(), [], version=4)
    assert first == {"status": "VALID", "latestValidHash": payload1["blockHash"], "validationError": None}
    assert verifier.new_payload(payload2, [], "0x" + root.hex(), [], version=4)["status"] == "VALID"
    assert verifier.block(d(payload2, "blockHash")).header.state_root == d(payload2, "stateRoot")

    def rehashed(payload: dict, **changes) -> dict:
        changed = {**payload, **changes}
        changed["blockHash"] = "0x" + header_from_payload(changed, "0x" + root.hex(), forks).hash().hex()
        return changed

    bad_nonce = encode_transaction(sign_transaction(Transaction(
        type=2, chain_id=L2_CHAIN_ID, nonce=5, max_fee_per_gas=10**10, gas=21_000, to=b"\x44" * 20), USER_KEY))
    cases = {
        "bad nonce": rehashed(payload1, transactions=[payload1["transactions"][0], "0x" + bad_nonce.hex()]),
        "wrong state root": rehashed(payload1, stateRoot="0x" + "11" * 32),
        "undecodable tx": rehashed(payload1, transactions=[payload1["transactions"][0], "0x02c0"]),
    }
    fresh = make_engine(l1, forks)
    for name, payload in cases.items():
        status = fresh.new_payload(payload, [], "0x" + root.hex(), [], version=4)
        assert status["status"] == "INVALID", name
        assert status["latestValidHash"] == "0x" + fresh.genesis.hash.hex(), name
        assert status["validationError"], name
    tampered = {**payload1, "blockHash": "0x" + "22" * 32}
    status = await client.new_payload(tampered, parent_beacon_block_root=root)
    assert status.status is PayloadStatus.INVALID and status.latest_valid_hash is None
    assert "blockhash mismatch" in status.validation_error
    with pytest.raises(UnsupportedFork):
        await client.new_payload(payload1, version=3, parent_beacon_block_root=root)


async def test_forkchoice_syncing_reorg_and_tags(nursery):
    l1 = L1Chain()
    forks = ForkTimes.up_to("isthmus")
    engine, rollup, client = await start(nursery, l1, forks)
    sequencer = MiniSequencer(rollup, l1, client, engine)
    unknown = await client.forkchoice_updated(ForkchoiceState(keccak256(b"?"), bytes(32), bytes(32)))
    assert unknown.payload_status.status is PayloadStatus.SYNCING and unknown.payload_id is None
    for _ in range(3):
        await sequencer.build()
    block1, block2, block3 = (engine.by_number(i) for i in (1, 2, 3))
    # A sibling of block 2: same parent, other fee recipient.
    attrs = dataclasses.replace(sequencer.attributes(), timestamp=block2.timestamp, suggested_fee_recipient=b"\x01" * 20)
    started = await client.forkchoice_updated(ForkchoiceState(block1.hash, block1.hash, engine.genesis.hash), attrs)
    envelope = await client.get_payload(started.payload_id, timestamp=attrs.timestamp)
    assert (await client.new_payload(envelope.execution_payload,
                                     parent_beacon_block_root=envelope.parent_beacon_block_root)).status is PayloadStatus.VALID
    sibling = envelope.block_hash
    assert engine.head.hash == block1.hash  # the FCU with attributes moved the head back to block 1
    await client.forkchoice_updated(ForkchoiceState(block3.hash, block2.hash, block1.hash))
    async with JsonRpcClient(engine.rpc_url) as rpc:
        tags = {tag: (await rpc.call("eth_getBlockByNumber", tag, False))["hash"] for tag in ("latest", "safe", "finalized")}
        assert tags == {"latest": "0x" + block3.hash.hex(), "safe": "0x" + block2.hash.hex(),
                        "finalized": "0x" + block1.hash.hex()}
        await client.forkchoice_updated(ForkchoiceState(sibling, block1.hash, block1.hash))
        number2 = (await rpc.call("eth_getBlockByNumber", "0x2", False))["hash"]
        number3 = await rpc.call("eth_getBlockByNumber", "0x3", False)
        old3 = await rpc.call("eth_getBlockByHash", "0x" + block3.hash.hex(), False)
    assert number2 == "0x" + sibling.hex() and number3 is None and old3 is not None
    with pytest.raises(InvalidForkchoiceState):
        await client.forkchoice_updated(ForkchoiceState(sibling, block2.hash, block1.hash))  # safe not an ancestor
    with pytest.raises(InvalidForkchoiceState):
        await client.forkchoice_updated(ForkchoiceState(sibling, keccak256(b"unknown"), block1.hash))


async def test_tx_pool_feeds_blocks_when_allowed(nursery):
    l1 = L1Chain()
    forks = ForkTimes.up_to("isthmus")
    engine, rollup, client = await start(nursery, l1, forks)
    sequencer = MiniSequencer(rollup, l1, client, engine)
    recipient = b"\x45" * 20

    def transfer(nonce: int, value: int) -> bytes:
        return encode_transaction(sign_transaction(Transaction(
            type=2, chain_id=L2_CHAIN_ID, nonce=nonce, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**8,
            gas=21_000, to=recipient, value=value), USER_KEY))

    async with JsonRpcClient(engine.rpc_url) as rpc:
        for raw in (transfer(1, 2), transfer(0, 1), transfer(3, 4)):  # nonce 3 has a gap
            await rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
        with pytest.raises(RpcCallError, match="chain id"):
            bad = encode_transaction(sign_transaction(Transaction(type=2, chain_id=1, nonce=0, max_fee_per_gas=10**10,
                                                                  gas=21_000, to=recipient), USER_KEY))
            await rpc.call("eth_sendRawTransaction", "0x" + bad.hex())
        assert len((await sequencer.build())["transactions"]) == 1  # noTxPool: the pool waits
        payload = await sequencer.build(no_tx_pool=False)
        assert len(payload["transactions"]) == 3  # L1 info, nonce 0, nonce 1
        assert len(engine.pending) == 1
        receipt = await rpc.call("eth_getTransactionReceipt", "0x" + keccak256(transfer(0, 1)).hex())
        balance = int(await rpc.call("eth_getBalance", "0x" + recipient.hex(), "latest"), 16)
        vault = int(await rpc.call("eth_getBalance", "0x" + BASE_FEE_VAULT.hex(), "latest"), 16)
        count = await rpc.call("eth_getTransactionCount", "0x" + USER.hex(), "pending")
    assert receipt["status"] == "0x1" and receipt["gasUsed"] == hex(21_000)
    assert balance == 3 and count == "0x2"
    block = engine.head
    assert vault == sum(t.gas_used for t in block.transactions if not t.is_deposit) * block.header.base_fee_per_gas


async def test_jwt_is_required(nursery):
    l1 = L1Chain()
    engine, rollup, _ = await start(nursery, l1, ForkTimes.up_to("isthmus"))
    async with httpx.AsyncClient() as http:
        response = await http.post(engine.auth_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert response.status_code == 401
    async with EngineClient(engine.auth_url, bytes(32), forks=rollup) as wrong:
        with pytest.raises(CriticalError):
            await wrong.forkchoice_updated(ForkchoiceState(engine.genesis.hash, bytes(32), bytes(32)))


async def test_attribute_and_version_checks(nursery):
    l1 = L1Chain()
    engine, rollup, client = await start(nursery, l1, ForkTimes.up_to("isthmus"))
    sequencer = MiniSequencer(rollup, l1, client, engine)
    state = ForkchoiceState(engine.genesis.hash, engine.genesis.hash, engine.genesis.hash)
    attrs = sequencer.attributes()
    for broken in (dataclasses.replace(attrs, eip1559_params=None), dataclasses.replace(attrs, withdrawals=None),
                   dataclasses.replace(attrs, transactions=attrs.transactions + (b"\x02\xc0",))):
        with pytest.raises(InvalidPayloadAttributes):
            await client.forkchoice_updated(state, broken)
    with pytest.raises(UnsupportedFork):
        await client.forkchoice_updated(state, attrs, version=2)
    started = await client.forkchoice_updated(state, attrs)
    with pytest.raises(UnsupportedFork):
        await client.get_payload(started.payload_id, version=3)
    assert (await client.get_payload(started.payload_id, version=4)).raw["executionRequests"] == []


async def test_karst_payloads_are_fetched_with_get_payload_v5_and_imported_with_new_payload_v4(nursery):
    # op-node GetPayloadVersion / NewPayloadVersion: Karst moves getPayload to V5 only.
    l1 = L1Chain()
    engine, rollup, client = await start(nursery, l1, ForkTimes.up_to("karst"))
    sequencer = MiniSequencer(rollup, l1, client, engine)
    payload = await sequencer.build()  # the client picks every version from the rollup config
    calls = client.statistics().requests_by_method
    assert calls.get("engine_getPayloadV5") == 1 and "engine_getPayloadV4" not in calls
    assert calls.get("engine_newPayloadV4") == 1 and calls.get("engine_forkchoiceUpdatedV3") == 2
    state = ForkchoiceState(engine.head.hash, engine.head.hash, engine.genesis.hash)
    started = await client.forkchoice_updated(state, sequencer.attributes())
    with pytest.raises(UnsupportedFork):
        await client.get_payload(started.payload_id, version=4)
    envelope = await client.get_payload(started.payload_id, version=5)
    assert envelope.raw["executionRequests"] == [] and envelope.raw["blobsBundle"]["blobs"] == []
    # A second engine imports the Karst payloads with newPayloadV4 (there is no V5).
    root = engine.block(d(payload, "blockHash")).header.parent_beacon_block_root
    verifier = make_engine(l1, ForkTimes.up_to("karst"))
    assert verifier.new_payload(payload, [], "0x" + root.hex(), [], version=4)["status"] == "VALID"
    methods = await engine.engine_exchangeCapabilities([])
    assert "engine_getPayloadV5" in methods and "engine_newPayloadV5" not in methods


async def test_holocene_and_jovian_extra_data(nursery):
    l1 = L1Chain()
    engine, rollup, client = await start(nursery, l1, ForkTimes.up_to("jovian"))
    sequencer = MiniSequencer(rollup, l1, client, engine)
    sequencer.system_config = dataclasses.replace(sequencer.system_config, eip1559_denominator=100,
                                                  eip1559_elasticity=4, min_base_fee=5 * 10**9)
    payload1 = await sequencer.build()
    payload2 = await sequencer.build()
    extra = d(payload1, "extraData")
    assert extra == b"\x01" + (100).to_bytes(4, "big") + (4).to_bytes(4, "big") + (5 * 10**9).to_bytes(8, "big")
    assert int(payload1["baseFeePerGas"], 16) < 5 * 10**9  # the genesis parent had no minimum
    assert int(payload2["baseFeePerGas"], 16) == 5 * 10**9  # clamped to the parent's minBaseFee
    recovered = system_config_from_l2_block(
        rollup, number=1, timestamp=int(payload1["timestamp"], 16), gas_limit=int(payload1["gasLimit"], 16),
        extra_data=extra, l1_info_data=decode_deposit_tx(d({"x": payload1["transactions"][0]}, "x")).data)
    assert (recovered.eip1559_denominator, recovered.eip1559_elasticity, recovered.min_base_fee) == (100, 4, 5 * 10**9)

    holocene = make_engine(l1, ForkTimes.up_to("holocene"))
    assert holocene.genesis.header.extra_data == b"\x00" + (250).to_bytes(4, "big") + (6).to_bytes(4, "big")
    assert "withdrawalsRoot" not in holocene.genesis.payload_json(holocene.config.forks)


async def test_pre_ecotone_chain_uses_v2_methods(nursery):
    l1 = L1Chain()
    forks = ForkTimes.up_to("canyon")
    engine, rollup, client = await start(nursery, l1, forks)
    sequencer = MiniSequencer(rollup, l1, client, engine)
    payload = await sequencer.build()
    assert "blobGasUsed" not in payload and payload["withdrawals"] == []
    header = engine.head.header
    assert header.withdrawals_root == EMPTY_TRIE_ROOT and header.parent_beacon_block_root is None
    assert header.extra_data == b"" and len(header.rlp_fields()) == 17
    assert client.statistics().requests_by_method.get("engine_getPayloadV2") == 1
    with pytest.raises(UnsupportedFork):
        await client.new_payload(payload, version=3, parent_beacon_block_root=bytes(32))


async def test_get_proof_verifies_against_the_state_root(nursery):
    l1 = L1Chain()
    engine, rollup, client = await start(nursery, l1, ForkTimes.up_to("isthmus"))
    await MiniSequencer(rollup, l1, client, engine).build()
    async with JsonRpcClient(engine.rpc_url) as rpc:
        proof = await rpc.call("eth_getProof", "0x" + L2_TO_L1_MESSAGE_PASSER_ADDRESS.hex(), ["0x7", "0x8"], "latest")
        absent = await rpc.call("eth_getProof", "0x" + (b"\x99" * 20).hex(), [], "latest")
        storage = await rpc.call("eth_getStorageAt", "0x" + L2_TO_L1_MESSAGE_PASSER_ADDRESS.hex(), "0x7", "latest")
    state_root = engine.head.header.state_root
    account = verify_proof(state_root, keccak256(L2_TO_L1_MESSAGE_PASSER_ADDRESS),
                           [bytes.fromhex(x[2:]) for x in proof["accountProof"]])
    nonce, balance, storage_root, code_hash = rlp.decode(account)
    assert storage_root.hex() == proof["storageHash"][2:] and code_hash == keccak256(b"\x60\x00")
    assert storage_root == engine.head.header.withdrawals_root
    assert [p["value"] for p in proof["storageProof"]] == ["0xabcd", "0x0"]
    assert verify_proof(storage_root, keccak256(PASSER_SLOT),
                        [bytes.fromhex(x[2:]) for x in proof["storageProof"][0]["proof"]]) == rlp.encode(0xABCD)
    assert verify_proof(state_root, keccak256(b"\x99" * 20), [bytes.fromhex(x[2:]) for x in absent["accountProof"]]) is None
    assert int(storage, 16) == 0xABCD
