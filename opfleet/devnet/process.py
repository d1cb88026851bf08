"""Child processes the devnet runs (anvil, op-geth, op-node): how they are found, started and
stopped, and how their last words go into a one-line error."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import trio

from opfleet.errors import ConfigError
from opfleet.providers.jsonrpc import JsonRpcClient


def refnodes_dir() -> Path:
    """Where ``../shared/refnodes/install.sh`` unpacks op-geth and op-node by default."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opfleet" / "refnodes" / "bin"


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_reference_binary(*, env: str, on_path: Mapping[str, Callable[[str], bool] | None],
                          cached: str) -> Path | None:
    """A reference binary, first match wins: ``$env``; a name of ``on_path`` on ``PATH`` (in
    order; its check, if any, accepting it); ``refnodes_dir()/cached``. None: none of them."""
    named = os.environ.get(env)
    if named:
        return Path(named)
    for name, accept in on_path.items():
        found = shutil.which(name)
        if found and (accept is None or accept(found)):
            return Path(found)
    path = refnodes_dir() / cached
    return path if is_executable(path) else None


async def start_process(cmd: Sequence[str], *, what: str, hint: str, **options: Any) -> trio.Process:
    """Start ``cmd`` with stdin closed (``options`` go to ``trio.lowlevel.open_process``, e.g. where
    its output goes); a one-line ConfigError naming the binary and ``hint`` if it cannot start."""
    try:
        return await trio.lowlevel.open_process(list(cmd), stdin=subprocess.DEVNULL, **options)
    except OSError as exc:
        raise ConfigError(f"cannot start {what} ({cmd[0]}): {exc}; {hint}") from None


async def first_answer(rpc: JsonRpcClient, method: str, *params: Any, interval: float,
                       alive: Callable[[], bool] = lambda: True) -> tuple[bool, Any]:
    """Call ``method`` until a started program's RPC answers it: ``(True, result)``; ``(False,
    None)`` once ``alive()`` says the program is gone. The caller bounds the wait."""
    while alive():
        try:
            return True, await rpc.call(method, *params)
        except Exception:  # not up yet
            await trio.sleep(interval)
    return False, None


def last_lines(lines: Sequence[str], count: int = 3) -> str:
    """The non-blank lines among the last ``count``, joined by `` / `` (for a one-line error)."""
    return " / ".join(line for line in lines[-count:] if line.strip())


async def stop_process(process: trio.Process, timeout: float) -> None:
    """SIGTERM, up to ``timeout`` seconds for a clean exit, then SIGKILL; close its output pipe.

    Shielded, so a devnet being cancelled still leaves no child behind.
    """
    with trio.CancelScope(shield=True):
        if process.returncode is None:
            process.terminate()
            with trio.move_on_after(timeout):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()
