"""Plugins: small Python files or installed packages that add to opfleet without forking it.

Where plugins come from, in order:

1. ``*.py`` files in ``plugins/`` next to the running executable (the zipapp or the script), and
   in a source checkout the repository's ``plugins/`` folder;
2. ``*.py`` files in ``$XDG_CONFIG_HOME/opfleet/plugins/``;
3. the ``opfleet.plugins`` entry-point group of installed distributions.

A plugin module defines ``register(registry)``; it may add networks (name -> rollup config
dict or a callable returning one) and alert sinks. A plugin that fails to import or register is
recorded with its error and reported by ``opfleet version --verbose``: never a crash. Plugins
never replace derivation stages, which are consensus-critical.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_VERSION = 1


@dataclass(frozen=True, slots=True)
class PluginStatus:
    name: str
    origin: str  # file path or entry point
    loaded: bool
    error: str | None = None


@dataclass
class PluginRegistry:
    """What plugins registered, plus the outcome of every load attempt."""

    networks: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    alert_sinks: dict[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    statuses: list[PluginStatus] = field(default_factory=list)
    api_version: int = API_VERSION

    def add_network(self, name: str, config: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        self.networks[name] = config if callable(config) else (lambda: config)

    def add_alert_sink(self, name: str, sink: Callable[[dict[str, Any]], None]) -> None:
        self.alert_sinks[name] = sink


def plugin_dirs(config_dir: Path) -> list[Path]:
    """Where plugin files are looked for, in load order."""
    dirs = [Path(sys.argv[0]).resolve().parent / "plugins"]
    checkout = Path(__file__).resolve().parent.parent / "plugins"
    dirs.append(checkout)
    dirs.append(config_dir / "plugins")
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def load_plugins(dirs: Iterable[Path], *, entry_points: bool = True) -> PluginRegistry:
    registry = PluginRegistry()
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            _load_file(registry, path)
    if entry_points:
        _load_entry_points(registry)
    return registry


def _register(registry: PluginRegistry, name: str, origin: str, module: Any) -> None:
    register = getattr(module, "register", None)
    if not callable(register):
        registry.statuses.append(PluginStatus(name, origin, False, "no register(registry) function"))
        return
    register(registry)
    registry.statuses.append(PluginStatus(name, origin, True))


def _load_file(registry: PluginRegistry, path: Path) -> None:
    name = f"opfleet_plugin_{path.stem}"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError("cannot load")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _register(registry, path.stem, str(path), module)
    except Exception as exc:  # a broken plugin is a warning, never a crash
        registry.statuses.append(PluginStatus(path.stem, str(path), False, f"{type(exc).__name__}: {exc}"))


def _load_entry_points(registry: PluginRegistry) -> None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="opfleet.plugins"):
        try:
            _register(registry, ep.name, f"entry point {ep.value}", ep.load())
        except Exception as exc:
            registry.statuses.append(PluginStatus(ep.name, f"entry point {ep.value}", False,
                                                  f"{type(exc).__name__}: {exc}"))
