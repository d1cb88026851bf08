"""``opfleet devnet --interop --tui`` in a real terminal (tmux): the TUI opens on the fleet profile the
devnet wrote, shows its nodes (the supernode and the light nodes on its routes included), and
``--duration`` ends the TUI and the devnet cleanly (exit status 0, the devnet's logs in its file)."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

import pytest
from e2e_helpers import free_base_port

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "monitor"))

from test_tui_cli import Tmux  # noqa: E402  (the monitor tests' private tmux driver)

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # a whole devnet or fleet: CI runs it; `pytest -m "not slow"` leaves it out


def test_devnet_tui_opens_on_the_devnet_fleet_profile_and_duration_stops_it(tmp_path):
    data = tmp_path / "devnet"
    exit_file = tmp_path / "exit-status"
    devnet = (f"{shlex.quote(sys.executable)} -m opfleet devnet --interop --tui --duration 10 --block-time 1 "
              f"--nodes source=1,light=1 --base-port {free_base_port(32)} --data-dir {shlex.quote(str(data))}")
    command = f"sh -c '{devnet}; echo $? > {shlex.quote(str(exit_file))}'"
    env = {"PYTHONPATH": str(REPO), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
           "TERM": "xterm-256color", "PATH": os.environ.get("PATH", "")}
    terminal = Tmux(180, 50)
    try:
        started = time.monotonic()
        terminal.start(command, env)
        # the TUI's table with the profile's nodes, on both chains, with live heads
        screen = terminal.wait_for(lambda s: all(name in s for name in (
            "source-1", "light-1", "sequencer-902", "route-light-901", "route-light-902", "supernode"))
            and "q Quit" in s, timeout=30)
        assert "901" in screen and "902" in screen
        deadline = started + 45
        while not exit_file.exists() or not exit_file.read_text().strip():
            assert time.monotonic() < deadline, f"opfleet devnet --tui did not stop:\n{terminal.screen()}"
            time.sleep(0.1)
        assert exit_file.read_text().strip() == "0"
        assert (data / "fleet.toml").exists()
        assert "Supernode started" in (data / "devnet.log").read_text()  # logs went to the file, not the TUI
    finally:
        terminal.close()


def test_devnet_tui_takes_the_keyboard_q_quits_and_the_devnet_sums_up(tmp_path):
    """The TUI child reads the terminal (not an empty pipe): ``?`` opens its help, ``q`` ends it
    and the devnet with it (exit 0, long before --duration), the summary then on the terminal and
    the logs, each line naming its node, in devnet.log."""
    data = tmp_path / "devnet"
    exit_file = tmp_path / "exit-status"
    devnet = (f"{shlex.quote(sys.executable)} -m opfleet devnet --tui --duration 120 --block-time 1 "
              f"--nodes source=1,light=1 --base-port {free_base_port(16)} --data-dir {shlex.quote(str(data))}")
    # the pane stays open after the devnet so its last words can be read
    command = f"sh -c '{devnet}; echo $? > {shlex.quote(str(exit_file))}; sleep 60'"
    env = {"PYTHONPATH": str(REPO), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
           "TERM": "xterm-256color", "PATH": os.environ.get("PATH", "")}
    terminal = Tmux(160, 45)
    try:
        terminal.start(command, env)
        terminal.wait_for(lambda s: "source-1" in s and "light-1" in s and "q Quit" in s, timeout=40)
        terminal.keys("?")
        terminal.wait_for(lambda s: "Keys" in s and "Columns" in s, timeout=10)  # the help screen
        terminal.keys("Escape")
        terminal.wait_for(lambda s: "Keys" not in s and "q Quit" in s, timeout=10)
        pressed = time.monotonic()
        terminal.keys("q")
        while not exit_file.exists() or not exit_file.read_text().strip():
            assert time.monotonic() - pressed < 20, f"q did not stop opfleet devnet --tui:\n{terminal.screen()}"
            time.sleep(0.1)
        assert exit_file.read_text().strip() == "0"
        screen = terminal.wait_for(lambda s: "chain 901: " in s, timeout=5)  # its summary's last line
        assert "opfleet devnet stopped after" in screen and "sequenced" in screen and "followed" in screen
    finally:
        terminal.close()
    logged = (data / "devnet.log").read_text().splitlines()
    assert any("Source node started" in line and "node=source-1 chain=901" in line for line in logged)
    assert all(" node=" in line for line in logged)
