"""Plugins: files and entry points load; a broken plugin is a warning, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

from opfleet import plugins
from opfleet.cli.exit import ExitStatus

ROOT = Path(__file__).resolve().parents[2]


def test_good_and_broken_plugins_are_both_reported(tmp_path):
    (tmp_path / "good.py").write_text(
        "def register(registry):\n    registry.add_network('mine', {'l2_chain_id': 7})\n")
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "empty.py").write_text("X = 1\n")
    (tmp_path / "_private.py").write_text("raise SystemExit('must not be loaded')\n")
    registry = plugins.load_plugins([tmp_path, tmp_path / "missing"], entry_points=False)
    by_name = {s.name: s for s in registry.statuses}
    assert by_name["good"].loaded and registry.networks["mine"]() == {"l2_chain_id": 7}
    assert not by_name["broken"].loaded and "RuntimeError: boom" in by_name["broken"].error
    assert not by_name["empty"].loaded and "register" in by_name["empty"].error
    assert "_private" not in by_name


def test_version_verbose_lists_plugins_and_failures(cli, tmp_path):
    plugin_dir = tmp_path / "config" / "opfleet" / "plugins"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "broken.py").write_text("import does_not_exist\n")
    result = cli(["version", "--verbose"])
    assert result.status == ExitStatus.OK
    assert "broken" in result.stdout and "FAILED: ModuleNotFoundError" in result.stdout
    assert "local_networks" in result.stdout and "loaded" in result.stdout
    assert "op-mainnet" in result.stdout


def test_example_plugin_adds_networks_from_the_config_dir(tmp_path, monkeypatch):
    networks = tmp_path / "opfleet" / "networks"
    networks.mkdir(parents=True)
    (networks / "my-devnet.rollup.json").write_text(json.dumps({"l2_chain_id": 901}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    registry = plugins.load_plugins([ROOT / "plugins"], entry_points=False)
    assert registry.networks["my-devnet"]() == {"l2_chain_id": 901}
