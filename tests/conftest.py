from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from opfleet.cli.env import Environment
from opfleet.cli.main import main

VECTORS = Path(__file__).parent / "vectors"


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
