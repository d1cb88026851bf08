"""JsonRpcClient: calls, batches, error mapping, secret masking, statistics; retry_with_backoff timing."""

from __future__ import annotations

import logging

import httpx
import pytest
import trio

from opfleet.errors import ConfigError, CriticalError, NodeError, TemporaryError
from opfleet.providers import JsonRpcClient, RpcCallError, RpcHttpError, retry_with_backoff
from opfleet.rpc import JsonRpcServer, RpcError

from providers_fakes import FakeNode, RpcFailure

SECRET_URL = "https://user:hunter2@eth.example.org/v3/0123456789abcdef0123456789abcdef?apikey=topsecret"
SECRETS = ("hunter2", "0123456789abcdef0123456789abcdef", "topsecret")


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


def client_for(node: FakeNode, url: str = "http://node.test", **kwargs) -> JsonRpcClient:
    return JsonRpcClient(url, transport=node.transport(), **kwargs)


async def test_call_returns_result_and_sends_positional_params():
    node = FakeNode({"eth_getBlockByNumber": lambda tag, full: {"tag": tag, "full": full}})
    async with client_for(node) as client:
        assert await client.call("eth_getBlockByNumber", "latest", False) == {"tag": "latest", "full": False}
    assert node.calls == ["eth_getBlockByNumber"]


async def test_batch_splits_into_chunks_and_keeps_order():
    node = FakeNode({"echo": lambda x: x})
    node.reverse_batches = True
    async with client_for(node, max_batch_size=2) as client:
        results = await client.batch([("echo", [i]) for i in range(5)])
        assert results == [0, 1, 2, 3, 4]
        stats = client.statistics()
    assert node.http_log == [["echo", "echo"], ["echo", "echo"], ["echo"]]
    assert stats.http_requests == 3
    assert stats.batches == 3
    assert stats.requests_by_method == {"echo": 5}


async def test_batch_item_errors_are_surfaced():
    def maybe(x):
        if x == 2:
            raise RpcFailure(-32000, "header not found")
        return x

    node = FakeNode({"get": maybe})
    async with client_for(node) as client:
        results = await client.batch([("get", [1]), ("get", [2]), ("nope", [])], return_errors=True)
        assert results[0] == 1
        assert isinstance(results[1], RpcCallError) and results[1].code == -32000
        assert results[1].message == "header not found"
        assert isinstance(results[2], RpcCallError) and results[2].is_method_not_found
        with pytest.raises(RpcCallError) as raised:
            await client.batch([("get", [1]), ("get", [2])])
    assert raised.value.method == "get"


async def test_rpc_error_is_a_node_error_with_code_not_temporary():
    node = FakeNode({"engine_forkchoiceUpdatedV3": _raise(RpcFailure(-38002, "Invalid forkchoice state"))})
    async with client_for(node, name="L2 engine") as client:
        with pytest.raises(RpcCallError) as raised:
            await client.call("engine_forkchoiceUpdatedV3", {}, None)
    error = raised.value
    assert isinstance(error, NodeError) and not isinstance(error, TemporaryError)
    assert (error.code, error.message) == (-38002, "Invalid forkchoice state")
    assert str(error) == "L2 engine http://node.test: engine_forkchoiceUpdatedV3 failed: Invalid forkchoice state (code -38002)"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_server_errors_are_temporary_and_mask_secrets(status):
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text="upstream busy"))
    async with JsonRpcClient(SECRET_URL, transport=transport, name="L1 RPC") as client:
        with pytest.raises(RpcHttpError) as raised:
            await client.call("eth_chainId")
    text = str(raised.value)
    assert isinstance(raised.value, TemporaryError) and raised.value.status == status
    assert text.startswith("L1 RPC https://user:****@eth.example.org/v3/****?apikey=****: eth_chainId: HTTP")
    assert f"HTTP {status}: upstream busy" in text
    assert "\n" not in text
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ReadTimeout("timed out"), "eth_chainId timed out after 3s"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "cannot reach the endpoint ([Errno 111] Connection refused)"),
        (httpx.RemoteProtocolError("peer closed connection"), "cannot reach the endpoint (peer closed connection)"),
    ],
)
async def test_transport_failures_are_temporary(exc, expected):
    def fail(request):
        raise exc

    async with JsonRpcClient(SECRET_URL, transport=httpx.MockTransport(fail), timeout=3) as client:
        with pytest.raises(TemporaryError) as raised:
            await client.call("eth_chainId")
    assert expected in str(raised.value)
    for secret in SECRETS:
        assert secret not in str(raised.value)


async def test_connection_refused_over_real_loopback():
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    await listener.aclose()  # nothing listens there any more
    async with JsonRpcClient(f"http://127.0.0.1:{port}", name="L1 RPC") as client:
        with pytest.raises(TemporaryError, match=rf"L1 RPC http://127.0.0.1:{port}: eth_chainId: cannot reach"):
            await client.call("eth_chainId")


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failures_are_critical(status):
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text="signature is invalid"))
    async with JsonRpcClient("http://engine.test:8551", transport=transport, headers_factory=lambda: {},
                             name="L2 engine") as client:
        with pytest.raises(CriticalError) as raised:
            await client.call("engine_exchangeCapabilities", [])
    assert "authentication failed" in str(raised.value)
    assert "check --l2.jwt-secret" in str(raised.value)


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (httpx.Response(200, text="<html>gateway</html>"), "response is not JSON"),
        (httpx.Response(200, json={"jsonrpc": "2.0", "id": 999, "result": 1}), "does not match request"),
        (httpx.Response(200, json={"jsonrpc": "2.0", "id": 1}), "neither result nor error"),
        (httpx.Response(200, json=[1, 2]), "expected a JSON-RPC response object"),
        # nested deeper than the JSON parser goes: garbage like any other, not a crash
        (httpx.Response(200, content=b"[" * 100_000), "response is not JSON"),
    ],
)
async def test_garbage_responses_are_temporary(response, fragment):
    async with JsonRpcClient("http://node.test", transport=httpx.MockTransport(lambda r: response)) as client:
        with pytest.raises(TemporaryError, match=fragment):
            await client.call("eth_chainId")


async def test_headers_factory_runs_per_request():
    node = FakeNode({"ping": lambda: "pong"})
    counter = iter(range(100))
    async with client_for(node, headers_factory=lambda: {"authorization": f"Bearer t{next(counter)}"}) as client:
        await client.call("ping")
        await client.batch([("ping", []), ("ping", [])])
    assert [h["authorization"] for h in node.headers] == ["Bearer t0", "Bearer t1"]


def test_non_http_urls_are_config_errors():
    with pytest.raises(ConfigError, match="not an http"):
        JsonRpcClient("ws://node.test:8546")


async def test_client_against_our_own_server_over_loopback(nursery):
    async def fail():
        raise RpcError(-32005, "limit exceeded")

    server = JsonRpcServer({"add": _async(lambda a, b: a + b), "fail": fail})
    port = await nursery.start(server.serve, "127.0.0.1", 0)
    async with JsonRpcClient(f"http://127.0.0.1:{port}", max_batch_size=3) as client:
        assert await client.call("add", 1, 2) == 3
        results = await client.batch([("add", [i, i]) for i in range(7)] + [("fail", [])], return_errors=True)
        assert results[:7] == [0, 2, 4, 6, 8, 10, 12]
        assert isinstance(results[7], RpcCallError) and results[7].code == -32005
    assert server.statistics().total_connections == 1  # keep-alive across 4 HTTP requests


# --- retry_with_backoff ----------------------------------------------------------------------------


async def test_retry_backoff_timing_is_exponential_and_capped(autojump_clock):
    failures = 7
    attempts_at = []

    async def flaky():
        attempts_at.append(trio.current_time())
        if len(attempts_at) <= failures:
            raise TemporaryError("endpoint down")
        return "ok"

    start = trio.current_time()
    assert await retry_with_backoff(flaky, attempts=10, base=0.5, cap=10) == "ok"
    gaps = [round(b - a, 6) for a, b in zip([start] + attempts_at, attempts_at)]
    assert gaps == [0, 0.5, 1, 2, 4, 8, 10, 10]


async def test_retry_gives_up_after_attempts(autojump_clock):
    calls = 0

    async def always_down():
        nonlocal calls
        calls += 1
        raise TemporaryError(f"down {calls}")

    start = trio.current_time()
    with pytest.raises(TemporaryError, match="down 3"):
        await retry_with_backoff(always_down, attempts=3, base=1, cap=30)
    assert calls == 3
    assert trio.current_time() - start == pytest.approx(1 + 2)


async def test_retry_forever_and_on_retry_callback(autojump_clock):
    seen = []

    async def recovers_late():
        if len(seen) < 20:
            raise TemporaryError("still down")
        return len(seen)

    result = await retry_with_backoff(recovers_late, forever=True, base=1, cap=5,
                                      on_retry=lambda attempt, exc, delay: seen.append((attempt, delay)))
    assert result == 20
    assert seen[:4] == [(1, 1), (2, 2), (3, 4), (4, 5)]
    assert all(delay == 5 for _, delay in seen[3:])


async def test_retry_does_not_retry_other_errors(autojump_clock):
    calls = 0

    async def critical():
        nonlocal calls
        calls += 1
        raise CriticalError("authentication failed")

    with pytest.raises(CriticalError):
        await retry_with_backoff(critical, attempts=5)
    assert calls == 1


async def test_retry_logs_a_long_outage_once(autojump_clock, opfleet_logs):
    count = 0

    async def flaky():
        nonlocal count
        count += 1
        if count < 6:
            raise TemporaryError("L1 RPC http://x: eth_chainId timed out after 10s")
        return count

    await retry_with_backoff(flaky, attempts=10, what="fetch L1 head")
    warnings = [r for r in opfleet_logs.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "fetch L1 head failed, retrying" in warnings[0].getMessage()
    assert any("succeeded after 6 attempts" in r.getMessage() for r in opfleet_logs.records if r.levelno == logging.INFO)


def _raise(exc):
    def method(*args):
        raise exc

    return method


def _async(fn):
    async def method(*args):
        return fn(*args)

    return method


async def test_auth_failures_are_their_own_critical_error():
    import httpx

    from opfleet.errors import AuthenticationError, CriticalError
    from opfleet.providers.jsonrpc import JsonRpcClient

    transport = httpx.MockTransport(lambda request: httpx.Response(401))
    async with JsonRpcClient("http://engine.test", transport=transport) as client:
        with pytest.raises(AuthenticationError) as raised:
            await client.call("eth_chainId")
    assert isinstance(raised.value, CriticalError)


async def test_a_403_body_nested_too_deep_is_an_authentication_error_without_an_rpc_error():
    from opfleet.errors import AuthenticationError

    transport = httpx.MockTransport(lambda request: httpx.Response(403, content=b"[" * 100_000))
    async with JsonRpcClient("http://proxy.test", transport=transport) as client:
        with pytest.raises(AuthenticationError) as raised:
            await client.call("eth_chainId")
    assert raised.value.rpc_error is None


@pytest.mark.parametrize("body, rpc_error", [
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "rpc method is not whitelisted"}},
     (-32601, "rpc method is not whitelisted")),
    ({"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "not a code"}}, None),
    ({"error": "unauthorized"}, None),
    (["not", "an", "object"], None),
])
async def test_a_403_keeps_the_json_rpc_error_its_body_holds(body, rpc_error):
    # proxyd refuses a method missing from its mappings with 403 and -32601: not a credentials problem
    from opfleet.errors import AuthenticationError
    from opfleet.providers import RpcAuthenticationError

    transport = httpx.MockTransport(lambda request: httpx.Response(403, json=body))
    async with JsonRpcClient("http://proxy.test", transport=transport) as client:
        with pytest.raises(RpcAuthenticationError, match="authentication failed") as raised:
            await client.call("optimism_syncStatus")
    assert isinstance(raised.value, AuthenticationError)
    assert raised.value.rpc_error == rpc_error
