from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opfleet.cli.env import Environment
from opfleet.cli.main import main

VECTORS = Path(__file__).parent / "vectors"
SLOW_TESTS = Path(__file__).parent / "slow_tests.txt"


@pytest.hookimpl(tryfirst=True)  # before -m "not slow" deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests listed in slow_tests.txt ``slow``; a listed function that its (collected)
    file no longer defines is an error, so the list cannot rot into a no-op."""
    listed = {line.strip() for line in SLOW_TESTS.read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    modules = {}
    for item in items:
        file, _, name = item.nodeid.partition("::")
        modules[file] = getattr(item, "module", None)
        if f"{file}::{name.split('[')[0]}" in listed:
            item.add_marker(pytest.mark.slow)
    stale = sorted(entry for entry in listed
                   if (module := modules.get(entry.partition("::")[0])) is not None
                   and not hasattr(module, entry.partition("::")[2]))
    if stale:
        raise pytest.UsageError(f"tests/slow_tests.txt names tests that no longer exist: {stale}")


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


class FakeEnvironment(Environment):
    """An Environment with string streams and only the variables a test gives."""

    def __init__(self, vars: dict[str, str] | None = None, stdin: bytes = b"", tty: bool = False):
        super().__init__(
            stdin=io.TextIOWrapper(io.BytesIO(stdin)), stdout=io.StringIO(), stderr=io.StringIO(),
            vars=dict(vars or {}), stdout_isatty=tty, stderr_isatty=tty,
        )


@pytest.fixture
def cli(tmp_path: Path):
    """Run opfleet in-process: ``cli(argv, env={...}, stdin=b"")`` -> Result.

    XDG_CONFIG_HOME points into the test's temporary directory unless the test sets it.
    """

    def run(argv: list[str], env: dict[str, str] | None = None, stdin: bytes = b"") -> Result:
        variables = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
        variables.update(env or {})
        fake = FakeEnvironment(variables, stdin=stdin)
        status = main(argv, fake)
        return Result(status, fake.stdout.getvalue(), fake.stderr.getvalue())

    return run


class LogRecords(logging.Handler):
    """The records one logger emitted during a test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: str, text: str = "") -> list[str]:
        """The messages at ``level`` (``"WARNING"``, …) that contain ``text``."""
        return [r.getMessage() for r in self.records if r.levelname == level and text in r.getMessage()]


@pytest.fixture
def log_records() -> Iterator[Callable[[str], LogRecords]]:
    """``log_records("opfleet.source")`` collects that logger's records, at every level, until the
    test ends. Not caplog: the CLI tests turn propagation off on "opfleet"."""
    attached: list[tuple[logging.Logger, LogRecords]] = []

    def attach(name: str) -> LogRecords:
        logger, handler = logging.getLogger(name), LogRecords()
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        attached.append((logger, handler))
        return handler

    yield attach
    for logger, handler in attached:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
