"""The fleet table: a DataTable that is updated in place, cell by cell.

Each tick the app hands :meth:`FleetTable.show` the rows :func:`~opfleet.monitor.tui._view.arrange`
computed; only cells whose text or colour changed are written, rows are added or removed only
when the fleet (or the filter) changes, and a new order is applied with ``DataTable.sort`` (which
reorders the row index; nothing is re-created). That keeps a 200-node fleet cheap to refresh.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets._data_table import RowKey

from opfleet.monitor.tui._view import COLUMNS, Row, iter_changed

__all__ = ["DROP_ORDER", "FleetTable", "fit_columns"]


class _KeyedCell:
    """The first cell of a row: its text plus the row's key, so a sort can place the row."""

    __slots__ = ("key", "text")

    def __init__(self, key: str, text: Text):
        self.key = key
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.text

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.text)


# On a narrow terminal the Node column shrinks first, then these go, least needed first, so
# that Health (and the heads) always show; 80 columns keeps Node, Unsafe, Safe, lag and Health.
DROP_ORDER = ("finalized", "local_safe", "source_lag", "latency", "lag_safe")
NODE_MIN_WIDTH = 16
_PADDING = 2  # DataTable's cell padding, one each side


def fit_columns(width: int, node_width: int) -> tuple[tuple[str, ...], int | None]:
    """The columns shown at ``width`` and the Node column's width (``None``: its widest cell,
    ``node_width``). Pure, so the rule is tested without a terminal."""
    visible = [c.id for c in COLUMNS]

    def others() -> int:
        return sum((c.width or 0) + _PADDING for c in COLUMNS if c.id in visible and c.id != "name")

    if width <= 0 or node_width + _PADDING + others() <= width:
        return tuple(visible), None
    for drop in (None, *DROP_ORDER):
        if drop is not None:
            visible.remove(drop)
        room = width - _PADDING - others()
        if room >= NODE_MIN_WIDTH:
            return tuple(visible), min(node_width, room)
    return tuple(visible), NODE_MIN_WIDTH


class FleetTable(DataTable[Any]):
    """Fleet rows keyed ``node:<name>`` and ``group:<chain>:<tier>``."""

    def __init__(self, **kw: Any):
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self._shown: dict[str, tuple[Text, ...]] = {}
        self._order: list[str] = []
        self._rows: list[Row] = []
        self._layout: tuple[tuple[str, ...], int | None] = (tuple(c.id for c in COLUMNS), None)
        self.cell_updates = 0  # statistics for tests and the bench: cells written so far

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        visible, node_width = self._layout
        for column in COLUMNS:
            if column.id in visible:
                width = node_width if column.id == "name" and node_width is not None else column.width
                self.add_column(Text(f"{column.label}", justify="right" if column.numeric else "left"),
                                key=column.id, width=width)

    @property
    def visible_columns(self) -> tuple[str, ...]:
        return self._layout[0]

    def on_resize(self) -> None:
        if self._rows:
            self.show(self._rows)

    def _refit(self, rows: list[Row]) -> str | None:
        """Re-lay the columns when the width calls for it; the key the cursor was on, if so."""
        node_width = max((row.cells[0].cell_len for row in rows), default=0)
        layout = fit_columns(self.scrollable_content_region.width, node_width)  # without the scrollbar
        if layout == self._layout:
            return None
        keep = self.highlighted_key
        self._layout = layout
        self.clear(columns=True)
        self._shown, self._order = {}, []
        self._add_columns()
        return keep

    @property
    def highlighted_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # an empty table or a cursor past the end
            return None

    def show(self, rows: list[Row]) -> None:
        """Make the table show ``rows`` in this order, touching only what changed."""
        self._rows = rows
        relaid = self._refit(rows)
        keep = relaid or self.highlighted_key
        wanted = {row.key for row in rows}
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_row(key)
            del self._shown[key]
        column_keys = [c.id for c in COLUMNS]
        visible = self._layout[0]
        shown = [i for i, key in enumerate(column_keys) if key in visible]
        for row in rows:
            old = self._shown.get(row.key)
            if old is None:
                self.add_row(_KeyedCell(row.key, row.cells[0]), *(row.cells[i] for i in shown[1:]),
                             key=row.key)
                self.cell_updates += len(shown)
            else:
                for i in iter_changed(old, row.cells):
                    if column_keys[i] not in visible:
                        continue
                    value: Any = _KeyedCell(row.key, row.cells[0]) if i == 0 else row.cells[i]
                    self.update_cell(row.key, column_keys[i], value,
                                     update_width=(i == 0 and self._layout[1] is None))
                    self.cell_updates += 1
            self._shown[row.key] = row.cells
        order = [row.key for row in rows]
        first_fill = not self._order and relaid is None
        if order != self._order:
            position = {key: i for i, key in enumerate(order)}
            self.sort(column_keys[0], key=lambda cell: position[cell.key])
            self._order = order
            if keep is not None and keep in position and not first_fill:
                self.move_cursor(row=position[keep], animate=False)
            elif first_fill:  # start on the first node, not on a group header
                first = next((i for i, key in enumerate(order) if key.startswith("node:")), 0)
                self.move_cursor(row=first, animate=False)

    def row_keys(self) -> list[str]:
        """The row keys in display order."""
        return [self.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value or "" for i in range(self.row_count)]

    def select_key(self, key: str) -> None:
        """Put the cursor on the row ``key``."""
        self.move_cursor(row=self.get_row_index(RowKey(key)), animate=False)
