"""The Engine API client (op-geth / op-reth ``authrpc``), as op-node drives it.

Method versions (op-node ``op-node/rollup/types.go``, ``op-service/sources/engine_client.go``):

=========================  ================================================================
``engine_forkchoiceUpdated``  no attributes: V3. With attributes, by their timestamp:
                              Ecotone+ V3, Canyon+ V2, else V1.
``engine_newPayload``         by payload timestamp: Isthmus+ V4 ``[payload, [], root, requests]``,
                              Ecotone+ V3 ``[payload, [], root]``, else V2 ``[payload]``.
``engine_getPayload``         by payload timestamp: Karst+ V5, Isthmus+ V4, Ecotone+ V3, else V2.
=========================  ================================================================

OP payload attributes (``specs/protocol/exec-engine.md``; op-node ``eth.PayloadAttributes``)
add ``transactions``, ``noTxPool``, ``gasLimit`` (hex quantity), ``eip1559Params`` (8 bytes,
Holocene+) and ``minBaseFee`` (Jovian+; a plain JSON number, as op-node and op-alloy send it).
Unset optional fields are omitted, as Go's ``omitempty`` does: op-geth rejects a V2
forkchoice update that carries ``parentBeaconBlockRoot``.

Errors: -38001..-38005 become :class:`UnknownPayload`, :class:`InvalidForkchoiceState`,
:class:`InvalidPayloadAttributes`, :class:`TooLargeRequest`, :class:`UnsupportedFork` (all
:class:`EngineApiError`, a :class:`~opfleet.providers.jsonrpc.RpcCallError`). Every request
carries a fresh JWT (``opfleet.providers.jwt``).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from opfleet.errors import DecodeError, TemporaryError
from opfleet.protocol.ethjson import hex_data, hex_quantity, json_object, optional_data, parse_data, parse_quantity
from opfleet.providers.jsonrpc import JsonRpcClient, RpcCallError
from opfleet.providers.jwt import JwtAuth

DEFAULT_ENGINE_TIMEOUT = 10.0
"""op-node's ``--l2.engine-rpc-timeout`` default."""

UNKNOWN_PAYLOAD = -38001
INVALID_FORKCHOICE_STATE = -38002
INVALID_PAYLOAD_ATTRIBUTES = -38003
TOO_LARGE_REQUEST = -38004
UNSUPPORTED_FORK = -38005

ENGINE_ETH_METHODS: tuple[str, ...] = (
    "eth_blockNumber",
    "eth_call",
    "eth_chainId",
    "eth_getCode",
    "eth_getBlockByHash",
    "eth_getBlockByNumber",
    "eth_getLogs",
    "eth_sendRawTransaction",
    "eth_syncing",
)
"""The ``eth_`` methods the Engine API specification guarantees on the authenticated port
(execution-apis ``src/engine/common.md``, "Underlying protocol"), next to ``engine_*``. A rollup
node reads the engine endpoint with these only: op-geth serves the whole ``eth`` namespace
there, op-reth little more than this list."""

ENGINE_ETH_PROOF_METHOD = "eth_getProof"
"""The one read beyond :data:`ENGINE_ETH_METHODS`: the L2ToL1MessagePasser storage root of a
pre-Isthmus output root comes from nowhere else (op-node reads it on the engine endpoint too;
op-geth and op-reth serve it there)."""


class ForkSchedule(Protocol):
    """The fork predicates version selection needs (``RollupConfig`` provides them)."""

    def is_canyon(self, ts: int) -> bool: ...
    def is_ecotone(self, ts: int) -> bool: ...
    def is_isthmus(self, ts: int) -> bool: ...
    def is_karst(self, ts: int) -> bool: ...


def forkchoice_updated_version(forks: ForkSchedule, attributes_timestamp: int | None) -> int:
    """``engine_forkchoiceUpdatedV{n}``: V3 without attributes; else by the attributes' timestamp."""
    if attributes_timestamp is None or forks.is_ecotone(attributes_timestamp):
        return 3
    if forks.is_canyon(attributes_timestamp):
        return 2
    return 1


def new_payload_version(forks: ForkSchedule, timestamp: int) -> int:
    """``engine_newPayloadV{n}`` for a payload with this timestamp."""
    if forks.is_isthmus(timestamp):
        return 4
    if forks.is_ecotone(timestamp):
        return 3
    return 2


def get_payload_version(forks: ForkSchedule, timestamp: int) -> int:
    """``engine_getPayloadV{n}`` for a payload with this timestamp."""
    if forks.is_karst(timestamp):
        return 5
    if forks.is_isthmus(timestamp):
        return 4
    if forks.is_ecotone(timestamp):
        return 3
    return 2


# --- errors ---------------------------------------------------------------------------------------


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


class PayloadStatus(str, enum.Enum):
    """``PayloadStatusV1.status``."""

    VALID = "VALID"
    INVALID = "INVALID"
    SYNCING = "SYNCING"
    ACCEPTED = "ACCEPTED"
    INVALID_BLOCK_HASH = "INVALID_BLOCK_HASH"  # Shanghai-era engines; treated like INVALID


@dataclass(frozen=True, slots=True)
class PayloadStatusV1:
    status: PayloadStatus
    latest_valid_hash: bytes | None = None
    validation_error: str | None = None

    @classmethod
    def from_json(cls, obj: Any) -> PayloadStatusV1:
        o = json_object(obj, "payloadStatus")
        try:
            status = PayloadStatus(o.get("status"))
        except ValueError:
            raise DecodeError(f"payloadStatus.status: unknown status {o.get('status')!r}") from None
        error = o.get("validationError")
        return cls(status, optional_data(o, "latestValidHash", 32, where="payloadStatus."),
                   error if isinstance(error, str) else None)


@dataclass(frozen=True, slots=True)
class ForkchoiceState:
    head_block_hash: bytes
    safe_block_hash: bytes
    finalized_block_hash: bytes

    def to_json(self) -> dict[str, str]:
        return {
            "headBlockHash": hex_data(self.head_block_hash),
            "safeBlockHash": hex_data(self.safe_block_hash),
            "finalizedBlockHash": hex_data(self.finalized_block_hash),
        }


@dataclass(frozen=True, slots=True)
class ForkchoiceUpdatedResult:
    payload_status: PayloadStatusV1
    payload_id: bytes | None = None

    @classmethod
    def from_json(cls, obj: Any) -> ForkchoiceUpdatedResult:
        o = json_object(obj, "forkchoiceUpdated result")
        return cls(PayloadStatusV1.from_json(o.get("payloadStatus")),
                   optional_data(o, "payloadId", 8, where="forkchoiceUpdated."))


@dataclass(frozen=True, slots=True)
class Withdrawal:
    index: int
    validator_index: int
    address: bytes
    amount: int

    def to_json(self) -> dict[str, str]:
        return {
            "index": hex_quantity(self.index),
            "validatorIndex": hex_quantity(self.validator_index),
            "address": hex_data(self.address),
            "amount": hex_quantity(self.amount),
        }


@dataclass(frozen=True, slots=True)
class PayloadAttributes:
    """OP payload attributes. ``None`` fields are omitted from the JSON (Go ``omitempty``).

    ``withdrawals`` must be ``()`` from Canyon and ``None`` before; ``parent_beacon_block_root``
    set from Ecotone; ``eip1559_params`` (8 bytes) from Holocene; ``min_base_fee`` from Jovian.
    """

    timestamp: int
    prev_randao: bytes
    suggested_fee_recipient: bytes
    withdrawals: tuple[Withdrawal, ...] | None = None
    parent_beacon_block_root: bytes | None = None
    transactions: tuple[bytes, ...] = ()
    no_tx_pool: bool = False
    gas_limit: int | None = None
    eip1559_params: bytes | None = None
    min_base_fee: int | None = None

    def __post_init__(self) -> None:
        if len(self.prev_randao) != 32 or len(self.suggested_fee_recipient) != 20:
            raise ValueError("prev_randao must be 32 bytes and suggested_fee_recipient 20 bytes")
        if self.parent_beacon_block_root is not None and len(self.parent_beacon_block_root) != 32:
            raise ValueError("parent_beacon_block_root must be 32 bytes")
        if self.eip1559_params is not None and len(self.eip1559_params) != 8:
            raise ValueError("eip1559_params must be 8 bytes")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "timestamp": hex_quantity(self.timestamp),
            "prevRandao": hex_data(self.prev_randao),
            "suggestedFeeRecipient": hex_data(self.suggested_fee_recipient),
        }
        if self.withdrawals is not None:
            out["withdrawals"] = [w.to_json() for w in self.withdrawals]
        if self.parent_beacon_block_root is not None:
            out["parentBeaconBlockRoot"] = hex_data(self.parent_beacon_block_root)
        if self.transactions:
            out["transactions"] = [hex_data(tx) for tx in self.transactions]
        if self.no_tx_pool:
            out["noTxPool"] = True
        if self.gas_limit is not None:
            out["gasLimit"] = hex_quantity(self.gas_limit)
        if self.eip1559_params is not None:
            out["eip1559Params"] = hex_data(self.eip1559_params)
        if self.min_base_fee is not None:
            out["minBaseFee"] = int(self.min_base_fee)  # a JSON number, not a quantity (see module doc)
        return out


@dataclass(frozen=True, slots=True)
class PayloadEnvelope:
    """An ``engine_getPayload`` answer: the payload JSON plus what op-node reads next to it."""

    execution_payload: dict[str, Any]
    parent_beacon_block_root: bytes | None
    block_value: int | None
    raw: dict[str, Any]

    @property
    def timestamp(self) -> int:
        return parse_quantity(self.execution_payload.get("timestamp"), "executionPayload.timestamp")

    @property
    def block_hash(self) -> bytes:
        return parse_data(self.execution_payload.get("blockHash"), 32, "executionPayload.blockHash")


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
