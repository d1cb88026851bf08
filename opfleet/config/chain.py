"""Which chain a node runs: ``--network NAME`` (built-in or from a plugin) or ``--rollup.config``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from opfleet.errors import ConfigError

if TYPE_CHECKING:
    from opfleet.plugins import PluginRegistry
    from opfleet.protocol.rollup_config import RollupConfig


def load_rollup_config(settings: Mapping[str, object], *,
                       plugins: "PluginRegistry | None" = None) -> "RollupConfig":
    """Resolve the node's rollup config from its merged settings.

    Exactly one of ``network`` and ``rollup.config`` must be set; every failure is a
    :class:`ConfigError` naming the setting or file.
    """
    from opfleet.config import networks
    from opfleet.protocol.rollup_config import RollupConfig

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
        return RollupConfig.from_json_text(text, source=str(file))
    name = str(network)
    if name in networks.NETWORKS:
        return networks.load_network(name)
    if plugins is not None and name in plugins.networks:
        try:
            obj = plugins.networks[name]()
        except Exception as exc:  # a plugin's failure is the operator's config problem
            raise ConfigError(f"plugin network failed to load: {exc}", key="network") from None
        return RollupConfig.from_json(obj, source=f"plugin network {name}")
    known = [*networks.NETWORKS, *(sorted(plugins.networks) if plugins else [])]
    raise ConfigError(f"unknown network {name!r} (known: {', '.join(known)})", key="network")
