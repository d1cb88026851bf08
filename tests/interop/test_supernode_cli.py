"""``opfleet supernode`` as an operator meets it: per-chain settings from the profile's
[chains.<id>] tables, OP_SUPERNODE_VN_* variables and --vn.<id>/--vn.all flags (in that order of
precedence); every missing or unknown one is a one-line config error; Ctrl-C exits 130."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading

import pytest

from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import extract_passthrough
from opfleet.cli.supernode import chain_settings
from opfleet.protocol.l1_chain_config import L1ChainConfig
from opfleet.testing.derive import FakeL1Chain, make_rollup_config

JWT_A, JWT_B = "0x" + "11" * 32, "0x" + "22" * 32


@pytest.fixture
def files(tmp_path):
    paths = []
    for cid in (901, 902):
        config = dataclasses.replace(make_rollup_config(FakeL1Chain(), canyon_time=0, delta_time=0, ecotone_time=0),
                                     l2_chain_id=cid)
        path = tmp_path / f"chain-{cid}.json"
        path.write_text(json.dumps(config.to_json()))
        paths.append(path)
    (tmp_path / "a.hex").write_text(JWT_A)
    (tmp_path / "b.hex").write_text(JWT_B)
    (tmp_path / "l1-chain-config.json").write_text(json.dumps(L1ChainConfig.at_genesis(900, "prague").to_json()))
    return paths


def dead_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def args(files, *extra: str, l1_chain_config: bool = True) -> list[str]:
    l1 = ["--vn.all.rollup.l1-chain-config", str(files[0].parent / "l1-chain-config.json")] if l1_chain_config else []
    return ["supernode", "--chain", str(files[0]), "--chain", str(files[1]), "--l1", dead_url(),
            "--l1.beacon", dead_url(), "--rpc.port", "0", "--l1.http-poll-interval", "50ms",
            "--log.format", "logfmt", *l1, *extra]


def test_passthrough_flags_are_taken_out_before_parsing():
    rest, taken = extract_passthrough(["supernode", "--vn.901.l2", "http://a", "--l1", "x", "--vn.all.l2.jwt-secret=f",
                                       "--vn.902.flag"])
    assert rest == ["supernode", "--l1", "x"]
    assert taken == [("vn.901.l2", "http://a"), ("vn.all.l2.jwt-secret", "f"), ("vn.902.flag", "true")]
    assert extract_passthrough(["source", "--vn.901.l2", "x"]) == (["source", "--vn.901.l2", "x"], [])


def test_precedence_profile_then_env_then_flags(tmp_path):
    got = chain_settings(
        902, profile_table={"l2": "http://profile", "l2_jwt_secret": "b.hex", "verifier": {"l1-confs": 3}},
        profile_dir=tmp_path, env={"OP_SUPERNODE_VN_ALL_L2": "http://env-all", "OP_SUPERNODE_VN_902_L2": "http://env"},
        passthrough=[("vn.all.l2", "http://flag-all"), ("vn.901.l2", "http://other")])
    assert got["l2"] == ("http://flag-all", "--vn.all.l2")
    assert got["l2.jwt-secret"] == (str(tmp_path / "b.hex"), "[chains.902]")
    assert got["verifier.l1-confs"] == (3, "[chains.902]")
    env_only = chain_settings(902, profile_table=None, profile_dir=None,
                              env={"OP_SUPERNODE_VN_ALL_L2": "http://env-all", "OP_SUPERNODE_VN_902_L2": "http://env"},
                              passthrough=[])
    assert env_only["l2"] == ("http://env", "$OP_SUPERNODE_VN_902_L2")


def test_missing_and_unknown_per_chain_settings_are_config_errors(cli, files, tmp_path):
    missing = cli(args(files, "--vn.all.l2.jwt-secret", str(tmp_path / "a.hex"), "--vn.901.l2", dead_url()))
    assert missing.status == ExitStatus.CONFIG and "chain 902" in missing.stderr and "--vn.902.l2" in missing.stderr
    assert missing.stderr.count("\n") == 1
    unknown = cli(args(files, "--vn.all.l2", dead_url(), "--vn.all.l2.jwt-secret", str(tmp_path / "a.hex"),
                       "--vn.901.bogus", "1"))
    assert unknown.status == ExitStatus.CONFIG and "--vn.901.bogus" in unknown.stderr
    stranger = cli(args(files, "--vn.all.l2", dead_url(), "--vn.all.l2.jwt-secret", str(tmp_path / "a.hex"),
                        "--vn.999.l2", dead_url()))
    assert stranger.status == ExitStatus.CONFIG and "chain 999" in stranger.stderr
    no_chain = cli(["supernode", "--l1", dead_url()])
    assert no_chain.status == ExitStatus.CONFIG and "--chain" in no_chain.stderr


def test_profile_chain_tables_run_until_ctrl_c(cli, files, tmp_path):
    profile = tmp_path / "sn.toml"
    profile.write_text(f'[chains.901]\nl2 = "{dead_url()}"\n"l2.jwt-secret" = "a.hex"\n'
                       '"rollup.l1-chain-config" = "l1-chain-config.json"\n'
                       f'[chains.902]\nl2 = "{dead_url()}"\nl2_jwt_secret = "b.hex"\n'
                       'rollup_l1_chain_config = "l1-chain-config.json"\n')
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = cli(args(files, "--profile", str(profile), "--data-dir", str(tmp_path / "data"),
                          l1_chain_config=False))
    finally:
        timer.cancel()
    assert result.status == ExitStatus.INTERRUPTED, result.stderr
    assert "Traceback" not in result.stderr and "Supernode started" in result.stderr
    assert (tmp_path / "data" / "901" / "logs.db").exists() and (tmp_path / "data" / "902" / "logs.db").exists()
