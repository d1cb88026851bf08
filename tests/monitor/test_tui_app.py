"""``FleetApp`` driven headless with Textual's Pilot: static snapshots and a live engine.

pytest runs in trio_mode, which claims every ``async def`` test (even ones marked asyncio), so
these tests are synchronous and run Textual's asyncio loop with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from monitor_helpers import FakeNode, ThreadedFleet
from rich.console import Console

from opfleet.monitor import NodeSpec, Role
from opfleet.monitor.engine import FleetMonitor
from opfleet.monitor.tui import FleetApp, demo_fleet
from opfleet.monitor.tui._screens import HelpScreen, NodeScreen
from opfleet.monitor.tui._table import FleetTable
from opfleet.monitor.tui._view import COLUMNS, arrange, node_json

SIZE = (160, 50)


def drive(app: FleetApp, body: Callable[[Any], Awaitable[None]], size: tuple[int, int] = SIZE) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(main())


async def until(predicate: Callable[[], bool], pilot: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


def table(app: FleetApp) -> FleetTable:
    return app.query_one(FleetTable)


def cell(app: FleetApp, node: str, column: str) -> str:
    return table(app).get_cell(f"node:{node}", column).plain


def nodes_in_order(app: FleetApp, prefix: str = "") -> list[str]:
    return [k.removeprefix("node:") for k in table(app).row_keys()
            if k.startswith("node:" + prefix)]


def text_of(widget: Any) -> str:
    """What a Static shows, as plain text (rich tables rendered at a fixed width)."""
    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def summary(app: FleetApp) -> str:
    return text_of(app.query_one("#summary"))


def test_rows_show_the_fleet_grouped_with_heads_and_health():
    snapshot = demo_fleet(12)
    app = FleetApp(snapshot=snapshot)

    async def body(pilot: Any) -> None:
        assert table(app).row_keys() == [r.key for r in arrange(snapshot)]
        assert cell(app, "seq-901", "unsafe") == "12,000"
        assert cell(app, "light-901-001", "lag_safe") == "40 80s"
        assert cell(app, "light-902-002", "health") == "DOWN"
        # the cursor starts on the first node, not on a group header
        assert table(app).highlighted_key == "node:seq-901"
        assert "12 nodes · 11 up" in summary(app)

    drive(app, body)


def test_sort_keys_sort_reverse_and_reset():
    app = FleetApp(snapshot=demo_fleet(12))

    async def body(pilot: Any) -> None:
        profile_order = nodes_in_order(app, "light-901")
        await pilot.press("7")  # safe lag, ascending
        assert nodes_in_order(app, "light-901")[-1] == "light-901-001"
        assert "sort: Safe lag ↑" in summary(app)
        await pilot.press("7")  # again: descending
        assert nodes_in_order(app, "light-901")[0] == "light-901-001"
        assert "sort: Safe lag ↓" in summary(app)
        await pilot.press("7")  # a third time: back to profile order
        assert nodes_in_order(app, "light-901") == profile_order
        await pilot.press("0")  # health: the DOWN node sinks to the bottom of its group
        assert nodes_in_order(app, "light-902")[-1] == "light-902-002"

    drive(app, body)


def test_sort_keeps_the_cursor_on_the_same_node():
    app = FleetApp(snapshot=demo_fleet(12))

    async def body(pilot: Any) -> None:
        table(app).select_key("node:light-901-001")
        await pilot.press("7", "7")
        assert table(app).highlighted_key == "node:light-901-001"

    drive(app, body)


def test_filter_box_narrows_rows_and_escape_restores_them():
    app = FleetApp(snapshot=demo_fleet(12))

    async def body(pilot: Any) -> None:
        all_rows = table(app).row_keys()
        await pilot.press("slash")
        assert app.query_one("#filter").display
        await pilot.press(*"light 902")
        await pilot.pause()
        assert nodes_in_order(app) == ["light-902-001", "light-902-002", "light-902-003"]
        assert "filter: 'light 902'" in summary(app)
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.focused is table(app)
        await pilot.press("escape")
        assert table(app).row_keys() == all_rows
        assert not app.query_one("#filter").display

    drive(app, body)


def test_enter_opens_the_detail_screen_and_escape_closes_it():
    app = FleetApp(snapshot=demo_fleet(12))

    async def body(pilot: Any) -> None:
        table(app).select_key("node:light-901-001")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NodeScreen) and screen.node_name == "light-901-001"
        info = text_of(screen.query_one("#node-info"))
        assert "follows source-901-a" in info
        assert "follow-source outcomes: error_l1_mismatch=2, success=1200" in info
        assert "RPC latency 3.0 ms" in info
        assert "lagging: light-901-001: unsafe 52 blocks and safe 40 blocks" in info
        heads = text_of(screen.query_one("#node-heads"))
        assert "local-safe" in heads and "11,936" in heads
        changes = text_of(screen.query_one("#node-changes"))
        assert "recent head changes" in changes and "11,948" in changes
        # the detail screen follows new snapshots
        app.show_snapshot(demo_fleet(12, tick=5))
        await pilot.pause()
        assert "11,953" in text_of(screen.query_one("#node-heads"))
        await pilot.press("escape")
        assert not isinstance(app.screen, NodeScreen)

    drive(app, body)


def test_divergence_banner_appears_and_goes_away():
    app = FleetApp(snapshot=demo_fleet(12, divergent=False))

    async def body(pilot: Any) -> None:
        banner = app.query_one("#banner")
        assert not banner.display
        app.show_snapshot(demo_fleet(12))
        await pilot.pause()
        assert banner.display and banner.has_class("-divergent")
        assert "DIVERGENCE chain 901 at unsafe #12,000" in text_of(banner)
        assert cell(app, "light-901-003", "health") == "DIVERGED"
        app.show_snapshot(demo_fleet(12, divergent=False))
        await pilot.pause()
        assert not banner.display

    drive(app, body)


def test_pause_interval_copy_and_help_keys():
    snapshot = demo_fleet(12)
    app = FleetApp(snapshot=snapshot, interval=2.0)

    async def body(pilot: Any) -> None:
        await pilot.press("p")
        assert app.paused and "PAUSED" in summary(app)
        await pilot.press("p")
        assert not app.paused and "PAUSED" not in summary(app)
        await pilot.press("plus")
        assert app.interval == 1.0 and "every 1s" in summary(app)
        await pilot.press("minus", "minus")
        assert app.interval == 5.0
        table(app).select_key("node:light-902-002")
        await pilot.press("c")
        assert app.clipboard == node_json(snapshot.node("light-902-002"))
        assert json.loads(app.clipboard)["error"] == "connection refused"
        [note] = [n for n in app._notifications if "light-902-002" in n.message]
        assert "\n" not in note.message and "{" not in note.message  # one line, not the JSON
        assert "to the clipboard (OSC 52)" in note.message and len(note.message) < 100
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "copy the node's status as JSON" in text_of(app.screen.query_one("#help-text"))
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

    drive(app, body)


def test_a_tick_updates_cells_in_place():
    app = FleetApp(snapshot=demo_fleet(12))

    async def body(pilot: Any) -> None:
        fleet = table(app)
        rows_before = fleet.row_count
        writes = fleet.cell_updates
        app.show_snapshot(demo_fleet(12, tick=1))
        await pilot.pause()
        assert cell(app, "seq-901", "unsafe") == "12,001"
        changed = fleet.cell_updates - writes
        assert fleet.row_count == rows_before
        # heads moved on every reachable node, but lags, latency and health did not
        assert 0 < changed < rows_before * 10 // 2
        app.show_snapshot(demo_fleet(12, tick=1))
        await pilot.pause()
        assert fleet.cell_updates - writes == changed  # same snapshot: nothing written

    drive(app, body)


def test_two_hundred_nodes_render_and_update():
    big = demo_fleet(200)
    app = FleetApp(snapshot=big)

    async def body(pilot: Any) -> None:
        assert len(nodes_in_order(app)) == 200
        started = time.perf_counter()
        for tick in range(1, 6):
            app.show_snapshot(demo_fleet(200, tick=tick))
            await pilot.pause()
        elapsed = time.perf_counter() - started
        assert cell(app, "seq-901", "unsafe") == "12,005"
        assert elapsed < 10.0  # generous; bench/tui.py reports the real figure
        await pilot.press("ctrl+end")
        assert table(app).cursor_row == table(app).row_count - 1

    drive(app, body, size=(160, 50))


def test_live_engine_as_trio_guest_shows_polls_pauses_and_divergence():
    nodes = {"src": FakeNode(200), "light": FakeNode(195)}
    with ThreadedFleet(nodes) as urls:
        specs = [NodeSpec("src", urls["src"], Role.SOURCE, "10"),
                 NodeSpec("light", urls["light"], Role.LIGHT, "10", follows=("src",))]
        monitor = FleetMonitor(specs, interval=0.1, timeout=2.0)
        app = FleetApp(monitor)

        async def body(pilot: Any) -> None:
            await until(lambda: app.snapshots_applied >= 2, pilot)
            assert nodes_in_order(app) == ["src", "light"]
            assert cell(app, "src", "unsafe") == "200"
            assert cell(app, "light", "source_lag") == "5 10s"
            nodes["src"].advance(3)
            await until(lambda: cell(app, "src", "unsafe") == "203", pilot)

            await pilot.press("p")
            await pilot.pause(0.4)  # a poll already under way may still land
            count = app.snapshots_applied
            await pilot.pause(0.5)
            assert app.snapshots_applied == count and monitor.paused
            await pilot.press("p")
            await until(lambda: app.snapshots_applied > count, pilot)

            nodes["light"].fork, nodes["light"].fork_from = 1, 150  # same heights, other hashes
            banner = app.query_one("#banner")
            await until(lambda: banner.display, pilot)
            assert "DIVERGENCE chain 10" in text_of(banner)
            await pilot.press("minus")
            assert monitor.interval == 0.25  # passed to the engine through its trio token

        drive(app, body)
        assert not app._guest.running  # the trio guest ended with the app


class _CrashingMonitor:
    """Stands in for FleetMonitor: publishes one snapshot, then fails."""

    interval = 1.0

    def __init__(self) -> None:
        self.on_snapshot: Callable[[Any], None] | None = None

    async def run(self) -> None:
        import trio

        assert self.on_snapshot is not None
        self.on_snapshot(demo_fleet(4))
        await trio.sleep(0.05)
        raise RuntimeError("engine exploded")


def test_an_engine_crash_ends_the_app_with_its_error():
    app = FleetApp(_CrashingMonitor())

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + 10
            while app.engine_error is None:
                assert time.monotonic() < deadline
                await pilot.pause(0.05)

    asyncio.run(main())
    assert isinstance(app.engine_error, RuntimeError) and str(app.engine_error) == "engine exploded"
    assert app.snapshots_applied == 1 and app.return_value == 1


def test_at_80_columns_the_node_column_shrinks_first_and_health_stays_on_screen():
    # Before: the Node column took 38 columns and Health sat off-screen to the right.
    app = FleetApp(snapshot=demo_fleet(12), interval=2.0)

    async def body(pilot: Any) -> None:
        fleet = table(app)
        assert "health" in fleet.visible_columns and "unsafe" in fleet.visible_columns
        assert "safe" in fleet.visible_columns and "finalized" not in fleet.visible_columns
        assert fleet.max_scroll_x == 0  # nothing to scroll to: every shown column fits
        header = fleet.render_line(0).text
        assert "Health" in header and "Node" in header
        assert "DIVERGED" in fleet.render_line(2).text  # seq-901's health cell
        node_width = fleet.columns[next(k for k in fleet.columns if k.value == "name")].width
        assert node_width < 28  # shrunk below its widest name ("light-901-001 ← source-901-a")
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert fleet.visible_columns == tuple(c.id for c in COLUMNS)  # wide again: all of them
        assert fleet.max_scroll_x == 0

    drive(app, body, size=(80, 24))


def test_fit_columns_shrinks_node_then_drops_the_least_needed():
    from opfleet.monitor.tui._table import DROP_ORDER, NODE_MIN_WIDTH, fit_columns

    every = tuple(c.id for c in COLUMNS)
    assert fit_columns(200, 30) == (every, None)
    assert fit_columns(0, 30) == (every, None)  # not laid out yet
    visible, node = fit_columns(140, 30)  # 146 needed: Node gives way first
    assert visible == every and NODE_MIN_WIDTH <= node < 30
    visible, node = fit_columns(78, 30)
    assert "health" in visible and visible[0] == "name" and node >= NODE_MIN_WIDTH
    dropped = set(every) - set(visible)
    assert dropped and dropped == set(DROP_ORDER[:len(dropped)])  # the least needed go first
    assert fit_columns(20, 30)[0][-1] == "health"
