"""``FleetApp``: the Textual fleet view, fed by the one trio monitor engine.

Live, the app hosts :meth:`FleetMonitor.run <opfleet.monitor.engine.FleetMonitor.run>` as a trio
guest of Textual's asyncio loop (:mod:`._guest`); the engine's ``on_snapshot`` posts each new
:class:`~opfleet.monitor.model.FleetSnapshot` as a message, and the app redraws from it. Pause
and the refresh interval are passed back with the engine's own thread-safe ``pause`` and
``set_interval``. Without a monitor (tests, the README capture, the bench) snapshots are given
with :meth:`FleetApp.show_snapshot`.

The app only presents: every number comes from the engine; the one thing kept here is a short
per-node RPC latency history for the detail screen's sparkline.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable, Footer, Input, Label, Sparkline, Static

from opfleet.monitor.model import FleetSnapshot, NodeSnapshot
from opfleet.monitor.tui._guest import TrioGuest
from opfleet.monitor.tui._screens import HelpScreen, NodeScreen
from opfleet.monitor.tui._table import FleetTable
from opfleet.monitor.tui._view import (
    COLUMNS,
    arrange,
    divergence_lines,
    fleet_alarms,
    node_json,
    sparkline_data,
    summary,
)

__all__ = ["FleetApp", "INTERVALS"]

INTERVALS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""The refresh intervals ``+``/``-`` step through (seconds)."""

INTERRUPTED = 130  # the exit status for a signal, as opfleet.cli.exit.ExitStatus.INTERRUPTED
_LATENCY_POINTS = 60
_SORT = Binding.Group("Sort", compact=True)


def _interval_label(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 60 else f"{seconds / 60:g}m"


class FleetApp(App[int]):
    """The fleet view. ``monitor``: a :class:`FleetMonitor` to host (live), or None (static)."""

    CSS_PATH = "opfleet.tcss"
    TITLE = "opfleet"
    ENABLE_COMMAND_PALETTE = False

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("p", "toggle_pause", "Pause"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+"),
        Binding("minus", "slower", "Slower", key_display="-"),
        Binding("c", "copy_node", "Copy JSON"),
        *(Binding(c.key, f"sort('{c.id}')", c.label, group=_SORT) for c in COLUMNS),
    ]

    paused: var[bool] = var(False)
    interval: var[float] = var(2.0)
    sort_column: var[str | None] = var(None)
    sort_reverse: var[bool] = var(False)
    filter_text: var[str] = var("")

    class SnapshotArrived(Message):
        """The engine published a snapshot (posted from the trio guest)."""

        def __init__(self, snapshot: FleetSnapshot):
            super().__init__()
            self.snapshot = snapshot

    def __init__(self, monitor: Any = None, *, snapshot: FleetSnapshot | None = None,
                 interval: float | None = None, exit_signals: tuple[int, ...] = ()):
        super().__init__()
        self.exit_signals = exit_signals
        self.monitor = monitor
        self.snapshot: FleetSnapshot | None = snapshot
        self.snapshots_applied = 0
        self.engine_error: BaseException | None = None
        self._guest = TrioGuest()
        self._latency: dict[str, deque[float]] = {}
        start = interval if interval else getattr(monitor, "interval", 2.0)
        self.set_reactive(FleetApp.interval, float(start))

    # --- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="banner")
        yield Static(id="summary")
        yield Input(placeholder="filter: words that must all match (name, role, chain, health)…",
                    id="filter")
        yield FleetTable(id="fleet")
        with Horizontal(id="trends"):
            with Vertical(classes="trend"):
                yield Label("safe lag", id="safe-label")
                yield Sparkline([], id="safe-spark")
            with Vertical(classes="trend"):
                yield Label("unsafe lag", id="unsafe-label")
                yield Sparkline([], id="unsafe-spark")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#banner").display = False
        self.query_one("#filter").display = False
        self.query_one(FleetTable).focus()
        loop = asyncio.get_running_loop()
        for signum in self.exit_signals:  # e.g. SIGTERM from a supervisor: leave like `q`
            loop.add_signal_handler(signum, self.exit, INTERRUPTED)
        if self.monitor is not None:
            self.monitor.on_snapshot = lambda snap: self.post_message(self.SnapshotArrived(snap))
            self._guest.start(self.monitor.run, on_done=self._engine_done)
        self._redraw()

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self.exit_signals:
            loop.remove_signal_handler(signum)
        await self._guest.stop()

    def _engine_done(self, result: Any) -> None:
        """The engine ended by itself: a crash, or SIGINT delivered to trio. Leave."""
        error = getattr(result, "error", None)
        if isinstance(error, KeyboardInterrupt):
            self.exit(INTERRUPTED)
            return
        self.engine_error = error
        self.exit(1)

    # --- snapshots ------------------------------------------------------------------------------

    @on(SnapshotArrived)
    def _on_snapshot(self, message: SnapshotArrived) -> None:
        self.show_snapshot(message.snapshot)

    def show_snapshot(self, snapshot: FleetSnapshot) -> None:
        """Draw ``snapshot`` (the newest view of the fleet)."""
        self.snapshot = snapshot
        self.snapshots_applied += 1
        for node in snapshot.nodes:
            if node.latency is not None:
                self._latency.setdefault(node.name, deque(maxlen=_LATENCY_POINTS)).append(node.latency)
        self._redraw()

    def latencies(self, name: str) -> list[float]:
        return list(self._latency.get(name, ()))

    def _redraw(self) -> None:
        snapshot = self.snapshot
        self._draw_summary()
        if snapshot is None:
            return
        lines = divergence_lines(snapshot)
        lines += [f"{a.kind.value.upper().replace('_', ' ')}: {a.message}" for a in fleet_alarms(snapshot)]
        banner = self.query_one("#banner", Static)
        banner.display = bool(lines)
        banner.set_class(bool(snapshot.divergences), "-divergent")
        banner.update("\n".join(lines))
        self.query_one(FleetTable).show(
            arrange(snapshot, sort=self.sort_column, reverse=self.sort_reverse, query=self.filter_text))
        self._draw_trends()
        for screen in self.screen_stack:
            if isinstance(screen, NodeScreen):
                screen.show(snapshot, self.latencies(screen.node_name))

    def _draw_summary(self) -> None:
        text = summary(self.snapshot) if self.snapshot is not None else Text(" waiting for the first poll…")
        state = Text()
        if self.paused:
            state.append("  ⏸ PAUSED", style="bold yellow")
        state.append(f"  every {_interval_label(self.interval)}")
        if self.snapshot is not None and self.snapshot.nodes:
            at = datetime.fromtimestamp(self.snapshot.taken_at, UTC).strftime("%H:%M:%SZ")
            state.append(f"  at {at}", style="dim")
        if self.sort_column is not None:
            label = next(c.label for c in COLUMNS if c.id == self.sort_column)
            state.append(f"  sort: {label} {'↓' if self.sort_reverse else '↑'}")
        if self.filter_text:
            state.append(f"  filter: {self.filter_text!r}", style="cyan")
        self.query_one("#summary", Static).update(Text.assemble(text, state))

    def highlighted_node(self) -> NodeSnapshot | None:
        """The node under the cursor (on a group header: the group's first node)."""
        table = self.query_one(FleetTable)
        key = table.highlighted_key
        if self.snapshot is None or key is None:
            return None
        if key.startswith("group:"):
            below = table.cursor_row + 1
            key = table.coordinate_to_cell_key(Coordinate(below, 0)).row_key.value or "" \
                if below < table.row_count else ""
        return self.snapshot.node(key[len("node:"):]) if key.startswith("node:") else None

    def _draw_trends(self) -> None:
        node = self.highlighted_node()
        safe = sparkline_data(node, "safe") if node else []
        unsafe = sparkline_data(node, "unsafe") if node else []
        name = node.name if node else "-"
        self.query_one("#safe-spark", Sparkline).data = safe
        self.query_one("#unsafe-spark", Sparkline).data = unsafe
        self.query_one("#safe-label", Label).update(
            f"{name}: safe lag, blocks (now {safe[-1]:g}, max {max(safe):g})" if safe else f"{name}: safe lag")
        self.query_one("#unsafe-label", Label).update(
            f"{name}: unsafe lag, blocks (now {unsafe[-1]:g}, max {max(unsafe):g})" if unsafe
            else f"{name}: unsafe lag")

    @on(DataTable.RowHighlighted, "#fleet")
    def _on_highlight(self) -> None:
        self._draw_trends()

    @on(DataTable.RowSelected, "#fleet")
    def _on_select(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        if key.startswith("node:"):
            self.open_node(key[len("node:"):])

    @on(DataTable.HeaderSelected, "#fleet")
    def _on_header(self, event: DataTable.HeaderSelected) -> None:
        self.action_sort(str(event.column_key.value))

    def open_node(self, name: str) -> None:
        screen = NodeScreen(name)
        self.push_screen(screen)
        if self.snapshot is not None:
            self.call_after_refresh(screen.show, self.snapshot, self.latencies(name))

    # --- actions --------------------------------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_sort(self, column: str) -> None:
        """Sort by ``column``; the same column again reverses; a third time: profile order."""
        if self.sort_column == column:
            if self.sort_reverse:
                self.sort_column, self.sort_reverse = None, False
            else:
                self.sort_reverse = True
        else:
            self.sort_column, self.sort_reverse = column, False
        self._redraw()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.filter_text = ""
        self.query_one(FleetTable).focus()
        self._redraw()

    @on(Input.Changed, "#filter")
    def _on_filter(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._redraw()

    @on(Input.Submitted, "#filter")
    def _on_filter_done(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.action_clear_filter()
        else:
            self.query_one(FleetTable).focus()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.monitor is not None:
            self.monitor.pause(self.paused)
        self._draw_summary()
        self.notify("paused: the view keeps the last poll" if self.paused else "resumed",
                    timeout=2)

    def _set_interval(self, seconds: float) -> None:
        self.interval = seconds
        if self.monitor is not None:
            self.monitor.set_interval(seconds)
        self._draw_summary()

    def action_faster(self) -> None:
        self._set_interval(max([i for i in INTERVALS if i < self.interval] or [INTERVALS[0]]))

    def action_slower(self) -> None:
        self._set_interval(min([i for i in INTERVALS if i > self.interval] or [INTERVALS[-1]]))

    def action_copy_node(self) -> None:
        """Copy the node's ``status --json`` entry (detail screen: that node; else the cursor's)."""
        screen = self.screen
        node = (self.snapshot.node(screen.node_name) if isinstance(screen, NodeScreen) and self.snapshot
                else self.highlighted_node())
        if node is None:
            self.notify("put the cursor on a node first", severity="warning", timeout=2)
            return
        text = node_json(node)
        self.copy_to_clipboard(text)  # an OSC 52 sequence: the terminal puts it on the clipboard
        # One line: the JSON itself filled half the screen.
        self.notify(f"copied {node.name}'s status as JSON ({len(text):,} bytes) to the clipboard "
                    "(OSC 52)", timeout=4)

    async def action_quit(self) -> None:
        await self._guest.stop()
        self.exit(0)
