"""``opfleet doctor``: check the specialized topology's Definition of Done against the running fleet.

Nodes come from ``--fleet FILE``, bare URLs, or ``--discover URL...`` (each URL asked what it is).
The fleet is looked at twice ``--window`` apart (:mod:`opfleet.monitor.observe`); the checklist is
:func:`opfleet.monitor.doctor.evaluate`. Exit: 0 every box ✔, 10 some box ? (nothing ✗),
13 some box ✗ (the ``status`` codes for lagging and divergent, reused).
"""

from __future__ import annotations

import json
from typing import Any

import trio

from opfleet.cli._fleet import watched_nodes
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.errors import UsageError

EXIT = {"ok": ExitStatus.OK, "unknown": ExitStatus.LAGGING, "fail": ExitStatus.DIVERGENT}


def _specs(ctx: Context, timeout: float) -> tuple[str, list[Any]]:
    from opfleet.monitor.fleet import discover

    def ask(urls: list[str]) -> list[Any]:
        found, problems = trio.run(lambda: discover(urls, timeout=timeout))
        for problem in problems:
            ctx.env.stderr.write(f"opfleet: {problem}\n")
        return list(found)

    return watched_nodes(ctx, none="no nodes to check: give --fleet FILE, node URLs or --discover URL...",
                         discover=ask if ctx.arg("discover") else None)


def run(ctx: Context) -> ExitStatus:
    from opfleet.monitor.doctor import evaluate
    from opfleet.monitor.observe import observe

    timeout = float(ctx.setting("timeout"))
    window = float(ctx.setting("window"))
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    if window < 0:
        raise UsageError("--window must not be negative")
    prometheus = ctx.setting("prometheus")
    name, specs = _specs(ctx, timeout)
    observation = trio.run(lambda: observe(specs, window=window, timeout=timeout,
                                           prometheus=prometheus, fleet_name=name))
    report = evaluate(observation)
    if ctx.arg("json"):
        ctx.out(json.dumps(report.to_json(), indent=2))
    else:
        title = f"Definition of Done · {name or 'fleet'} · {len(report.nodes)} node(s)"
        ctx.out(title)
        for line in report.lines():
            ctx.out(line)
    return EXIT[report.result.value]
