"""A JSON-RPC 2.0 client over httpx, with errors sorted by what the caller must do.

::

    httpx failure (connect, reset)           -> TemporaryError     retry later
    no answer within the timeout             -> RpcTimeoutError    (a TemporaryError)
    HTTP 5xx / 429 / other non-2xx           -> RpcHttpError       (a TemporaryError, .status)
    HTTP 401 / 403                           -> RpcAuthenticationError  (an AuthenticationError, a
                                                CriticalError; .rpc_error: proxyd's -32601)
    body is not a JSON-RPC response          -> TemporaryError
    JSON-RPC error object                    -> RpcCallError       (a NodeError, .code): caller decides

Every message names the endpoint with its secrets masked (``opfleet.config.settings.mask_url``),
so logs never carry API keys. The HTTP transport is injectable (``transport=``, e.g.
``httpx.MockTransport``), which is how tests fake nodes without sockets.

:class:`JsonRpcClient` itself makes no trio calls, so it also works under asyncio (the TUI).
:func:`retry_with_backoff` retries a step that raised :class:`TemporaryError` with capped
exponential back-off on trio's clock (tests run it under ``autojump_clock``); it is trio-only.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import Counter as _Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

import httpx
import trio

from opfleet.errors import AuthenticationError, ConfigError, NodeError, TemporaryError
from opfleet.log import mask_url

log = logging.getLogger("opfleet.providers")

T = TypeVar("T")

METHOD_NOT_FOUND = -32601
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BATCH_SIZE = 20


class RpcCallError(NodeError):
    """The node answered a call with a JSON-RPC error object.

    ``code`` and ``message`` are the node's; ``method`` is the call that failed. Whether to
    retry depends on the method and code, so this is not a :class:`TemporaryError`.
    """

    def __init__(self, code: int, message: str, *, data: Any = None, method: str | None = None,
                 endpoint: str | None = None):
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        self.endpoint = endpoint
        where = f"{endpoint}: " if endpoint else ""
        call = f"{method} " if method else ""
        super().__init__(f"{where}{call}failed: {message} (code {code})")

    @property
    def is_method_not_found(self) -> bool:
        return self.code == METHOD_NOT_FOUND


class RpcHttpError(TemporaryError):
    """The endpoint answered with an HTTP error status (``.status``)."""

    def __init__(self, message: str, *, status: int):
        self.status = status
        super().__init__(message)


class RpcAuthenticationError(AuthenticationError):
    """The endpoint answered HTTP 401/403.

    ``rpc_error`` is the JSON-RPC error (code, message) the body held, if any: proxyd answers a
    method it does not proxy with HTTP 403 and -32601, which a caller tells apart from a
    credentials problem.
    """

    def __init__(self, message: str, *, rpc_error: tuple[int, str] | None = None):
        self.rpc_error = rpc_error
        super().__init__(message)


class RpcTimeoutError(TemporaryError):
    """The endpoint did not answer within the client's timeout (a :class:`TemporaryError`).

    Told apart from other outages where a slow answer means something of its own (proxyd bans a
    backend after repeated ``optimism_outputAtBlock`` timeouts)."""


@dataclass(frozen=True, slots=True)
class ClientStatistics:
    """A snapshot of a :class:`JsonRpcClient`."""

    requests_by_method: Mapping[str, int]
    """JSON-RPC calls sent, per method (a batch item counts once)."""
    http_requests: int
    batches: int
    errors: int
    """Failed HTTP exchanges plus JSON-RPC error objects received."""


def _endpoint_label(name: str | None, url: str) -> str:
    masked = mask_url(url)
    return f"{name} {masked}" if name else masked


class JsonRpcClient:
    """Call one JSON-RPC endpoint over HTTP.

    ``headers_factory`` is called for every HTTP request (a fresh JWT per request for the Engine
    API); ``auth_hint`` is added to the message when the endpoint answers 401/403.
    """

    def __init__(
        self,
        url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        headers_factory: Callable[[], Mapping[str, str]] | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        name: str | None = None,
        auth_hint: str | None = None,
    ):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        try:
            scheme = httpx.URL(url).scheme
        except httpx.InvalidURL:
            scheme = ""
        if scheme not in ("http", "https"):
            raise ConfigError(f"not an http(s) URL: {mask_url(url)}", source=name)
        self.url = url
        self.endpoint = _endpoint_label(name, url)
        self.timeout = timeout
        self.max_batch_size = max_batch_size
        self.headers_factory = headers_factory
        self.auth_hint = auth_hint or ("check --l2.jwt-secret" if headers_factory else "check the endpoint's credentials")
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._ids = itertools.count(1)
        self._requests: _Counter[str] = _Counter()
        self._http_requests = 0
        self._batches = 0
        self._errors = 0

    async def __aenter__(self) -> JsonRpcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def statistics(self) -> ClientStatistics:
        return ClientStatistics(
            requests_by_method=MappingProxyType(dict(self._requests)),
            http_requests=self._http_requests,
            batches=self._batches,
            errors=self._errors,
        )

    # --- calls ----------------------------------------------------------------------------------

    async def call(self, method: str, *params: Any) -> Any:
        """Call ``method`` with positional ``params`` and return its result.

        Raises :class:`RpcCallError` for a JSON-RPC error, :class:`TemporaryError` when the
        endpoint cannot be reached or answers garbage, :class:`AuthenticationError` on 401/403.
        """
        request_id = next(self._ids)
        self._requests[method] += 1
        body = await self._post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}, method)
        if not isinstance(body, dict):
            self._errors += 1
            raise TemporaryError(f"{self.endpoint}: {method}: expected a JSON-RPC response object")
        return self._result(body, method, request_id)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]], *, return_errors: bool = False) -> list[Any]:
        """Send ``calls`` as JSON-RPC batches of at most ``max_batch_size``; results in call order.

        A failed item raises its :class:`RpcCallError` (after every chunk was sent), unless
        ``return_errors`` is true: then the error takes the item's place in the list. Transport
        failures raise as in :meth:`call`.
        """
        results: list[Any] = []
        for start in range(0, len(calls), self.max_batch_size):
            results.extend(await self._batch_chunk(calls[start : start + self.max_batch_size]))
        if not return_errors:
            for result in results:
                if isinstance(result, RpcCallError):
                    raise result
        return results

    async def _batch_chunk(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        ids = [next(self._ids) for _ in calls]
        messages = []
        for request_id, (method, params) in zip(ids, calls):
            self._requests[method] += 1
            messages.append({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)})
        self._batches += 1
        label = f"batch of {len(calls)} ({calls[0][0]}...)" if calls else "empty batch"
        body = await self._post(messages, label)
        if isinstance(body, dict) and "error" in body:
            # A whole-batch refusal (e.g. "batch too large") answers with one error object.
            error = self._call_error(body["error"], label)
            return [error for _ in calls]
        if not isinstance(body, list):
            self._errors += 1
            raise TemporaryError(f"{self.endpoint}: {label}: expected a JSON array of responses")
        by_id: dict[Any, dict[str, Any]] = {}
        for item in body:
            if isinstance(item, dict) and "id" in item:
                by_id[item["id"]] = item
        results: list[Any] = []
        for request_id, (method, _params) in zip(ids, calls):
            item = by_id.get(request_id)
            if item is None:
                self._errors += 1
                raise TemporaryError(f"{self.endpoint}: {method}: batch response has no answer for request {request_id}")
            try:
                results.append(self._result(item, method, request_id))
            except RpcCallError as exc:
                results.append(exc)
        return results

    def _result(self, body: Mapping[str, Any], method: str, request_id: int) -> Any:
        if body.get("id") != request_id:
            self._errors += 1
            raise TemporaryError(f"{self.endpoint}: {method}: response id {body.get('id')!r} does not match request {request_id}")
        if "error" in body and body["error"] is not None:
            raise self._call_error(body["error"], method)
        if "result" not in body:
            self._errors += 1
            raise TemporaryError(f"{self.endpoint}: {method}: response has neither result nor error")
        return body["result"]

    def _call_error(self, error: Any, method: str) -> RpcCallError:
        self._errors += 1
        if not isinstance(error, dict):
            return RpcCallError(-32603, f"malformed error object {error!r}", method=method, endpoint=self.endpoint)
        code = error.get("code")
        message = error.get("message")
        return RpcCallError(
            code if isinstance(code, int) and not isinstance(code, bool) else -32603,
            message if isinstance(message, str) else repr(message),
            data=error.get("data"),
            method=method,
            endpoint=self.endpoint,
        )

    async def _post(self, payload: Any, what: str) -> Any:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.headers_factory is not None:
            headers.update(self.headers_factory())
        content = json.dumps(payload, separators=(",", ":")).encode()
        self._http_requests += 1
        try:
            response = await self._client.post(self.url, content=content, headers=headers)
        except httpx.TimeoutException:
            self._errors += 1
            raise RpcTimeoutError(f"{self.endpoint}: {what} timed out after {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            self._errors += 1
            detail = _short((str(exc) or type(exc).__name__).replace(self.url, mask_url(self.url)))
            raise TemporaryError(f"{self.endpoint}: {what}: cannot reach the endpoint ({detail})") from None
        return self._decode(response, what)

    def _decode(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        if status in (401, 403):
            self._errors += 1
            raise RpcAuthenticationError(
                f"{self.endpoint}: authentication failed (HTTP {status}; {self.auth_hint})",
                rpc_error=_error_in(response))
        try:
            body = response.json() if response.content else None
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            body = None
        if not 200 <= status < 300:
            # Some nodes put a JSON-RPC error in a 4xx/5xx body; the status still says "retry".
            detail = _short(response.text)
            self._errors += 1
            raise RpcHttpError(f"{self.endpoint}: {what}: HTTP {status}{': ' + detail if detail else ''}", status=status)
        if body is None:
            self._errors += 1
            raise TemporaryError(f"{self.endpoint}: {what}: response is not JSON ({_short(response.text) or 'empty body'})")
        return body


def _error_in(response: httpx.Response) -> tuple[int, str] | None:
    """The JSON-RPC error object of a response body, as (code, message), if it holds one."""
    try:
        body = response.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), int) and isinstance(error.get("message"), str):
        return error["code"], error["message"]
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- retrying -------------------------------------------------------------------------------------


async def retry_with_backoff(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int | None = 5,
    forever: bool = False,
    base: float = 0.5,
    cap: float = 30.0,
    retry_on: tuple[type[BaseException], ...] = (TemporaryError,),
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    what: str | None = None,
) -> T:
    """Await ``fn()`` until it succeeds, sleeping ``min(cap, base * 2**(n-1))`` after failure n.

    Only ``retry_on`` errors are retried (``TemporaryError`` by default; a ``CriticalError`` or
    ``RpcCallError`` propagates at once). Gives up after ``attempts`` tries (re-raising the last
    error) unless ``forever``. ``on_retry(attempt, error, delay)`` is called before each sleep;
    by default the first failure of a run is logged as a warning and later ones at debug level,
    so a long outage logs one line, plus one when it recovers.
    """
    if not forever and (attempts is None or attempts < 1):
        raise ValueError("attempts must be at least 1 (or pass forever=True)")
    label = what or getattr(fn, "__qualname__", "operation")
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await fn()
        except retry_on as exc:
            if not forever and attempt >= (attempts or 0):
                raise
            delay = min(cap, base * (2 ** (attempt - 1)))
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            elif attempt == 1:
                log.warning("%s failed, retrying: %s", label, exc, extra={"fields": {"retry_in": f"{delay:g}s"}})
            else:
                log.debug("%s failed again (attempt %d): %s", label, attempt, exc)
            await trio.sleep(delay)
            continue
        if attempt > 1 and on_retry is None:
            log.info("%s succeeded after %d attempts", label, attempt)
        return result
