"""``opfleet tui``: the live fleet view (see :mod:`opfleet.monitor.tui`).

Nodes come from ``--fleet FILE`` (:mod:`opfleet.monitor.fleet`) and/or bare URLs; neither is a
usage error. The trio :class:`~opfleet.monitor.engine.FleetMonitor` runs inside the Textual app
(guest mode), the same engine ``opfleet status`` uses. While the screen is up, opfleet's log
records become notifications instead of lines that would tear the screen. ``q`` quits (exit 0);
SIGINT/SIGTERM from outside end it with 130; a crash of the engine exits 1 with its message.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opfleet.cli._fleet import watched_nodes
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.errors import UsageError


def tui_specs(ctx: Context) -> list[Any]:
    """The nodes to watch: the fleet profile's, then any bare URL not already named there."""
    return watched_nodes(ctx, none="no nodes to watch: give node URLs or --fleet FILE")[1]


def tui_timing(ctx: Context) -> tuple[float, float]:
    interval = float(ctx.setting("interval"))
    timeout = float(ctx.setting("timeout"))
    if interval <= 0:
        raise UsageError("--interval must be positive")
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    return interval, timeout


class _Notify(logging.Handler):
    """Log records as app notifications while the screen is up (warnings and errors only)."""

    def __init__(self, app: Any):
        super().__init__(logging.WARNING)
        self.app = app

    def emit(self, record: logging.LogRecord) -> None:
        try:
            severity = "error" if record.levelno >= logging.ERROR else "warning"
            self.app.notify(record.getMessage(), severity=severity, timeout=6)
        except Exception:  # never let logging break the screen
            pass


@contextmanager
def _logs_to(app: Any) -> Iterator[None]:
    root = logging.getLogger("opfleet")
    saved = list(root.handlers)
    for handler in saved:
        root.removeHandler(handler)
    notify = _Notify(app)
    root.addHandler(notify)
    try:
        yield
    finally:
        root.removeHandler(notify)
        for handler in saved:
            root.addHandler(handler)


def run(ctx: Context) -> ExitStatus:
    specs = tui_specs(ctx)
    interval, timeout = tui_timing(ctx)
    if not ctx.env.stdout_isatty:
        raise UsageError("opfleet tui needs a terminal; in scripts use 'opfleet status' (--json, --watch)")

    from opfleet.monitor.engine import FleetMonitor
    from opfleet.monitor.tui import FleetApp

    try:
        monitor = FleetMonitor(specs, interval=interval, timeout=timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    app = FleetApp(monitor, interval=interval, exit_signals=(signal.SIGTERM,))
    try:
        with _logs_to(app):
            code = app.run()
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    if app.engine_error is not None:
        error = app.engine_error
        message = str(error) or type(error).__name__
        ctx.env.stderr.write(f"opfleet: error: the fleet monitor stopped: {message}\n")
        return ExitStatus.ERROR
    return ExitStatus(code) if code is not None and code in ExitStatus._value2member_map_ else ExitStatus.OK
