"""Completions and the man page are generated from the CLI definition and must be current."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from opfleet.cli import generate
from opfleet.config import spec
from opfleet.cli.exit import ExitStatus

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("relative", sorted(generate.OUTPUTS))
def test_committed_file_is_current(relative):
    committed = (ROOT / relative).read_text()
    assert committed == generate.OUTPUTS[relative](), (
        f"{relative} is stale: run `python -m opfleet.cli.generate`")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_command_prints_the_committed_script(cli, shell):
    result = cli(["completion", shell])
    assert result.status == ExitStatus.OK
    assert result.stdout == generate.SHELLS[shell]()


def _bash_complete(words: list[str]) -> list[str]:
    script = (
        f"source {ROOT / 'completions/opfleet.bash'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_opfleet; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.split("\n") if w]


def test_bash_completes_commands_options_and_values():
    assert _bash_complete(["opfleet", "su"]) == ["supernode"]
    assert _bash_complete(["opfleet", "light", "--fol"]) == ["--follow"]
    assert set(_bash_complete(["opfleet", "source", "--l1.b"])) == {
        "--l1.beacon", "--l1.beacon.seconds-per-slot"}
    assert _bash_complete(["opfleet", "source", "--log.format", "j"]) == ["json"]
    assert _bash_complete(["opfleet", "decode", "ch"]) == ["channel"]
    assert _bash_complete(["opfleet", "decode", "channel", "--chain"]) == ["--chain-id"]
    assert _bash_complete(["opfleet", "completion", "z"]) == ["zsh"]


def test_zsh_script_is_valid_zsh():
    zsh = shutil.which("zsh")
    assert zsh, "zsh is needed to check the zsh completion (bash .ci/setup installs it)"
    done = subprocess.run([zsh, "-n", str(ROOT / "completions/_opfleet")], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def _fish_complete(line: str) -> list[str]:
    fish = shutil.which("fish")
    assert fish, "fish is needed to check the fish completion (bash .ci/setup installs it)"
    done = subprocess.run(
        [fish, "--no-config", "-c", f"source {ROOT / 'completions/opfleet.fish'}; complete -C '{line}'"],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [row.split("\t")[0] for row in done.stdout.splitlines()]


def test_fish_completes_commands_options_and_values():
    assert _fish_complete("opfleet sou") == ["source"]
    assert "--l1.beacon" in _fish_complete("opfleet source --l1.")
    assert set(_fish_complete("opfleet source --log.level ")) == {
        "trace", "debug", "info", "warn", "error", "crit"}
    assert set(_fish_complete("opfleet decode ")) == {c.name for c in spec.DECODE.subcommands}


def test_man_page_documents_every_command_and_option():
    page = (ROOT / "man/opfleet.1").read_text().replace("\\-", "-")
    for command in spec.COMMANDS:
        assert f".SS opfleet {command.name}" in page
        for node in (command, *command.subcommands):
            for option in node.options:
                for flag in option.all_flags:
                    assert flag in page, flag


def test_man_page_renders():
    man = shutil.which("man")
    if man is None:
        man = shutil.which("groff")
    assert man, "man or groff is needed to render the man page"
    args = [man, "-l", str(ROOT / "man/opfleet.1")] if man.endswith("man") else \
        [man, "-man", "-Tutf8", str(ROOT / "man/opfleet.1")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60,
                          env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin", "MANPAGER": "cat"})
    assert done.returncode == 0, done.stderr
    assert "opfleet supernode" in done.stdout


def test_network_flags_complete_the_built_in_networks():
    from opfleet.config import networks

    assert set(_bash_complete(["opfleet", "source", "--network", ""])) == set(networks.NETWORKS)
    assert _bash_complete(["opfleet", "light", "--network", "unichain-s"]) == ["unichain-sepolia"]
    assert set(_fish_complete("opfleet source --network ")) == set(networks.NETWORKS)


def test_man_page_has_examples_for_every_command_that_has_them():
    page = (ROOT / "man/opfleet.1").read_text()
    assert ".SH EXAMPLES" in page
    examples = page.split(".SH EXAMPLES", 1)[1].replace("\\-", "-")
    for _, cmd in spec.walk():
        for example in cmd.examples:
            assert example in examples, example
