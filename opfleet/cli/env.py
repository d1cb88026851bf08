"""The process environment as an object, so tests can run the CLI in-process."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class Environment:
    """Streams, environment variables and terminal facts the CLI may use.

    ``main(argv, env)`` reads nothing from ``os`` or ``sys`` directly: tests pass their own
    Environment with string buffers and a dict of variables.
    """

    stdin: IO = field(default_factory=lambda: sys.stdin)
    stdout: IO = field(default_factory=lambda: sys.stdout)
    stderr: IO = field(default_factory=lambda: sys.stderr)
    vars: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stdout_isatty: bool | None = None
    stderr_isatty: bool | None = None

    def __post_init__(self) -> None:
        if self.stdout_isatty is None:
            self.stdout_isatty = _isatty(self.stdout)
        if self.stderr_isatty is None:
            self.stderr_isatty = _isatty(self.stderr)

    @property
    def config_dir(self) -> Path:
        """``$XDG_CONFIG_HOME/opfleet`` (``~/.config/opfleet`` when unset)."""
        base = self.vars.get("XDG_CONFIG_HOME") or str(Path(self.vars.get("HOME", "~")) / ".config")
        return Path(base).expanduser() / "opfleet"

    @property
    def stdin_bytes(self) -> bytes:
        buffer = getattr(self.stdin, "buffer", None)
        return buffer.read() if buffer is not None else self.stdin.read().encode()


_CONSOLE_CLASS: Any = None


def rich_console(file: IO, **kw: Any) -> Any:
    """A ``rich.console.Console`` writing to ``file``, for the commands' printed views.

    rich answers a closed pipe by exiting 1 itself; this one lets the ``BrokenPipeError`` reach
    ``main()``, which ends quietly as a Unix tool does (exit 141). rich is imported only here.
    """
    global _CONSOLE_CLASS
    if _CONSOLE_CLASS is None:
        from rich.console import Console

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                self.quiet = True
                raise BrokenPipeError(32, "Broken pipe")

        _CONSOLE_CLASS = _Console
    return _CONSOLE_CLASS(file=file, **kw)


def _isatty(stream: IO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
