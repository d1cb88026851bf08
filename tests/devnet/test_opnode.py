"""The reference op-node's rollup.json (only keys that release knows) and finding the binary."""

from __future__ import annotations

import json

import pytest

from opfleet.devnet.engine import DevEngine, ForkTimes
from opfleet.devnet.l1 import L1Chain
from opfleet.devnet.opnode import ROLLUP_KEYS, SYSTEM_CONFIG_KEYS, OpNode, OpNodeConfig, find_op_node, op_node_rollup_json
from opfleet.devnet.rollup import devnet_rollup_config
from opfleet.errors import ConfigError
from opfleet.protocol.rollup_config import RollupConfig


def rollup() -> RollupConfig:
    engine = DevEngine(forks=ForkTimes.up_to("granite"))
    return devnet_rollup_config(L1Chain(), engine, batcher=b"\x11" * 20)


def test_rollup_json_keeps_only_what_the_reference_op_node_knows():
    config = rollup()
    out = op_node_rollup_json(config)
    assert set(out) <= set(ROLLUP_KEYS)
    assert set(out["genesis"]["system_config"]) <= set(SYSTEM_CONFIG_KEYS)
    assert "granite_channel_timeout" not in out and "pectra_blob_schedule_time" not in out
    assert out["granite_time"] == config.granite_time and out["l2_chain_id"] == config.l2_chain_id
    # What op-node reads back is the same rollup (the dropped keys hold this release's constants).
    again = RollupConfig.from_json(json.loads(json.dumps(out)))
    assert again.genesis == config.genesis and again.granite_time == config.granite_time
    assert again.batch_inbox_address == config.batch_inbox_address


def test_op_node_flags_verify_l1_and_stay_on_loopback(tmp_path):
    node = OpNode(OpNodeConfig(rollup=rollup(), l1_url="http://127.0.0.1:1", l1_beacon_url="http://127.0.0.1:1",
                               l2_auth_url="http://127.0.0.1:2", jwt_secret=bytes(32)))
    args = node.args(tmp_path, 9999)
    assert "--l1.trustrpc" not in args and "--p2p.disable" in args
    assert args[args.index("--rpc.addr") + 1] == "127.0.0.1" and args[args.index("--rpc.port") + 1] == "9999"
    assert args[args.index("--l1.rpckind") + 1] == "basic"


def test_find_op_node(tmp_path, monkeypatch):
    monkeypatch.delenv("OPFLEET_OP_NODE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="refnodes/install.sh"):
        find_op_node()
    cached = tmp_path / "cache" / "opfleet" / "refnodes" / "bin" / "op-node"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    cached.chmod(0o755)
    assert find_op_node() == cached
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    on_path = tmp_path / "bin" / "op-node"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert find_op_node() == on_path  # PATH before the cache
    monkeypatch.setenv("OPFLEET_OP_NODE", str(tmp_path / "named"))
    assert find_op_node() == tmp_path / "named"  # the environment before PATH
    assert find_op_node(tmp_path / "explicit") == tmp_path / "explicit"


def test_find_op_node_skips_a_cached_file_that_does_not_run(tmp_path, monkeypatch):
    monkeypatch.delenv("OPFLEET_OP_NODE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "opfleet" / "refnodes" / "bin" / "op-node"
    cached.parent.mkdir(parents=True)
    cached.write_text("not a program\n")
    cached.chmod(0o644)
    with pytest.raises(ConfigError, match="op-node not found"):
        find_op_node()


async def test_an_op_node_binary_that_cannot_start_is_one_config_error(tmp_path):
    node = OpNode(OpNodeConfig(rollup=rollup(), l1_url="http://127.0.0.1:1", l1_beacon_url="http://127.0.0.1:1",
                               l2_auth_url="http://127.0.0.1:1", jwt_secret=bytes(32), rpc_port=1,
                               data_dir=tmp_path / "op-node"),
                  binary=tmp_path / "missing-op-node")
    with pytest.raises(ConfigError, match=r"cannot start op-node \(.*missing-op-node\): .*refnodes/install.sh"):
        await node.run()
