"""RollupNodeClient: every method against opfleet's own rollup-node server over loopback HTTP,
op-node's error codes, and garbage or hostile answers through httpx's transport seam."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest
import trio

from opfleet.errors import BlockNotFoundError, DecodeError, TemporaryError
from opfleet.node.safedb import SafeHeadEntry, SafeHeadNotFound
from opfleet.protocol.block_ref import BlockID, L1BlockRef, L2BlockRef
from opfleet.protocol.output_root import OutputV0
from opfleet.protocol.rollup_api import ChainIdentity, NodeInfo
from opfleet.protocol.sync_status import SyncStatus
from opfleet.providers.jsonrpc import RpcCallError, RpcHttpError
from opfleet.providers.rollup_node import (
    NotFoundError,
    RollupNodeClient,
    SafeDbDisabledError,
    not_ready,
)
from opfleet.rpc.optimism import optimism_methods
from opfleet.rpc.server import JsonRpcServer
from opfleet.testing.derive import FakeL1Chain, make_rollup_config


def l1(n: int) -> L1BlockRef:
    return L1BlockRef(bytes([n]) * 32, n, bytes([n - 1 if n else 0]) * 32, 1000 + 12 * n)


def l2(n: int, origin: int = 1, seq: int = 0) -> L2BlockRef:
    return L2BlockRef(bytes([0x80 + n]) * 32, n, bytes([0x7F + n]) * 32, 2000 + 2 * n, BlockID(bytes([origin]) * 32, origin), seq)


STATUS = SyncStatus(current_l1=l1(5), head_l1=l1(9), safe_l1=l1(7), finalized_l1=l1(3), unsafe_l2=l2(20),
                    safe_l2=l2(10), finalized_l2=l2(4), pending_safe_l2=l2(11), cross_unsafe_l2=l2(19),
                    local_safe_l2=l2(12))


class SafeDb:
    def safe_head_at(self, l1_number: int) -> SafeHeadEntry:
        if l1_number < 3:
            raise SafeHeadNotFound(l1_number)
        return SafeHeadEntry(BlockID(b"\x03" * 32, 3), BlockID(b"\x84" * 32, 4))


class Node:
    """A SourceView with a status that can move (for the long poll)."""

    node_role = "light"
    follow_sources = ("http://user:secret@source.test:9545",)
    sequencer_active = True

    def __init__(self):
        self.rollup_config = make_rollup_config(FakeL1Chain())
        self.status = STATUS
        self.changed = trio.Event()

    def sync_status(self) -> SyncStatus:
        return self.status

    async def wait_status_change(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self.changed.wait()

    async def output_at(self, number: int):
        if number > 20:
            raise BlockNotFoundError(f"block {number}")
        return OutputV0(b"\x01" * 32, b"\x02" * 32, l2(number).hash), l2(number), STATUS

    def request_reset(self) -> None:
        pass


async def serve(nursery, node: Node, **kwargs) -> str:
    server = JsonRpcServer(optimism_methods(node, **kwargs))
    port = await nursery.start(server.serve, "127.0.0.1", 0)
    return f"http://127.0.0.1:{port}"


async def test_every_method_against_our_own_server_over_loopback():
    node = Node()
    async with trio.open_nursery() as nursery:
        url = await serve(nursery, node, safe_db=SafeDb(), enable_admin=True)
        async with RollupNodeClient(url) as client:
            assert await client.sync_status() == STATUS
            out = await client.output_at_block(7)
            assert out.block_ref == l2(7)
            assert out.output_root == OutputV0(b"\x01" * 32, b"\x02" * 32, l2(7).hash).output_root()
            assert out.state_root == b"\x01" * 32 and out.withdrawal_storage_root == b"\x02" * 32
            assert out.version == bytes(32) and out.sync_status == STATUS
            config = await client.rollup_config()
            # op-node's JSON has no Granite channel timeout (a constant, 50): the test config's 5 stays home
            assert replace(config, granite_channel_timeout=5) == node.rollup_config
            assert config.granite_channel_timeout == 50
            assert (await client.rollup_config_json())["l2_chain_id"] == config.l2_chain_id
            assert await client.chain_identity() == ChainIdentity(
                l2_chain_id=config.l2_chain_id, block_time=float(config.block_time),
                l1_genesis_hash="0x" + config.genesis.l1.hash.hex(), l2_genesis_hash="0x" + config.genesis.l2.hash.hex())
            safe = await client.safe_head_at_l1_block(5)
            assert (safe.l1_block.number, safe.safe_head.number) == (3, 4)
            info = await client.node_info()
            assert info == NodeInfo(role="light", follows=("http://user:****@source.test:9545",))  # masked
            assert await client.sequencer_active() is True
            # the long poll: an empty `known` answers at once
            assert await client.wait_sync_status(None, 5_000) == STATUS
        nursery.cancel_scope.cancel()


async def test_long_poll_answers_when_a_named_head_changes_else_at_the_deadline():
    node = Node()
    moved = SyncStatus(**{**{f: getattr(STATUS, f) for f in STATUS.__slots__}, "safe_l2": l2(13)})
    async with trio.open_nursery() as nursery:
        url = await serve(nursery, node)
        async with RollupNodeClient(url) as client:
            t0 = trio.current_time()
            assert await client.wait_sync_status(STATUS, 200) == STATUS  # nothing moved: the deadline
            assert trio.current_time() - t0 >= 0.15

            async def move():
                await trio.sleep(0.05)
                node.status = moved
                node.changed.set()

            nursery.start_soon(move)
            t0 = trio.current_time()
            assert await client.wait_sync_status(STATUS, 10_000) == moved
            assert trio.current_time() - t0 < 5
            with pytest.raises(ValueError):
                await client.wait_sync_status(STATUS, -1)
        nursery.cancel_scope.cancel()


async def test_op_node_error_codes():
    async with trio.open_nursery() as nursery:
        url = await serve(nursery, Node())  # no admin API, no safe-head database
        async with RollupNodeClient(url) as client:
            with pytest.raises(NotFoundError, match="not found") as info:
                await client.output_at_block(21)
            assert info.value.code == -32000 and info.value.method == "optimism_outputAtBlock"
            with pytest.raises(SafeDbDisabledError):
                await client.safe_head_at_l1_block(5)
            with pytest.raises(RpcCallError) as info:
                await client.sequencer_active()
            assert info.value.is_method_not_found
            with pytest.raises(RpcCallError) as info:
                await client.supernode_sync_status()
            assert info.value.is_method_not_found
        url = await serve(nursery, Node(), safe_db=SafeDb())
        async with RollupNodeClient(url) as client:
            with pytest.raises(NotFoundError):
                await client.safe_head_at_l1_block(2)
        nursery.cancel_scope.cancel()


def answering(result=None, *, error=None, status=200, body=None, seen=None):
    def handler(request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)
        if seen is not None:
            seen.append(call)
        if body is not None:
            return httpx.Response(status, content=body)
        out = {"jsonrpc": "2.0", "id": call["id"]}
        out.update({"error": error} if error is not None else {"result": result})
        return httpx.Response(status, json=out)
    return httpx.MockTransport(handler)


def client_with(transport) -> RollupNodeClient:
    return RollupNodeClient("http://node.test", transport=transport)


async def test_parameters_go_out_as_op_node_expects_them():
    seen: list = []
    async with client_with(answering(STATUS.to_json(), seen=seen)) as client:
        await client.wait_sync_status(STATUS, 4000)
        with pytest.raises(DecodeError):
            await client.output_at_block(26)  # a SyncStatus is no output
    known, wait_ms = seen[0]["params"]
    assert known == {k: STATUS.to_json()[k]["hash"] for k in ("local_safe_l2", "safe_l2", "finalized_l2",
                                                                "current_l1")}
    assert wait_ms == 4000
    assert seen[1] == {"jsonrpc": "2.0", "id": seen[1]["id"], "method": "optimism_outputAtBlock",
                       "params": ["0x1a"]}  # hexutil.Uint64: a JSON number would be refused


GOOD_OUTPUT = {"version": "0x" + "00" * 32, "outputRoot": "0x" + "11" * 32, "blockRef": l2(3).to_json(),
               "withdrawalStorageRoot": "0x" + "22" * 32, "stateRoot": "0x" + "33" * 32}


@pytest.mark.parametrize("answer", [
    None, [], "0x", 7, {"chains": 1},
    {**GOOD_OUTPUT, "outputRoot": "0x" + "11" * 31},
    {**GOOD_OUTPUT, "outputRoot": 5},
    {**GOOD_OUTPUT, "blockRef": None},
    {**GOOD_OUTPUT, "blockRef": {**l2(3).to_json(), "number": "3"}},
    {**GOOD_OUTPUT, "syncStatus": {"current_l1": "garbage"}},
    {k: v for k, v in GOOD_OUTPUT.items() if k != "stateRoot"},
])
async def test_garbage_outputs_are_decode_errors(answer):
    async with client_with(answering(answer)) as client:
        with pytest.raises(DecodeError):
            await client.output_at_block(3)


async def test_a_good_output_without_sync_status_is_read():
    async with client_with(answering(GOOD_OUTPUT)) as client:
        out = await client.output_at_block(3)
    assert out.block_ref == l2(3) and out.sync_status is None and out.output_root == b"\x11" * 32


@pytest.mark.parametrize("method, answer", [
    ("sync_status", {"current_l1": l1(1).to_json()}),
    ("sync_status", [STATUS.to_json()]),
    ("sync_status", {**STATUS.to_json(), "safe_l2": {**l2(1).to_json(), "hash": "0x" + "zz" * 32}}),
    ("rollup_config_json", [1, 2]),
    ("rollup_config", {"l2_chain_id": 901}),
    ("chain_identity", "config"),
    ("safe_head_at_l1_block", {"l1Block": {"hash": "0x00", "number": 1}, "safeHead": None}),
    ("node_info", ["light"]),
    ("supernode_sync_status", {"chains": ["901"]}),
    ("sequencer_active", "true"),
    ("sequencer_active", 1),
])
async def test_garbage_answers_of_each_method_are_decode_errors(method, answer):
    args = {"safe_head_at_l1_block": (5,)}.get(method, ())
    async with client_with(answering(answer)) as client:
        with pytest.raises(DecodeError):
            await getattr(client, method)(*args)


async def test_lenient_readers_take_what_they_can():
    config = {"l2_chain_id": True, "block_time": -2, "genesis": {"l2": {"hash": "0xABCD"}, "l1": []}}
    async with client_with(answering(config)) as client:
        assert await client.chain_identity() == ChainIdentity(l2_genesis_hash="0xabcd")
    async with client_with(answering({"role": 5, "follows": ["http://a", 3, "", None]})) as client:
        assert await client.node_info() == NodeInfo(role=None, follows=("http://a",))
    chains = {"chains": {"902": STATUS.to_json(), "901": "garbage", "x": {}}}
    async with client_with(answering(chains)) as client:
        found = await client.supernode_sync_status()
    assert found.chain_ids() == ["901", "902", "x"]
    assert found.status("902") == STATUS
    with pytest.raises(DecodeError):
        found.status("901")  # one garbled chain does not hide the others


async def test_hostile_bodies_never_escape_the_error_tree():
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (b"", b"not json", deep, b"\xff\xfe", b"{" * 10, json.dumps({"jsonrpc": "2.0"}).encode()):
        async with client_with(answering(body=body)) as client:
            with pytest.raises((TemporaryError, DecodeError)):
                await client.sync_status()
    huge = {"chains": {str(i): STATUS.to_json() for i in range(2000)}}
    async with client_with(answering(huge)) as client:
        assert len((await client.supernode_sync_status()).chains) == 2000


async def test_a_proxy_before_its_first_consensus_is_not_ready():
    error = {"code": -32025, "message": "optimism_syncStatus not available"}
    async with client_with(answering(error=error, status=503)) as client:
        with pytest.raises(RpcHttpError) as info:
            await client.sync_status()
    assert not_ready(info.value)
    async with client_with(answering(error={"code": -32000, "message": "boom"}, status=503)) as client:
        with pytest.raises(RpcHttpError) as info:
            await client.sync_status()
    assert not not_ready(info.value)
    assert not not_ready(ValueError("-32025"))


async def test_a_generic_error_stays_generic_and_other_codes_pass_through():
    async with client_with(answering(error={"code": -32000, "message": "something broke"})) as client:
        with pytest.raises(RpcCallError) as info:
            await client.sync_status()
    assert type(info.value) is RpcCallError
    async with client_with(answering(error={"code": -32602, "message": "not found"})) as client:
        with pytest.raises(RpcCallError) as info:
            await client.output_at_block(1)
    assert type(info.value) is RpcCallError and info.value.code == -32602


async def test_a_client_given_an_rpc_client_leaves_it_open():
    from opfleet.providers.jsonrpc import JsonRpcClient

    rpc = JsonRpcClient("http://node.test", transport=answering(STATUS.to_json()))
    async with RollupNodeClient(rpc=rpc) as client:
        assert await client.sync_status() == STATUS
        assert client.endpoint == rpc.endpoint and client.url == "http://node.test"
    assert await rpc.call("optimism_syncStatus") == STATUS.to_json()  # still open
    await rpc.aclose()
    with pytest.raises(ValueError):
        RollupNodeClient()
