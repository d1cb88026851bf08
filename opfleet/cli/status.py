"""``opfleet status``: the fleet in one table (or JSON) and an exit code for alerting.

Nodes come from ``--fleet FILE`` (:mod:`opfleet.monitor.fleet`) and/or bare URLs. One poll of
:class:`~opfleet.monitor.engine.FleetMonitor`, then the table, grouped by chain and tier. The exit
status is the worst problem found, in this precedence: divergent (13) > unreachable (12) >
stalled (11) > lagging (10); 0 when healthy. ``--json`` prints the stable schema documented in
:mod:`opfleet.monitor.model`. ``--watch DURATION`` repeats until Ctrl-C (exit 130).
``--discover URL...`` prints a fleet profile; ``--check-follow LIGHT SOURCE`` compares a light
node with its source (exit 0, 13 when they differ, 3 when they are not even the same chain).
Each role is judged by the heads it owns (:func:`opfleet.monitor.analysis.owned_heads`).
"""

from __future__ import annotations

import json
import signal
from typing import Any

import trio

from opfleet.cli._fleet import watched_nodes
from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.errors import UsageError

_EXIT = {
    "healthy": ExitStatus.OK,
    "lagging": ExitStatus.LAGGING,
    "stalled": ExitStatus.STALLED,
    "unreachable": ExitStatus.UNREACHABLE,
    "divergent": ExitStatus.DIVERGENT,
}
_COLOUR = {"healthy": "green", "lagging": "yellow", "stalled": "yellow", "unreachable": "red",
           "divergent": "bold red"}


def exit_status(snapshot: Any) -> ExitStatus:
    """The exit status for a snapshot: its verdict (divergent > unreachable > stalled > lagging)."""
    return _EXIT[snapshot.verdict.value]


def _specs(ctx: Context) -> tuple[str, list[Any]]:
    return watched_nodes(ctx, none="no nodes to watch: give node URLs or --fleet FILE")


def _thresholds(ctx: Context) -> Any:
    from opfleet.monitor.analysis import Thresholds

    unsafe = int(ctx.setting("max-unsafe-lag"))
    safe = int(ctx.setting("max-safe-lag"))
    derivation = int(ctx.setting("max-derivation-lag"))
    if unsafe < 0 or safe < 0 or derivation < 0:
        raise UsageError("--max-unsafe-lag, --max-safe-lag and --max-derivation-lag must not be negative")
    return Thresholds(max_unsafe_lag=unsafe, max_safe_lag=safe, max_derivation_lag=derivation)


# --- rendering ------------------------------------------------------------------------------------


def _console(ctx: Context) -> Any:
    from opfleet.cli.env import rich_console

    return rich_console(ctx.env.stdout, force_terminal=ctx.env.stdout_isatty,
                        no_color=not ctx.env.stdout_isatty, width=None if ctx.env.stdout_isatty else 160)


def _lag(lag: Any) -> str:
    return "-" if lag is None or lag.blocks is None else str(lag.blocks)


def _upstream(node: Any) -> str:
    """A light node's safe lag behind its source; a deriving node's L1 blocks behind its L1 head."""
    if node.derivation_lag is not None:
        return f"{_lag(node.derivation_lag)} L1"
    return _lag(node.source_lag_safe)


def _head(node: Any, head: str) -> str:
    ref = node.heads.get(head)
    return "-" if ref is None else f"{ref.number}"


def render_table(snapshot: Any, *, title: str = "") -> Any:
    """A rich Table of the snapshot, one section per chain and tier."""
    from rich.table import Table
    from rich.text import Text

    verdict = snapshot.verdict.value
    label = f"{title} · " if title else ""
    table = Table(title=Text(f"{label}{len(snapshot.nodes)} nodes · {verdict}", style=_COLOUR[verdict]),
                  title_justify="left", header_style="bold")
    for column in ("node", "role", "unsafe", "safe", "finalized", "L1 current", "lag u/s", "src lag s", "rpc ms",
                   "health"):
        table.add_column(column, justify="left" if column in ("node", "role", "health") else "right",
                         no_wrap=column != "health")
    first = True
    for chain, tiers in snapshot.groups.items():
        for role, nodes in tiers.items():
            if not first:
                table.add_section()
            first = False
            table.add_row(Text(f"chain {chain or '?'} · {role.value}", style="bold cyan"))
            for node in nodes:
                state = node.verdict.value
                health = "ok" if node.healthy else "; ".join(
                    a.message.removeprefix(f"{node.name}: ") for a in node.alarms)
                label = node.name if node.proxy is None else f"{node.name} · {node.proxy.summary()}"
                table.add_row(
                    label, node.role.value, _head(node, "unsafe"), _head(node, "safe"),
                    _head(node, "finalized"), _head(node, "current_l1"),
                    f"{_lag(node.lag_unsafe)}/{_lag(node.lag_safe)}" if node.reachable else "-",
                    _upstream(node),
                    "-" if node.latency is None else f"{node.latency * 1000:.0f}",
                    Text(health, style=_COLOUR.get(state, "")),
                )
    fleet_wide = [a for a in snapshot.alarms if a.node is None]
    if fleet_wide:
        table.caption = Text("\n".join(a.message for a in fleet_wide), style="red")
        table.caption_justify = "left"
    return table


def _print(ctx: Context, snapshot: Any, title: str) -> None:
    if ctx.arg("json"):
        ctx.out(json.dumps(snapshot.to_json(), separators=(",", ":") if ctx.arg("watch") else (", ", ": "),
                           indent=None if ctx.arg("watch") else 2))
    else:
        _console(ctx).print(render_table(snapshot, title=title))
    ctx.env.stdout.flush()


# --- modes ----------------------------------------------------------------------------------------


async def _watch(ctx: Context, monitor: Any, title: str, every: float) -> ExitStatus:
    stopped: list[int] = []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for signum in signals:
                    stopped.append(signum)
                    nursery.cancel_scope.cancel()
                    return

            async def loop() -> None:
                async with monitor:
                    while True:
                        snapshot = await monitor.poll_once()
                        if ctx.env.stdout_isatty and not ctx.arg("json"):
                            ctx.env.stdout.write("\x1b[2J\x1b[H")  # redraw in place
                        _print(ctx, snapshot, title)
                        await trio.sleep(every)

            nursery.start_soon(stop_on_signal)
            nursery.start_soon(loop)
    return ExitStatus.INTERRUPTED if stopped else exit_status(monitor.snapshot())


def _discover(ctx: Context, timeout: float) -> ExitStatus:
    from opfleet.monitor.fleet import discover, dumps_profile

    urls = list(ctx.arg("urls", []) or [])
    if not urls:
        raise UsageError("--discover: give the node URLs to ask")
    specs, problems = trio.run(lambda: discover(urls, timeout=timeout))
    for problem in problems:
        ctx.env.stderr.write(f"opfleet: {problem}\n")
    from opfleet.monitor.model import Role

    header = "# fleet profile written by 'opfleet status --discover'"
    unknown = [s.name for s in specs if s.role is Role.LIGHT and not s.follows]
    if unknown:  # an op-node does not say whom it follows
        header += f"; fill in \"follows\" for {', '.join(unknown)}"
    ctx.out(header)
    ctx.env.stdout.write(dumps_profile(specs))
    return ExitStatus.UNAVAILABLE if len(problems) == len(urls) else ExitStatus.OK


def _check_follow(ctx: Context, timeout: float) -> ExitStatus:
    from opfleet.monitor.check import check_follow

    light, source = ctx.arg("check-follow")
    result = trio.run(lambda: check_follow(light, source, timeout=timeout))
    if ctx.arg("json"):
        ctx.out(json.dumps(result.to_json(), indent=2))
    else:
        for line in result.lines():
            ctx.out(line)
    if result.different_chains is not None:
        return ExitStatus.CONFIG  # a wrong pair of URLs, not a divergence
    if not result.reachable:
        return ExitStatus.UNREACHABLE
    if result.divergent:
        return ExitStatus.DIVERGENT
    return ExitStatus.OK if result.compared else ExitStatus.LAGGING


def run(ctx: Context) -> ExitStatus:
    from opfleet.monitor.engine import FleetMonitor

    timeout = float(ctx.setting("timeout"))
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    if ctx.arg("check-follow"):
        return _check_follow(ctx, timeout)
    if ctx.arg("discover"):
        return _discover(ctx, timeout)
    title, specs = _specs(ctx)
    every = float(ctx.arg("watch", 0.0) or 0.0)
    monitor = FleetMonitor(specs, interval=max(every, 0.1), timeout=timeout, thresholds=_thresholds(ctx))
    if every > 0:
        return trio.run(_watch, ctx, monitor, title, every)

    async def once() -> Any:
        async with monitor:
            return await monitor.poll_once()

    snapshot = trio.run(once)
    _print(ctx, snapshot, title)
    return exit_status(snapshot)
