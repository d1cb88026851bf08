"""Settings precedence (defaults < profile < env < flags) and every error path of profiles."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from opfleet.config import spec
from opfleet.cli.exit import ExitStatus
from opfleet.config import profiles, settings
from opfleet.errors import ConfigError


def show(cli, *argv, env=None):
    result = cli(["profile", "show", "--json", *argv], env=env)
    assert result.status == ExitStatus.OK, result.stderr
    rows = json.loads(result.stdout)["settings"]
    return {row["key"]: row for row in rows}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(cli):
    rows = show(cli, "--for", "source")
    assert rows["rpc.port"]["value"] == 9545 and rows["rpc.port"]["origin"] == "default"
    assert rows["log.level"]["value"] == "info"
    assert rows["l1"]["value"] is None


def test_precedence_profile_then_env(cli, tmp_path):
    profile = write(tmp_path / "p.toml", 'rpc_port = 1111\nl1 = "http://profile:8545"\nnetwork = "op-sepolia"\n')
    rows = show(cli, "--profile", str(profile), env={"OP_NODE_RPC_PORT": "2222"})
    assert rows["rpc.port"] == {**rows["rpc.port"], "value": 2222, "origin": "env",
                                "source": "OP_NODE_RPC_PORT"}
    assert rows["l1"]["value"] == "http://profile:8545" and rows["l1"]["origin"] == "profile"
    assert rows["network"]["origin"] == "profile"
    assert str(profile) in rows["l1"]["source"]


def test_flags_beat_env_beat_profile_beat_defaults():
    command = spec.command("source")
    profile = profiles.parse({"rpc_port": 1, "rpc": {"addr": "10.0.0.1"}, "log_level": "debug"},
                             Path("/p.toml"))
    merged = settings.resolve(command, flags={"rpc.port": "3"},
                              env={"OP_NODE_RPC_PORT": "2", "OP_NODE_LOG_LEVEL": "warn"},
                              profile=profile)
    assert merged["rpc.port"] == 3 and merged.value("rpc.port").origin == "flag"
    assert merged["log.level"] == "warn" and merged.value("log.level").origin == "env"
    assert merged["rpc.addr"] == "10.0.0.1" and merged.value("rpc.addr").origin == "profile"
    assert merged["metrics.port"] == 7300 and merged.value("metrics.port").origin == "default"


def test_op_node_historical_env_names_are_read():
    command = spec.command("source")
    merged = settings.resolve(command, flags={}, profile=None, env={
        "OP_NODE_L1_ETH_RPC": "http://l1:8545", "OP_NODE_L2_ENGINE_RPC": "http://l2:8551",
        "OP_NODE_L2_ENGINE_AUTH": "/secret/jwt.hex"})
    assert merged["l1"] == "http://l1:8545"
    assert merged["l2"] == "http://l2:8551"
    assert merged["l2.jwt-secret"] == "/secret/jwt.hex"


def test_follow_alias_and_lists(cli):
    command = spec.command("light")
    merged = settings.resolve(command, flags={"l2.follow.source": ["http://a:1,http://b:2", "http://c:3"]},
                              env={}, profile=None)
    assert merged["l2.follow.source"] == ["http://a:1", "http://b:2", "http://c:3"]
    env = settings.resolve(command, flags={}, env={"OP_NODE_L2_FOLLOW_SOURCE": "http://s:9545"},
                           profile=None)
    assert env["l2.follow.source"] == ["http://s:9545"]
    assert env["l2.follow.source.rpc-timeout"] == 10.0


def test_follow_flag_alias_reaches_the_setting(cli):
    from opfleet.cli.main import build_parser
    from tests.conftest import FakeEnvironment

    parser = build_parser(FakeEnvironment())
    ns = parser.parse_args(["light", "--follow", "http://a:1", "--l2.follow.source", "http://b:2"])
    assert vars(ns)["l2.follow.source"] == ["http://a:1", "http://b:2"]


def test_per_command_table_overrides_top_level():
    profile = profiles.parse({"rpc_port": 1, "light": {"rpc_port": 2}}, Path("/p.toml"))
    light = settings.resolve(spec.command("light"), flags={}, env={}, profile=profile)
    source = settings.resolve(spec.command("source"), flags={}, env={}, profile=profile)
    assert light["rpc.port"] == 2 and source["rpc.port"] == 1


@pytest.mark.parametrize("document", [
    {"l1_beacon": "http://b:5052"},
    {"l1.beacon": "http://b:5052"},
    {"L1-BEACON": "http://b:5052"},
])
def test_profile_key_spellings(document):
    profile = profiles.parse(document, Path("/p.toml"))
    merged = settings.resolve(spec.command("source"), flags={}, env={}, profile=profile)
    assert merged["l1.beacon"] == "http://b:5052"


def test_relative_paths_in_a_profile_are_relative_to_it(tmp_path):
    profile = profiles.parse({"l2_jwt_secret": "jwt.hex"}, tmp_path / "dir" / "p.toml")
    merged = settings.resolve(spec.command("source"), flags={}, env={}, profile=profile)
    assert merged["l2.jwt-secret"] == str(tmp_path / "dir" / "jwt.hex")


def test_durations():
    assert settings.parse_duration("10s") == 10
    assert settings.parse_duration("1m30s") == 90
    assert settings.parse_duration("500ms") == 0.5
    assert settings.parse_duration("2") == 2
    for bad in ("", "10x", "s", "-1s", "1s2"):
        with pytest.raises(ValueError):
            settings.parse_duration(bad)


# --- error paths: one line naming file, key and expected type, exit code 3 ----------------------


def test_unknown_key_names_file_and_key_and_suggests(cli, tmp_path):
    profile = write(tmp_path / "p.toml", 'rpc_prot = 1\n')
    result = cli(["source", "--profile", str(profile)])
    assert result.status == ExitStatus.CONFIG
    assert str(profile) in result.stderr and "'rpc_prot'" in result.stderr
    assert "did you mean 'rpc_port'" in result.stderr  # the TOML spelling, not the flag's
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(("text", "wanted"), [
    ('l1_beacn = "http://b:5052"\n', "did you mean 'l1_beacon'?"),
    ('[light]\nl2_follow_sorce = ["http://s:9545"]\n', "did you mean 'l2_follow_source'?"),
    ("[lite]\nrpc_port = 1\n", "unknown table [lite]; did you mean [light]?"),
    ("[sorce]\nrpc_port = 1\n", "unknown table [sorce]; did you mean [source]?"),
])
def test_profile_errors_suggest_what_to_write_in_the_profile(cli, tmp_path, text, wanted):
    profile = write(tmp_path / "p.toml", text)
    result = cli(["profile", "show", "--for", "light", "--profile", str(profile)])
    assert result.status == ExitStatus.CONFIG
    assert wanted in result.stderr, result.stderr
    assert "l1.beacon" not in result.stderr and "rpc.port" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_table_holding_settings_is_still_a_setting_prefix(cli, tmp_path):
    profile = write(tmp_path / "p.toml", "[rpc]\nport = 1234\n")
    assert show(cli, "--for", "light", "--profile", str(profile))["rpc.port"]["value"] == 1234


def test_wrong_type_names_expected_type(cli, tmp_path):
    profile = write(tmp_path / "p.toml", 'rpc_port = "high"\n')
    result = cli(["light", "--profile", str(profile)])
    assert result.status == ExitStatus.CONFIG
    assert "'rpc_port'" in result.stderr and "expected a port number" in result.stderr


def test_bad_value_in_profile(cli, tmp_path):
    profile = write(tmp_path / "p.toml", 'log_level = "loud"\n')
    result = cli(["source", "--profile", str(profile)])
    assert result.status == ExitStatus.CONFIG
    assert "one of trace, debug, info, warn, error, crit" in result.stderr


def test_key_not_valid_for_that_command_table(cli, tmp_path):
    profile = write(tmp_path / "p.toml", '[light]\nl1_beacon = "http://b:1"\n')
    result = cli(["light", "--profile", str(profile)])
    assert result.status == ExitStatus.CONFIG
    assert "light.l1_beacon" in result.stderr


def test_invalid_toml(cli, tmp_path):
    profile = write(tmp_path / "p.toml", 'rpc_port = \n')
    result = cli(["source", "--profile", str(profile)])
    assert result.status == ExitStatus.CONFIG
    assert "not valid TOML" in result.stderr and str(profile) in result.stderr


def test_unreadable_profile(cli, tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_bytes(b"\xff\xfe rpc_port = 1")
    result = cli(["source", "--profile", str(profile)])
    assert result.status == ExitStatus.CONFIG
    assert "cannot read profile" in result.stderr
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    assert cli(["source", "--profile", str(directory)]).status == ExitStatus.CONFIG


def test_missing_named_profile_suggests_init(cli):
    result = cli(["source", "--profile", "nope"])
    assert result.status == ExitStatus.CONFIG
    assert "opfleet profile init nope" in result.stderr


def test_profile_from_environment(cli, tmp_path):
    write(tmp_path / "config" / "opfleet" / "profiles" / "main.toml", "rpc_port = 4444\n")
    rows = show(cli, env={"OPFLEET_PROFILE": "main"})
    assert rows["rpc.port"]["value"] == 4444


def test_invalid_profile_name(cli):
    result = cli(["source", "--profile", "../x"])
    assert result.status == ExitStatus.CONFIG


# --- profile init / show / list -------------------------------------------------------------


def test_profile_init_writes_a_starter_that_parses_with_every_line_uncommented(cli, tmp_path):
    result = cli(["profile", "init", "starter"])
    assert result.status == ExitStatus.OK
    path = tmp_path / "config" / "opfleet" / "profiles" / "starter.toml"
    text = path.read_text()
    assert tomllib.loads(text) == {}  # everything is commented out
    assert "OP_NODE_L1_BEACON" in text
    # Uncommenting every setting line gives a valid profile with every setting once.
    import re

    setting_line = re.compile(r"^# [a-z0-9_]+ = ")
    active = "\n".join(line[2:] for line in text.splitlines()
                       if setting_line.match(line) and not line.startswith("# rpc_port = 9546"))
    profile = profiles.parse(tomllib.loads(active), path)
    for command in spec.COMMANDS:
        if command.settings:
            settings.resolve(command, flags={}, env={}, profile=profile)
    assert cli(["profile", "init", "starter"]).status == ExitStatus.USAGE  # no silent overwrite
    assert cli(["profile", "init", "starter", "--force"]).status == ExitStatus.OK
    listed = cli(["profile", "list"])
    assert listed.stdout.strip() == "starter"


def test_profile_show_masks_secrets(cli, tmp_path):
    profile = write(tmp_path / "p.toml",
                    'l1 = "https://user:hunter2@eth.example/v2/abcdefghijklmnopqrstuvwx?key=zzz"\n')
    rows = show(cli, "--profile", str(profile))
    assert "hunter2" not in rows["l1"]["value"]
    assert "abcdefghijklmnopqrstuvwx" not in rows["l1"]["value"]
    assert "zzz" not in rows["l1"]["value"]
    assert rows["l1"]["value"].startswith("https://user:****@eth.example/v2/")
    table = cli(["profile", "show", "--profile", str(profile)])
    assert "hunter2" not in table.stdout and "profile" in table.stdout


def test_mask_keeps_ordinary_urls():
    from opfleet.log import mask_url

    assert mask_url("http://127.0.0.1:9545/10") == "http://127.0.0.1:9545/10"


def test_config_error_message_shape():
    error = ConfigError("bad", source="/etc/x.toml", key="rpc_port")
    assert str(error) == "/etc/x.toml, key 'rpc_port': bad"


def test_profile_show_merges_flags_given_after_double_dash(cli, tmp_path):
    profile = write(tmp_path / "p.toml", "rpc_port = 1111\n")
    rows = show(cli, "--for", "light", "--profile", str(profile), "--",
                "--follow", "http://a:1", "--rpc.port", "7", "--metrics.enabled=false")
    assert rows["l2.follow.source"]["value"] == ["http://a:1"]
    assert rows["rpc.port"]["value"] == 7 and rows["rpc.port"]["origin"] == "flag"
    assert rows["metrics.enabled"]["origin"] == "flag" and rows["metrics.enabled"]["value"] is False
    bad = cli(["profile", "show", "--for", "light", "--", "--nope"])
    assert bad.status == 2 and "--nope" in bad.stderr


SECRET_L1 = "http://admin:hunter2@l1.example:8545/abcdefghijklmnopqrstuvwx?apikey=zzz9"


def _no_secret(text: str) -> None:
    for secret in ("hunter2", "abcdefghijklmnopqrstuvwx", "zzz9"):
        assert secret not in text, text


def test_profile_show_masks_a_url_in_any_setting(cli, tmp_path):
    # devnet's --l1 is "embedded|anvil|URL", a string setting: its password was printed.
    profile = write(tmp_path / "p.toml", f'[devnet]\nl1 = "{SECRET_L1}"\n')
    rows = show(cli, "--for", "devnet", "--profile", str(profile))
    assert rows["l1"]["value"] == "http://admin:****@l1.example:8545/****?apikey=****"
    table = cli(["profile", "show", "--for", "devnet", "--profile", str(profile)])
    assert table.status == ExitStatus.OK and "l1.example" in table.stdout
    _no_secret(table.stdout)
    env_rows = show(cli, "--for", "devnet", env={"OPFLEET_L1": SECRET_L1})
    _no_secret(json.dumps(env_rows))
    assert show(cli, "--for", "devnet")["l1"]["value"] == "embedded"  # not a URL: as it is


def test_a_bad_url_setting_is_named_without_its_secrets(cli):
    result = cli(["source", "--l1", SECRET_L1.replace("http://", "htp://")])
    assert result.status == ExitStatus.CONFIG
    assert "--l1" in result.stderr and "htp://admin:****@l1.example" in result.stderr
    _no_secret(result.stderr)


def test_status_json_prints_node_urls_masked(cli):
    url = SECRET_L1.replace("l1.example:8545", "127.0.0.1:1")  # nothing listens there
    result = cli(["status", "--json", "--timeout", "0.3s", url])
    assert result.status == ExitStatus.UNREACHABLE, result.stderr
    [node] = json.loads(result.stdout)["nodes"]
    assert node["url"] == "http://admin:****@127.0.0.1:1/****?apikey=****"
    _no_secret(result.stdout + result.stderr)
    table = cli(["status", "--timeout", "0.3s", url])
    _no_secret(table.stdout + table.stderr)


def test_the_tui_detail_screen_prints_the_url_masked():
    from opfleet.monitor.model import NodeSnapshot, NodeSpec
    from opfleet.monitor.tui._screens import info_text

    node = NodeSnapshot(NodeSpec("light-1", SECRET_L1.replace("8545", "9545")))
    text = info_text(node, []).plain
    assert "http://admin:****@l1.example:9545/****?apikey=****" in text
    _no_secret(text)


def test_devnet_refuses_an_l1_url_without_printing_its_password(cli, tmp_path):
    result = cli(["devnet", "--l1", SECRET_L1.replace("http://", "ws://"), "--data-dir", str(tmp_path / "d")])
    assert result.status == ExitStatus.CONFIG, result.stderr
    assert "ws://admin:****@l1.example:8545" in result.stderr
    _no_secret(result.stdout + result.stderr)
