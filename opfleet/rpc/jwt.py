"""The server side of the Engine API's JWT: :func:`require_jwt` puts go-ethereum's check
(``node/jwt_handler.go``: a Bearer HS256 token whose ``iat`` is within 60 s of our clock, else
HTTP 401) in front of any of our HTTP handlers (the dev engine, a fake engine in tests, an
authenticated RPC). The token codec is :mod:`opfleet.providers.jwt`, shared with the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from opfleet.providers.jwt import JWT_MAX_DRIFT, JwtError, decode_jwt
from opfleet.rpc.server import HttpHandler, HttpRequest, HttpResponse

__all__ = ["require_jwt"]


def require_jwt(
    handler: HttpHandler,
    secret: bytes,
    *,
    clock: Callable[[], float] = time.time,
    max_drift: float = JWT_MAX_DRIFT,
) -> HttpHandler:
    """Wrap an HTTP handler so only requests with a valid Engine-API JWT reach it (else 401)."""

    async def checked(request: HttpRequest) -> HttpResponse:
        auth = request.header("authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return HttpResponse.text("missing token\n", 401)
        try:
            decode_jwt(token.strip(), secret, now=clock(), max_drift=max_drift)
        except JwtError as exc:
            return HttpResponse.text(f"{exc}\n", 401)
        return await handler(request)

    return checked
