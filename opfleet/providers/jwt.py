"""HS256 JWTs for the Engine API, as op-node sends them and go-ethereum checks them.

Secret file (op-node ``op-service/rpc/jwt.go`` ``ObtainJWTSecret``): 32 bytes as hex, an
optional ``0x`` prefix, surrounding whitespace ignored; anything else is a
:class:`~opfleet.errors.ConfigError` naming the file. When asked to, a missing file is created
with a random secret (``0x`` hex, mode 0600), as op-node does.

Token: header ``{"alg":"HS256","typ":"JWT"}``, claims exactly ``{"iat": <unix seconds>}``, sent as
``Authorization: Bearer <jwt>`` and made fresh for every request. go-ethereum
(``node/jwt_handler.go``) rejects a token whose ``iat`` is missing or more than 60 s from its own
clock ("stale token" / "future token") with HTTP 401; we also refuse an ``iat`` that is not an
integer (a NaN would never go stale). :func:`opfleet.rpc.jwt.require_jwt` applies the same
check in front of any of our HTTP handlers (a fake engine in tests, an authenticated RPC).

Only hmac/hashlib/base64 from the standard library; no JWT dependency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opfleet.errors import ConfigError

JWT_SECRET_LENGTH = 32
JWT_MAX_DRIFT = 60
"""Seconds either way go-ethereum tolerates between ``iat`` and its clock (``jwtExpiryTimeout``)."""

_HEADER = {"alg": "HS256", "typ": "JWT"}


class JwtError(ValueError):
    """A token is malformed, badly signed, or outside the allowed clock drift."""


def parse_jwt_secret(text: str, *, source: str | None = None) -> bytes:
    """Parse a JWT secret: 32 bytes as hex, optional ``0x``, surrounding whitespace ignored."""
    value = text.strip()
    if value[:2] in ("0x", "0X"):
        value = value[2:]
    try:
        secret = bytes.fromhex(value)
    except ValueError:
        secret = b""
        valid = False
    else:
        valid = len(secret) == JWT_SECRET_LENGTH and len(value) == 2 * JWT_SECRET_LENGTH
    if not valid:
        raise ConfigError(
            f"JWT secret must be {JWT_SECRET_LENGTH} bytes of hex (64 hex digits, optional 0x)",
            source=source,
        )
    return secret


def load_jwt_secret(path: str | os.PathLike[str], *, generate_if_missing: bool = False) -> bytes:
    """Read the JWT secret file at ``path``.

    With ``generate_if_missing``, a missing file is created holding a new random secret
    (``0x`` + hex, permissions 0600), like op-node.
    """
    file = Path(path)
    source = str(file)
    try:
        text = file.read_text(encoding="ascii")
    except FileNotFoundError:
        if not generate_if_missing:
            raise ConfigError("JWT secret file does not exist", source=source) from None
        secret = secrets.token_bytes(JWT_SECRET_LENGTH)
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write("0x" + secret.hex())
        except OSError as exc:
            raise ConfigError(f"cannot write a new JWT secret: {exc.strerror or exc}", source=source) from None
        return secret
    except UnicodeDecodeError:
        raise ConfigError("JWT secret file is not hex text", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read JWT secret file: {exc.strerror or exc}", source=source) from None
    return parse_jwt_secret(text, source=source)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise JwtError("token is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JwtError("token is not base64url") from None


def _sign(secret: bytes, signing_input: bytes) -> bytes:
    return hmac.new(secret, signing_input, hashlib.sha256).digest()


def encode_jwt(secret: bytes, *, iat: int) -> str:
    """An HS256 token with claims ``{"iat": iat}``."""
    header = _b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    claims = _b64url(json.dumps({"iat": int(iat)}, separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode("ascii")
    return f"{header}.{claims}.{_b64url(_sign(secret, signing_input))}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_jwt(token: str, secret: bytes, *, now: float, max_drift: float = JWT_MAX_DRIFT) -> dict[str, Any]:
    """Verify an HS256 token as go-ethereum does and return its claims.

    Raises :class:`JwtError` ("stale token", "future token", "missing issued-at", an ``iat``
    that is not an integer, a bad signature or a malformed token).
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtError("token is malformed")
    try:
        # NaN and Infinity are not JSON; Python's parser takes them unless told not to.
        header = json.loads(_b64url_decode(parts[0]), parse_constant=_no_constant)
        claims = json.loads(_b64url_decode(parts[1]), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise JwtError("token is malformed") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise JwtError("signing method is not HS256")
    expected = _sign(secret, f"{parts[0]}.{parts[1]}".encode("ascii"))
    if not hmac.compare_digest(expected, _b64url_decode(parts[2])):
        raise JwtError("signature is invalid")
    if not isinstance(claims, dict):
        raise JwtError("token claims are not an object")
    iat = claims.get("iat")
    if iat is None:
        raise JwtError("missing issued-at")
    # An integer only: a NaN compares false both ways and so would never go stale, and
    # op-node and geth's own clients send whole seconds.
    if isinstance(iat, bool) or not isinstance(iat, int):
        raise JwtError("issued-at is not an integer")
    if iat < now - max_drift:
        raise JwtError("stale token")
    if iat > now + max_drift:
        raise JwtError("future token")
    return claims


class JwtAuth:
    """A ``headers_factory`` for :class:`~opfleet.providers.jsonrpc.JsonRpcClient`: a fresh token per call.

    ``clock`` returns wall-clock unix seconds (injectable for tests; trio's clock is monotonic,
    not wall time).
    """

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time):
        if len(secret) != JWT_SECRET_LENGTH:
            raise ValueError(f"JWT secret must be {JWT_SECRET_LENGTH} bytes")
        self._secret = bytes(secret)
        self._clock = clock

    def token(self) -> str:
        return encode_jwt(self._secret, iat=int(self._clock()))

    def __call__(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token()}"}

    def __repr__(self) -> str:  # never print the secret
        return "JwtAuth(<secret>)"

