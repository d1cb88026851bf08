"""--rollup.config files written by any op-node release load; keys no op-node writes are named in
one warning (file and keys) and ignored, never an error."""

from __future__ import annotations

import json
import logging

import pytest

from opfleet.config.chain import load_rollup_config
from opfleet.config.networks import network_json
from opfleet.errors import ConfigError
from opfleet.plugins import PluginRegistry
from opfleet.protocol.rollup_config import RollupConfig, unknown_rollup_keys

# The JSON tags of op-node's rollup.Config (op-node/rollup/types.go) and of the Alt-DA keys
# older op-node releases wrote at the top level, with values of the right type.
OP_NODE_KEYS = {
    "max_sequencer_drift": 600,
    "regolith_time": 0,
    "canyon_time": 1,
    "delta_time": 2,
    "ecotone_time": 3,
    "fjord_time": 4,
    "granite_time": 5,
    "holocene_time": 6,
    "pectra_blob_schedule_time": 7,
    "isthmus_time": 8,
    "jovian_time": 9,
    "karst_time": 10,
    "keep_karst_upgrade_gas": True,
    "interop_time": 11,
    "lagoon_time": 11,
    "protocol_versions_address": "0x79ADD5713B383DAa0a138d3C4780C7A1804a8090",
    "alt_da": {
        "da_challenge_contract_address": "0x0000000000000000000000000000000000000000",
        "da_commitment_type": "GenericCommitment",
        "da_challenge_window": 0,
        "da_resolve_window": 0,
    },
    "chain_op_config": {"eip1559Elasticity": 6, "eip1559Denominator": 50,
                        "eip1559DenominatorCanyon": 250},
    "use_plasma": False,
    "da_challenge_contract_address": "0x0000000000000000000000000000000000000000",
    "da_challenge_window": 0,
    "da_resolve_window": 0,
    # kona writes these too
    "granite_channel_timeout": 50,
    "superchain_config_address": "0xC2Be75506d5724086DEB7245bd260Cc9753911Be",
    "blobs_data": 0,
    "da_challenge_address": "0x0000000000000000000000000000000000000000",
    "interop_message_expiry_window": 3600,
}
SYSTEM_CONFIG_KEYS = {
    "eip1559Params": "0x000000fa00000006",
    "operatorFeeParams": "0x" + "00" * 32,
    "minBaseFee": 0,
    "daFootprintGasScalar": 0,
}


@pytest.fixture
def warnings(log_records):
    return log_records("opfleet.config").records


def every_key() -> dict:
    obj = network_json("op-sepolia")
    obj.update(json.loads(json.dumps(OP_NODE_KEYS)))
    obj["genesis"]["system_config"].update(SYSTEM_CONFIG_KEYS)
    return obj


def test_a_file_with_every_op_node_key_loads_without_warning(tmp_path, warnings):
    path = tmp_path / "rollup.json"
    path.write_text(json.dumps(every_key()))
    config = load_rollup_config({"rollup.config": str(path)})
    assert config.l2_chain_id == 11155420
    assert (config.karst_time, config.keep_karst_upgrade_gas, config.interop_time) == (10, True, 11)
    assert config.pectra_blob_schedule_time == 7 and config.granite_channel_timeout == 50
    assert config.alt_da is not None and config.alt_da["da_commitment_type"] == "GenericCommitment"
    assert warnings == []
    assert unknown_rollup_keys(every_key()) == []


def test_unknown_keys_load_and_warn_once_naming_file_and_keys(tmp_path, warnings):
    obj = network_json("unichain-mainnet")
    obj["fusaka_time"] = 1
    obj["karst_tim"] = 2
    obj["genesis"]["system_config"]["newField"] = "0x01"
    path = tmp_path / "rollup.json"
    path.write_text(json.dumps(obj))
    config = load_rollup_config({"rollup.config": str(path)})
    assert config.to_json() == network_json("unichain-mainnet")
    assert len(warnings) == 1
    record = warnings[0]
    assert record.levelno == logging.WARNING
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["file"] == str(path)
    assert fields["keys"] == "fusaka_time,genesis.system_config.newField,karst_tim"


def test_plugin_network_with_unknown_keys_warns_once(warnings):
    registry = PluginRegistry()
    obj = network_json("op-mainnet")
    obj["experimental"] = {"x": 1}
    registry.add_network("mine", obj)
    assert load_rollup_config({"network": "mine"}, plugins=registry).l2_chain_id == 10
    assert len(warnings) == 1 and warnings[0].fields["file"] == "plugin network mine"  # type: ignore[attr-defined]


def test_built_in_networks_have_no_unknown_keys(warnings):
    from opfleet.config.networks import NETWORKS

    for name in NETWORKS:
        assert unknown_rollup_keys(network_json(name)) == [], name
        load_rollup_config({"network": name})
    assert warnings == []


def test_unknown_keys_nested_and_odd_input():
    assert unknown_rollup_keys([]) == [] and unknown_rollup_keys(None) == []
    obj = network_json("op-mainnet")
    obj["genesis"]["l1"]["parentHash"] = "0x00"
    obj["chain_op_config"]["eip1559Extra"] = 1
    obj["alt_da"] = {"da_commitment_type": "KeccakCommitment", "da_window": 1}
    assert unknown_rollup_keys(obj) == [
        "alt_da.da_window", "chain_op_config.eip1559Extra", "genesis.l1.parentHash"]
    obj["genesis"] = "not an object"
    assert unknown_rollup_keys(obj) == ["alt_da.da_window", "chain_op_config.eip1559Extra"]


def test_legacy_plasma_keys_become_alt_da():
    obj = network_json("op-sepolia")
    obj.update(use_plasma=True, da_challenge_contract_address="0x" + "ab" * 20,
               da_challenge_window=160, da_resolve_window=160)
    config = RollupConfig.from_json(obj)
    assert config.alt_da == {
        "da_challenge_contract_address": "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB",
        "da_commitment_type": "KeccakCommitment",
        "da_challenge_window": 160,
        "da_resolve_window": 160,
    }
    obj["use_plasma"] = False
    assert RollupConfig.from_json(obj).alt_da is None
    obj["plasma_config"] = {"da_commitment_type": "GenericCommitment", "da_challenge_window": 1,
                            "da_resolve_window": 1}
    assert RollupConfig.from_json(obj).alt_da == obj["plasma_config"]
    del obj["plasma_config"]
    obj["use_plasma"] = "yes"
    with pytest.raises(ConfigError, match="use_plasma"):
        RollupConfig.from_json(obj)
