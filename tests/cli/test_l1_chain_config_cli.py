"""``--rollup.l1-chain-config`` as an operator meets it, op-node's rule: an L1 other than mainnet,
Sepolia, Holesky and Hoodi needs the file, for the rollup config's L1 chain, with a blob schedule;
otherwise ``opfleet source``, ``opfleet light`` and ``opfleet supernode`` refuse to start with one
line and exit status 3. A known L1 ignores the flag. The schedule reaches every node part that
builds L1-info deposits."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
from pathlib import Path

import pytest
import trio

from opfleet.cli.exit import ExitStatus
from opfleet.protocol.l1_block_info import BPO1_BLOB_UPDATE_FRACTION, SEPOLIA_BLOB_SCHEDULE
from opfleet.protocol.l1_chain_config import L1ChainConfig
from opfleet.testing.derive import FakeL1Chain, make_rollup_config

JWT = "0x" + "11" * 32


def dead_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def write(path: Path, obj) -> Path:
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


@pytest.fixture
def chain(tmp_path):
    """A rollup.json on L1 chain 900 (a devnet L1: no built-in config), a JWT, and L1 chain configs:
    good (Prague at genesis, BPO1 at 1000), another chain's, and one without a blob schedule."""
    rollup = make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0, ecotone_time=0)
    assert rollup.l1_chain_id == 900
    good = dataclasses.replace(L1ChainConfig.at_genesis(900, "bpo1"),
                               fork_times=(("cancun", 0), ("prague", 0), ("osaka", 1000), ("bpo1", 1000)))
    files = {
        "rollup": write(tmp_path / "rollup.json", rollup.to_json()),
        "jwt": write(tmp_path / "jwt.hex", JWT),
        "good": write(tmp_path / "l1.json", good.to_json()),
        "genesis": write(tmp_path / "genesis.json", {"config": good.to_json(), "alloc": {}}),
        "other": write(tmp_path / "l1-other.json", L1ChainConfig.at_genesis(901, "prague").to_json()),
        "no-schedule": write(tmp_path / "l1-no-schedule.json",
                             {k: v for k, v in good.to_json().items() if k != "blobSchedule"}),
        "garbage": write(tmp_path / "garbage.json", "{not json"),
        "known": write(tmp_path / "sepolia-rollup.json", dataclasses.replace(rollup, l1_chain_id=11155111).to_json()),
    }
    return files, good.blob_schedule


def node_args(command: str, files: dict, rollup: str = "rollup") -> list[str]:
    argv = [command, "--rollup.config", str(files[rollup]), "--l1", dead_url(), "--l2", dead_url(),
            "--l2.jwt-secret", str(files["jwt"]), "--rpc.port", "0", "--l1.http-poll-interval", "50ms",
            "--log.format", "logfmt"]
    if command == "source":
        argv += ["--l1.beacon", dead_url()]
    else:
        argv += ["--follow", dead_url()]
    return argv


def supernode_args(tmp_path: Path, files: dict, *extra: str) -> list[str]:
    paths = []
    for cid in (901, 902):
        config = dataclasses.replace(make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0, ecotone_time=0),
                                     l2_chain_id=cid)
        paths.append(write(tmp_path / f"chain-{cid}.json", config.to_json()))
    return ["supernode", "--chain", str(paths[0]), "--chain", str(paths[1]), "--l1", dead_url(),
            "--l1.beacon", dead_url(), "--rpc.port", "0", "--vn.all.l2", dead_url(),
            "--vn.all.l2.jwt-secret", str(files["jwt"]), "--log.format", "logfmt", *extra]


def one_config_line(result) -> str:
    assert result.status == ExitStatus.CONFIG, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


# --- refused at start-up ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["source", "light"])
def test_an_unknown_l1_without_the_file_is_refused(cli, chain, command):
    files, _ = chain
    line = one_config_line(cli(node_args(command, files)))
    assert "L1 chain 900" in line and "set --rollup.l1-chain-config" in line
    assert "Sepolia (11155111)" in line  # says which L1s need no file


@pytest.mark.parametrize("command", ["source", "light"])
def test_a_file_for_another_chain_is_refused(cli, chain, command):
    files, _ = chain
    line = one_config_line(cli(node_args(command, files) + ["--rollup.l1-chain-config", str(files["other"])]))
    assert str(files["other"]) in line and "key 'chainId'" in line
    assert "chain 901" in line and "l1_chain_id is 900" in line


@pytest.mark.parametrize("command", ["source", "light"])
def test_a_file_without_a_blob_schedule_is_refused(cli, chain, command):
    files, _ = chain
    line = one_config_line(cli(node_args(command, files) + ["--rollup.l1-chain-config", str(files["no-schedule"])]))
    assert str(files["no-schedule"]) in line and "no blob schedule" in line and "key 'blobSchedule'" in line


@pytest.mark.parametrize("bad, match", [("garbage", "invalid JSON"), ("missing", "cannot read L1 chain config")])
def test_an_unreadable_file_is_refused(cli, chain, tmp_path, bad, match):
    files, _ = chain
    path = files.get(bad, tmp_path / "missing.json")
    line = one_config_line(cli(node_args("source", files) + ["--rollup.l1-chain-config", str(path)]))
    assert str(path) in line and match in line


def test_the_supernode_refuses_an_unknown_l1_without_the_file(cli, chain, tmp_path):
    files, _ = chain
    line = one_config_line(cli(supernode_args(tmp_path, files)))
    assert "L1 chain 900" in line and "--vn.all.rollup.l1-chain-config" in line and "--vn.901." in line
    mismatch = one_config_line(cli(supernode_args(tmp_path, files, "--vn.all.rollup.l1-chain-config",
                                                  str(files["other"]))))
    assert "key 'chainId'" in mismatch
    unscheduled = one_config_line(cli(supernode_args(tmp_path, files, "--vn.all.rollup.l1-chain-config",
                                                     str(files["good"]), "--vn.902.rollup.l1-chain-config",
                                                     str(files["no-schedule"]))))
    assert str(files["no-schedule"]) in unscheduled and "no blob schedule" in unscheduled


# --- accepted: the schedule reaches the node's config ---------------------------------------------------


def _settings(files: dict, **extra) -> dict:
    return {"rollup.config": str(files["rollup"]), "l1": "http://l1", "l1.beacon": "http://beacon",
            "l2": "http://l2", "l2.jwt-secret": str(files["jwt"]), "l2.follow.source": ["http://source"], **extra}


@pytest.mark.parametrize("form", ["good", "genesis"])
def test_the_schedule_goes_into_the_source_and_light_configs(chain, form):
    from opfleet.cli.light import light_config
    from opfleet.cli.source import source_config

    files, schedule = chain
    settings = _settings(files, **{"rollup.l1-chain-config": str(files[form])})
    for config in (source_config(settings), light_config({**settings, "sequencer.enabled": True})):
        assert config.blob_schedule == schedule
        assert config.blob_schedule.update_fraction(1000) == BPO1_BLOB_UPDATE_FRACTION


def test_the_environment_and_a_profile_name_the_file_too(cli, chain, tmp_path):
    files, _ = chain
    argv = node_args("source", files)
    by_env = one_config_line(cli(argv, env={"OP_NODE_ROLLUP_L1_CHAIN_CONFIG": str(files["other"])}))
    assert str(files["other"]) in by_env
    profile = write(tmp_path / "p.toml", 'rollup_l1_chain_config = "l1-other.json"\n')
    by_profile = one_config_line(cli(argv + ["--profile", str(profile)]))
    assert str(files["other"]) in by_profile  # relative to the profile


def test_the_supernode_gives_each_chain_its_schedule(chain, tmp_path):
    from opfleet.cli.supernode import supernode_config

    files, schedule = chain
    argv = supernode_args(tmp_path, files)
    refs = [argv[argv.index("--chain") + 1], argv[argv.index("--chain", argv.index("--chain") + 1) + 1]]
    config = supernode_config({"chain": refs, "l1": "http://l1", "l1.beacon": "http://beacon"},
                              passthrough=[("vn.all.l2", "http://l2"), ("vn.all.l2.jwt-secret", str(files["jwt"])),
                                           ("vn.all.rollup.l1-chain-config", str(files["good"]))],
                              env={})
    assert [c.blob_schedule for c in config.chains] == [schedule, schedule]
    by_env = supernode_config({"chain": refs, "l1": "http://l1", "l1.beacon": "http://beacon"}, passthrough=[],
                              env={"OP_SUPERNODE_VN_ALL_L2": "http://l2",
                                   "OP_SUPERNODE_VN_ALL_L2_JWT_SECRET": str(files["jwt"]),
                                   "OP_SUPERNODE_VN_ALL_ROLLUP_L1_CHAIN_CONFIG": str(files["genesis"])})
    assert [c.blob_schedule for c in by_env.chains] == [schedule, schedule]


def test_a_known_l1_ignores_the_flag_and_uses_its_built_in_schedule(chain):
    from opfleet.cli.light import light_config
    from opfleet.cli.source import source_config

    files, _ = chain
    for path in (files["garbage"], files["other"], "/nonexistent/l1.json", None):
        settings = _settings(files, **{"rollup.config": str(files["known"]), "rollup.l1-chain-config": path})
        assert source_config(settings).blob_schedule is SEPOLIA_BLOB_SCHEDULE
        assert light_config(settings).blob_schedule is SEPOLIA_BLOB_SCHEDULE


def test_a_known_l1_with_a_garbage_file_starts(cli, chain):
    files, _ = chain
    timer = threading.Timer(0.8, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = cli(node_args("source", files, rollup="known") + ["--rollup.l1-chain-config", str(files["garbage"])])
    finally:
        timer.cancel()
    assert result.status == ExitStatus.INTERRUPTED, result.stderr
    assert "Source node started" in result.stderr and "garbage" not in result.stderr


# --- the schedule reaches what builds L1-info deposits ---------------------------------------------------


def test_the_source_pipeline_and_the_light_sequencer_get_the_schedule(chain, monkeypatch):
    """SourceNode hands the schedule to its Pipeline, LightNode to its Sequencer (both build the
    L1-info deposit through AttributesBuilder)."""
    import opfleet.node.sequencer as sequencer_module
    import opfleet.node.source as source_module
    from opfleet.cli.light import light_config
    from opfleet.cli.source import source_config
    from opfleet.node.light import LightNode
    from opfleet.node.source import SourceNode

    files, schedule = chain
    settings = _settings(files, **{"rollup.l1-chain-config": str(files["good"]), "rpc.port": 0})
    seen: dict[str, object] = {}
    real_pipeline = source_module.Pipeline

    def pipeline(*args, **kwargs):
        seen["pipeline"] = kwargs.get("blob_schedule")
        made = real_pipeline(*args, **kwargs)
        seen["builder"] = made.builder.blob_schedule
        return made

    monkeypatch.setattr(source_module, "Pipeline", pipeline)

    class Sequencer:
        def __init__(self, *args, **kwargs):
            seen["sequencer"] = kwargs.get("blob_schedule")

    async def run_sequencer(*args, task_status=trio.TASK_STATUS_IGNORED, **kwargs):
        task_status.started()

    monkeypatch.setattr(sequencer_module, "Sequencer", Sequencer)
    monkeypatch.setattr(sequencer_module, "run_sequencer", run_sequencer)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(SourceNode(source_config(settings)).run)
            light = LightNode(light_config({**settings, "sequencer.enabled": True}))
            light._follower._heads_ready.set()  # as if read from the EL
            await light._follower.start_sequencer(nursery, gossip=None)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert seen == {"pipeline": schedule, "builder": schedule, "sequencer": schedule}
