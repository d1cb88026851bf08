"""The L1 chain's config as op-node's ``--rollup.l1-chain-config`` reads it: a geth
``ChainConfig`` (or a genesis file carrying one under ``config``), reduced to what a rollup node
needs from it: the L1 chain id and the blob base-fee update fraction in force at each L1 time.

op-node: ``op-node/service.go`` ``NewL1ChainConfig`` / ``NewL1ChainConfigFromCLI``; geth
``params/config.go`` (``ChainConfig``, ``BlobScheduleConfig``, ``CheckConfigForkOrder``) and
``consensus/misc/eip4844`` (``CalcBlobFee``). Spec: EIP-4844, EIP-7691, EIP-7840 (the
``blobSchedule`` object), EIP-7892 (blob-parameter-only forks).

The JSON shape::

    {"chainId": 900, "cancunTime": 0, "pragueTime": 0, "osakaTime": 1700000000, "bpo1Time": ...,
     "blobSchedule": {"cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3338477},
                      "prague": {...}, "osaka": {...}, "bpo1": {...}, ...}}

Reading is stricter than op-node in one way, like geth's own start-up check
(``CheckConfigForkOrder``): a fork scheduled without its ``blobSchedule`` entry, forks out of
order, or an unknown fork in ``blobSchedule`` are refused, because each would silently price
blobs with the wrong fraction. Other keys of a chain config (block forks, the deposit contract,
op-geth's ``optimism`` section) are not ours to check and are ignored, except that an
``optimism`` section marks an OP Stack L1, which op-node lets go without a blob schedule.
Pure: no I/O (``opfleet.config.chain`` reads the file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from opfleet.errors import ConfigError
from opfleet.protocol.l1_block_info import (
    BPO1_BLOB_UPDATE_FRACTION,
    BPO2_BLOB_UPDATE_FRACTION,
    CANCUN_BLOB_UPDATE_FRACTION,
    KNOWN_BLOB_SCHEDULES,
    KNOWN_L1_NAMES,
    PRAGUE_BLOB_UPDATE_FRACTION,
    BlobSchedule,
)
from opfleet.protocol.system_config import UINT64_MAX, UINT256_MAX, json_int, json_object

BLOB_FORKS: tuple[str, ...] = (
    "cancun", "prague", "osaka", "bpo1", "bpo2", "bpo3", "bpo4", "bpo5", "amsterdam",
)
"""The L1 forks that carry blob parameters, in activation order (geth ``BlobScheduleConfig``);
each is scheduled by ``<fork>Time``."""
_ORDERED_FORKS = ("cancun", "prague", "osaka")
"""geth's non-optional forks among them: a later fork needs each of these scheduled first."""
_INERT_SCHEDULE_ENTRIES = ("verkle",)
"""``blobSchedule`` entries geth accepts but never prices blobs with."""
_BLOB_COUNT_MAX = (1 << 31) - 1


@dataclass(frozen=True, slots=True)
class BlobConfig:
    """One fork's blob parameters (geth ``params.BlobConfig``; EIP-7840)."""

    target: int
    max: int
    update_fraction: int

    def to_json(self) -> dict[str, int]:
        return {"target": self.target, "max": self.max, "baseFeeUpdateFraction": self.update_fraction}


DEFAULT_BLOB_CONFIGS: Mapping[str, BlobConfig] = MappingProxyType({
    "cancun": BlobConfig(3, 6, CANCUN_BLOB_UPDATE_FRACTION),
    "prague": BlobConfig(6, 9, PRAGUE_BLOB_UPDATE_FRACTION),
    "osaka": BlobConfig(6, 9, PRAGUE_BLOB_UPDATE_FRACTION),
    "bpo1": BlobConfig(10, 15, BPO1_BLOB_UPDATE_FRACTION),
    "bpo2": BlobConfig(14, 21, BPO2_BLOB_UPDATE_FRACTION),
})
"""Ethereum's parameters for each fork (geth ``Default<Fork>BlobConfig``): what the public L1s
and a devnet L1 following them use."""


@dataclass(frozen=True, slots=True)
class L1ChainConfig:
    """What a rollup node takes from its L1's chain config.

    ``fork_times`` holds the scheduled blob forks, in :data:`BLOB_FORKS` order with
    non-decreasing times; ``blob_configs`` the ``blobSchedule`` entries, or None when the file
    has no ``blobSchedule``; ``optimism`` whether the L1 is itself an OP Stack chain;
    ``where`` the key it was read under (``config`` in a genesis file), for messages.
    """

    chain_id: int
    fork_times: tuple[tuple[str, int], ...] = ()
    blob_configs: tuple[tuple[str, BlobConfig], ...] | None = None
    optimism: bool = False
    where: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        configs = dict(self.blob_configs or ())
        forks = [fork for fork, _ in self.fork_times]
        if any(fork not in BLOB_FORKS for fork in forks) or forks != sorted(forks, key=BLOB_FORKS.index):
            raise ValueError(f"fork_times must name blob forks in order ({', '.join(BLOB_FORKS)})")
        times = [time for _, time in self.fork_times]
        if times != sorted(times):
            raise ValueError("fork times must not decrease")
        if self.blob_configs is not None and any(fork not in configs for fork in forks):
            raise ValueError("every scheduled fork needs a blob config")

    @property
    def has_blob_schedule(self) -> bool:
        return self.blob_configs is not None

    @property
    def blob_schedule(self) -> BlobSchedule | None:
        """The update fraction by L1 time (None without a ``blobSchedule``). geth picks the
        latest scheduled fork that is active; fork times never decrease here, so that is the
        last entry at or before the time."""
        if self.blob_configs is None:
            return None
        configs = dict(self.blob_configs)
        return BlobSchedule(tuple((time, configs[fork].update_fraction) for fork, time in self.fork_times))

    def blob_schedule_for(self, l1_chain_id: int, *, source: str | None = None) -> BlobSchedule | None:
        """This config's blob schedule for a rollup on L1 chain ``l1_chain_id``: op-node refuses
        a config for another chain, and one without a blob schedule unless the L1 is an OP Stack
        chain (then None: an OP Stack L1's excess blob gas stays 0)."""
        if self.chain_id != l1_chain_id:
            raise ConfigError(f"the L1 chain config is for chain {self.chain_id}, but the rollup config's "
                              f"l1_chain_id is {l1_chain_id}", source=source, key=_path(self.where, "chainId"))
        if self.blob_configs is None and not self.optimism:
            raise ConfigError("the L1 chain config has no blob schedule: add its blobSchedule "
                              "(baseFeeUpdateFraction per fork)", source=source,
                              key=_path(self.where, "blobSchedule"))
        return self.blob_schedule

    @classmethod
    def at_genesis(cls, chain_id: int, fork: str,
                   blob_configs: Mapping[str, BlobConfig] = DEFAULT_BLOB_CONFIGS) -> L1ChainConfig:
        """An L1 running every blob fork up to ``fork`` from its genesis (a devnet L1)."""
        if fork not in BLOB_FORKS:
            raise ValueError(f"unknown L1 fork {fork!r} (known: {', '.join(BLOB_FORKS)})")
        active = BLOB_FORKS[: BLOB_FORKS.index(fork) + 1]
        missing = [f for f in active if f not in blob_configs]
        if missing:
            raise ValueError(f"no blob parameters for {', '.join(missing)}")
        return cls(chain_id, tuple((f, 0) for f in active), tuple((f, blob_configs[f]) for f in active))

    def to_json(self) -> dict[str, Any]:
        """A geth ``ChainConfig`` for a post-merge L1 with these blob forks: the form geth,
        op-node (``--rollup.l1-chain-config``) and this module read."""
        out: dict[str, Any] = {"chainId": self.chain_id}
        for name in ("homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople",
                     "petersburg", "istanbul", "berlin", "london", "mergeNetsplit"):
            out[f"{name}Block"] = 0
        out["terminalTotalDifficulty"] = 0
        out["shanghaiTime"] = 0
        for fork, time in self.fork_times:
            out[f"{fork}Time"] = time
        if self.blob_configs is not None:
            out["blobSchedule"] = {fork: config.to_json() for fork, config in self.blob_configs}
        return out

    @classmethod
    def from_json(cls, value: Any, *, source: str | None = None) -> L1ChainConfig:
        """Read a geth ``ChainConfig`` object, or a genesis object with one under ``config``.

        Every problem is a :class:`ConfigError` naming ``source`` and the key (dotted, from the
        file's top level).
        """
        top = json_object(value, "", source)
        where = ""
        if "chainId" not in top and "config" in top:
            top = json_object(top["config"], "config", source)
            where = "config"
        elif "chainId" not in top:
            raise ConfigError("missing required key: chainId for a chain config, or config for a genesis file",
                              source=source, key="chainId")
        chain_id = top.get("chainId")
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id <= UINT256_MAX:
            raise ConfigError(f"expected a positive JSON integer (a uint256), got {_describe(chain_id)}",
                              source=source, key=_path(where, "chainId"))
        times = _fork_times(top, where, source)
        configs = _blob_configs(top, where, source)
        if configs is not None:
            for fork, _ in times:
                if fork not in configs:
                    raise ConfigError(f"{fork}Time schedules {fork}, but blobSchedule has no entry for it",
                                      source=source, key=_path(where, f"blobSchedule.{fork}"))
        return cls(
            chain_id=chain_id,
            fork_times=times,
            blob_configs=None if configs is None else tuple(
                (fork, configs[fork]) for fork in BLOB_FORKS if fork in configs),
            optimism=top.get("optimism") is not None,
            where=where,
        )

    @classmethod
    def from_json_text(cls, text: str | bytes, *, source: str | None = None) -> L1ChainConfig:
        """Parse JSON text; text that is not JSON is a :class:`ConfigError` with line and column."""
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise ConfigError(f"invalid JSON: not UTF-8 (byte {exc.start})", source=source) from None
        try:
            obj = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            raise ConfigError(message, source=source) from None
        except _NotANumber as exc:
            raise ConfigError(f"invalid JSON: {exc}", source=source) from None
        except ValueError:  # an integer literal longer than Python reads (thousands of digits)
            raise ConfigError("invalid JSON: a number with too many digits", source=source) from None
        except RecursionError:
            raise ConfigError("invalid JSON: nested too deeply", source=source) from None
        return cls.from_json(obj, source=source)


def known_l1_schedule(l1_chain_id: int) -> BlobSchedule | None:
    """The built-in blob schedule of a public L1 op-node knows (mainnet, Sepolia, Holesky,
    Hoodi); None for any other chain, which must bring its chain config."""
    return KNOWN_BLOB_SCHEDULES.get(l1_chain_id)


def known_l1_names() -> str:
    """The public L1s with a built-in chain config, for messages."""
    return ", ".join(f"{name} ({cid})" for cid, name in KNOWN_L1_NAMES.items())


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    return "an object" if isinstance(value, Mapping) else "an array" if isinstance(value, list) else "a value"


class _NotANumber(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotANumber(f"{name} is not a JSON number")


def _fork_times(obj: Mapping[str, Any], where: str, source: str | None) -> tuple[tuple[str, int], ...]:
    """The scheduled blob forks, checked for order as geth's ``CheckConfigForkOrder`` does."""
    out: list[tuple[str, int]] = []
    last: tuple[str, int] | None = None
    for fork in BLOB_FORKS:
        time = json_int(obj, f"{fork}Time", where=where, source=source, default=None)
        if time is None:
            continue
        for earlier in _ORDERED_FORKS[: BLOB_FORKS.index(fork) if fork in _ORDERED_FORKS else None]:
            if obj.get(f"{earlier}Time") is None:
                raise ConfigError(f"{fork}Time is set but {earlier}Time is not (L1 forks activate in order)",
                                  source=source, key=_path(where, f"{fork}Time"))
        if last is not None and time < last[1]:
            raise ConfigError(f"{fork} at {time} would activate before {last[0]} at {last[1]} "
                              "(L1 forks activate in order)", source=source, key=_path(where, f"{fork}Time"))
        out.append((fork, time))
        last = (fork, time)
    return tuple(out)


def _blob_configs(obj: Mapping[str, Any], where: str, source: str | None) -> dict[str, BlobConfig] | None:
    raw = obj.get("blobSchedule")
    if raw is None:
        return None
    path = _path(where, "blobSchedule")
    schedule = json_object(raw, path, source)
    out: dict[str, BlobConfig] = {}
    for name, entry in schedule.items():
        if name not in BLOB_FORKS and name not in _INERT_SCHEDULE_ENTRIES:
            raise ConfigError(f"unknown fork {name!r} (known: {', '.join(BLOB_FORKS)}); this version "
                              "cannot price its blobs", source=source, key=f"{path}.{name}")
        entry_path = f"{path}.{name}"
        fields = json_object(entry, entry_path, source)
        target = json_int(fields, "target", where=entry_path, source=source, default=0, maximum=_BLOB_COUNT_MAX)
        maximum = json_int(fields, "max", where=entry_path, source=source, default=0, maximum=_BLOB_COUNT_MAX)
        fraction = json_int(fields, "baseFeeUpdateFraction", where=entry_path, source=source, maximum=UINT64_MAX)
        if fraction == 0:
            raise ConfigError("the update fraction must be non-zero", source=source,
                              key=f"{entry_path}.baseFeeUpdateFraction")
        if name in BLOB_FORKS:
            out[name] = BlobConfig(target, maximum, fraction)
    return out
