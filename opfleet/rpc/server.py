"""A small HTTP/1.1 server on trio (h11) and a JSON-RPC 2.0 dispatcher that answers like go-ethereum.

::

    HttpServer(handler)                 TCP + h11: keep-alive, body limit (HTTP 413), 100-continue
      └── handler(HttpRequest) -> HttpResponse
            ├── Router                  exact routes (GET /healthz), prefix mounts (/<chainID>/...)
            └── JsonRpcServer           POST body -> JSON-RPC 2.0 (batches, notifications)

Every handler is one async function from :class:`HttpRequest` to :class:`HttpResponse`, so a
:class:`JsonRpcServer` can be served alone, mounted under a prefix of a :class:`Router` (a
supernode serving ``/<chainID>`` per chain), or wrapped (JWT checking, see
``opfleet.providers.jwt.require_jwt``).

Wire behaviour follows go-ethereum's ``rpc`` package (``rpc/http.go``, ``rpc/handler.go``,
``rpc/errors.go``), which op-node serves through: body limit 5 MiB answered with HTTP 413
"content length too large (N>LIMIT)"; PUT/DELETE get 405; a POST must be ``application/json``
(or ``application/json-rpc``/``application/jsonrequest``) or gets 415; an empty GET is a
health check answered 200. JSON-RPC errors: -32700 parse error, -32600 invalid request,
-32601 "the method X does not exist/is not available", -32602 invalid params, -32603 internal
error (a handler that crashed), -32000 for a handler error without its own code.

Handlers raise :class:`RpcError` for a specific code; an :class:`opfleet.errors.OpfleetError`
(or any exception with an integer ``code`` attribute) becomes -32000 (or that code) with the
exception text; any other exception is a bug: it is logged with its traceback and answered
-32603 "method handler crashed", without leaking details to the caller.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
from collections import Counter as _Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import h11
import trio

from opfleet.errors import OpfleetError
from opfleet.protocol.hexjson import HexJsonError, parse_data, parse_quantity

log = logging.getLogger("opfleet.rpc")

DEFAULT_MAX_REQUEST_BYTES = 5 * 1024 * 1024
"""go-ethereum's ``defaultBodyLimit`` (``rpc/http.go``), which op-node's RPC server keeps."""

DEFAULT_BATCH_LIMIT = 1000
"""go-ethereum's default ``BatchRequestLimit`` (``node/defaults.go``)."""

DEFAULT_IDLE_TIMEOUT = 120.0
"""Seconds a keep-alive connection may sit idle (go-ethereum's ``rpc.DefaultHTTPTimeouts.IdleTimeout``)."""

ACCEPTED_CONTENT_TYPES = ("application/json", "application/json-rpc", "application/jsonrequest")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
DEFAULT_ERROR = -32000

_UNKNOWN_METHOD = "<unknown>"  # counted under one key so clients cannot grow our statistics
_RECEIVE_CHUNK = 65536
_DRAIN_LIMIT = 16 * 1024 * 1024  # bytes we read and drop after a 413 so the client sees the answer
_DRAIN_SECONDS = 2.0


# --- HTTP model ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request with its whole body. ``path`` excludes the query; header names are lowercase."""

    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    client: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``default``."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def with_path(self, path: str) -> HttpRequest:
        """The same request addressed to ``path`` (what a mounted handler sees)."""
        return HttpRequest(self.method, path, self.query, self.headers, self.body, self.client)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An HTTP response; ``headers`` are extra headers besides content type and length."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> HttpResponse:
        return cls(status, _dumps(obj) + b"\n", "application/json")

    @classmethod
    def text(
        cls, text: str, status: int = 200, *, content_type: str = "text/plain; charset=utf-8",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> HttpResponse:
        return cls(status, text.encode(), content_type, headers)


HttpHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]
RpcMethod = Callable[..., Awaitable[Any]]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


# --- routing ------------------------------------------------------------------------------------


def _normalize_prefix(prefix: str) -> str:
    segments = [s for s in prefix.split("/") if s]
    if not segments:
        raise ValueError("a mount prefix needs at least one path segment")
    return "/" + "/".join(segments)


class Router:
    """Dispatch by path: exact routes first, then the longest mounted prefix, then ``default``.

    ``mount("/10", handler)`` sends ``/10``, ``/10/`` and ``/10/anything?q`` to ``handler`` with
    the prefix stripped (``/``, ``/``, ``/anything?q``), as op-supernode's router does for
    ``/<chainID>``. Mounting the same prefix again replaces the handler (a restarted chain);
    :meth:`unmount` removes it. Unmatched paths go to ``default``; with ``catch_all=False``
    only ``/`` does and anything else is 404 (an unknown chain ID).
    """

    def __init__(self, default: HttpHandler | None = None, *, catch_all: bool = True):
        self.default = default
        self.catch_all = catch_all
        self._routes: dict[str, tuple[HttpHandler, frozenset[str]]] = {}
        self._mounts: dict[str, HttpHandler] = {}

    def route(self, path: str, handler: HttpHandler, *, methods: tuple[str, ...] = ("GET", "HEAD")) -> None:
        """Serve exactly ``path`` with ``handler`` for the given HTTP methods (others get 405)."""
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        self._routes[path] = (handler, frozenset(m.upper() for m in methods))

    def mount(self, prefix: str, handler: HttpHandler) -> None:
        """Serve every path under ``prefix`` with ``handler``, prefix stripped."""
        self._mounts[_normalize_prefix(prefix)] = handler

    def unmount(self, prefix: str) -> None:
        self._mounts.pop(_normalize_prefix(prefix), None)

    @property
    def mounts(self) -> tuple[str, ...]:
        return tuple(sorted(self._mounts))

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        route = self._routes.get(request.path)
        if route is not None:
            handler, methods = route
            if request.method not in methods:
                return HttpResponse.text("method not allowed\n", 405)
            return await handler(request)
        mounted = self._match_mount(request.path)
        if mounted is not None:
            handler, rest = mounted
            return await handler(request.with_path(rest))
        if self.default is not None and (self.catch_all or request.path in ("", "/")):
            return await self.default(request)
        return HttpResponse.text("404 page not found\n", 404)

    def _match_mount(self, path: str) -> tuple[HttpHandler, str] | None:
        if not self._mounts:
            return None
        segments = [s for s in path.split("/") if s]
        for n in range(len(segments), 0, -1):
            handler = self._mounts.get("/" + "/".join(segments[:n]))
            if handler is not None:
                rest = "/" + "/".join(segments[n:])
                if path.endswith("/") and len(segments) > n:
                    rest += "/"
                return handler, rest
        return None


# --- HTTP server --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpStatistics:
    """A snapshot of an :class:`HttpServer`."""

    open_connections: int
    total_connections: int
    http_requests: int
    too_large: int
    """Requests refused with HTTP 413."""
    bad_requests: int
    """Connections dropped for malformed HTTP."""


class HttpServer:
    """Serve one :data:`HttpHandler` over HTTP/1.1 (h11 on trio TCP streams).

    Keep-alive and pipelining are handled by h11; a connection idle for ``idle_timeout`` is
    closed. Bodies above ``max_request_bytes`` (by ``Content-Length``, or counted while reading a
    chunked body) are answered with 413 and the connection is closed.
    """

    def __init__(
        self,
        handler: HttpHandler,
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        name: str = "http",
    ):
        self.handler = handler
        self.max_request_bytes = max_request_bytes
        self.idle_timeout = idle_timeout
        self.name = name
        self._open = 0
        self._total = 0
        self._requests = 0
        self._too_large = 0
        self._bad = 0

    def statistics(self) -> HttpStatistics:
        return HttpStatistics(self._open, self._total, self._requests, self._too_large, self._bad)

    async def serve(
        self, host: str | None, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host:port`` (port 0 picks a free one) until cancelled.

        With port 0 give an IP address, not a name: a name resolving to IPv4 and IPv6 would get
        two listeners on two different ports. Calls ``task_status.started(port)`` with the bound port once listening, so a parent can
        ``port = await nursery.start(server.serve, "127.0.0.1", 0)``.
        """
        listeners = await trio.open_tcp_listeners(port, host=host)
        bound = listeners[0].socket.getsockname()[1]
        log.info("%s server listening", self.name, extra={"fields": {"addr": f"{host}:{bound}"}})
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self.serve_connection, listeners)
            task_status.started(bound)

    async def serve_connection(self, stream: trio.abc.Stream) -> None:
        """Serve requests arriving on one connection until either side closes it."""
        self._open += 1
        self._total += 1
        conn = h11.Connection(h11.SERVER)
        client = _peer(stream)
        try:
            while await self._serve_one(conn, stream, client):
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away
        except h11.ProtocolError as exc:
            self._bad += 1
            log.debug("bad HTTP request: %s", exc, extra={"fields": {"client": client}})
            with trio.move_on_after(1):
                await _try_send_error(conn, stream, 400, f"bad request: {exc}\n")
        except Exception:  # a bug here must cost one connection, not the whole server
            log.exception("HTTP connection failed", extra={"fields": {"client": client}})
        finally:
            self._open -= 1
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()

    async def _serve_one(self, conn: h11.Connection, stream: trio.abc.Stream, client: str | None) -> bool:
        """Read one request, answer it; return whether the connection can carry another."""
        # Reading (head and body) and writing are bounded in time; running the handler is not.
        request = None
        with trio.move_on_after(self.idle_timeout):
            request = await self._read_request(conn, stream, client)
        if request is None:
            return False  # closed, refused, or idle/stalled too long
        try:
            response = await self.handler(request)
        except Exception:  # a bug in a handler must not kill the server
            log.exception("HTTP handler failed", extra={"fields": {"path": request.path}})
            response = HttpResponse.text("internal server error\n", 500)
        with trio.move_on_after(self.idle_timeout) as write_scope:
            await _send_response(conn, stream, response, head_only=request.method == "HEAD")
        if write_scope.cancelled_caught:
            return False
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    async def _read_request(
        self, conn: h11.Connection, stream: trio.abc.Stream, client: str | None
    ) -> HttpRequest | None:
        event = await _next_event(conn, stream)
        if isinstance(event, h11.ConnectionClosed):
            return None
        assert isinstance(event, h11.Request)
        self._requests += 1
        head = event
        declared = _content_length(head.headers)
        if declared is not None and declared > self.max_request_bytes:
            await self._refuse_too_large(conn, stream, declared)
            return None
        if conn.they_are_waiting_for_100_continue:
            await stream.send_all(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        body = bytearray()
        while True:
            event = await _next_event(conn, stream)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_request_bytes:
                    await self._refuse_too_large(conn, stream, len(body))
                    return None
            elif isinstance(event, h11.EndOfMessage):
                return _to_request(head, bytes(body), client)
            else:  # the client closed mid-body
                return None

    async def _refuse_too_large(self, conn: h11.Connection, stream: trio.abc.Stream, size: int) -> None:
        self._too_large += 1
        text = f"content length too large ({size}>{self.max_request_bytes})\n"
        await _send_response(conn, stream, HttpResponse.text(text, 413, headers=(("connection", "close"),)))
        # Read (and drop) what the client is still sending: closing a socket with unread data
        # makes the kernel send RST, and the client would then lose our 413.
        drained = 0
        with trio.move_on_after(_DRAIN_SECONDS):
            while drained < _DRAIN_LIMIT:
                data = await stream.receive_some(_RECEIVE_CHUNK)
                if not data:
                    break
                drained += len(data)


def _peer(stream: trio.abc.Stream) -> str | None:
    sock = getattr(stream, "socket", None)
    try:
        host, port = sock.getpeername()[:2] if sock is not None else (None, None)
    except OSError:
        return None
    return f"{host}:{port}" if host is not None else None


async def _next_event(conn: h11.Connection, stream: trio.abc.Stream) -> Any:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(_RECEIVE_CHUNK)))
            continue
        if event is h11.PAUSED:  # cannot happen while we answer one request at a time
            return h11.ConnectionClosed()
        return event


def _content_length(headers: Any) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _to_request(head: h11.Request, body: bytes, client: str | None) -> HttpRequest:
    target = head.target.decode("latin-1")
    path, _, query = target.partition("?")
    headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in head.headers)
    return HttpRequest(head.method.decode("ascii").upper(), path or "/", query, headers, body, client)


async def _send_response(
    conn: h11.Connection, stream: trio.abc.Stream, response: HttpResponse, *, head_only: bool = False
) -> None:
    headers = [("content-length", str(len(response.body)))]
    if response.content_type:
        headers.append(("content-type", response.content_type))
    headers.extend(response.headers)
    data = conn.send(h11.Response(status_code=response.status, headers=headers))
    if response.body and not head_only:
        data += conn.send(h11.Data(data=response.body))
    data += conn.send(h11.EndOfMessage())
    await stream.send_all(data)


async def _try_send_error(conn: h11.Connection, stream: trio.abc.Stream, status: int, text: str) -> None:
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    try:
        await _send_response(conn, stream, HttpResponse.text(text, status, headers=(("connection", "close"),)))
    except (h11.ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


# --- JSON-RPC -----------------------------------------------------------------------------------


class RpcError(Exception):
    """Raised by a method handler to answer with a specific JSON-RPC error code."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


class InvalidParams(RpcError):
    """-32602: a handler could not use its parameters."""

    def __init__(self, message: str, data: Any = None):
        super().__init__(INVALID_PARAMS, message, data)


def param_quantity(value: Any, name: str) -> int:
    """A hex quantity parameter (:func:`opfleet.protocol.hexjson.parse_quantity`), else -32602."""
    with invalid_params():
        return parse_quantity(value, name)


def param_data(value: Any, name: str, size: int | None = None) -> bytes:
    """A hex data parameter (:func:`opfleet.protocol.hexjson.parse_data`), else -32602."""
    with invalid_params():
        return parse_data(value, size, name)


@contextmanager
def invalid_params() -> Iterator[None]:
    """The one place a :class:`~opfleet.protocol.hexjson.HexJsonError` in a request's parameters
    becomes JSON-RPC -32602 (geth words it "invalid argument: ...")."""
    try:
        yield
    except HexJsonError as exc:
        raise InvalidParams(f"invalid argument: {exc}") from None


@dataclass(frozen=True, slots=True)
class RpcStatistics:
    """A snapshot of a :class:`JsonRpcServer` (and of its HTTP server, once serving)."""

    requests_by_method: Mapping[str, int]
    """Calls per method name; calls of unknown methods are counted under ``"<unknown>"``."""
    errors: int
    errors_by_code: Mapping[int, int]
    batches: int
    open_connections: int = 0
    total_connections: int = 0
    http_requests: int = 0
    too_large: int = 0


@dataclass(slots=True)
class _Arity:
    required: int
    maximum: float  # math.inf with *args


def _arity(fn: Callable[..., Any]) -> _Arity:
    required, maximum = 0, 0.0
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            maximum += 1
            if param.default is param.empty:
                required += 1
        elif param.kind is param.VAR_POSITIONAL:
            maximum = math.inf
    return _Arity(required, maximum)


@dataclass(slots=True)
class _Counts:
    requests: _Counter[str] = field(default_factory=_Counter)
    errors: _Counter[int] = field(default_factory=_Counter)
    batches: int = 0


class JsonRpcServer:
    """JSON-RPC 2.0 over HTTP with go-ethereum's error codes and messages.

    ``methods`` maps a method name to an async function called with the positional params
    (``await fn(*params)``); its return value must be JSON-serialisable. Named (object) params
    are refused like go-ethereum does ("non-array args"). ``extra_routes`` maps exact paths to
    HTTP handlers (``{"/healthz": ...}``) and ``mounts`` maps path prefixes to HTTP handlers
    (another :class:`JsonRpcServer` for ``/<chainID>``). The server is itself an HTTP handler,
    so it can be mounted elsewhere.
    """

    def __init__(
        self,
        methods: Mapping[str, RpcMethod] | None = None,
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        extra_routes: Mapping[str, HttpHandler] | None = None,
        mounts: Mapping[str, HttpHandler] | None = None,
        batch_limit: int = DEFAULT_BATCH_LIMIT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        name: str = "rpc",
    ):
        self.max_request_bytes = max_request_bytes
        self.batch_limit = batch_limit
        self.idle_timeout = idle_timeout
        self.name = name
        self._methods: dict[str, tuple[RpcMethod, _Arity]] = {}
        for method, fn in (methods or {}).items():
            self.register(method, fn)
        self.router = Router(self.handle_http)
        for path, handler in (extra_routes or {}).items():
            self.router.route(path, handler)
        for prefix, handler in (mounts or {}).items():
            self.router.mount(prefix, handler)
        self._counts = _Counts()
        self._http: HttpServer | None = None

    # registration

    def register(self, method: str, fn: RpcMethod) -> None:
        """Add or replace a method."""
        if not inspect.iscoroutinefunction(fn) and not inspect.iscoroutinefunction(type(fn).__call__):
            raise TypeError(f"JSON-RPC method {method!r} must be an async function")
        self._methods[method] = (fn, _arity(fn))

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(sorted(self._methods))

    # serving

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        return await self.router(request)

    async def serve(
        self, host: str | None, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve over HTTP until cancelled; ``task_status.started(bound_port)`` once listening."""
        self._http = HttpServer(self, max_request_bytes=self.max_request_bytes,
                                idle_timeout=self.idle_timeout, name=self.name)
        await self._http.serve(host, port, task_status=task_status)

    def statistics(self) -> RpcStatistics:
        http = self._http.statistics() if self._http else HttpStatistics(0, 0, 0, 0, 0)
        return RpcStatistics(
            requests_by_method=MappingProxyType(dict(self._counts.requests)),
            errors=sum(self._counts.errors.values()),
            errors_by_code=MappingProxyType(dict(self._counts.errors)),
            batches=self._counts.batches,
            open_connections=http.open_connections,
            total_connections=http.total_connections,
            http_requests=http.http_requests,
            too_large=http.too_large,
        )

    async def handle_http(self, request: HttpRequest) -> HttpResponse:
        """The JSON-RPC endpoint itself (go-ethereum's ``Server.ServeHTTP``)."""
        if request.method in ("GET", "HEAD") and not request.body and not request.query:
            return HttpResponse(200)  # health check, like geth
        if request.method in ("PUT", "DELETE"):
            return HttpResponse.text("method not allowed\n", 405)
        if len(request.body) > self.max_request_bytes:  # when mounted behind a larger limit
            return HttpResponse.text(
                f"content length too large ({len(request.body)}>{self.max_request_bytes})\n", 413)
        if request.method == "OPTIONS":
            return HttpResponse(200)
        content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
        if content_type not in ACCEPTED_CONTENT_TYPES:
            return HttpResponse.text("invalid content type, only application/json is supported\n", 415)
        answer = await self.handle_body(request.body)
        if answer is None:
            return HttpResponse(200, b"", "application/json")
        return HttpResponse(200, answer + b"\n", "application/json")

    async def handle_body(self, body: bytes) -> bytes | None:
        """Answer one JSON-RPC message or batch; ``None`` when nothing is owed (notifications)."""
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: nesting deeper than the parser goes ("[" x 100,000). A client's
            # mistake, not ours: answered like any other parse error, logged at debug at most.
            log.debug("JSON-RPC body does not parse", extra={"fields": {"bytes": len(body)}})
            return self._error_response(None, RpcError(PARSE_ERROR, "parse error"))
        if isinstance(message, list):
            return await self._handle_batch(message)
        return await self._handle_message(message)

    async def _handle_batch(self, messages: list[Any]) -> bytes | None:
        self._counts.batches += 1
        if not messages:
            return self._error_response(None, RpcError(INVALID_REQUEST, "empty batch"))
        if self.batch_limit and len(messages) > self.batch_limit:
            first_id = next((m["id"] for m in messages if isinstance(m, dict) and "id" in m), None)
            return b"[" + self._error_response(first_id, RpcError(INVALID_REQUEST, "batch too large")) + b"]"
        # Sequential, like geth: a batch is an ordered list of calls.
        responses = [r for r in [await self._handle_message(m) for m in messages] if r is not None]
        return b"[" + b",".join(responses) + b"]" if responses else None

    async def _handle_message(self, message: Any) -> bytes | None:
        """One call: its serialized response, or ``None`` for a notification."""
        if not isinstance(message, dict):
            return self._error_response(None, RpcError(INVALID_REQUEST, "invalid request"))
        has_id = "id" in message
        msg_id = message.get("id")
        method = message.get("method")
        valid_id = msg_id is None or (isinstance(msg_id, (str, int, float)) and not isinstance(msg_id, bool))
        if message.get("jsonrpc") != "2.0" or not isinstance(method, str) or not method or not valid_id:
            return self._error_response(msg_id if valid_id else None, RpcError(INVALID_REQUEST, "invalid request"))
        try:
            result = await self._call(method, message.get("params"))
        except Exception as exc:  # every failure becomes a JSON-RPC error
            error = _as_rpc_error(exc, method)
            return self._error_response(msg_id, error) if has_id else None
        if not has_id:
            return None  # notifications get no answer
        try:
            return _dumps({"jsonrpc": "2.0", "id": msg_id, "result": result})
        except (TypeError, ValueError, RecursionError) as exc:
            log.error("JSON-RPC method %s returned a value that is not JSON: %s", method, exc)
            return self._error_response(msg_id, RpcError(INTERNAL_ERROR, "internal error: result is not JSON"))

    async def _call(self, method: str, params: Any) -> Any:
        entry = self._methods.get(method)
        if entry is None:
            self._counts.requests[_UNKNOWN_METHOD] += 1
            raise RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")
        self._counts.requests[method] += 1
        fn, arity = entry
        if params is None:
            params = []
        if not isinstance(params, list):
            raise RpcError(INVALID_PARAMS, "non-array args")
        if len(params) < arity.required:
            raise RpcError(INVALID_PARAMS, f"missing value for required argument {len(params)}")
        if len(params) > arity.maximum:
            raise RpcError(INVALID_PARAMS, f"too many arguments, want at most {int(arity.maximum)}")
        return await fn(*params)

    def _error_response(self, msg_id: Any, error: RpcError) -> bytes:
        self._counts.errors[error.code] += 1
        try:
            return _dumps({"jsonrpc": "2.0", "id": msg_id, "error": error.to_json()})
        except (TypeError, ValueError):  # unserialisable error data
            return _dumps({"jsonrpc": "2.0", "id": msg_id, "error": {"code": error.code, "message": error.message}})


def _as_rpc_error(exc: Exception, method: str) -> RpcError:
    if isinstance(exc, RpcError):
        return exc
    code = getattr(exc, "code", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return RpcError(code, getattr(exc, "message", None) or str(exc), getattr(exc, "data", None))
    if isinstance(exc, OpfleetError):
        return RpcError(DEFAULT_ERROR, str(exc))
    log.error("JSON-RPC method %s crashed", method, exc_info=exc)
    return RpcError(INTERNAL_ERROR, "method handler crashed")


def json_route(payload: Callable[[], Any] | Any) -> HttpHandler:
    """An HTTP handler answering ``payload`` (or ``payload()``) as JSON, e.g. ``/healthz``."""

    async def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(payload() if callable(payload) else payload)

    return handler
