"""Our HTTP handlers reached through httpx's transport seam, without a socket.

:func:`handler_transport` turns any :data:`~opfleet.rpc.server.HttpHandler` (a
:class:`~opfleet.rpc.server.JsonRpcServer`, the devnet's L1 or engine server, a router) into an
``httpx.MockTransport``, so a client under test talks to the real server code (its parameter
parsing, error codes and batching) in-process. ``on_request`` sees every request first, for
tests that count what a client sent.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from opfleet.rpc.server import HttpHandler, HttpRequest


def handler_transport(
    handler: HttpHandler, *, on_request: Callable[[HttpRequest], None] | None = None
) -> httpx.MockTransport:
    """An httpx transport answering every request with ``await handler(request)``."""

    async def handle(request: httpx.Request) -> httpx.Response:
        ours = HttpRequest(
            request.method,
            request.url.path,
            request.url.query.decode("ascii"),
            tuple((name.lower(), value) for name, value in request.headers.multi_items()),
            await request.aread(),
            "127.0.0.1",
        )
        if on_request is not None:
            on_request(ours)
        response = await handler(ours)
        headers = list(response.headers)
        if response.content_type is not None:
            headers.append(("content-type", response.content_type))
        return httpx.Response(response.status, headers=headers, content=response.body)

    return httpx.MockTransport(handle)
