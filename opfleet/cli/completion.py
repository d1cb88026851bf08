"""``opfleet completion bash|zsh|fish``: print the completion script."""

from __future__ import annotations

from opfleet.cli.exit import ExitStatus
from opfleet.cli.generate import SHELLS
from opfleet.cli.main import Context


def run(ctx: Context) -> ExitStatus:
    ctx.env.stdout.write(SHELLS[ctx.args["shell"]]())
    return ExitStatus.OK
