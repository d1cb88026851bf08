"""The Engine API client (op-geth / op-reth ``authrpc``), as op-node drives it.

The request and answer shapes and which method version a payload needs are
:mod:`opfleet.protocol.engine_api`.

Errors: -38001..-38005 become :class:`UnknownPayload`, :class:`InvalidForkchoiceState`,
:class:`InvalidPayloadAttributes`, :class:`TooLargeRequest`, :class:`UnsupportedFork` (all
:class:`EngineApiError`, a :class:`~opfleet.providers.jsonrpc.RpcCallError`). Every request
carries a fresh JWT (``opfleet.providers.jwt``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from opfleet.errors import DecodeError, TemporaryError
from opfleet.protocol.engine_api import (
    INVALID_FORKCHOICE_STATE,
    INVALID_PAYLOAD_ATTRIBUTES,
    TOO_LARGE_REQUEST,
    UNKNOWN_PAYLOAD,
    UNSUPPORTED_FORK,
    ForkchoiceState,
    ForkchoiceUpdatedResult,
    ForkSchedule,
    PayloadAttributes,
    PayloadEnvelope,
    PayloadStatusV1,
    forkchoice_updated_version,
    get_payload_version,
    new_payload_version,
)
from opfleet.protocol.ethjson import optional_data
from opfleet.protocol.hexjson import hex_data, json_object, parse_quantity
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.jwt import JwtAuth

DEFAULT_ENGINE_TIMEOUT = 10.0
"""op-node's ``--l2.engine-rpc-timeout`` default."""


class EngineApiError(RpcCallError):
    """An Engine API error (codes -38001..-38005); the subclass names which."""

    expected_code: int = 0


class UnknownPayload(EngineApiError):
    expected_code = UNKNOWN_PAYLOAD


class InvalidForkchoiceState(EngineApiError):
    expected_code = INVALID_FORKCHOICE_STATE


class InvalidPayloadAttributes(EngineApiError):
    expected_code = INVALID_PAYLOAD_ATTRIBUTES


class TooLargeRequest(EngineApiError):
    expected_code = TOO_LARGE_REQUEST


class UnsupportedFork(EngineApiError):
    expected_code = UNSUPPORTED_FORK


ENGINE_ERRORS: dict[int, type[EngineApiError]] = {
    cls.expected_code: cls
    for cls in (UnknownPayload, InvalidForkchoiceState, InvalidPayloadAttributes, TooLargeRequest, UnsupportedFork)
}


def engine_error(exc: RpcCallError) -> RpcCallError:
    """The typed Engine API error for ``exc``'s code, or ``exc`` itself."""
    cls = ENGINE_ERRORS.get(exc.code)
    if cls is None:
        return exc
    return cls(exc.code, exc.message, data=exc.data, method=exc.method, endpoint=exc.endpoint)


# --- types ----------------------------------------------------------------------------------------


def _payload_timestamp(payload: Mapping[str, Any]) -> int:
    return parse_quantity(payload.get("timestamp"), "payload timestamp")


# --- the client -----------------------------------------------------------------------------------


class EngineClient:
    """Call the Engine API of one execution client, authenticated with a fresh JWT per request.

    Pass ``forks`` (the rollup config) to have method versions chosen from timestamps, or give
    ``version=`` on each call.
    """

    def __init__(
        self,
        url: str,
        jwt_secret: bytes,
        *,
        forks: ForkSchedule | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_ENGINE_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ):
        self.forks = forks
        self.client = JsonRpcClient(
            url,
            transport=transport,
            timeout=timeout,
            headers_factory=JwtAuth(jwt_secret, clock=clock),
            name="L2 engine",
            auth_hint="check --l2.jwt-secret",
        )

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    def statistics(self) -> Any:
        return self.client.statistics()

    def _version(self, given: int | None, pick: Callable[[ForkSchedule, Any], int], timestamp: Any, what: str) -> int:
        if given is not None:
            return given
        if self.forks is None:
            raise ValueError(f"{what}: pass version= or construct the client with forks=")
        return pick(self.forks, timestamp)

    async def _call(self, method: str, *params: Any) -> Any:
        try:
            return await self.client.call(method, *params)
        except RpcCallError as exc:
            raise engine_error(exc) from None

    async def forkchoice_updated(
        self, state: ForkchoiceState, attributes: PayloadAttributes | None = None, *, version: int | None = None
    ) -> ForkchoiceUpdatedResult:
        """``engine_forkchoiceUpdatedV{1,2,3}``."""
        v = self._version(version, forkchoice_updated_version,
                          attributes.timestamp if attributes is not None else None, "forkchoice_updated")
        if v not in (1, 2, 3):
            raise ValueError(f"no engine_forkchoiceUpdatedV{v}")
        result = await self._call(f"engine_forkchoiceUpdatedV{v}", state.to_json(),
                                  attributes.to_json() if attributes is not None else None)
        return self._parse(ForkchoiceUpdatedResult.from_json, result, "engine_forkchoiceUpdated")

    async def new_payload(
        self,
        payload: Mapping[str, Any],
        *,
        version: int | None = None,
        parent_beacon_block_root: bytes | None = None,
        execution_requests: Sequence[bytes] | None = None,
    ) -> PayloadStatusV1:
        """``engine_newPayloadV{2,3,4}`` with OP's parameters (no blob hashes; empty requests)."""
        v = self._version(version, new_payload_version, _payload_timestamp(payload) if version is None else None,
                          "new_payload")
        if v == 2:
            params: list[Any] = [dict(payload)]
        elif v in (3, 4):
            if parent_beacon_block_root is None:
                raise ValueError(f"engine_newPayloadV{v} needs the parent beacon block root")
            params = [dict(payload), [], hex_data(parent_beacon_block_root)]
            if v == 4:
                params.append([hex_data(r) for r in (execution_requests or ())])
        else:
            raise ValueError(f"no engine_newPayloadV{v}")
        result = await self._call(f"engine_newPayloadV{v}", *params)
        return self._parse(PayloadStatusV1.from_json, result, "engine_newPayload")

    async def get_payload(
        self, payload_id: bytes, *, version: int | None = None, timestamp: int | None = None
    ) -> PayloadEnvelope:
        """``engine_getPayloadV{2..5}``; the version comes from ``version`` or the payload ``timestamp``."""
        if version is None and timestamp is None:
            raise ValueError("get_payload: pass version= or the payload's timestamp=")
        v = self._version(version, get_payload_version, timestamp, "get_payload")
        if v not in (2, 3, 4, 5):
            raise ValueError(f"no engine_getPayloadV{v}")
        if len(payload_id) != 8:
            raise ValueError("payload id must be 8 bytes")
        result = await self._call(f"engine_getPayloadV{v}", hex_data(payload_id))

        def parse(obj: Any) -> PayloadEnvelope:
            o = json_object(obj, "getPayload result")
            payload = json_object(o.get("executionPayload"), "executionPayload")
            value = o.get("blockValue")
            return PayloadEnvelope(
                execution_payload=payload,
                parent_beacon_block_root=optional_data(o, "parentBeaconBlockRoot", 32),
                block_value=parse_quantity(value, "blockValue") if value is not None else None,
                raw=o,
            )

        return self._parse(parse, result, "engine_getPayload")

    def _parse(self, parse: Callable[[Any], Any], result: Any, what: str) -> Any:
        try:
            return parse(result)
        except DecodeError as exc:
            raise TemporaryError(f"{self.client.endpoint}: {what}: malformed result: {exc}") from None
