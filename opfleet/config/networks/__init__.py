"""Built-in networks: op-node rollup configs for the public OP Stack chains.

The JSON files next to this module are generated from superchain-registry TOMLs by
``python -m opfleet.config.networks._build SRC_DIR`` (see ``_build.py``); a test keeps them
in step with the generator. They are package data read with :mod:`importlib.resources`, so
they also load from a zipapp. Importing this module is cheap: the rollup-config parser is
imported only when :func:`load_network` is called.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from opfleet.errors import ConfigError

if TYPE_CHECKING:
    from opfleet.protocol.rollup_config import RollupConfig

NETWORKS: tuple[str, ...] = ("op-mainnet", "op-sepolia", "base-mainnet", "base-sepolia")
"""Names accepted by :func:`load_network` and :func:`network_json`."""


def _check_name(name: str) -> None:
    if name not in NETWORKS:
        raise ConfigError(f"unknown network {name!r} (built-in networks: {', '.join(NETWORKS)})")


@functools.lru_cache(maxsize=None)
def network_text(name: str) -> str:
    """The rollup.json text of a built-in network, as shipped."""
    _check_name(name)
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def network_json(name: str) -> dict[str, Any]:
    """The rollup.json object of a built-in network (a fresh copy on each call)."""
    return json.loads(network_text(name))


@functools.lru_cache(maxsize=None)
def load_network(name: str) -> RollupConfig:
    """The :class:`~opfleet.protocol.rollup_config.RollupConfig` of a built-in network."""
    from opfleet.protocol.rollup_config import RollupConfig

    return RollupConfig.from_json(network_json(name), source=f"built-in network {name}")
