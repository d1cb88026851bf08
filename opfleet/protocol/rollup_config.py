"""The rollup configuration (op-node's ``rollup.json``) and hardfork activation rules.

Spec: ``specs/protocol/derivation.md`` ("Protocol Parameters"),
``specs/protocol/superchain-upgrades.md`` and each fork's ``derivation.md``. op-node:
``op-node/rollup/types.go`` (``Config``); kona: ``crates/protocol/genesis/src/rollup.rs``.

JSON conventions (see :meth:`RollupConfig.to_json`): keys in op-node's order, fork times omitted
when unset, numbers as JSON integers, hashes as lowercase 0x-hex and addresses EIP-55
checksummed (how the superchain registry writes them; op-node prints lowercase, and every
consumer compares case-insensitively). Parsing ignores unknown keys, like op-node's non-strict
decoder, and accepts ``interop_time`` as an alias of ``lagoon_time`` (the 2026 rename).
:func:`unknown_rollup_keys` names the keys that no op-node (or kona) release writes, so a caller
can warn about them; this module itself does no I/O and no logging.

This module is imported at start-up for the built-in networks, so it stays light: no RLP, KZG
or secp256k1 imports.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opfleet.errors import ConfigError
from opfleet.protocol.channel import (
    FJORD_MAX_CHANNEL_BANK_SIZE,
    FJORD_MAX_RLP_BYTES_PER_CHANNEL,
    GRANITE_CHANNEL_TIMEOUT,
    MAX_CHANNEL_BANK_SIZE,
    MAX_RLP_BYTES_PER_CHANNEL,
)
from opfleet.protocol.system_config import (
    UINT64_MAX,
    SystemConfig,
    checksum_address,
    json_hex,
    json_int,
    json_object,
)

FORKS: tuple[str, ...] = (
    "regolith",
    "canyon",
    "delta",
    "ecotone",
    "fjord",
    "granite",
    "holocene",
    "isthmus",
    "jovian",
    "karst",
    "interop",
)
"""Post-Bedrock forks in activation order (the order :meth:`RollupConfig.fork_at` ranks them).

A later fork being active implies every earlier one (kona's ``is_*_active``).
"""

FJORD_MAX_SEQUENCER_DRIFT = 1800

_FORK_KEYS = ("regolith", "canyon", "delta", "ecotone", "fjord", "granite", "holocene")
_ALT_DA_KEY = "alt_da"

ROLLUP_JSON_KEYS: frozenset[str] = frozenset((
    # op-node rollup.Config (op-node/rollup/types.go), in its order
    "genesis", "block_time", "max_sequencer_drift", "seq_window_size", "channel_timeout",
    "l1_chain_id", "l2_chain_id", "regolith_time", "canyon_time", "delta_time", "ecotone_time",
    "fjord_time", "granite_time", "holocene_time", "isthmus_time", "jovian_time", "karst_time",
    "keep_karst_upgrade_gas", "interop_time", "lagoon_time", "batch_inbox_address",
    "deposit_contract_address", "l1_system_config_address", "protocol_versions_address",
    "alt_da", "chain_op_config", "pectra_blob_schedule_time",
    # op-node's Alt-DA keys before ``alt_da`` (2024): still found in deployed rollup.json files
    "plasma_config", "use_plasma", "da_challenge_contract_address", "da_challenge_window",
    "da_resolve_window",
    # kona's RollupConfig (crates/protocol/genesis/src/rollup.rs) writes these too
    "granite_channel_timeout", "superchain_config_address", "blobs_data", "da_challenge_address",
    "interop_message_expiry_window",
))
"""Every top-level rollup.json key op-node's ``rollup.Config`` writes (and kona's, and op-node's
legacy Alt-DA keys). Keys outside it are still ignored, but :func:`unknown_rollup_keys` names them."""

_ALT_DA_KEYS = frozenset(
    ("da_challenge_contract_address", "da_commitment_type", "da_challenge_window", "da_resolve_window")
)
_NESTED_KEYS: dict[str, frozenset[str]] = {
    "genesis": frozenset(("l1", "l2", "l2_time", "system_config")),
    "genesis.l1": frozenset(("hash", "number")),
    "genesis.l2": frozenset(("hash", "number")),
    # op-service eth.SystemConfig
    "genesis.system_config": frozenset((
        "batcherAddr", "overhead", "scalar", "gasLimit", "eip1559Params", "operatorFeeParams",
        "minBaseFee", "daFootprintGasScalar",
    )),
    # op-geth params.OptimismConfig
    "chain_op_config": frozenset(
        ("eip1559Elasticity", "eip1559Denominator", "eip1559DenominatorCanyon")
    ),
    "alt_da": _ALT_DA_KEYS,
    "plasma_config": _ALT_DA_KEYS,
}


def unknown_rollup_keys(obj: Any) -> list[str]:
    """The keys of a rollup.json object that no op-node release writes, as sorted dotted paths.

    Checks the top level (against :data:`ROLLUP_JSON_KEYS`) and the objects nested in it whose
    shape op-node defines (``genesis``, ``genesis.system_config``, ``chain_op_config``,
    ``alt_da``, ...). Pure: the caller decides how to report them (see
    :func:`opfleet.config.chain.load_rollup_config`). A non-object gives ``[]``.
    """
    if not isinstance(obj, Mapping):
        return []
    unknown = [key for key in obj if key not in ROLLUP_JSON_KEYS]
    for path, known in _NESTED_KEYS.items():
        inner: Any = obj
        for part in path.split("."):
            inner = inner.get(part) if isinstance(inner, Mapping) else None
        if isinstance(inner, Mapping):
            unknown += [f"{path}.{key}" for key in inner if key not in known]
    return sorted(unknown)


_LATER_FORKS = {fork: FORKS[i:] for i, fork in enumerate(FORKS)}


def _implying(fork: str) -> tuple[str, ...]:
    """``fork`` and every later fork: any of them active makes ``fork`` active."""
    try:
        return _LATER_FORKS[fork]
    except KeyError:
        raise ValueError(f"unknown fork {fork!r}") from None


def fork_active(fork: str, timestamp: int, time_of: Callable[[str], int | None]) -> bool:
    """Whether ``fork`` (one of :data:`FORKS`) is active at ``timestamp``, given each fork's
    configured time (``time_of(name)``, None: unset): its own time or a later fork's has passed,
    as a later fork implies every earlier one.

    Spec: ``specs/protocol/superchain-upgrades.md``; kona ``RollupConfig::is_*_active``.
    """
    for later in _implying(fork):
        time = time_of(later)
        if time is not None and timestamp >= time:
            return True
    return False


def fork_activation(fork: str, time_of: Callable[[str], int | None]) -> int | None:
    """The first timestamp at which ``fork`` is active (see :func:`fork_active`): the earliest of
    its own and every later fork's time. None: never."""
    times = [time for later in _implying(fork) if (time := time_of(later)) is not None]
    return min(times) if times else None


def _fork_predicate(fork: str) -> Callable[[RollupConfig, int], bool]:
    """``is_<fork>(ts)``: :meth:`RollupConfig.is_active` for one fork."""

    def predicate(self: RollupConfig, ts: int) -> bool:
        return self.is_active(fork, ts)

    predicate.__name__ = f"is_{fork}"
    predicate.__doc__ = f"Whether {fork.capitalize()} is active at ``ts`` (see ``is_active``)."
    return predicate


def _activation_predicate(fork: str) -> Callable[[RollupConfig, int], bool]:
    """``is_<fork>_activation_block(l2_ts)``: ``is_activation_block`` for one fork."""

    def predicate(self: RollupConfig, l2_ts: int) -> bool:
        return self.is_activation_block(fork, l2_ts)

    predicate.__name__ = f"is_{fork}_activation_block"
    predicate.__doc__ = (
        f"Whether the L2 block at ``l2_ts`` is the first with {fork.capitalize()} active "
        "(see ``is_activation_block``)."
    )
    return predicate


@dataclass(frozen=True, slots=True)
class BlockID:
    """A block's hash (32 bytes) and number."""

    hash: bytes
    number: int

    def __post_init__(self) -> None:
        if not isinstance(self.hash, (bytes, bytearray)) or len(self.hash) != 32:
            raise ValueError("block hash must be 32 bytes")
        number = self.number
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= UINT64_MAX:
            raise ValueError(f"block number must be a uint64, got {self.number!r}")

    def to_json(self) -> dict[str, Any]:
        return {"hash": "0x" + self.hash.hex(), "number": self.number}

    @classmethod
    def from_json(cls, obj: Any, *, where: str, source: str | None) -> BlockID:
        obj = json_object(obj, where, source)
        return cls(
            hash=json_hex(obj, "hash", 32, where=where, source=source),
            number=json_int(obj, "number", where=where, source=source),
        )


@dataclass(frozen=True, slots=True)
class Genesis:
    """The rollup's starting point: L1 and L2 genesis blocks, L2 genesis time, system config."""

    l1: BlockID
    l2: BlockID
    l2_time: int
    system_config: SystemConfig

    def to_json(self) -> dict[str, Any]:
        return {
            "l1": self.l1.to_json(),
            "l2": self.l2.to_json(),
            "l2_time": self.l2_time,
            "system_config": self.system_config.to_json(),
        }


@dataclass(frozen=True, slots=True)
class ChainOpConfig:
    """EIP-1559 parameters of the L2 (op-geth's ``OptimismConfig``)."""

    eip1559_elasticity: int
    eip1559_denominator: int
    eip1559_denominator_canyon: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "eip1559Elasticity": self.eip1559_elasticity,
            "eip1559Denominator": self.eip1559_denominator,
        }
        if self.eip1559_denominator_canyon is not None:
            out["eip1559DenominatorCanyon"] = self.eip1559_denominator_canyon
        return out


@dataclass(frozen=True, slots=True)
class RollupConfig:
    """op-node's rollup configuration.

    Spec: ``specs/protocol/derivation.md`` ("Protocol Parameters"). ``channel_timeout`` and
    ``max_sequencer_drift_pre_fjord`` are the configured (Bedrock) values; use
    :meth:`channel_timeout_at` and :meth:`max_sequencer_drift`, which apply Granite and Fjord.
    ``alt_da`` is kept as the raw JSON object.
    """

    genesis: Genesis
    block_time: int
    seq_window_size: int
    channel_timeout: int
    l1_chain_id: int
    l2_chain_id: int
    batch_inbox_address: bytes
    deposit_contract_address: bytes
    l1_system_config_address: bytes
    max_sequencer_drift_pre_fjord: int = 0
    granite_channel_timeout: int = GRANITE_CHANNEL_TIMEOUT
    regolith_time: int | None = None
    canyon_time: int | None = None
    delta_time: int | None = None
    ecotone_time: int | None = None
    fjord_time: int | None = None
    granite_time: int | None = None
    holocene_time: int | None = None
    isthmus_time: int | None = None
    jovian_time: int | None = None
    karst_time: int | None = None
    interop_time: int | None = None
    pectra_blob_schedule_time: int | None = None
    keep_karst_upgrade_gas: bool = False
    chain_op_config: ChainOpConfig | None = None
    alt_da: Mapping[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.block_time <= 0:
            raise ValueError("block_time must be positive")
        for name in ("batch_inbox_address", "deposit_contract_address", "l1_system_config_address"):
            value = getattr(self, name)
            if not isinstance(value, (bytes, bytearray)) or len(value) != 20:
                raise ValueError(f"{name} must be 20 bytes")

    # --- fork activation (spec: superchain-upgrades.md; timestamps per superchain-registry) ----

    def activation_time(self, fork: str) -> int | None:
        """The configured activation time of ``fork`` (one of :data:`FORKS`), or None."""
        if fork not in FORKS:
            raise ValueError(f"unknown fork {fork!r}")
        return getattr(self, f"{fork}_time")

    def is_active(self, fork: str, timestamp: int) -> bool:
        """Whether ``fork`` is active at ``timestamp``: its own time or any later fork's has passed.

        Spec: ``specs/protocol/superchain-upgrades.md``; kona ``RollupConfig::is_*_active``.
        """
        return fork_active(fork, timestamp, self._fork_time)

    def _fork_time(self, fork: str) -> int | None:
        return getattr(self, f"{fork}_time")

    def is_activation_block(self, fork: str, l2_timestamp: int) -> bool:
        """Whether the L2 block at ``l2_timestamp`` is the first one with ``fork`` active.

        Spec: each fork's "Activation Block Rules"; op-node ``Is*ActivationBlock``.
        """
        return (
            self.is_active(fork, l2_timestamp)
            and l2_timestamp >= self.block_time
            and not self.is_active(fork, l2_timestamp - self.block_time)
        )

    is_regolith = _fork_predicate("regolith")
    is_canyon = _fork_predicate("canyon")
    is_delta = _fork_predicate("delta")
    is_ecotone = _fork_predicate("ecotone")
    is_fjord = _fork_predicate("fjord")
    is_granite = _fork_predicate("granite")
    is_holocene = _fork_predicate("holocene")
    is_isthmus = _fork_predicate("isthmus")
    is_jovian = _fork_predicate("jovian")
    is_karst = _fork_predicate("karst")
    is_interop = _fork_predicate("interop")

    is_regolith_activation_block = _activation_predicate("regolith")
    is_canyon_activation_block = _activation_predicate("canyon")
    is_delta_activation_block = _activation_predicate("delta")
    is_ecotone_activation_block = _activation_predicate("ecotone")
    is_fjord_activation_block = _activation_predicate("fjord")
    is_granite_activation_block = _activation_predicate("granite")
    is_holocene_activation_block = _activation_predicate("holocene")
    is_isthmus_activation_block = _activation_predicate("isthmus")
    is_jovian_activation_block = _activation_predicate("jovian")
    is_karst_activation_block = _activation_predicate("karst")
    is_interop_activation_block = _activation_predicate("interop")

    def is_pectra_blob_schedule(self, l1_origin_ts: int) -> bool:
        """Whether the Pectra blob schedule fix applies at this L1 origin time.

        Spec: ``specs/protocol/pectra-blob-schedule/derivation.md``: before it (when configured),
        the L1-info blob base fee keeps Cancun's update fraction.
        """
        time = self.pectra_blob_schedule_time
        return time is not None and l1_origin_ts >= time

    def fork_at(self, ts: int) -> str:
        """The name of the newest fork active at ``ts`` (``"bedrock"`` if none)."""
        for fork in reversed(FORKS):
            if self.is_active(fork, ts):
                return fork
        return "bedrock"

    # --- fork-dependent parameters ----------------------------------------------------------

    def max_sequencer_drift(self, l1_origin_ts: int) -> int:
        """Max sequencer drift for a batch/block with this L1 origin time: 1800 from Fjord.

        Spec: ``specs/protocol/fjord/derivation.md`` ("Constant Maximum Sequencer Drift").
        """
        if self.is_fjord(l1_origin_ts):
            return FJORD_MAX_SEQUENCER_DRIFT
        return self.max_sequencer_drift_pre_fjord

    def channel_timeout_at(self, l1_ts: int) -> int:
        """Channel timeout at the time of the L1 block being read: 50 from Granite.

        Spec: ``specs/protocol/granite/derivation.md`` ("Reduce Channel Timeout").
        """
        return self.granite_channel_timeout if self.is_granite(l1_ts) else self.channel_timeout

    def max_rlp_bytes_per_channel(self, l1_ts: int) -> int:
        """Decompressed channel size limit: 10 MB, 100 MB from Fjord (L1 origin time).

        Spec: ``specs/protocol/fjord/derivation.md`` ("Increasing MAX_RLP_BYTES_PER_CHANNEL").
        """
        if self.is_fjord(l1_ts):
            return FJORD_MAX_RLP_BYTES_PER_CHANNEL
        return MAX_RLP_BYTES_PER_CHANNEL

    def max_channel_bank_size(self, l1_ts: int) -> int:
        """Channel bank size limit: 100 MB, 1 GB from Fjord (unused from Holocene).

        Spec: ``specs/protocol/fjord/derivation.md`` ("Increasing MAX_CHANNEL_BANK_SIZE").
        """
        if self.is_fjord(l1_ts):
            return FJORD_MAX_CHANNEL_BANK_SIZE
        return MAX_CHANNEL_BANK_SIZE

    def timestamp_for_block(self, number: int) -> int:
        """The timestamp of L2 block ``number`` (at or after genesis)."""
        if number < self.genesis.l2.number:
            genesis = self.genesis.l2.number
            raise ValueError(f"block {number} is before the L2 genesis block {genesis}")
        return self.genesis.l2_time + (number - self.genesis.l2.number) * self.block_time

    def block_for_timestamp(self, ts: int) -> int:
        """The number of the L2 block with the greatest timestamp <= ``ts``."""
        if ts < self.genesis.l2_time:
            raise ValueError(f"timestamp {ts} is before the L2 genesis time {self.genesis.l2_time}")
        return self.genesis.l2.number + (ts - self.genesis.l2_time) // self.block_time

    # --- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """op-node's ``rollup.json`` shape (``rollup.Config``), keys in op-node's order."""
        out: dict[str, Any] = {"genesis": self.genesis.to_json(), "block_time": self.block_time}
        if self.max_sequencer_drift_pre_fjord:
            out["max_sequencer_drift"] = self.max_sequencer_drift_pre_fjord
        out["seq_window_size"] = self.seq_window_size
        out["channel_timeout"] = self.channel_timeout
        out["granite_channel_timeout"] = self.granite_channel_timeout
        out["l1_chain_id"] = self.l1_chain_id
        out["l2_chain_id"] = self.l2_chain_id
        for fork in _FORK_KEYS:
            _put_time(out, f"{fork}_time", getattr(self, f"{fork}_time"))
        _put_time(out, "pectra_blob_schedule_time", self.pectra_blob_schedule_time)
        _put_time(out, "isthmus_time", self.isthmus_time)
        _put_time(out, "jovian_time", self.jovian_time)
        _put_time(out, "karst_time", self.karst_time)
        if self.keep_karst_upgrade_gas:
            out["keep_karst_upgrade_gas"] = True
        _put_time(out, "lagoon_time", self.interop_time)
        out["batch_inbox_address"] = checksum_address(self.batch_inbox_address)
        out["deposit_contract_address"] = checksum_address(self.deposit_contract_address)
        out["l1_system_config_address"] = checksum_address(self.l1_system_config_address)
        if self.chain_op_config is not None:
            out["chain_op_config"] = self.chain_op_config.to_json()
        if self.alt_da is not None:
            out[_ALT_DA_KEY] = copy.deepcopy(dict(self.alt_da))
        return out

    def to_json_text(self) -> str:
        """``to_json()`` serialised with one-space indentation and a trailing newline."""
        return json.dumps(self.to_json(), indent=1) + "\n"

    @classmethod
    def from_json(cls, obj: Any, *, source: str | None = None) -> RollupConfig:
        """Parse op-node's rollup.json object. Unknown keys are ignored (see
        :func:`unknown_rollup_keys`); keys op-node writes but derivation does not need
        (``protocol_versions_address``, kona's extras) are accepted and not kept.

        Raises :class:`ConfigError` naming ``source`` and the key path (e.g. ``genesis.l2.hash``)
        with the expected type, for a missing required key or an ill-typed value.
        """
        root = json_object(obj, "", source)

        def integer(key: str, **kw: Any) -> Any:
            return json_int(root, key, where="", source=source, **kw)

        def address(key: str) -> bytes:
            return json_hex(root, key, 20, where="", source=source)

        genesis_obj = json_object(_required(root, "genesis", source), "genesis", source)

        def genesis_part(key: str) -> Any:
            return _required(genesis_obj, key, source, "genesis")

        genesis = Genesis(
            l1=BlockID.from_json(genesis_part("l1"), where="genesis.l1", source=source),
            l2=BlockID.from_json(genesis_part("l2"), where="genesis.l2", source=source),
            l2_time=json_int(genesis_obj, "l2_time", where="genesis", source=source),
            system_config=SystemConfig.from_json(
                genesis_part("system_config"), source=source, where="genesis.system_config"
            ),
        )
        block_time = integer("block_time")
        if block_time == 0:
            raise ConfigError("must be a positive integer", source=source, key="block_time")

        interop_time = integer("lagoon_time", default=None)
        alias = integer("interop_time", default=None)
        if interop_time is None:
            interop_time = alias
        elif alias is not None and alias != interop_time:
            message = f"conflicts with lagoon_time {interop_time}"
            raise ConfigError(message, source=source, key="interop_time")

        keep_karst = root.get("keep_karst_upgrade_gas", False)
        if keep_karst is None:
            keep_karst = False
        if not isinstance(keep_karst, bool):
            message = "expected a JSON boolean"
            raise ConfigError(message, source=source, key="keep_karst_upgrade_gas")

        alt_da = _alt_da_from_json(root, source)

        return cls(
            genesis=genesis,
            block_time=block_time,
            seq_window_size=integer("seq_window_size"),
            channel_timeout=integer("channel_timeout"),
            l1_chain_id=integer("l1_chain_id", maximum=(1 << 256) - 1),
            l2_chain_id=integer("l2_chain_id", maximum=(1 << 256) - 1),
            batch_inbox_address=address("batch_inbox_address"),
            deposit_contract_address=address("deposit_contract_address"),
            l1_system_config_address=address("l1_system_config_address"),
            max_sequencer_drift_pre_fjord=integer("max_sequencer_drift", default=0),
            granite_channel_timeout=integer(
                "granite_channel_timeout", default=GRANITE_CHANNEL_TIMEOUT
            ),
            regolith_time=integer("regolith_time", default=None),
            canyon_time=integer("canyon_time", default=None),
            delta_time=integer("delta_time", default=None),
            ecotone_time=integer("ecotone_time", default=None),
            fjord_time=integer("fjord_time", default=None),
            granite_time=integer("granite_time", default=None),
            holocene_time=integer("holocene_time", default=None),
            isthmus_time=integer("isthmus_time", default=None),
            jovian_time=integer("jovian_time", default=None),
            karst_time=integer("karst_time", default=None),
            interop_time=interop_time,
            pectra_blob_schedule_time=integer("pectra_blob_schedule_time", default=None),
            keep_karst_upgrade_gas=keep_karst,
            chain_op_config=_chain_op_config_from_json(root.get("chain_op_config"), source),
            alt_da=alt_da,
        )

    @classmethod
    def from_json_text(cls, text: str | bytes, *, source: str | None = None) -> RollupConfig:
        """Parse rollup.json text; invalid JSON is a :class:`ConfigError` with line and column."""
        return cls.from_json(rollup_json_object(text, source=source), source=source)


def rollup_json_object(text: str | bytes, *, source: str | None = None) -> Any:
    """rollup.json text (UTF-8, BOM allowed) as a JSON value; invalid JSON is a
    :class:`ConfigError` with line and column."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            message = f"invalid JSON: not UTF-8 (byte {exc.start})"
            raise ConfigError(message, source=source) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise ConfigError(message, source=source) from None


def _put_time(out: dict[str, Any], key: str, value: int | None) -> None:
    if value is not None:
        out[key] = value


def _required(obj: Mapping[str, Any], key: str, source: str | None, where: str = "") -> Any:
    """A required JSON-object member."""
    path = f"{where}.{key}" if where else key
    if obj.get(key) is None:
        raise ConfigError("missing required key (expected a JSON object)", source=source, key=path)
    return obj[key]


def _alt_da_from_json(root: Mapping[str, Any], source: str | None) -> dict[str, Any] | None:
    """``alt_da``, or what op-node made of its older Alt-DA keys: ``plasma_config``, or the
    top-level ``use_plasma`` with ``da_challenge_contract_address``, ``da_challenge_window`` and
    ``da_resolve_window`` (keccak commitments), as op-node's ``validateAltDAConfig`` did."""
    for key in (_ALT_DA_KEY, "plasma_config"):
        value = root.get(key)
        if value is not None:
            return copy.deepcopy(dict(json_object(value, key, source)))
    use_plasma = root.get("use_plasma")
    if use_plasma is not None and not isinstance(use_plasma, bool):
        raise ConfigError("expected a JSON boolean", source=source, key="use_plasma")
    if not use_plasma:
        return None
    out: dict[str, Any] = {}
    if root.get("da_challenge_contract_address") is not None:
        address = json_hex(root, "da_challenge_contract_address", 20, where="", source=source)
        out["da_challenge_contract_address"] = checksum_address(address)
    out["da_commitment_type"] = "KeccakCommitment"
    for key in ("da_challenge_window", "da_resolve_window"):
        out[key] = json_int(root, key, where="", source=source, default=0)
    return out


def _chain_op_config_from_json(value: Any, source: str | None) -> ChainOpConfig | None:
    if value is None:
        return None
    obj = json_object(value, "chain_op_config", source)
    where = "chain_op_config"
    return ChainOpConfig(
        eip1559_elasticity=json_int(obj, "eip1559Elasticity", where=where, source=source),
        eip1559_denominator=json_int(obj, "eip1559Denominator", where=where, source=source),
        eip1559_denominator_canyon=json_int(
            obj, "eip1559DenominatorCanyon", where=where, source=source, default=None
        ),
    )
