"""Exit statuses, and the one place that maps errors to them."""

from __future__ import annotations

from enum import IntEnum

from opfleet import errors


class ExitStatus(IntEnum):
    """Every exit code opfleet uses. Scripts may rely on these numbers."""

    OK = 0
    ERROR = 1  # an unexpected failure: a bug in opfleet
    USAGE = 2  # the command line is wrong (argparse's code too)
    CONFIG = 3  # a setting (profile, environment, flag) is wrong
    BAD_INPUT = 4  # input data does not decode
    UNAVAILABLE = 5  # an endpoint we need cannot be reached
    CRITICAL = 6  # derivation hit a critical error and stopped
    NOT_AVAILABLE_YET = 7  # the command exists but is not built yet
    # opfleet status: what is wrong with the fleet, most urgent last
    LAGGING = 10
    STALLED = 11
    UNREACHABLE = 12
    DIVERGENT = 13
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
    BROKEN_PIPE = 141  # our output was closed early (| head): quiet, as shells report SIGPIPE


DESCRIPTIONS: dict[ExitStatus, str] = {
    ExitStatus.OK: "success (status: every node healthy)",
    ExitStatus.ERROR: "unexpected failure (please report it)",
    ExitStatus.USAGE: "the command line is wrong",
    ExitStatus.CONFIG: "a setting is wrong (profile, environment or flag)",
    ExitStatus.BAD_INPUT: "input data does not decode",
    ExitStatus.UNAVAILABLE: "a required endpoint cannot be reached",
    ExitStatus.CRITICAL: "derivation stopped on a critical error",
    ExitStatus.NOT_AVAILABLE_YET: "a feature this setup needs is not available in this version",
    ExitStatus.LAGGING: "status: a node lags beyond the thresholds",
    ExitStatus.STALLED: "status: a node's head stopped moving",
    ExitStatus.UNREACHABLE: "status: a node cannot be reached",
    ExitStatus.DIVERGENT: "status: two nodes disagree on a block hash",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
    ExitStatus.BROKEN_PIPE: "the output was closed early (e.g. piped into head); nothing is reported",
}

_BY_ERROR: tuple[tuple[type[BaseException], ExitStatus], ...] = (
    (errors.UsageError, ExitStatus.USAGE),
    (errors.ConfigError, ExitStatus.CONFIG),
    (errors.InputError, ExitStatus.BAD_INPUT),
    (errors.NotAvailableYet, ExitStatus.NOT_AVAILABLE_YET),
    (errors.TemporaryError, ExitStatus.UNAVAILABLE),
    (errors.CriticalError, ExitStatus.CRITICAL),
    (errors.ResetError, ExitStatus.CRITICAL),
    (KeyboardInterrupt, ExitStatus.INTERRUPTED),
)


def exit_status_for(exc: BaseException) -> ExitStatus:
    for kind, status in _BY_ERROR:
        if isinstance(exc, kind):
            return status
    return ExitStatus.ERROR
