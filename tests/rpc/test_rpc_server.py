"""The trio/h11 JSON-RPC server over real loopback HTTP.

Expected codes and messages are go-ethereum's (rpc/errors.go, rpc/http.go, rpc/handler.go),
which op-node serves through (op-service/rpc/handler.go).
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import trio

from opfleet.errors import TemporaryError
from opfleet.rpc import HttpResponse, JsonRpcServer, Router, RpcError, json_route
from opfleet.rpc.server import HttpRequest, HttpServer


async def add(a, b=0):
    return a + b


async def echo(*args):
    return list(args)


async def fails_temporarily():
    raise TemporaryError("L1 block 7 not found")


async def crashes():
    return {}["secret-detail"]


async def raises_rpc_error():
    raise RpcError(-38002, "invalid forkchoice state", data={"head": "0x01"})


async def not_json():
    return {1, 2}


@pytest.fixture
def opfleet_logs(caplog):
    """Capture the "opfleet" logger directly: the CLI's log setup may have turned propagation off."""
    logger = logging.getLogger("opfleet")
    saved = (logger.level, logger.propagate)
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.level, logger.propagate = saved


def make_server(**kwargs) -> JsonRpcServer:
    methods = {
        "test_add": add,
        "test_echo": echo,
        "test_temporary": fails_temporarily,
        "test_crash": crashes,
        "test_rpcError": raises_rpc_error,
        "test_notJson": not_json,
    }
    return JsonRpcServer(methods, **kwargs)


async def start(nursery, server) -> str:
    port = await nursery.start(server.serve, "127.0.0.1", 0)
    return f"http://127.0.0.1:{port}"


def call(method, params=None, id=1):
    msg = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


@pytest.fixture
async def rpc(nursery):
    server = make_server(extra_routes={"/healthz": json_route({"version": "v0.0.0-test"})})
    url = await start(nursery, server)
    async with httpx.AsyncClient(base_url=url) as client:
        yield server, client


async def test_single_call_returns_result(rpc):
    _, client = rpc
    response = await client.post("/", json=call("test_add", [2, 3], id="abc"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"jsonrpc": "2.0", "id": "abc", "result": 5}


async def test_serve_reports_bound_port_and_stops_when_cancelled():
    server = make_server()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.serve, "127.0.0.1", 0)
        assert port > 0
        async with httpx.AsyncClient() as client:
            assert (await client.post(f"http://127.0.0.1:{port}", json=call("test_add", [1]))).json()["result"] == 1
        nursery.cancel_scope.cancel()
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)


async def test_batch_keeps_order_errors_per_item_and_skips_notifications(rpc):
    _, client = rpc
    batch = [
        call("test_add", [1, 1], id=1),
        call("nope_missing", [], id=2),
        {"jsonrpc": "2.0", "method": "test_add", "params": [5]},  # notification: no answer
        call("test_echo", ["x", 2], id=3),
    ]
    answer = (await client.post("/", json=batch)).json()
    assert answer == [
        {"jsonrpc": "2.0", "id": 1, "result": 2},
        {"jsonrpc": "2.0", "id": 2,
         "error": {"code": -32601, "message": "the method nope_missing does not exist/is not available"}},
        {"jsonrpc": "2.0", "id": 3, "result": ["x", 2]},
    ]


async def test_notifications_get_an_empty_body_but_run(nursery):
    calls = []

    async def record(x):
        calls.append(x)

    server = JsonRpcServer({"rec": record})
    url = await start(nursery, server)
    async with httpx.AsyncClient() as client:
        single = await client.post(url, json={"jsonrpc": "2.0", "method": "rec", "params": [1]})
        batch = await client.post(url, json=[{"jsonrpc": "2.0", "method": "rec", "params": [2]},
                                             {"jsonrpc": "2.0", "method": "missing"}])
    assert (single.status_code, single.content) == (200, b"")
    assert (batch.status_code, batch.content) == (200, b"")
    assert calls == [1, 2]


async def test_method_not_found_message_is_geths(rpc):
    _, client = rpc
    error = (await client.post("/", json=call("optimism_nothing"))).json()["error"]
    assert error == {"code": -32601, "message": "the method optimism_nothing does not exist/is not available"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([], "missing value for required argument 0"),
        ([1, 2, 3], "too many arguments, want at most 2"),
        ({"a": 1}, "non-array args"),
        ("0x1", "non-array args"),
    ],
)
async def test_invalid_params(rpc, params, message):
    _, client = rpc
    body = (await client.post("/", json=call("test_add", params))).json()
    assert body["error"] == {"code": -32602, "message": message}


async def test_handler_errors_map_to_codes(rpc, opfleet_logs):
    _, client = rpc
    temp = (await client.post("/", json=call("test_temporary"))).json()["error"]
    assert temp == {"code": -32000, "message": "L1 block 7 not found"}
    own = (await client.post("/", json=call("test_rpcError"))).json()["error"]
    assert own == {"code": -38002, "message": "invalid forkchoice state", "data": {"head": "0x01"}}
    crash = (await client.post("/", json=call("test_crash"))).json()["error"]
    assert crash == {"code": -32603, "message": "method handler crashed"}
    assert "secret-detail" not in json.dumps(crash)
    assert any("test_crash crashed" in r.getMessage() for r in opfleet_logs.records)
    bad = (await client.post("/", json=call("test_notJson"))).json()["error"]
    assert bad["code"] == -32603


@pytest.mark.parametrize(
    ("body", "code", "message", "answer_id"),
    [
        (b"{not json", -32700, "parse error", None),
        (b'{"jsonrpc":"2.0","id":1}', -32600, "invalid request", 1),
        (b'{"jsonrpc":"1.0","id":1,"method":"test_add","params":[1]}', -32600, "invalid request", 1),
        (b'{"jsonrpc":"2.0","id":{"x":1},"method":"test_add","params":[1]}', -32600, "invalid request", None),
        (b"[]", -32600, "empty batch", None),
        (b"42", -32600, "invalid request", None),
    ],
)
async def test_malformed_messages(rpc, body, code, message, answer_id):
    _, client = rpc
    answer = (await client.post("/", content=body, headers={"content-type": "application/json"})).json()
    assert answer["error"] == {"code": code, "message": message}
    assert answer["id"] == answer_id  # geth echoes a valid id, else null


async def test_batch_limit(nursery):
    server = make_server(batch_limit=3)
    url = await start(nursery, server)
    async with httpx.AsyncClient() as client:
        answer = (await client.post(url, json=[call("test_add", [i], id=i + 10) for i in range(4)])).json()
    assert answer == [{"jsonrpc": "2.0", "id": 10, "error": {"code": -32600, "message": "batch too large"}}]


async def test_body_limit_413_by_content_length_and_keeps_serving(nursery):
    server = make_server(max_request_bytes=1024)
    url = await start(nursery, server)
    async with httpx.AsyncClient() as client:
        padded = json.dumps(call("test_echo", ["x" * 900])).encode()
        assert len(padded) <= 1024
        ok = await client.post(url, content=padded, headers={"content-type": "application/json"})
        assert ok.json()["result"] == ["x" * 900]
        big = json.dumps(call("test_echo", ["x" * 2000])).encode()
        refused = await client.post(url, content=big, headers={"content-type": "application/json"})
        assert refused.status_code == 413
        assert refused.text == f"content length too large ({len(big)}>1024)\n"
        after = await client.post(url, json=call("test_add", [4]))
        assert after.json()["result"] == 4
    assert server.statistics().too_large == 1


async def test_body_limit_413_for_chunked_bodies(nursery):
    server = make_server(max_request_bytes=1000)
    url = await start(nursery, server)

    async def chunks():
        for _ in range(20):
            yield b"[" + b" " * 200

    async with httpx.AsyncClient() as client:
        response = await client.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.text.startswith("content length too large (")


async def test_default_limit_is_five_mib():
    assert JsonRpcServer({}).max_request_bytes == 5 * 1024 * 1024


async def test_keep_alive_reuses_one_connection(rpc):
    server, client = rpc
    for i in range(5):
        assert (await client.post("/", json=call("test_add", [i, 1]))).json()["result"] == i + 1
    stats = server.statistics()
    assert stats.total_connections == 1
    assert stats.http_requests == 5
    assert stats.open_connections == 1


async def test_pipelined_requests_on_a_raw_socket(nursery):
    url = await start(nursery, make_server())
    port = int(url.rsplit(":", 1)[1])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    bodies = [json.dumps(call("test_add", [i, 10], id=i)).encode() for i in range(2)]
    raw = b"".join(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(b)).encode() + b"\r\n\r\n" + b
        for b in bodies
    )
    await stream.send_all(raw)
    received = b""
    with trio.fail_after(5):
        while received.count(b'"result"') < 2:
            received += await stream.receive_some(65536)
    assert received.count(b"HTTP/1.1 200") == 2
    assert b'"id":0,"result":10' in received and b'"id":1,"result":11' in received
    await stream.aclose()


async def test_expect_100_continue(nursery):
    url = await start(nursery, make_server())
    port = int(url.rsplit(":", 1)[1])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    body = json.dumps(call("test_add", [20, 22])).encode()
    await stream.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                          b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    with trio.fail_after(5):
        interim = await stream.receive_some(65536)
    assert interim.startswith(b"HTTP/1.1 100 ")
    await stream.send_all(body)
    received = b""
    with trio.fail_after(5):
        while b'"result"' not in received:
            received += await stream.receive_some(65536)
    assert b'"result":42' in received
    await stream.aclose()


async def test_idle_connection_is_closed(nursery, autojump_clock):
    server = make_server(idle_timeout=30)
    url = await start(nursery, server)
    port = int(url.rsplit(":", 1)[1])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    start_time = trio.current_time()
    with trio.fail_after(300):
        assert await stream.receive_some(1024) == b""
    assert trio.current_time() - start_time >= 30
    await stream.aclose()


async def test_http_level_behaviour(rpc):
    _, client = rpc
    health = await client.get("/")
    assert (health.status_code, health.content) == (200, b"")
    assert (await client.get("/healthz")).json() == {"version": "v0.0.0-test"}
    assert (await client.post("/healthz", json={})).status_code == 405
    wrong_type = await client.post("/", content=b"{}", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    assert wrong_type.text == "invalid content type, only application/json is supported\n"
    assert (await client.put("/", json=call("test_add", [1]))).status_code == 405
    # go-ethereum serves JSON-RPC on any path
    assert (await client.post("/any/path", json=call("test_add", [7]))).json()["result"] == 7


async def test_router_mounts_per_chain_servers(nursery):
    chain10 = JsonRpcServer({"chain_id": _const("10")}, extra_routes={"/healthz": json_route({"chain": 10})})
    chain11 = JsonRpcServer({"chain_id": _const("11")})
    root = JsonRpcServer({"heartbeat_check": _const("0xbeef")})
    router = Router(root, catch_all=False)
    router.mount("/10", chain10)
    router.mount("11", chain11)
    server = HttpServer(router)
    port = await nursery.start(server.serve, "127.0.0.1", 0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for path in ("/10", "/10/", "/10?x=1"):
            assert (await client.post(path, json=call("chain_id"))).json()["result"] == "10"
        assert (await client.post("/11/", json=call("chain_id"))).json()["result"] == "11"
        assert (await client.get("/10/healthz")).json() == {"chain": 10}
        assert (await client.post("/", json=call("heartbeat_check"))).json()["result"] == "0xbeef"
        assert (await client.post("/12", json=call("chain_id"))).status_code == 404
        router.mount("/11", JsonRpcServer({"chain_id": _const("eleven")}))  # a restarted chain
        assert (await client.post("/11", json=call("chain_id"))).json()["result"] == "eleven"
        router.unmount("/11")
        assert (await client.post("/11", json=call("chain_id"))).status_code == 404
    assert router.mounts == ("/10",)


async def test_router_passes_the_stripped_path_and_query():
    seen = []

    async def handler(request: HttpRequest) -> HttpResponse:
        seen.append((request.path, request.query))
        return HttpResponse(204)

    router = Router()
    router.mount("/a/b", handler)
    for path, query in (("/a/b", ""), ("/a/b/", "q=1"), ("/a/b/c/d", ""), ("//a/b/c/", "")):
        response = await router(HttpRequest("GET", path, query))
        assert response.status == 204
    assert seen == [("/", ""), ("/", "q=1"), ("/c/d", ""), ("/c/", "")]
    assert (await router(HttpRequest("GET", "/a/bc"))).status == 404


async def test_statistics_count_methods_and_errors(rpc):
    server, client = rpc
    await client.post("/", json=[call("test_add", [1], id=1), call("test_add", [2], id=2), call("x_y", id=3)])
    await client.post("/", json=call("another_unknown"))
    await client.post("/", json=call("test_temporary"))
    stats = server.statistics()
    assert stats.requests_by_method == {"test_add": 2, "<unknown>": 2, "test_temporary": 1}
    assert stats.errors == 3
    assert stats.errors_by_code == {-32601: 2, -32000: 1}
    assert stats.batches == 1
    with pytest.raises(TypeError):
        stats.requests_by_method["x"] = 1  # a snapshot, not a live view


def test_register_refuses_sync_functions():
    with pytest.raises(TypeError):
        JsonRpcServer({"sync": lambda: 1})


def _const(value):
    async def method():
        return value

    return method


async def test_slow_handlers_are_not_cut_by_the_idle_timeout(nursery, autojump_clock):
    async def slow():
        await trio.sleep(500)
        return "done"

    server = JsonRpcServer({"slow": slow}, idle_timeout=30)
    port = await nursery.start(server.serve, "127.0.0.1", 0)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    body = json.dumps(call("slow")).encode()
    await stream.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                          + str(len(body)).encode() + b"\r\n\r\n" + body)
    received = b""
    with trio.fail_after(1000):
        while b'"result"' not in received:
            received += await stream.receive_some(65536)
    assert b'"result":"done"' in received
    await stream.aclose()


async def test_malformed_http_gets_400_and_the_server_keeps_going(nursery):
    server = make_server()
    url = await start(nursery, server)
    port = int(url.rsplit(":", 1)[1])
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(b"THIS IS NOT HTTP\r\n\r\n")
    received = b""
    with trio.fail_after(5):
        while True:
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 ")
    await stream.aclose()
    async with httpx.AsyncClient() as client:
        assert (await client.post(url, json=call("test_add", [1]))).json()["result"] == 1


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000],
                         ids=["open-arrays", "open-objects", "closed-arrays"])
async def test_deeply_nested_json_is_a_parse_error_and_logs_nothing_above_debug(rpc, opfleet_logs, body):
    # A log-flooding lever otherwise: HTTP 500 and an ERROR line with a traceback per request.
    _, client = rpc
    opfleet_logs.clear()  # the "listening" line
    for _ in range(3):
        response = await client.post("/", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 200
        assert response.json() == {"jsonrpc": "2.0", "id": None,
                                   "error": {"code": -32700, "message": "parse error"}}
    assert [r for r in opfleet_logs.records if r.levelno > logging.DEBUG] == []
    assert (await client.post("/", json=call("test_add", [1]))).json()["result"] == 1


async def test_a_result_nested_too_deep_to_serialise_is_an_internal_error(rpc, opfleet_logs):
    _, client = rpc
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    server, _ = rpc

    async def nested():
        return deep

    server.register("test_nested", nested)
    error = (await client.post("/", json=call("test_nested"))).json()["error"]
    assert error == {"code": -32603, "message": "internal error: result is not JSON"}
