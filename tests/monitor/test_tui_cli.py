"""``opfleet tui`` on the command line: usage errors in-process, and the real thing in tmux.

The tmux test starts ``opfleet tui`` in a real terminal (a detached tmux session of 160x50 on a
private tmux server) against loopback fake op-nodes, reads the screen with ``capture-pane``,
presses keys and checks the exit status. It needs tmux (``bash .ci/setup`` installs it).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from monitor_helpers import FakeNode, ThreadedFleet

REPO = Path(__file__).resolve().parents[2]


def test_no_urls_and_no_fleet_is_one_usage_error(cli):
    result = cli(["tui"])
    assert result.status == 2
    assert result.stderr.strip().splitlines() == [
        "opfleet: error: no nodes to watch: give node URLs or --fleet FILE (see 'opfleet tui --help')"]


def test_without_a_terminal_it_points_to_status(cli):
    result = cli(["tui", "http://127.0.0.1:9"])
    assert result.status == 2
    assert "needs a terminal" in result.stderr and "opfleet status" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_interval_and_missing_fleet_file(cli, tmp_path):
    result = cli(["tui", "http://127.0.0.1:9", "--interval", "0s"])
    assert result.status == 2 and "--interval must be positive" in result.stderr
    missing = tmp_path / "nope.toml"
    result = cli(["tui", "--fleet", str(missing)])
    assert result.status == 3 and "fleet profile not found" in result.stderr


def test_help_lists_the_options(cli):
    result = cli(["tui", "--help"])
    assert result.status == 0
    for flag in ("--fleet", "--interval", "--timeout", "URL"):
        assert flag in result.stdout


# --- a real terminal ----------------------------------------------------------------------------


class Tmux:
    """A private tmux server (its own socket) with one detached session."""

    def __init__(self, width: int = 160, height: int = 50):
        tmux = shutil.which("tmux")
        assert tmux, "this test drives a real terminal through tmux: bash .ci/setup installs it"
        self.tmux = tmux
        self.socket = f"opfleet-test-{uuid.uuid4().hex[:8]}"
        self.width, self.height = width, height

    def _run(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-L", self.socket, "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=10)
        return done.stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        """Run ``command`` with exactly ``env`` (``env -i``: an inherited COLUMNS/LINES would
        make the app ignore the real terminal size)."""
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self._run("new-session", "-d", "-x", str(self.width), "-y", str(self.height),
                  f"env -i {exports} {command}")

    def screen(self) -> str:
        return self._run("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        self._run("send-keys", *keys)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"screen never matched; last screen:\n{screen}")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def test_opfleet_tui_in_a_real_terminal(tmp_path):
    nodes = {"a": FakeNode(300), "b": FakeNode(290)}
    exit_file = tmp_path / "exit-status"
    with ThreadedFleet(nodes) as urls:
        terminal = Tmux(160, 50)
        command = (f"sh -c '{shlex.quote(sys.executable)} -m opfleet tui {urls['a']} {urls['b']} "
                   f"--interval 0.2 --timeout 2s; echo $? > {shlex.quote(str(exit_file))}'")
        env = {"PYTHONPATH": str(REPO), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
               "TERM": "xterm-256color", "PATH": os.environ.get("PATH", "")}
        try:
            terminal.start(command, env)
            port_a = urls["a"].rsplit(":", 1)[1]
            # a whole frame: the table header, both rows and the footer
            screen = terminal.wait_for(lambda s: f"127.0.0.1:{port_a}" in s and "300" in s
                                       and "Safe lag" in s and "q Quit" in s and "290" in s)
            row_b = next(line for line in screen.splitlines() if urls["b"].split("//")[1] in line)
            assert "290" in row_b and "10 20s" in row_b  # 10 blocks (20 s) behind the best

            nodes["a"].advance(5)  # live: the new head shows up on the next poll
            terminal.wait_for(lambda s: "305" in s)

            terminal.keys("Enter")  # the detail screen of the node under the cursor
            terminal.wait_for(lambda s: "recent head changes" in s and "follow-source outcomes" in s)
            terminal.keys("Escape")
            terminal.wait_for(lambda s: "recent head changes" not in s)
            time.sleep(0.3)  # let the terminal's escape timeout pass before the next key
            terminal.keys("q")
            deadline = time.monotonic() + 15
            while not exit_file.exists() or not exit_file.read_text().strip():
                assert time.monotonic() < deadline, f"opfleet tui did not quit:\n{terminal.screen()}"
                time.sleep(0.1)
            assert exit_file.read_text().strip() == "0"
        finally:
            terminal.close()


def test_sigterm_from_a_supervisor_leaves_with_130(tmp_path):
    """SIGTERM reaches the app's asyncio handler although trio runs as a guest in the same loop."""
    exit_file, pid_file = tmp_path / "exit-status", tmp_path / "pid"
    with ThreadedFleet({"a": FakeNode(300)}) as urls:
        terminal = Tmux(120, 30)
        command = (f"sh -c 'echo $$ > {shlex.quote(str(pid_file))}; exec sh -c \"{shlex.quote(sys.executable)} "
                   f"-m opfleet tui {urls['a']} --interval 0.2; echo \\$? > {shlex.quote(str(exit_file))}\"'")
        env = {"PYTHONPATH": str(REPO), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
               "TERM": "xterm-256color", "PATH": os.environ.get("PATH", "")}
        try:
            terminal.start(command, env)
            terminal.wait_for(lambda s: "300" in s and "q Quit" in s)
            shell = int(pid_file.read_text())
            children = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True).stdout.split()
            assert children, "opfleet tui is not running"
            os.kill(int(children[0]), signal.SIGTERM)
            deadline = time.monotonic() + 15
            while not exit_file.exists() or not exit_file.read_text().strip():
                assert time.monotonic() < deadline, f"opfleet tui ignored SIGTERM:\n{terminal.screen()}"
                time.sleep(0.1)
            assert exit_file.read_text().strip() == "130"
        finally:
            terminal.close()
