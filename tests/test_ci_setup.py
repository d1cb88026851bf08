"""README.md's test command is exactly what CI runs, so it must pass on a fresh machine as
written: it starts with ``.ci/setup``, which installs what the tests need besides Python (zsh,
fish, tmux, anvil, the reference op-geth and op-node), once, and says nothing when all is there.

Here ``.ci/setup`` runs with a PATH holding only a few basic tools, and stand-ins for apt-get and
npm that record what they were asked and "install" it; the reference binaries are already
verified in the cache (links to the real ones), so nothing is unpacked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "opfleet"


def readme_test_command() -> str:
    """The block after ``<!-- test-command -->``, as .ci/run extracts it."""
    text = (REPO / "README.md").read_text()
    match = re.search(r"<!-- test-command -->\s*```bash\n(.*?)\n```", text, re.S)
    assert match, "README.md has no test command after <!-- test-command -->"
    return match[1].strip()


def test_the_readme_test_command_installs_what_the_tests_need_and_ci_runs_just_that():
    command = readme_test_command()
    assert command.startswith("bash .ci/setup && "), command
    assert command.endswith(".venv/bin/python -m pytest -q")
    # the lint step runs in CI, before the tests, from the extra that pins it
    steps = command.split(" && ")
    assert ".venv/bin/ruff check opfleet" in steps and ".venv/bin/mypy" in steps, command
    assert steps.index(".venv/bin/mypy") < steps.index(".venv/bin/python -m pytest -q")
    assert any("pip install" in step and "lint" in step for step in steps), command
    ci = (REPO / ".ci" / "run").read_text()
    assert 'bash -c "$test_command"' in ci
    # CI installs nothing on its own: what the README command does not install, CI would hide
    assert not re.search(r"^\s*[^#\n]*\b(apt-get|npm install|install\.sh)\b", ci, re.M)


def _stand_ins(tmp: Path) -> tuple[Path, Path]:
    """A bin directory with basic tools and recording apt-get/id stand-ins (apt-get "installs" a
    package as an empty program, and npm as one that "installs" anvil where the tests look for
    it); the call log."""
    calls = tmp / "calls"
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    bash = shutil.which("bash")
    for tool in ("bash", "dirname", "mkdir", "grep", "sha256sum", "chmod", "mv", "cat", "cp", "pwd"):
        real = shutil.which(tool)
        assert real, tool
        (bin_dir / tool).symlink_to(real)

    def script(path: Path, body: str) -> None:
        path.write_text(f"#!{bash}\n{body}\n")
        path.chmod(0o755)

    script(bin_dir / "id", "echo 0")  # root: apt-get directly
    script(tmp / "npm", f"""echo "npm $*" >> {calls}
prefix=""; while [ $# -gt 0 ]; do [ "$1" = --prefix ] && prefix=$2; shift; done
mkdir -p "$prefix/node_modules/@foundry-rs/anvil-linux-amd64/bin"
printf '#!/bin/sh\\n' > "$prefix/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
chmod +x "$prefix/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
""")
    script(bin_dir / "apt-get", f"""echo "apt-get $*" >> {calls}
[ "$1" = install ] || exit 0
for package in "$@"; do
    case $package in
        -*|install) ;;
        npm) cp {tmp}/npm {bin_dir}/npm ;;
        xz-utils) printf '#!/bin/sh\\n' > {bin_dir}/xz; chmod +x {bin_dir}/xz ;;
        *) printf '#!/bin/sh\\n' > {bin_dir}/$package; chmod +x {bin_dir}/$package ;;
    esac
done""")
    return bin_dir, calls


def test_ci_setup_installs_what_is_missing_once_and_is_silent_when_all_is_there(tmp_path):
    bin_dir, calls = _stand_ins(tmp_path)
    cache = tmp_path / "cache"
    refnodes = cache / "opfleet" / "refnodes" / "bin"
    refnodes.mkdir(parents=True)
    for name in ("geth", "op-node"):
        real = REAL_CACHE / "refnodes" / "bin" / name
        assert real.exists(), f"the reference binaries are not unpacked: run {REPO / '.ci' / 'setup'}"
        (refnodes / name).symlink_to(real)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(cache)}

    def setup() -> subprocess.CompletedProcess[str]:
        return subprocess.run([shutil.which("bash"), str(REPO / ".ci" / "setup")], env=env, capture_output=True,
                              text=True, timeout=120)

    first = setup()
    assert first.returncode == 0, first.stderr
    log = calls.read_text().splitlines()
    assert log[0] == "apt-get update -qq"
    assert log[1].startswith("apt-get install -y -qq ")
    assert set(log[1].split()[4:]) == {"zsh", "fish", "tmux", "npm", "xz-utils"}
    assert log[2].startswith("npm install ") and "@foundry-rs/anvil-linux-amd64@1.7.1" in log[2]
    assert f"--prefix {cache}/opfleet/anvil" in log[2]
    assert len(log) == 3
    assert "installing zsh fish tmux npm xz-utils" in first.stderr and "anvil 1.7.1" in first.stderr
    assert first.stdout == ""

    calls.unlink()
    again = setup()  # everything is there now: nothing installed, nothing said
    assert again.returncode == 0, again.stderr
    assert (again.stdout, again.stderr) == ("", "")
    assert not calls.exists()


def test_ci_setup_without_root_or_sudo_names_the_packages_it_needs(tmp_path):
    bin_dir, calls = _stand_ins(tmp_path)
    (bin_dir / "id").write_text(f"#!{shutil.which('bash')}\necho 1000\n")
    result = subprocess.run([shutil.which("bash"), str(REPO / ".ci" / "setup")],
                            env={"PATH": str(bin_dir), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "zsh fish tmux npm xz-utils" in result.stderr and "root" in result.stderr
    assert not calls.exists()
