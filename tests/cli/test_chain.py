"""--network / --rollup.config resolution with clear errors."""

from __future__ import annotations

import json

import pytest

from opfleet.config.chain import load_rollup_config
from opfleet.errors import ConfigError
from opfleet.plugins import PluginRegistry
from tests.conftest import VECTORS


def test_builtin_network():
    config = load_rollup_config({"network": "op-mainnet"})
    assert config.l2_chain_id == 10 and config.l1_chain_id == 1


def test_rollup_config_file(tmp_path):
    path = tmp_path / "rollup.json"
    path.write_text((VECTORS / "rollup-configs" / "base-sepolia.rollup.json").read_text())
    assert load_rollup_config({"rollup.config": str(path)}).l2_chain_id == 84532


def test_plugin_network():
    registry = PluginRegistry()
    registry.add_network("mine", json.loads(
        (VECTORS / "rollup-configs" / "op-sepolia.rollup.json").read_text()))
    assert load_rollup_config({"network": "mine"}, plugins=registry).l2_chain_id == 11155420


@pytest.mark.parametrize("settings, message", [
    ({}, "no chain given"),
    ({"network": "op-mainnet", "rollup.config": "x.json"}, "not both"),
    ({"network": "op-mainnet-typo"}, "unknown network 'op-mainnet-typo'"),
    ({"rollup.config": "/does/not/exist.json"}, "cannot read rollup config"),
])
def test_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        load_rollup_config(settings)


def test_bad_rollup_file_names_the_file_and_key(tmp_path):
    path = tmp_path / "rollup.json"
    obj = json.loads((VECTORS / "rollup-configs" / "op-mainnet.rollup.json").read_text())
    obj["block_time"] = "two"
    path.write_text(json.dumps(obj))
    with pytest.raises(ConfigError) as info:
        load_rollup_config({"rollup.config": str(path)})
    assert str(path) in str(info.value) and "block_time" in str(info.value)
    path.write_text("{ not json")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_rollup_config({"rollup.config": str(path)})
