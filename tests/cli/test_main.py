"""The command line as an operator meets it: help, errors and exit codes."""

from __future__ import annotations

import pytest

from opfleet.config import spec
from opfleet.cli.exit import DESCRIPTIONS, ExitStatus, exit_status_for
from opfleet import errors



def test_help_lists_every_subcommand(cli):
    result = cli(["--help"])
    assert result.status == ExitStatus.OK
    for name in ("source", "light", "supernode", "tui", "status", "devnet", "decode", "profile",
                 "version", "completion"):
        assert f"    {name}" in result.stdout


def test_no_arguments_prints_help(cli):
    result = cli([])
    assert result.status == ExitStatus.OK
    assert "usage: opfleet" in result.stdout


@pytest.mark.parametrize("command", [c for c in spec.COMMANDS])
def test_every_subcommand_help_documents_its_options(cli, command):
    argvs = [[command.name, "--help"]] + [[command.name, c.name, "--help"] for c in command.subcommands]
    for argv, node in zip(argvs, [command, *command.subcommands]):
        result = cli(argv)
        assert result.status == ExitStatus.OK, result.stderr
        text = " ".join(result.stdout.split())  # argparse wraps lines
        for option in node.options:
            for flag in option.all_flags:
                assert flag in text, f"{flag} missing from {' '.join(argv)}"
            for name in option.env:
                assert name in text.replace("- ", "-").replace(" ", ""), name


def test_unknown_command_is_a_usage_error(cli):
    result = cli(["sauce"])
    assert result.status == ExitStatus.USAGE
    assert "invalid choice: 'sauce'" in result.stderr


def test_unknown_flag_is_a_usage_error(cli):
    result = cli(["source", "--l3", "http://x"])
    assert result.status == ExitStatus.USAGE
    assert "--l3" in result.stderr


def test_bad_flag_value_is_a_config_error_naming_the_flag(cli):
    result = cli(["source", "--rpc.port", "99999"])
    assert result.status == ExitStatus.CONFIG
    assert "--rpc.port" in result.stderr and "port number" in result.stderr


def test_bad_url_is_a_config_error(cli):
    result = cli(["source", "--l1", "localhost:8545"])
    assert result.status == ExitStatus.CONFIG
    assert "--l1" in result.stderr and "URL" in result.stderr


def test_bool_flag_accepts_op_node_equals_form(cli):
    ok = cli(["profile", "show", "--json"])
    assert ok.status == ExitStatus.OK
    result = cli(["source", "--rpc.enable-admin=maybe"])
    assert result.status == ExitStatus.USAGE
    assert "true or false" in result.stderr


def test_decode_and_profile_need_a_subcommand(cli):
    for name in ("decode", "profile"):
        result = cli([name])
        assert result.status == ExitStatus.USAGE
        assert "say what to do" in result.stderr


def test_version(cli):
    result = cli(["version"])
    assert result.status == ExitStatus.OK
    assert result.stdout.startswith("opfleet ")


def test_unexpected_errors_are_one_line_without_traceback(cli, monkeypatch):
    from opfleet.cli import version

    def boom(ctx):
        raise RuntimeError("kaput")

    monkeypatch.setattr(version, "run", boom)
    result = cli(["version"])
    assert result.status == ExitStatus.ERROR
    assert "unexpected error: RuntimeError: kaput" in result.stderr
    assert "Traceback" not in result.stderr
    debug = cli(["version"], env={"OPFLEET_DEBUG": "1"})
    assert "Traceback" in debug.stderr


def test_exit_codes_are_distinct_and_described():
    values = [int(s) for s in ExitStatus]
    assert len(values) == len(set(values))
    assert set(DESCRIPTIONS) == set(ExitStatus)


@pytest.mark.parametrize("error, status", [
    (errors.UsageError("x"), ExitStatus.USAGE),
    (errors.ConfigError("x"), ExitStatus.CONFIG),
    (errors.DecodeError("x", offset=3), ExitStatus.BAD_INPUT),
    (errors.NotAvailableYet("x"), ExitStatus.NOT_AVAILABLE_YET),
    (errors.TemporaryError("x"), ExitStatus.UNAVAILABLE),
    (errors.CriticalError("x"), ExitStatus.CRITICAL),
    (KeyboardInterrupt(), ExitStatus.INTERRUPTED),
    (ValueError("x"), ExitStatus.ERROR),
])
def test_one_place_maps_errors_to_exit_codes(error, status):
    assert exit_status_for(error) == status


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "opfleet", "version"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("opfleet ")


def test_help_does_not_import_heavy_modules():
    import subprocess
    import sys

    code = (
        "import sys; from opfleet.cli.main import main\n"
        "for argv in (['--help'], ['source', '--help'], ['tui', '--help'], ['decode', 'blob', '--help']):\n"
        "    main(argv)\n"
        "heavy = [m for m in ('textual', 'ckzg', 'rlp', 'rich', 'trio', 'httpx', 'coincurve') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in done.stdout, done.stdout[-500:] + done.stderr


# --- a closed pipe (opfleet … | head) --------------------------------------------------------------


def _run_into_closed_pipe(argv: list[str], tmp_path) -> tuple[int, str]:
    """Run ``opfleet ARGV`` with its standard output a pipe nobody reads (``| true``)."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the child writes a byte: every write fails with EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "opfleet", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60,
                              env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)})
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["source", "--help"],
    ["version", "--verbose"],
    ["completion", "bash"],
    ["profile", "show", "--for", "light"],  # a rich table
    ["status", "--json", "--timeout", "0.2s", "http://127.0.0.1:1"],
    ["status", "--timeout", "0.2s", "http://127.0.0.1:1"],  # a rich table
], ids=lambda argv: " ".join(argv))
def test_a_closed_pipe_ends_quietly_like_a_unix_tool(argv, tmp_path):
    status, stderr = _run_into_closed_pipe(argv, tmp_path)
    assert stderr == ""  # no "unexpected error: BrokenPipeError … please report it"
    assert status == ExitStatus.BROKEN_PIPE == 141  # what a shell reports for a tool killed by SIGPIPE


class _ClosedPipe:
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self):
        return False


def test_a_closed_pipe_in_process_is_not_reported_as_a_bug():
    import io

    from opfleet.cli.env import Environment
    from opfleet.cli.main import main

    stderr = io.StringIO()
    env = Environment(stdin=io.StringIO(""), stdout=_ClosedPipe(), stderr=stderr, vars={})
    assert main(["completion", "fish"], env) == ExitStatus.BROKEN_PIPE
    assert stderr.getvalue() == ""


@pytest.mark.parametrize(("argv", "usage", "hint"), [
    (["source", "--l1.beacn", "http://b"], "usage: opfleet source ", "did you mean --l1.beacon?"),
    (["decode", "channel", "--chain-idd", "10", "-"], "usage: opfleet decode channel ", "did you mean --chain-id?"),
    (["status", "--jsn"], "usage: opfleet status ", "did you mean --json?"),
])
def test_a_wrong_flag_prints_the_subcommands_usage_and_the_closest_flag(cli, argv, usage, hint):
    result = cli(argv)
    assert result.status == ExitStatus.USAGE
    assert result.stderr.startswith(usage), result.stderr  # not "usage: opfleet [-h] [--version] COMMAND"
    assert f"opfleet {' '.join(a for a in argv[:2] if not a.startswith('-'))}: error: unrecognized arguments" \
        in result.stderr
    assert hint in result.stderr
    assert "usage: opfleet [-h]" not in result.stderr


def test_top_level_help_imports_no_network_files_or_json():
    # What --help costs is mostly imports; importlib.resources and json (4 ms) only load a network.
    import subprocess
    import sys

    code = (
        "import sys; from opfleet.cli.main import main\n"
        "main(['--help'])\n"
        "print('LOADED', [m for m in ('importlib.resources', 'json', 'tempfile') if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "LOADED []" in done.stdout, done.stdout[-500:] + done.stderr


def test_the_parser_built_for_one_command_helps_exactly_as_the_full_one():
    import io

    from opfleet.cli.env import Environment
    from opfleet.cli.main import build_parser

    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), vars={})
    full = build_parser(env)
    assert build_parser(env, only=None).format_help() == full.format_help()
    for command in spec.COMMANDS:
        lean = build_parser(env, only=command.name)
        assert lean.by_path[(command.name,)][0].format_help() == full.by_path[(command.name,)][0].format_help()
        for child in command.subcommands:
            path = (command.name, child.name)
            assert lean.by_path[path][0].format_help() == full.by_path[path][0].format_help()
    # the lean one really is lean: no other command got its options
    assert build_parser(env, only="decode").by_path[("source",)][0]._actions[1:] == []
