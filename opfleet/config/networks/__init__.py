"""Built-in networks: op-node rollup configs for the public OP Stack chains.

Where they come from is kept here, once: :data:`REGISTRY_COMMIT` (and :data:`FROZEN_REGISTRY_COMMIT`
for the networks that have since left the registry); ``opfleet version --verbose`` and the
``--network`` help say it from these constants.

The JSON files next to this module are generated from superchain-registry TOMLs by
``python -m opfleet.config.networks._build SRC_DIR`` (see ``_build.py``); a test keeps them
in step with the generator. They are package data read with :mod:`importlib.resources`, so
they also load from a zipapp. Importing this module is cheap: the rollup-config parser is
imported only when :func:`load_network` is called.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from opfleet.errors import ConfigError

if TYPE_CHECKING:
    from opfleet.protocol.rollup_config import RollupConfig

NETWORKS: tuple[str, ...] = (
    "op-mainnet",
    "op-sepolia",
    "unichain-mainnet",
    "unichain-sepolia",
    "base-mainnet",
    "base-sepolia",
)
"""Names accepted by :func:`load_network` and :func:`network_json`."""

REGISTRY_COMMIT = "8336d2aedd19b87a57b01ae36ba4afef8ea377d0"
"""The superchain-registry commit the built-in networks were generated from."""
REGISTRY_DATE = "2026-08-04"
"""The date of :data:`REGISTRY_COMMIT`."""

FROZEN_NETWORKS: tuple[str, ...] = ("base-mainnet", "base-sepolia")
"""Networks that left the registry: their files come from :data:`FROZEN_REGISTRY_COMMIT`."""
FROZEN_REGISTRY_COMMIT = "5b055be4d294ce43814a44c8839d89b2436dc8aa"
"""The last superchain-registry commit with Base Mainnet and Sepolia (removed on 2026-04-27,
registry commit 0d9aefc4)."""
FROZEN_NOTE = "last registry snapshot, reaches Jovian; use --rollup.config for a newer schedule"
"""What an operator must know about a network in :data:`FROZEN_NETWORKS`."""


def registry_commit(name: str) -> str:
    """The superchain-registry commit the built-in network ``name`` was generated from."""
    _check_name(name)
    return FROZEN_REGISTRY_COMMIT if name in FROZEN_NETWORKS else REGISTRY_COMMIT


def registry_snapshot() -> str:
    """One line naming the registry snapshots behind the built-in networks (``version -v``)."""
    return (
        f"superchain-registry {REGISTRY_COMMIT} ({REGISTRY_DATE}); "
        f"{', '.join(FROZEN_NETWORKS)} from {FROZEN_REGISTRY_COMMIT} ({FROZEN_NOTE})"
    )


def _check_name(name: str) -> None:
    if name not in NETWORKS:
        raise ConfigError(f"unknown network {name!r} (built-in networks: {', '.join(NETWORKS)})")


@functools.cache
def network_text(name: str) -> str:
    """The rollup.json text of a built-in network, as shipped."""
    from importlib import resources  # here: it costs 4 ms of every start, --help's included

    _check_name(name)
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def network_json(name: str) -> dict[str, Any]:
    """The rollup.json object of a built-in network (a fresh copy on each call)."""
    import json

    return json.loads(network_text(name))


@functools.cache
def load_network(name: str) -> RollupConfig:
    """The :class:`~opfleet.protocol.rollup_config.RollupConfig` of a built-in network."""
    from opfleet.protocol.rollup_config import RollupConfig

    return RollupConfig.from_json(network_json(name), source=f"built-in network {name}")
