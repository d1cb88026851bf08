"""The dev engine's authenticated port serves what the Engine API specification guarantees there
(execution-apis ``src/engine/common.md``: nine ``eth_`` methods next to ``engine_*``) plus
``eth_getProof`` (pre-Isthmus output roots), and nothing else: a rollup node that leans on more
fails against it as it would against a client that keeps to the specification. The public port
keeps the whole ``eth_`` set."""

from __future__ import annotations

import pytest
from devnet_helpers import JWT_SECRET, L2_CHAIN_ID, USER, USER_KEY, MiniSequencer, make_rollup_config

from opfleet.devnet.engine import AUTH_ETH_METHODS, DEVNET_LOG_EMITTER, DevEngine, ForkTimes, emitter_calldata
from opfleet.devnet.l1 import L1Chain
from opfleet.protocol.crypto import keccak256
from opfleet.protocol.engine_api import ENGINE_ETH_METHODS
from opfleet.protocol.output_root import L2_TO_L1_MESSAGE_PASSER_ADDRESS
from opfleet.protocol.state import Account
from opfleet.protocol.transactions import Transaction, encode_transaction, sign_transaction
from opfleet.providers.engine import EngineClient
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError

SPEC_ETH_METHODS = {
    "eth_blockNumber", "eth_call", "eth_chainId", "eth_getCode", "eth_getBlockByHash", "eth_getBlockByNumber",
    "eth_getLogs", "eth_sendRawTransaction", "eth_syncing",
}
TOPIC_A, TOPIC_B = keccak256(b"topic a"), keccak256(b"topic b")


def h(b: bytes) -> str:
    return "0x" + b.hex()


def emit(nonce: int, topics: tuple[bytes, ...], data: bytes) -> bytes:
    return encode_transaction(sign_transaction(Transaction(
        type=2, chain_id=L2_CHAIN_ID, nonce=nonce, max_fee_per_gas=10**10, max_priority_fee_per_gas=10**8,
        gas=100_000, to=DEVNET_LOG_EMITTER, value=0, data=emitter_calldata(topics, data)), USER_KEY))


async def start(nursery):
    l1 = L1Chain()
    forks = ForkTimes.up_to("isthmus")
    engine = DevEngine(chain_id=L2_CHAIN_ID, genesis_time=l1.config.genesis_time, forks=forks, jwt_secret=JWT_SECRET,
                       alloc={USER: Account(balance=10**21),
                              L2_TO_L1_MESSAGE_PASSER_ADDRESS: Account(nonce=1, code=b"\x60\x00")})
    await nursery.start(engine.serve_auth, "127.0.0.1", 0)
    await nursery.start(engine.serve_rpc, "127.0.0.1", 0)
    client = EngineClient(engine.auth_url, JWT_SECRET, forks=make_rollup_config(l1, engine, forks))
    return l1, engine, client


def test_the_auth_method_list_is_the_specifications_plus_get_proof():
    assert set(ENGINE_ETH_METHODS) == SPEC_ETH_METHODS
    engine = DevEngine(chain_id=L2_CHAIN_ID)
    auth = set(engine.auth_rpc.methods)
    assert {m for m in auth if not m.startswith("engine_")} == SPEC_ETH_METHODS | {"eth_getProof"} == set(AUTH_ETH_METHODS)
    assert {m for m in auth if m.startswith("engine_")} == {m for m in dir(engine) if m.startswith("engine_")}
    assert SPEC_ETH_METHODS | {"eth_getProof", "eth_getBalance", "eth_getBlockReceipts", "net_version"} <= set(
        engine.rpc.methods)
    assert not any(m.startswith("engine_") for m in engine.rpc.methods)


@pytest.mark.parametrize("method, params", [
    ("eth_getTransactionByBlockNumberAndIndex", ["latest", "0x0"]),
    ("eth_getTransactionByBlockHashAndIndex", ["0x" + "00" * 32, "0x0"]),
    ("eth_getBlockReceipts", ["latest"]),
    ("eth_getTransactionReceipt", ["0x" + "00" * 32]),
    ("eth_getBalance", ["0x" + "00" * 20, "latest"]),
    ("eth_getTransactionCount", ["0x" + "00" * 20, "latest"]),
    ("eth_gasPrice", []),
    ("net_version", []),
])
async def test_other_methods_are_not_found_on_the_auth_port_but_served_publicly(nursery, method, params):
    _, engine, client = await start(nursery)
    with pytest.raises(RpcCallError) as caught:
        await client.client.call(method, *params)
    assert caught.value.code == -32601
    async with JsonRpcClient(engine.rpc_url) as rpc:
        await rpc.call(method, *params)  # no error


async def test_every_listed_method_answers_on_the_auth_port(nursery):
    l1, engine, client = await start(nursery)
    await MiniSequencer(client.forks, l1, client, engine).build(user_txs=(
        emit(0, (TOPIC_A,), b"one"),))
    rpc = client.client
    head = engine.head
    assert await rpc.call("eth_blockNumber") == hex(head.number)
    assert await rpc.call("eth_chainId") == hex(L2_CHAIN_ID)
    assert await rpc.call("eth_syncing") is False
    assert (await rpc.call("eth_getBlockByNumber", "latest", True))["hash"] == h(head.hash)
    assert (await rpc.call("eth_getBlockByHash", h(head.hash), False))["number"] == hex(head.number)
    assert await rpc.call("eth_getCode", h(L2_TO_L1_MESSAGE_PASSER_ADDRESS), "latest") == "0x6000"
    assert await rpc.call("eth_call", {"to": h(USER), "data": "0x"}, "latest") == "0x"
    with pytest.raises(RpcCallError, match="runs no contract code"):
        await rpc.call("eth_call", {"to": h(L2_TO_L1_MESSAGE_PASSER_ADDRESS), "data": "0x"}, "latest")
    logs = await rpc.call("eth_getLogs", {"blockHash": h(head.hash)})
    assert [(entry["address"], entry["topics"], entry["data"]) for entry in logs] == [
        (h(DEVNET_LOG_EMITTER), [h(TOPIC_A)], h(b"one"))]
    sent = await rpc.call("eth_sendRawTransaction", h(emit(1, (), b"")))
    assert engine.pending == (bytes.fromhex(sent[2:]),)
    assert (await rpc.call("eth_getProof", h(L2_TO_L1_MESSAGE_PASSER_ADDRESS), [], "latest"))["storageHash"]


async def test_get_logs_matches_the_receipts_and_filters(nursery):
    l1, engine, client = await start(nursery)
    sequencer = MiniSequencer(client.forks, l1, client, engine)
    await sequencer.build(user_txs=(emit(0, (TOPIC_A,), b"a"), emit(1, (TOPIC_B, TOPIC_A), b"b")))
    block1 = engine.head
    await sequencer.build(user_txs=(emit(2, (TOPIC_A, TOPIC_B), b"c"),))
    block2 = engine.head
    rpc = client.client
    async with JsonRpcClient(engine.rpc_url) as public:
        receipts = await public.call("eth_getBlockReceipts", h(block1.hash))
    by_hash = await rpc.call("eth_getLogs", {"blockHash": h(block1.hash)})
    assert by_hash == [entry for receipt in receipts for entry in receipt["logs"]]
    assert [int(entry["logIndex"], 16) for entry in by_hash] == [0, 1]

    async def data_of(criteria: dict) -> list[bytes]:
        return [bytes.fromhex(entry["data"][2:]) for entry in await rpc.call("eth_getLogs", criteria)]

    every = {"fromBlock": "0x0", "toBlock": "latest"}
    assert await data_of(every) == [b"a", b"b", b"c"]
    assert await data_of({"fromBlock": hex(block2.number), "toBlock": hex(block2.number)}) == [b"c"]
    assert await data_of({**every, "topics": [h(TOPIC_A)]}) == [b"a", b"c"]
    assert await data_of({**every, "topics": [None, h(TOPIC_A)]}) == [b"b"]
    assert await data_of({**every, "topics": [[h(TOPIC_A), h(TOPIC_B)], None]}) == [b"b", b"c"]
    assert await data_of({**every, "address": h(USER)}) == []
    assert await data_of({**every, "address": [h(USER), h(DEVNET_LOG_EMITTER)]}) == [b"a", b"b", b"c"]
    with pytest.raises(RpcCallError, match="cannot specify both"):
        await rpc.call("eth_getLogs", {"blockHash": h(block1.hash), "fromBlock": "0x0"})
    with pytest.raises(RpcCallError, match="unknown block"):
        await rpc.call("eth_getLogs", {"blockHash": h(keccak256(b"nowhere"))})
    with pytest.raises(RpcCallError, match="invalid block range"):
        await rpc.call("eth_getLogs", {"fromBlock": hex(block2.number), "toBlock": hex(block1.number)})
    with pytest.raises(RpcCallError, match="expected a string or a list"):
        await rpc.call("eth_getLogs", {"topics": [7]})
