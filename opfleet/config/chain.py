"""Which chain a node runs: ``--network NAME`` (built-in or from a plugin) or ``--rollup.config``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opfleet.errors import ConfigError

if TYPE_CHECKING:
    from opfleet.plugins import PluginRegistry
    from opfleet.protocol.l1_block_info import BlobSchedule
    from opfleet.protocol.l1_chain_config import L1ChainConfig
    from opfleet.protocol.rollup_config import RollupConfig

log = logging.getLogger("opfleet.config")


def load_rollup_config(settings: Mapping[str, object], *,
                       plugins: PluginRegistry | None = None) -> RollupConfig:
    """Resolve the node's rollup config from its merged settings.

    Exactly one of ``network`` and ``rollup.config`` must be set; every failure is a
    :class:`ConfigError` naming the setting or file. A rollup.json (file or plugin network) with
    keys no op-node release writes still loads: the keys are named in one warning and ignored.
    """
    from opfleet.config import networks
    from opfleet.protocol.rollup_config import RollupConfig, rollup_json_object

    network = settings.get("network")
    path = settings.get("rollup.config")
    if network and path:
        raise ConfigError("use --network or --rollup.config, not both", key="network")
    if not network and not path:
        raise ConfigError("no chain given: set --network NAME or --rollup.config FILE")
    if path:
        file = Path(str(path)).expanduser()
        try:
            text = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read rollup config: {exc.strerror}",
                              source=str(file)) from None
        obj = rollup_json_object(text, source=str(file))
        config = RollupConfig.from_json(obj, source=str(file))
        warn_unknown_keys(obj, str(file))
        return config
    name = str(network)
    if name in networks.NETWORKS:
        return networks.load_network(name)
    if plugins is not None and name in plugins.networks:
        try:
            obj = plugins.networks[name]()
        except Exception as exc:  # a plugin's failure is the operator's config problem
            raise ConfigError(f"plugin network failed to load: {exc}", key="network") from None
        config = RollupConfig.from_json(obj, source=f"plugin network {name}")
        warn_unknown_keys(obj, f"plugin network {name}")
        return config
    known = [*networks.NETWORKS, *(sorted(plugins.networks) if plugins else [])]
    raise ConfigError(f"unknown network {name!r} (known: {', '.join(known)})", key="network")


def warn_unknown_keys(obj: Any, source: str) -> list[str]:
    """Log one warning naming ``source`` and every key of the rollup.json object ``obj`` that
    no op-node release writes (a typo, or a newer op-node's key this version would not
    honour); return those keys."""
    from opfleet.protocol.rollup_config import unknown_rollup_keys

    unknown = unknown_rollup_keys(obj)
    if unknown:
        log.warning(
            "Rollup config has keys opfleet does not know; ignoring them",
            extra={"fields": {"file": source, "keys": ",".join(unknown)}},
        )
    return unknown


def l1_blob_schedule(rollup: RollupConfig, path: object | None, *,
                     flag: str = "--rollup.l1-chain-config",
                     key: str | None = "rollup.l1-chain-config") -> BlobSchedule | None:
    """The L1's blob schedule, decided as op-node's ``NewL1ChainConfig`` does at start-up.

    A public L1 op-node knows (mainnet, Sepolia, Holesky, Hoodi) uses the built-in schedule and
    ``path`` is not even read. Any other L1 needs ``path``, an L1 chain config for the rollup
    config's ``l1_chain_id`` with a blob schedule (:mod:`opfleet.protocol.l1_chain_config`).
    Every failure is one :class:`ConfigError` naming ``flag`` or the file and key.
    """
    from opfleet.protocol.l1_chain_config import known_l1_names, known_l1_schedule

    known = known_l1_schedule(rollup.l1_chain_id)
    if known is not None:
        return known
    if not path:
        raise ConfigError(f"L1 chain {rollup.l1_chain_id} has no built-in chain config (only {known_l1_names()} "
                          f"do): set {flag} to its chain config or genesis file (JSON with a blobSchedule)",
                          key=key)
    file = Path(str(path)).expanduser()
    return load_l1_chain_config(file).blob_schedule_for(rollup.l1_chain_id, source=str(file))


def load_l1_chain_config(path: Path) -> L1ChainConfig:
    """Read an L1 chain config file (geth ``ChainConfig`` or genesis JSON)."""
    from opfleet.protocol.l1_chain_config import L1ChainConfig

    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read L1 chain config: {exc.strerror}", source=str(path)) from None
    return L1ChainConfig.from_json_text(text, source=str(path))
