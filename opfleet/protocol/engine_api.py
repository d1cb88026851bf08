"""The Engine API's data types and method-version rules, as a rollup node uses them.

Spec: execution-apis ``src/engine/`` (``PayloadStatusV1``, ``ForkchoiceStateV1``,
``PayloadAttributesV3``, ``WithdrawalV1``, error codes -38001..-38005). Pure: the client that
sends them is :mod:`opfleet.providers.engine`; the devnet's engine serves the same shapes.

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
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from opfleet.errors import DecodeError
from opfleet.protocol.ethjson import optional_data
from opfleet.protocol.hexjson import hex_data, hex_quantity, json_object, parse_data, parse_quantity

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
