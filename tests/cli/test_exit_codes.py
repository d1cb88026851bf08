"""The exit codes README.md documents are the ones opfleet/cli/exit.py defines, with the same
meaning, and the documented cases exit with them (the cheap ones run here; the status codes,
Ctrl-C and the slower cases have their own tests)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from opfleet import errors
from opfleet.cli.exit import DESCRIPTIONS, ExitStatus, exit_status_for

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_table() -> dict[int, str]:
    """``| code | meaning |`` rows of the README's "Exit codes" section: code -> meaning
    (``10 / 11 / 12 / 13`` rows give each code the whole meaning)."""
    section = README.read_text().split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    table: dict[int, str] = {}
    for line in section.splitlines():
        match = re.match(r"\| *([\d /]+?) *\| *(.+?) *\|$", line)
        if match:
            for code in match[1].split("/"):
                assert int(code) not in table, f"exit code {code} documented twice"
                table[int(code)] = match[2]
    assert table, "README.md has no exit-code table"
    return table


def _head(meaning: str) -> str:
    """What a meaning says before its first parenthesis (the README adds examples there)."""
    return meaning.split("(")[0].strip().rstrip(":").strip()


def test_the_readme_table_lists_exactly_the_exit_codes_opfleet_defines():
    assert sorted(readme_table()) == sorted(int(s) for s in ExitStatus)


def test_each_documented_meaning_is_the_one_exit_py_gives():
    table = readme_table()
    statuses = {ExitStatus.LAGGING: "lagging", ExitStatus.STALLED: "stalled",
                ExitStatus.UNREACHABLE: "unreachable", ExitStatus.DIVERGENT: "divergent"}
    for status in ExitStatus:
        meaning = table[int(status)]
        if status in statuses:  # the one row "status: lagging / stalled / unreachable / divergent"
            words = meaning.split(":", 1)[1].split("/")
            assert words[list(statuses).index(status)].strip() == statuses[status], meaning
            assert DESCRIPTIONS[status].startswith("status:")
        else:
            assert _head(meaning) == _head(DESCRIPTIONS[status]), (int(status), meaning, DESCRIPTIONS[status])


def test_every_exit_code_the_readme_mentions_in_prose_exists():
    codes = {int(s) for s in ExitStatus}
    text = README.read_text()
    mentions = re.findall(r"(?:\(exit|exit code|exits with code|exits|exiting) (\d+)\b", text)
    assert len(mentions) >= 5
    for code in mentions:
        assert int(code) in codes, f"README.md mentions exit {code}, which opfleet does not define"


@pytest.mark.parametrize("error, status", [
    (errors.UsageError("x"), ExitStatus.USAGE), (errors.ConfigError("x"), ExitStatus.CONFIG),
    (errors.DecodeError("x"), ExitStatus.BAD_INPUT), (errors.TemporaryError("x"), ExitStatus.UNAVAILABLE),
    (errors.CriticalError("x"), ExitStatus.CRITICAL), (errors.ResetError("x"), ExitStatus.CRITICAL),
    (errors.NotAvailableYet("x"), ExitStatus.NOT_AVAILABLE_YET), (KeyboardInterrupt(), ExitStatus.INTERRUPTED),
    (RuntimeError("a bug"), ExitStatus.ERROR),
])
def test_each_kind_of_error_exits_as_documented(error, status):
    assert exit_status_for(error) == status


def test_status_verdicts_exit_as_documented():
    from opfleet.cli.status import _EXIT

    assert {verdict: int(status) for verdict, status in _EXIT.items()} == {
        "healthy": 0, "lagging": 10, "stalled": 11, "unreachable": 12, "divergent": 13}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_documented_cases_exit_with_their_codes(cli, tmp_path):
    data = ["--base-port", "0", "--data-dir", str(tmp_path / "devnet")]
    assert cli(["version"]).status == 0
    wrong_flag = cli(["devnet", "--no-such-flag"])
    assert wrong_flag.status == 2
    # a setting that cannot work is refused, never silently replaced by a default
    zero = cli(["devnet", "--block-time", "0", "--duration", "1", *data])
    assert zero.status == 3 and "--block-time must be at least 1" in zero.stderr
    assert len(zero.stderr.strip().splitlines()) == 1
    garbage = cli(["decode", "calldata", "-"], stdin=b"zz not hex")
    assert garbage.status == 4
    # a required endpoint that cannot be reached
    unreachable = cli(["devnet", "--l1", f"http://127.0.0.1:{_closed_port()}", *data])
    assert unreachable.status == 5, unreachable.stderr
    assert "--l1" in unreachable.stderr and "cannot reach" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1
