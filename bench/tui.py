"""TUI responsiveness with a big fleet: how long a new snapshot takes to reach the screen. Prints JSON.

``opfleet tui`` runs headless (Textual's ``run_test``) on :func:`opfleet.monitor.tui.demo_fleet`
with ``--nodes`` nodes; each tick gives it the next snapshot (every head moved, like a live
fleet) and waits until the screen has been refreshed. Reported:

- ``first_render_ms``: mount plus the first full table;
- ``tick_ms`` (p50/p95/max): one snapshot applied and painted; the app only rewrites the cells
  that changed, so this should stay far below the refresh interval (2 s by default);
- ``cells_written_per_tick``: what the in-place update actually touched;
- ``arrange_ms``: the pure part (cells, grouping, sort, filter) per tick;
- ``sort_ms`` / ``filter_ms``: a user sort (key ``7``) and a filter keystroke on the big table.

Painting costs the same for 50 or 1,000 nodes: DataTable only renders the rows on screen, and
the app writes only changed cells; what grows with the fleet is ``arrange_ms``. The figures
depend on the machine's load, which is reported too.

Target: tick p50 < 250 ms at 200 nodes (the default refresh interval is 2 s).

    .venv/bin/python bench/tui.py [--nodes 200] [--ticks 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opfleet.monitor.tui import FleetApp, demo_fleet  # noqa: E402
from opfleet.monitor.tui._table import FleetTable  # noqa: E402
from opfleet.monitor.tui._view import arrange  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(nodes: int, ticks: int) -> dict[str, object]:
    snapshots = [demo_fleet(nodes, tick=t) for t in range(ticks + 1)]
    started = time.perf_counter()
    app = FleetApp(snapshot=snapshots[0])
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        first = time.perf_counter() - started
        table = app.query_one(FleetTable)
        tick_times, writes = [], []
        for snapshot in snapshots[1:]:
            before = table.cell_updates
            t0 = time.perf_counter()
            app.show_snapshot(snapshot)
            await pilot.pause()  # until the screen has processed and painted it
            tick_times.append(time.perf_counter() - t0)
            writes.append(table.cell_updates - before)
        rows = table.row_count  # nodes plus one header per (chain, tier) group
        t0 = time.perf_counter()
        await pilot.press("7")
        sort_time = time.perf_counter() - t0
        await pilot.press("slash")
        t0 = time.perf_counter()
        await pilot.press("l")
        filter_time = time.perf_counter() - t0

    t0 = time.perf_counter()
    for snapshot in snapshots:
        arrange(snapshot)
    arrange_time = (time.perf_counter() - t0) / len(snapshots)
    ms = 1000.0
    return {
        "bench": "tui",
        "nodes": nodes,
        "rows": rows,
        "ticks": ticks,
        "first_render_ms": round(first * ms, 1),
        "tick_ms": {"p50": round(statistics.median(tick_times) * ms, 1),
                    "p95": round(_pct(tick_times, 0.95) * ms, 1),
                    "max": round(max(tick_times) * ms, 1)},
        "cells_written_per_tick": round(statistics.mean(writes), 1),
        "arrange_ms": round(arrange_time * ms, 2),
        "sort_ms": round(sort_time * ms, 1),
        "filter_ms": round(filter_time * ms, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "target": "tick p50 < 250 ms, independent of fleet size (only visible rows are painted)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.nodes, args.ticks)), indent=2))


if __name__ == "__main__":
    main()
