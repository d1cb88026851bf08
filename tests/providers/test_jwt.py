"""Engine-API JWT: secret files as op-node reads them, HS256 tokens as go-ethereum checks them.

Reference: op-service/rpc/jwt.go; go-ethereum node/jwt_auth.go, node/jwt_handler.go.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat

import httpx
import pytest

from opfleet.errors import ConfigError, CriticalError
from opfleet.providers import JsonRpcClient
from opfleet.providers.jwt import (
    JwtAuth,
    JwtError,
    decode_jwt,
    encode_jwt,
    load_jwt_secret,
    parse_jwt_secret,
)
from opfleet.rpc import HttpServer, JsonRpcServer
from opfleet.rpc.jwt import require_jwt

SECRET_HEX = "f1" * 16 + "0a" * 16
SECRET = bytes.fromhex(SECRET_HEX)
NOW = 1_750_000_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("text", [SECRET_HEX, "0x" + SECRET_HEX, f"  0x{SECRET_HEX}\n", SECRET_HEX.upper(), "0X" + SECRET_HEX])
def test_secret_formats(tmp_path, text):
    path = tmp_path / "jwt.hex"
    path.write_text(text)
    assert load_jwt_secret(path) == SECRET


@pytest.mark.parametrize("text", ["", "0x", SECRET_HEX[:-2], SECRET_HEX + "00", "zz" * 32, "0x 0x" + SECRET_HEX[4:],
                                  SECRET_HEX[:10] + " " + SECRET_HEX[10:]])
def test_bad_secrets_name_the_file(tmp_path, text):
    path = tmp_path / "jwt.hex"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_jwt_secret(path)
    assert str(path) in str(raised.value)
    assert "32 bytes of hex" in str(raised.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_jwt_secret(tmp_path / "absent.hex")
    binary = tmp_path / "bin.hex"
    binary.write_bytes(b"\xff\xfe" * 40)
    with pytest.raises(ConfigError, match=str(binary)):
        load_jwt_secret(binary)


def test_missing_file_can_be_generated_like_op_node(tmp_path):
    path = tmp_path / "sub" / "jwt.hex"
    secret = load_jwt_secret(path, generate_if_missing=True)
    assert len(secret) == 32
    assert path.read_text() == "0x" + secret.hex()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_jwt_secret(path) == secret  # reused, not regenerated


def test_token_is_hs256_with_only_iat():
    token = encode_jwt(SECRET, iat=NOW)
    header, claims, signature = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(claims + "==")) == {"iat": NOW}
    expected = hmac.new(SECRET, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert signature == _b64(expected)
    assert "=" not in token


def test_decode_accepts_within_drift_and_rejects_outside():
    token = encode_jwt(SECRET, iat=NOW)
    assert decode_jwt(token, SECRET, now=NOW + 60) == {"iat": NOW}
    assert decode_jwt(token, SECRET, now=NOW - 60) == {"iat": NOW}
    with pytest.raises(JwtError, match="stale token"):
        decode_jwt(token, SECRET, now=NOW + 61)
    with pytest.raises(JwtError, match="future token"):
        decode_jwt(token, SECRET, now=NOW - 61)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("a.b", "malformed"),
        (encode_jwt(b"\x00" * 32, iat=NOW), "signature is invalid"),
        (_b64(b'{"alg":"none","typ":"JWT"}') + "." + _b64(b'{"iat":%d}' % NOW) + ".", "not HS256"),
        ("!!!." + _b64(b"{}") + ".x", "malformed"),
    ],
)
def test_decode_rejects_bad_tokens(token, message):
    with pytest.raises(JwtError, match=message):
        decode_jwt(token, SECRET, now=NOW)


def test_decode_rejects_missing_iat():
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    claims = _b64(b'{"exp":1}')
    sig = _b64(hmac.new(SECRET, f"{header}.{claims}".encode(), hashlib.sha256).digest())
    with pytest.raises(JwtError, match="missing issued-at"):
        decode_jwt(f"{header}.{claims}.{sig}", SECRET, now=NOW)


def test_auth_makes_a_fresh_token_per_request():
    times = iter([NOW, NOW + 5])
    auth = JwtAuth(SECRET, clock=lambda: next(times))
    first, second = auth()["authorization"], auth()["authorization"]
    assert first != second
    assert decode_jwt(first.removeprefix("Bearer "), SECRET, now=NOW) == {"iat": NOW}
    assert decode_jwt(second.removeprefix("Bearer "), SECRET, now=NOW) == {"iat": NOW + 5}
    assert SECRET_HEX not in repr(auth)
    assert parse_jwt_secret("0x" + SECRET_HEX) == SECRET


async def _fake_engine(nursery, *, server_clock=lambda: NOW):
    async def exchange(capabilities):
        return capabilities

    engine = JsonRpcServer({"engine_exchangeCapabilities": exchange})
    port = await nursery.start(HttpServer(require_jwt(engine, SECRET, clock=server_clock)).serve, "127.0.0.1", 0)
    return f"http://127.0.0.1:{port}"


async def test_fake_engine_accepts_valid_tokens(nursery):
    url = await _fake_engine(nursery)
    async with JsonRpcClient(url, headers_factory=JwtAuth(SECRET, clock=lambda: NOW + 30)) as client:
        assert await client.call("engine_exchangeCapabilities", ["engine_newPayloadV4"]) == ["engine_newPayloadV4"]


@pytest.mark.parametrize(
    ("secret", "client_time", "reason"),
    [
        (b"\x01" * 32, NOW, "signature is invalid"),
        (SECRET, NOW - 120, "stale token"),
        (SECRET, NOW + 120, "future token"),
    ],
)
async def test_fake_engine_rejects_wrong_or_expired_tokens(nursery, secret, client_time, reason):
    url = await _fake_engine(nursery)
    async with httpx.AsyncClient() as raw:
        token = encode_jwt(secret, iat=client_time)
        response = await raw.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "engine_exchangeCapabilities",
                                             "params": [[]]}, headers={"authorization": f"Bearer {token}"})
        assert (response.status_code, response.text) == (401, reason + "\n")
        missing = await raw.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "engine_exchangeCapabilities"})
        assert (missing.status_code, missing.text) == (401, "missing token\n")
    async with JsonRpcClient(url, headers_factory=JwtAuth(secret, clock=lambda: client_time), name="L2 engine") as client:
        with pytest.raises(CriticalError, match=r"authentication failed \(HTTP 401; check --l2.jwt-secret\)"):
            await client.call("engine_exchangeCapabilities", [])


def _signed(claims: bytes, header: bytes = b'{"alg":"HS256","typ":"JWT"}') -> str:
    head, body = _b64(header), _b64(claims)
    return f"{head}.{body}.{_b64(hmac.new(SECRET, f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize("iat", [b"NaN", b"Infinity", b"-Infinity", b"1750000000.5", b"1750000000.0",
                                 b"1.75e9", b'"1750000000"', b"true", b"null", b"[1750000000]"])
def test_decode_accepts_only_an_integer_iat(iat):
    # A NaN iat compares false with every bound, so it never went stale: a token valid forever.
    token = _signed(b'{"iat":' + iat + b"}")
    with pytest.raises(JwtError, match="not an integer|malformed|missing issued-at"):
        decode_jwt(token, SECRET, now=NOW)
    assert decode_jwt(_signed(b'{"iat":%d}' % NOW), SECRET, now=NOW) == {"iat": NOW}


def test_decode_refuses_a_header_nested_too_deep():
    with pytest.raises(JwtError, match="malformed"):
        decode_jwt(_signed(b'{"iat":%d}' % NOW, header=b"[" * 20_000), SECRET, now=NOW)


async def test_fake_engine_refuses_a_nan_iat_with_401(nursery):
    url = await _fake_engine(nursery, server_clock=lambda: NOW + 10**9)  # any clock at all
    async with httpx.AsyncClient() as raw:
        for iat in (b"NaN", b"1750000000.5"):
            response = await raw.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "engine_exchangeCapabilities",
                                                 "params": [[]]},
                                      headers={"authorization": "Bearer " + _signed(b'{"iat":' + iat + b"}")})
            assert response.status_code == 401
            assert response.text in ("issued-at is not an integer\n", "token is malformed\n")
