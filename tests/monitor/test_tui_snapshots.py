"""SVG snapshots of the TUI's main screens (pytest-textual-snapshot).

Deterministic by construction: :func:`demo_fleet` has fixed data (no clocks, fixed latencies),
the terminal size is fixed, and no notification is on screen. After a deliberate change to the
look, review the report and run ``pytest tests/monitor/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from typing import Any

from opfleet.monitor.tui import FleetApp, demo_fleet
from opfleet.monitor.tui._table import FleetTable

SIZE = (160, 45)


def test_main_screen_with_divergence_banner(snap_compare: Any) -> None:
    assert snap_compare(FleetApp(snapshot=demo_fleet(12)), terminal_size=SIZE)


def test_main_screen_healthy_fleet(snap_compare: Any) -> None:
    healthy = demo_fleet(12, divergent=False, down=False, lagging=False)
    assert snap_compare(FleetApp(snapshot=healthy), terminal_size=SIZE)


def test_node_detail_screen(snap_compare: Any) -> None:
    async def open_lagging_node(pilot: Any) -> None:
        pilot.app.query_one(FleetTable).select_key("node:light-901-001")
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(FleetApp(snapshot=demo_fleet(12)), terminal_size=SIZE,
                        run_before=open_lagging_node)


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(FleetApp(snapshot=demo_fleet(12)), terminal_size=SIZE,
                        press=["question_mark"])


def test_filtered_sorted_and_paused(snap_compare: Any) -> None:
    async def pause_quietly(pilot: Any) -> None:
        pilot.app.paused = True  # as the `p` key, minus its (timed) notification
        pilot.app._draw_summary()

    assert snap_compare(FleetApp(snapshot=demo_fleet(12)), terminal_size=SIZE,
                        press=["slash", *"light", "enter", "7", "7"], run_before=pause_quietly)
