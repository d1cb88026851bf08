"""The package layers README.md describes, checked on every module's imports.

A module may import from its own package and from the layers below it, never from a layer above
or from a sibling on its own layer. Every import counts: at module level, inside functions (the
CLI's lazy imports) and under ``if TYPE_CHECKING:``. A new package must be given a layer here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "opfleet"

FOUNDATION = frozenset({"errors", "log", "_version", "plugins"})
"""Leaf modules anything may import: the error tree, logging, the version, the plugin registry."""

LAYERS: dict[str, int] = {
    "protocol": 1,  # pure spec rules and codecs: errors and log only
    "config": 2,  # settings, the command-line table, chains: protocol
    "providers": 3,  # the I/O clients: protocol, config
    "p2p": 3,  # the gossip network: protocol, config
    "derive": 4,  # derivation: protocol, providers' interfaces and data types
    "engine": 5,  # the engine driver: derive and below
    "rpc": 5,  # our JSON-RPC servers: providers and below
    "node": 6,  # source, light, sequencer: everything below
    "interop": 7,
    "proxy": 7,
    "monitor": 7,
    "deploy": 8,  # renders manifests for the fleet the monitor watches
    "devnet": 8,  # a whole fleet: nodes, supernode, proxy
    "testing": 9,  # test support: fakes built on the devnet's chain core, imported only by tests and benchmarks
    "cli": 9,  # on top
    "__main__": 10,  # python -m opfleet: the CLI
}
PROTOCOL_MAY_IMPORT = frozenset({"errors", "log"})


def _layer_of(name: str) -> str:
    """``opfleet.node.light`` -> ``node``; ``opfleet.errors`` -> ``errors``."""
    return name.split(".")[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) for every ``opfleet`` import in ``tree``, relative ones resolved."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, target] if target else base)
            if target == "opfleet":  # ``from opfleet import plugins``
                found += [(node.lineno, f"opfleet.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.startswith("opfleet.")]


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """The imports in ``source`` (the text of ``module``) that reach up or sideways."""
    own = _layer_of(module)
    problems = []
    for line, name in _imported(ast.parse(source), module, is_package):
        target = _layer_of(name)
        if target == own:
            continue
        if own in FOUNDATION:
            allowed = target in FOUNDATION
        elif own == "protocol":
            allowed = target in PROTOCOL_MAY_IMPORT
        else:
            allowed = target in FOUNDATION or LAYERS.get(target, 99) < LAYERS[own]
        if not allowed:
            problems.append(f"{module}:{line} imports {name} ({own} may not import {target})")
    return problems


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_package_has_a_layer() -> None:
    top = {_layer_of(_module_name(p)) for p in _modules() if _module_name(p) != "opfleet"}
    unplaced = sorted(top - set(LAYERS) - FOUNDATION)
    assert unplaced == [], f"give these packages a layer in tests/test_layers.py: {unplaced}"


def test_no_module_imports_a_layer_above_it() -> None:
    problems = []
    for path in _modules():
        module = _module_name(path)
        if module == "opfleet":
            continue
        problems += violations(module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py")
    assert problems == [], "imports against the layering:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("opfleet.protocol.frame", "from opfleet.errors import DecodeError", []),
        ("opfleet.protocol.frame", "from opfleet.config import spec", ["opfleet.config"]),
        ("opfleet.protocol.frame", "import opfleet.plugins", ["opfleet.plugins"]),
        ("opfleet.config.settings", "from opfleet.cli import spec", ["opfleet.cli"]),
        ("opfleet.providers.jwt", "from opfleet.rpc.server import HttpRequest", ["opfleet.rpc.server"]),
        ("opfleet.rpc.optimism", "from opfleet.node.safedb import SafeHeadDB", ["opfleet.node.safedb"]),
        ("opfleet.derive.testing", "from opfleet.devnet.batcher import ChannelBuilder", ["opfleet.devnet.batcher"]),
        ("opfleet.engine.driver", "from opfleet.rpc import server", ["opfleet.rpc"]),  # a sibling layer
        ("opfleet.errors", "from opfleet.protocol import frame", ["opfleet.protocol"]),
        # lazy and type-only imports count too
        ("opfleet.providers.l1", "def f():\n    from opfleet.node import light\n", ["opfleet.node"]),
        ("opfleet.config.chain", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                 "    from opfleet.monitor import model\n", ["opfleet.monitor"]),
        ("opfleet.node.light", "from opfleet.derive import pipeline\nfrom opfleet.p2p import node", []),
        ("opfleet.cli.devnet", "from opfleet.devnet import fleet", []),
        ("opfleet.cli.main", "from opfleet import plugins", []),
        ("opfleet.node.light", "from opfleet import devnet", ["opfleet.devnet"]),
        # relative imports resolve against the importing module
        ("opfleet.rpc.optimism", "from ..node import safedb", ["opfleet.node"]),
        ("opfleet.rpc.optimism", "from .server import JsonRpcServer", []),
    ],
)
def test_violations_are_found(module: str, source: str, expected: list[str]) -> None:
    found = violations(module, source)
    assert [problem.split(" imports ")[1].split(" (")[0] for problem in found] == expected
