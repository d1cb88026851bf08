"""Example opfleet plugin: every ``*.rollup.json`` in ``$XDG_CONFIG_HOME/opfleet/networks/``
becomes a ``--network`` name (the file name without ``.rollup.json``).

Handy for private devnets and testnets that are not built in: drop the op-node rollup config in
that folder and run ``opfleet source --network my-devnet ...``.
"""

import json
import os
from pathlib import Path


def _networks_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "opfleet" / "networks"


def register(registry):
    directory = _networks_dir()
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.rollup.json")):
        name = path.name[: -len(".rollup.json")]
        registry.add_network(name, lambda path=path: json.loads(path.read_text()))
