"""The rollup system configuration carried from block to block, and its L1 updates.

Spec: ``specs/protocol/system-config.md`` (and the Ecotone, Holocene, Isthmus and Jovian
``system-config.md`` additions). op-node: ``op-service/eth/types.go`` (``SystemConfig``) and
``op-node/rollup/derive/system_config.go`` (``ProcessSystemConfigUpdateLogEvent``).

Addresses in ``to_json()`` output are EIP-55 checksummed (see :func:`checksum_address`): that is
how the superchain registry writes them, so registry-derived configs round-trip byte for byte.
op-node itself prints lowercase; every consumer compares addresses case-insensitively.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from opfleet.errors import ConfigError, DecodeError
from opfleet.protocol.abi import abi_encode_bytes, abi_word
from opfleet.protocol.crypto import ZERO_ADDRESS, ZERO_HASH, keccak256
from opfleet.protocol.log import Log

CONFIG_UPDATE_TOPIC = bytes.fromhex(
    "1d2b0bda21d56b8bd12d4f94ebacffdfb35f5e226f84b461103bb8beab6353be"
)
"""``keccak256("ConfigUpdate(uint256,uint8,bytes)")``: topic 0 of every SystemConfig update log."""

CONFIG_UPDATE_VERSION_0 = ZERO_HASH

UINT16_MAX = (1 << 16) - 1
UINT32_MAX = (1 << 32) - 1
UINT64_MAX = (1 << 64) - 1
UINT256_MAX = (1 << 256) - 1

L1_SCALAR_BEDROCK = 0
L1_SCALAR_ECOTONE = 1
BEDROCK_PADDING_SCALAR = UINT32_MAX
"""Base-fee scalar used when a version-0 scalar has non-zero padding (Ecotone rule)."""


class ConfigUpdateType(enum.IntEnum):
    """``ConfigUpdate`` event ``updateType`` values (spec: system-config.md "ConfigUpdate")."""

    BATCHER = 0
    FEE_SCALARS = 1
    GAS_LIMIT = 2
    UNSAFE_BLOCK_SIGNER = 3
    EIP_1559_PARAMS = 4
    OPERATOR_FEE_PARAMS = 5
    MIN_BASE_FEE = 6
    DA_FOOTPRINT_GAS_SCALAR = 7


@dataclass(frozen=True, slots=True)
class SystemConfig:
    """The L1-controlled chain parameters that apply to an L2 block.

    Spec: ``specs/protocol/system-config.md``. ``overhead`` and ``scalar`` are raw 32-byte words
    (the scalar is versioned from Ecotone). ``marshal_pre_holocene`` only picks the JSON shape:
    op-node omits the Holocene-and-later keys when it is set, and older op-node releases reject
    a rollup.json that has them.
    """

    batcher_address: bytes = ZERO_ADDRESS
    overhead: bytes = ZERO_HASH
    scalar: bytes = ZERO_HASH
    gas_limit: int = 0
    eip1559_denominator: int = 0
    eip1559_elasticity: int = 0
    operator_fee_scalar: int = 0
    operator_fee_constant: int = 0
    min_base_fee: int = 0
    da_footprint_gas_scalar: int = 0
    marshal_pre_holocene: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        _check_size("batcher_address", self.batcher_address, 20)
        _check_size("overhead", self.overhead, 32)
        _check_size("scalar", self.scalar, 32)
        _check_range("gas_limit", self.gas_limit, UINT64_MAX)
        _check_range("eip1559_denominator", self.eip1559_denominator, UINT32_MAX)
        _check_range("eip1559_elasticity", self.eip1559_elasticity, UINT32_MAX)
        _check_range("operator_fee_scalar", self.operator_fee_scalar, UINT32_MAX)
        _check_range("operator_fee_constant", self.operator_fee_constant, UINT64_MAX)
        _check_range("min_base_fee", self.min_base_fee, UINT64_MAX)
        _check_range("da_footprint_gas_scalar", self.da_footprint_gas_scalar, UINT16_MAX)

    def eip1559_params_bytes(self) -> bytes:
        """The 8-byte Holocene ``eip1559Params``: denominator u32 BE ++ elasticity u32 BE.

        Spec: ``specs/protocol/holocene/exec-engine.md`` ("eip1559Params encoding").
        """
        denominator = self.eip1559_denominator.to_bytes(4, "big")
        return denominator + self.eip1559_elasticity.to_bytes(4, "big")

    def operator_fee_params_bytes(self) -> bytes:
        """The 32-byte ``operatorFeeParams`` word: scalar u32 at [20:24], constant u64 at [24:32].

        Spec: ``specs/protocol/isthmus/system-config.md`` ("OPERATOR_FEE_PARAMS").
        """
        scalar = self.operator_fee_scalar.to_bytes(4, "big")
        return bytes(20) + scalar + self.operator_fee_constant.to_bytes(8, "big")

    def ecotone_scalars(self) -> tuple[int, int]:
        """Return ``(blob_base_fee_scalar, base_fee_scalar)`` for the Ecotone L1-info deposit.

        Spec: ``specs/protocol/ecotone/l1-attributes.md``; see :func:`ecotone_scalars`.
        """
        return ecotone_scalars(self.scalar)

    def to_json(self) -> dict[str, Any]:
        """op-node's JSON shape (``eth.SystemConfig``), pre-Holocene or full."""
        out: dict[str, Any] = {
            "batcherAddr": checksum_address(self.batcher_address),
            "overhead": "0x" + self.overhead.hex(),
            "scalar": "0x" + self.scalar.hex(),
            "gasLimit": self.gas_limit,
        }
        if not self.marshal_pre_holocene:
            out["eip1559Params"] = "0x" + self.eip1559_params_bytes().hex()
            out["operatorFeeParams"] = "0x" + self.operator_fee_params_bytes().hex()
            out["minBaseFee"] = self.min_base_fee
            out["daFootprintGasScalar"] = self.da_footprint_gas_scalar
        return out

    @classmethod
    def from_json(
        cls, obj: Any, *, source: str | None = None, where: str = "system_config"
    ) -> SystemConfig:
        """Parse op-node's ``SystemConfig`` JSON; unknown keys are ignored.

        A missing ``eip1559Params`` key selects the pre-Holocene JSON shape for re-marshalling.
        Raises :class:`ConfigError` naming the key and the expected type.
        """
        obj = json_object(obj, where, source)
        eip1559 = json_hex(obj, "eip1559Params", 8, where=where, source=source, default=bytes(8))
        operator_fee = json_hex(obj, "operatorFeeParams", 32, where=where, source=source, default=ZERO_HASH)
        return cls(
            batcher_address=json_hex(obj, "batcherAddr", 20, where=where, source=source),
            overhead=json_hex(obj, "overhead", 32, where=where, source=source),
            scalar=json_hex(obj, "scalar", 32, where=where, source=source),
            gas_limit=json_int(obj, "gasLimit", where=where, source=source),
            eip1559_denominator=int.from_bytes(eip1559[:4], "big"),
            eip1559_elasticity=int.from_bytes(eip1559[4:], "big"),
            operator_fee_scalar=int.from_bytes(operator_fee[20:24], "big"),
            operator_fee_constant=int.from_bytes(operator_fee[24:32], "big"),
            min_base_fee=json_int(obj, "minBaseFee", where=where, source=source, default=0),
            da_footprint_gas_scalar=json_int(
                obj, "daFootprintGasScalar", where=where, source=source, default=0, maximum=UINT16_MAX
            ),
            marshal_pre_holocene="eip1559Params" not in obj,
        )


# --- scalar helpers ---------------------------------------------------------------------------


def check_ecotone_scalar(scalar: bytes) -> None:
    """Raise :class:`DecodeError` unless ``scalar`` is a well-formed version 0 or 1 scalar.

    Spec: ``specs/protocol/ecotone/l1-attributes.md``; op-node ``CheckEcotoneL1SystemConfigScalar``:
    version 0 needs zero bytes [1:28], version 1 needs zero bytes [1:24].
    """
    _check_size("scalar", scalar, 32)
    version = scalar[0]
    if version == L1_SCALAR_BEDROCK:
        if any(scalar[1:28]):
            raise DecodeError("version 0 scalar has non-empty padding", offset=1)
    elif version == L1_SCALAR_ECOTONE:
        if any(scalar[1:24]):
            raise DecodeError("version 1 scalar has non-empty padding", offset=1)
    else:
        raise DecodeError(f"unknown scalar version {version}", offset=0)


def decode_scalar(scalar: bytes) -> tuple[int, int]:
    """Split a versioned scalar into ``(blob_base_fee_scalar, base_fee_scalar)``, ignoring padding.

    Spec: ``specs/protocol/ecotone/l1-attributes.md``. Version 0 carries only the base-fee scalar
    in bytes [28:32]; version 1 adds the blob scalar in [24:28].
    """
    _check_size("scalar", scalar, 32)
    base = int.from_bytes(scalar[28:32], "big")
    if scalar[0] == L1_SCALAR_BEDROCK:
        return 0, base
    if scalar[0] == L1_SCALAR_ECOTONE:
        return int.from_bytes(scalar[24:28], "big"), base
    raise DecodeError(f"unknown scalar version {scalar[0]}", offset=0)


def ecotone_scalars(scalar: bytes) -> tuple[int, int]:
    """Scalars for the L1-info deposit: ``(blob_base_fee_scalar, base_fee_scalar)``.

    Spec: ``specs/protocol/ecotone/l1-attributes.md``. op-node's rule: a version-0 scalar with
    non-zero padding yields ``base_fee_scalar = 0xFFFFFFFF`` (and blob 0); a version-1 scalar
    with bad padding or an unknown version is an error.
    """
    _check_size("scalar", scalar, 32)
    if scalar[0] == L1_SCALAR_BEDROCK and any(scalar[1:28]):
        return 0, BEDROCK_PADDING_SCALAR
    check_ecotone_scalar(scalar)
    return decode_scalar(scalar)


def encode_scalar(blob_base_fee_scalar: int, base_fee_scalar: int) -> bytes:
    """Encode a version-1 scalar word.

    Spec: ``specs/protocol/ecotone/system-config.md``: ``(1 << 248) | (blob << 32) | base``.
    """
    _check_range("blob_base_fee_scalar", blob_base_fee_scalar, UINT32_MAX)
    _check_range("base_fee_scalar", base_fee_scalar, UINT32_MAX)
    blob = blob_base_fee_scalar.to_bytes(4, "big")
    return bytes([L1_SCALAR_ECOTONE]) + bytes(23) + blob + base_fee_scalar.to_bytes(4, "big")


def batcher_from_hash(batcher_hash: bytes) -> bytes:
    """The batcher address inside a 32-byte ``batcherHash`` (left-padded with 12 zero bytes).

    Spec: ``specs/protocol/deposits.md`` ("L1 Attributes Deposited Transaction"). Non-zero
    padding is a :class:`DecodeError`, as op-node's ``solabi.ReadAddress`` rejects it.
    """
    if len(batcher_hash) != 32:
        raise DecodeError(f"batcher hash must be 32 bytes, got {len(batcher_hash)}", offset=0)
    if any(batcher_hash[:12]):
        raise DecodeError("batcher hash has non-zero address padding", offset=0)
    return bytes(batcher_hash[12:])


def batcher_hash(batcher_address: bytes) -> bytes:
    """The 32-byte ``batcherHash`` for an address (the inverse of :func:`batcher_from_hash`)."""
    _check_size("batcher_address", batcher_address, 20)
    return bytes(12) + batcher_address


# --- ConfigUpdate logs ------------------------------------------------------------------------


def config_update_log(system_config: bytes, update_type: ConfigUpdateType | int, payload: bytes) -> Log:
    """The ``ConfigUpdate(version 0, updateType, abi.encode(bytes payload))`` log, the inverse of
    :func:`apply_config_update`'s reading (spec: ``specs/protocol/system-config.md``, "System config updates")."""
    topics = (CONFIG_UPDATE_TOPIC, CONFIG_UPDATE_VERSION_0, abi_word(int(update_type)))
    return Log(system_config, topics, abi_encode_bytes(payload))


def apply_config_update(config: SystemConfig, log: Log, *, ecotone_active: bool) -> SystemConfig:
    """Apply one ``ConfigUpdate`` log emitted by the L1 SystemConfig contract.

    Spec: ``specs/protocol/system-config.md`` ("System config updates"), Holocene/Isthmus/Jovian
    additions; op-node ``ProcessSystemConfigUpdateLogEvent``. ``ecotone_active`` is Ecotone at
    the timestamp of the L1 block holding the log. Malformed data raises :class:`DecodeError`
    (offsets are into ``log.data``); op-node treats that as a critical derivation error. Two
    updates are silently ignored as op-node does: ``UNSAFE_BLOCK_SIGNER`` (no consensus effect,
    its data is not even parsed) and a post-Ecotone ``FEE_SCALARS`` whose scalar is invalid.
    """
    topics = log.topics
    if len(topics) != 3:
        raise DecodeError(
            f"ConfigUpdate log needs 3 topics (event, version, updateType), got {len(topics)}"
        )
    if topics[0] != CONFIG_UPDATE_TOPIC:
        raise DecodeError(f"not a ConfigUpdate event: topic 0x{topics[0].hex()}")
    if topics[1] != CONFIG_UPDATE_VERSION_0:
        raise DecodeError(f"unknown ConfigUpdate version 0x{topics[1].hex()}")
    type_topic = topics[2]
    if any(type_topic[:31]) or type_topic[31] > max(ConfigUpdateType):
        raise DecodeError(f"unknown ConfigUpdate type 0x{type_topic.hex()}")
    update_type = ConfigUpdateType(type_topic[31])
    data = log.data

    if update_type is ConfigUpdateType.UNSAFE_BLOCK_SIGNER:
        return config
    if update_type is ConfigUpdateType.FEE_SCALARS:
        payload = _abi_bytes_payload(data, 64)
        overhead, scalar = payload[:32], payload[32:]
        if not ecotone_active:
            return replace(config, overhead=overhead, scalar=scalar)
        try:
            check_ecotone_scalar(scalar)
        except DecodeError:
            return config  # op-node keeps the old scalar when a new one is malformed
        return replace(config, overhead=ZERO_HASH, scalar=scalar)

    word = _abi_bytes_payload(data, 32)
    if update_type is ConfigUpdateType.BATCHER:
        return replace(config, batcher_address=_read_uint_word(word, 20, "batcher address", 64))
    if update_type is ConfigUpdateType.GAS_LIMIT:
        gas_limit = _read_uint_word(word, 8, "gas limit", 64)
        return replace(config, gas_limit=int.from_bytes(gas_limit, "big"))
    if update_type is ConfigUpdateType.EIP_1559_PARAMS:
        denominator = int.from_bytes(word[24:28], "big")
        elasticity = int.from_bytes(word[28:32], "big")
        if denominator == 0 and elasticity != 0:
            raise DecodeError(
                "EIP-1559 params: zero denominator with non-zero elasticity", offset=64 + 24
            )
        return replace(config, eip1559_denominator=denominator, eip1559_elasticity=elasticity)
    if update_type is ConfigUpdateType.OPERATOR_FEE_PARAMS:
        return replace(
            config,
            operator_fee_scalar=int.from_bytes(word[20:24], "big"),
            operator_fee_constant=int.from_bytes(word[24:32], "big"),
        )
    if update_type is ConfigUpdateType.MIN_BASE_FEE:
        min_base_fee = _read_uint_word(word, 8, "min base fee", 64)
        return replace(config, min_base_fee=int.from_bytes(min_base_fee, "big"))
    # DA_FOOTPRINT_GAS_SCALAR
    value = _read_uint_word(word, 2, "DA footprint gas scalar", 64)
    return replace(config, da_footprint_gas_scalar=int.from_bytes(value, "big"))


def update_system_config_with_receipts(
    config: SystemConfig,
    receipts: Iterable[tuple[int, Iterable[Log]]],
    system_config_address: bytes,
    *,
    ecotone_active: bool,
) -> SystemConfig:
    """Apply every ``ConfigUpdate`` log of one L1 block's successful receipts, in order.

    Spec: ``specs/protocol/derivation.md`` ("L1 Traversal", system config updates); op-node
    ``UpdateSystemConfigWithL1Receipts``. ``receipts`` yields ``(status, logs)`` per receipt;
    failed receipts (status != 1) are skipped, as are logs from other contracts or with another
    topic 0. A malformed update raises :class:`DecodeError`.
    """
    for status, logs in receipts:
        if status != 1:
            continue
        for log in logs:
            if log.address != system_config_address or not log.topics:
                continue
            if log.topics[0] == CONFIG_UPDATE_TOPIC:
                config = apply_config_update(config, log, ecotone_active=ecotone_active)
    return config


def _abi_bytes_payload(data: bytes, expected_length: int) -> bytes:
    """The payload of ``abi.encode(bytes)`` data: pointer word 32, length word, exact payload."""
    if len(data) < 32:
        raise DecodeError("ConfigUpdate data too short for the pointer word", offset=0)
    if _u64_word(data[0:32]) != 32:
        raise DecodeError("ConfigUpdate data has an invalid pointer field", offset=0)
    if len(data) < 64:
        raise DecodeError("ConfigUpdate data too short for the length word", offset=32)
    if _u64_word(data[32:64]) != expected_length:
        raise DecodeError(
            f"ConfigUpdate data has an invalid length field (want {expected_length})", offset=32
        )
    if len(data) < 64 + expected_length:
        raise DecodeError("ConfigUpdate payload truncated", offset=len(data))
    if len(data) > 64 + expected_length:
        raise DecodeError("ConfigUpdate data has trailing bytes", offset=64 + expected_length)
    return bytes(data[64 : 64 + expected_length])


def _u64_word(word: bytes) -> int | None:
    """The value of a 32-byte word if it fits in a uint64 (``solabi.ReadUint64``), else None."""
    if any(word[:24]):
        return None
    return int.from_bytes(word[24:], "big")


def _read_uint_word(word: bytes, size: int, what: str, base: int) -> bytes:
    """The low ``size`` bytes of an ABI word whose high bytes must be zero."""
    if any(word[: 32 - size]):
        raise DecodeError(f"{what} does not fit in {size * 8} bits", offset=base)
    return word[32 - size :]


def checksum_address(address: bytes) -> str:
    """EIP-55 mixed-case hex of a 20-byte address."""
    _check_size("address", address, 20)
    lower = address.hex()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(d, 16) >= 8 else c for c, d in zip(lower, digest)
    )


_MISSING: Any = object()


def json_object(value: Any, where: str, source: str | None) -> Mapping[str, Any]:
    """Check that ``value`` is a JSON object; ``where`` names it in the error."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"expected a JSON object, got {_describe(value)}", source=source, key=where or None
        )
    return value


def json_int(
    obj: Mapping[str, Any],
    key: str,
    *,
    where: str,
    source: str | None,
    default: Any = _MISSING,
    maximum: int = UINT64_MAX,
) -> Any:
    """Read a non-negative JSON integer ``obj[key]`` (bool is not an integer)."""
    path = f"{where}.{key}" if where else key
    value = obj.get(key, _MISSING)
    if value is _MISSING or (value is None and default is not _MISSING):
        if default is _MISSING:
            raise ConfigError(
                f"missing required key (expected a JSON integer, 0..{maximum})",
                source=source,
                key=path,
            )
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"expected a JSON integer (0..{maximum}), got {_describe(value)}",
            source=source,
            key=path,
        )
    if not 0 <= value <= maximum:
        raise ConfigError(f"integer {value} out of range 0..{maximum}", source=source, key=path)
    return value


def json_hex(
    obj: Mapping[str, Any],
    key: str,
    size: int,
    *,
    where: str,
    source: str | None,
    default: Any = _MISSING,
) -> Any:
    """Read a ``0x``-prefixed hex string of exactly ``size`` bytes (any letter case)."""
    path = f"{where}.{key}" if where else key
    kind = "a 20-byte 0x-hex address" if size == 20 else f"a {size}-byte 0x-hex string"
    value = obj.get(key, _MISSING)
    if value is _MISSING or (value is None and default is not _MISSING):
        if default is _MISSING:
            raise ConfigError(f"missing required key (expected {kind})", source=source, key=path)
        return default
    well_formed = isinstance(value, str) and value.startswith(("0x", "0X"))
    if not well_formed or len(value) != 2 + 2 * size:
        raise ConfigError(f"expected {kind}, got {_describe(value)}", source=source, key=path)
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        message = f"expected {kind}, got invalid hex {value!r}"
        raise ConfigError(message, source=source, key=path) from None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 80 else value[:77] + "..."
        return f"string {shown!r}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _check_size(name: str, value: bytes, size: int) -> None:
    if not isinstance(value, (bytes, bytearray)) or len(value) != size:
        raise ValueError(f"{name} must be {size} bytes")


def _check_range(name: str, value: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer in 0..{maximum}, got {value!r}")
