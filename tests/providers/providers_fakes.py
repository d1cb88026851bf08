"""Fakes shared by the provider tests (imported as a plain module: tests/ has no packages)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx


class RpcFailure(Exception):
    """Raised by a fake method to answer with a JSON-RPC error object."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class FakeNode:
    """A JSON-RPC node for MockTransport: ``methods[name](*params)`` answers each call.

    ``http_log`` records, per HTTP request, the list of methods it carried (a batch lists all).
    """

    def __init__(self, methods: dict[str, Callable[..., Any]] | None = None):
        self.methods: dict[str, Callable[..., Any]] = dict(methods or {})
        self.http_log: list[list[str]] = []
        self.headers: list[httpx.Headers] = []
        self.reverse_batches = False

    def _answer(self, msg: dict[str, Any]) -> dict[str, Any]:
        fn = self.methods.get(msg["method"])
        if fn is None:
            return {"jsonrpc": "2.0", "id": msg["id"],
                    "error": {"code": -32601, "message": f"the method {msg['method']} does not exist/is not available"}}
        try:
            result = fn(*msg.get("params", []))
        except RpcFailure as exc:
            return {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": exc.code, "message": exc.message}}
        return {"jsonrpc": "2.0", "id": msg["id"], "result": result}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        body = json.loads(request.content)
        if isinstance(body, list):
            self.http_log.append([m["method"] for m in body])
            answers = [self._answer(m) for m in body]
            if self.reverse_batches:
                answers.reverse()  # JSON-RPC allows any order; clients must match by id
            return httpx.Response(200, json=answers)
        self.http_log.append([body["method"]])
        return httpx.Response(200, json=self._answer(body))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def calls(self) -> list[str]:
        return [m for request in self.http_log for m in request]
