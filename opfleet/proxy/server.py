"""The proxy's JSON-RPC front: proxyd's request handling for a CL consensus group.

Wire behaviour (ethereum-optimism/infra ``proxyd/server.go``, ``proxyd/backend.go``; reference
``opnode-rpc.md`` §4.3):

- a method missing from ``[rpc_method_mappings]``: -32601 "rpc method is not whitelisted"
  (``whitelist_error_message``), HTTP 403;
- ``optimism_syncStatus``: never forwarded; the pinned backend's raw result from the cache, or
  -32025 "optimism_syncStatus not available" with HTTP 503 before the first cycle pins one;
- any other mapped method: forwarded to the consensus group, shuffled (healthy before degraded),
  the next backend tried when one cannot be reached; an empty group (a halt, or no candidate)
  is -32011 "no backend is currently healthy to serve traffic", HTTP 503. A backend's own
  JSON-RPC error is passed through; an answer above ``max_response_size_bytes`` is -32020
  "backend response too large" (HTTP 500);
- ``opfleet_waitSyncStatus(known, timeout_ms)`` (opfleet's long poll, served when
  ``optimism_syncStatus`` is mapped): the pinned body as soon as a head named in ``known`` is
  another block, so opfleet light nodes behind the proxy keep sub-second propagation;
- malformed JSON -32700 (HTTP 400), an invalid request -32600 (HTTP 400), a batch above
  ``[batch] max_size`` -32014 (HTTP 413); batches answer HTTP 200 with one entry per call;
- ``opfleet_nodeInfo`` (always served, as by every opfleet node): ``{"role": "proxy", "follows":
  [backend URLs, secrets masked], "proxy": <the poller's state>}``, for ``opfleet status``;
- ``GET /healthz``: readiness as every opfleet node's: 200 while ``optimism_syncStatus`` can be
  served (also during a halt), 503 with a ``reason`` before the first cycle or with nobody in
  consensus; the body carries the poller's state (proxyd answers a bare "OK" always);
  ``GET /livez``: 200 while the process serves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import trio

from opfleet.errors import NodeError
from opfleet.providers.jsonrpc import RpcCallError
from opfleet.proxy.poller import ConsensusPoller
from opfleet.rpc.metrics import metrics_handler
from opfleet.rpc.optimism import version_string
from opfleet.rpc.server import HttpRequest, HttpResponse, HttpServer, Router

log = logging.getLogger("opfleet.proxy")

SYNC_STATUS = "optimism_syncStatus"
WAIT_SYNC_STATUS = "opfleet_waitSyncStatus"
NODE_INFO = "opfleet_nodeInfo"
MAX_WAIT_MS = 60_000

# proxyd/backend.go: (code, message, HTTP status)
ERR_PARSE = (-32700, "parse error", 400)
ERR_NOT_WHITELISTED_CODE, ERR_NOT_WHITELISTED_STATUS = -32601, 403
ERR_NO_BACKENDS = (-32011, "no backend is currently healthy to serve traffic", 503)
ERR_TOO_MANY_BATCH_CODE, ERR_TOO_MANY_BATCH_STATUS = -32014, 413
ERR_SYNC_NOT_READY = (-32025, "optimism_syncStatus not available", 503)
ERR_RESPONSE_TOO_LARGE = (-32020, "backend response too large", 500)
ERR_INVALID_REQUEST = -32600
ERR_INVALID_PARAMS = -32602


class _Reply:
    """One call's answer: the serialized JSON-RPC response and the HTTP status it asks for."""

    __slots__ = ("body", "status")

    def __init__(self, body: bytes, status: int = 200):
        self.body = body
        self.status = status


def _id_json(msg_id: Any) -> bytes:
    return json.dumps(msg_id, separators=(",", ":")).encode()


def _error(msg_id: Any, code: int, message: str, status: int, data: Any = None) -> _Reply:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return _Reply(json.dumps({"jsonrpc": "2.0", "id": msg_id, "error": error}, separators=(",", ":")).encode(), status)


def _result(msg_id: Any, raw: bytes) -> _Reply:
    return _Reply(b'{"jsonrpc":"2.0","id":' + _id_json(msg_id) + b',"result":' + raw + b"}")


class ProxyServer:
    """The HTTP handler of ``opfleet proxy`` (see the module docstring)."""

    def __init__(self, poller: ConsensusPoller):
        self.poller = poller
        cfg = poller.config
        self.mappings: Mapping[str, str] = cfg.method_mappings
        self.whitelist_message = cfg.whitelist_error_message
        self.batch_max = cfg.batch_max_size
        self.batch_message = cfg.batch_error_message
        self.timeout = cfg.server_timeout
        self._limiter = trio.CapacityLimiter(cfg.max_concurrent_rpcs) if cfg.max_concurrent_rpcs else None
        self._group = cfg.group.name
        self.router = Router(self.handle_rpc)
        self.router.route("/healthz", self.healthz)
        self.router.route("/livez", self.livez)
        self.router.route("/metrics", metrics_handler(poller.metrics.registry))
        self._http: HttpServer | None = None

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        return await self.router(request)

    async def serve(self, host: str | None, port: int, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        self._http = HttpServer(self, max_request_bytes=self.poller.config.max_body_size_bytes, name="proxy-rpc")
        await self._http.serve(host, port, task_status=task_status)

    def node_info(self) -> dict[str, Any]:
        """``opfleet_nodeInfo``: what ``opfleet status --discover`` and the monitor read: the role,
        the backends it follows (secrets masked) and its consensus state."""
        stats = self.poller.statistics()
        return {"role": "proxy", "follows": [b.url for b in stats.backends], "proxy": stats.to_json()}

    async def healthz(self, request: HttpRequest) -> HttpResponse:
        """Readiness, as every opfleet node: 200 while ``optimism_syncStatus`` can be served (a
        halt included: the frozen status is served), else 503 with the reason; the body carries
        the poller's state either way."""
        stats = self.poller.statistics()
        ready = self.poller.sync_status_body() is not None
        body = {"version": version_string(), "ready": ready, **stats.to_json()}
        if not ready:
            body["reason"] = ("no consensus among the backends yet" if stats.pinned is None
                              else "no backend in consensus")
        return HttpResponse.json(body, 200 if ready else 503)

    async def livez(self, request: HttpRequest) -> HttpResponse:
        """Liveness: 200 while the process serves HTTP."""
        return HttpResponse.json({"version": version_string()})

    async def handle_rpc(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse.text("method not allowed\n", 405)
        try:
            message = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):  # also "[" x 100,000: a parse error
            reply = _error(None, *ERR_PARSE)
            return HttpResponse(reply.status, reply.body + b"\n", "application/json")
        if isinstance(message, list):
            if not message:
                reply = _error(None, ERR_INVALID_REQUEST, "must specify at least one batch call", 400)
            elif self.batch_max and len(message) > self.batch_max:
                reply = _error(None, ERR_TOO_MANY_BATCH_CODE, self.batch_message, ERR_TOO_MANY_BATCH_STATUS)
            else:
                replies = [await self._answer(item) for item in message]
                body = b"[" + b",".join(r.body for r in replies) + b"]\n"
                return HttpResponse(200, body, "application/json")
            return HttpResponse(reply.status, reply.body + b"\n", "application/json")
        reply = await self._answer(message)
        return HttpResponse(reply.status, reply.body + b"\n", "application/json")

    async def _answer(self, message: Any) -> _Reply:
        if not isinstance(message, dict):
            return _error(None, ERR_INVALID_REQUEST, "invalid request", 400)
        msg_id = message.get("id")
        if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, (str, int, float))):
            return _error(None, ERR_INVALID_REQUEST, "invalid request", 400)
        if message.get("jsonrpc") != "2.0":
            return _error(msg_id, ERR_INVALID_REQUEST, "invalid JSON-RPC version", 400)
        method = message.get("method")
        if not isinstance(method, str) or not method:
            return _error(msg_id, ERR_INVALID_REQUEST, "no method specified", 400)
        params = message.get("params")
        if params is None:
            params = []
        if method == WAIT_SYNC_STATUS and SYNC_STATUS in self.mappings:
            return await self._wait_sync_status(msg_id, params)
        if method == NODE_INFO:
            return _result(msg_id, json.dumps(self.node_info(), separators=(",", ":")).encode())
        if method not in self.mappings:
            return _error(msg_id, ERR_NOT_WHITELISTED_CODE, self.whitelist_message, ERR_NOT_WHITELISTED_STATUS)
        if method == SYNC_STATUS:
            return self._sync_status(msg_id)
        if not isinstance(params, list):
            return _error(msg_id, ERR_INVALID_PARAMS, "non-array args", 400)
        if self._limiter is None:
            return await self._forward(msg_id, method, params)
        async with self._limiter:
            return await self._forward(msg_id, method, params)

    def _sync_status(self, msg_id: Any) -> _Reply:
        body = self.poller.sync_status_body()
        if body is None:
            self.poller.metrics.cache_miss.inc(backend_group_name=self._group)
            return _error(msg_id, *ERR_SYNC_NOT_READY)
        self.poller.metrics.cache_hit.inc(backend_group_name=self._group)
        return _result(msg_id, body)

    async def _wait_sync_status(self, msg_id: Any, params: Any) -> _Reply:
        if not isinstance(params, list) or len(params) > 2:
            return _error(msg_id, ERR_INVALID_PARAMS, "expected [known, timeout_ms]", 400)
        known = params[0] if params else None
        timeout_ms = params[1] if len(params) > 1 else 0
        if known is None:
            known = {}
        if not isinstance(known, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in known.items()):
            return _error(msg_id, ERR_INVALID_PARAMS, "invalid argument 0: expected an object of SyncStatus key -> "
                          "block hash", 400)
        if isinstance(timeout_ms, str):
            try:
                timeout_ms = int(timeout_ms, 16) if timeout_ms[:2] in ("0x", "0X") else None
            except ValueError:
                timeout_ms = None
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0:
            return _error(msg_id, ERR_INVALID_PARAMS, "invalid argument 1: expected a non-negative number of "
                          "milliseconds", 400)
        deadline = trio.current_time() + min(timeout_ms, MAX_WAIT_MS) / 1000
        while True:
            status = self.poller.sync_status()
            if status is None:
                return _error(msg_id, *ERR_SYNC_NOT_READY)
            unknown = [key for key in known if not isinstance(status.get(key), dict)]
            if unknown:
                return _error(msg_id, ERR_INVALID_PARAMS, f"invalid argument 0: unknown SyncStatus key {unknown[0]!r}",
                              400)
            differs = any(str(status[key].get("hash", "")).lower() != value.lower() for key, value in known.items())
            remaining = deadline - trio.current_time()
            if not known or differs or remaining <= 0:
                return self._sync_status(msg_id)
            await self.poller.wait_changed(remaining)

    async def _forward(self, msg_id: Any, method: str, params: list[Any]) -> _Reply:
        order = self.poller.serving_order()
        with trio.move_on_after(self.timeout):
            for name in order:
                try:
                    result = await self.poller.forward(name, method, params)
                except RpcCallError as exc:
                    return _error(msg_id, exc.code, exc.message, 200, exc.data)
                except NodeError as exc:
                    log.warning("skipping backend that cannot serve: %s", exc, extra={"fields": {"backend": name}})
                    continue
                raw = json.dumps(result, separators=(",", ":")).encode()
                limit = self.poller.config.backend(name).max_response_size_bytes
                if limit and len(raw) > limit:
                    return _error(msg_id, *ERR_RESPONSE_TOO_LARGE)
                return _result(msg_id, raw)
            return _error(msg_id, *ERR_NO_BACKENDS)
        return _error(msg_id, -32015, "gateway timeout", 504)
