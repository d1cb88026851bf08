"""``opfleet devnet --interop --tui`` in a real terminal (tmux): the TUI opens on the fleet profile the
devnet wrote, shows its nodes (the supernode and the light nodes on its routes included), and
``--duration`` ends the TUI and the devnet cleanly (exit status 0, the devnet's logs in its file)."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

from test_devnet_cli import free_base_port

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "monitor"))

from test_tui_cli import Tmux  # noqa: E402  (the monitor tests' private tmux driver)

REPO = Path(__file__).resolve().parents[2]


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
