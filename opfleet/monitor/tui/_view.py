"""What the fleet table shows, as pure functions of a :class:`~opfleet.monitor.model.FleetSnapshot`.

No Textual here: the columns, the text and colour of every cell, the sort keys, the filter and
the grouping (chain, then tier in :data:`~opfleet.monitor.model.TIER_ORDER`) are computed from
the snapshot alone, so they are tested without a terminal and the widget only copies cells that
changed into its table (it never rebuilds it on a tick).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from opfleet.monitor.analysis import owned_heads
from opfleet.monitor.model import (
    Alarm,
    AlarmKind,
    FleetSnapshot,
    Lag,
    NodeSnapshot,
    Role,
    Verdict,
)

__all__ = [
    "COLUMNS",
    "Column",
    "Row",
    "arrange",
    "divergence_lines",
    "group_key",
    "health",
    "matches",
    "node_cells",
    "node_json",
    "sparkline_data",
]

# Health colours (rich styles); the .tcss styles everything that is a widget, these are cells.
VERDICT_STYLE = {
    Verdict.HEALTHY: "green",
    Verdict.LAGGING: "yellow",
    Verdict.STALLED: "dark_orange",
    Verdict.UNREACHABLE: "bold red",
    Verdict.DIVERGENT: "bold white on red",
}
_DIM = "dim"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the fleet table. ``key`` is the binding that sorts by it."""

    id: str
    label: str
    key: str
    width: int | None  # None: as wide as the widest cell
    sort: Callable[[NodeSnapshot], Any]
    numeric: bool = True


def _number(node: NodeSnapshot, head: str) -> int:
    ref = node.heads.get(head)
    return -1 if ref is None else ref.number


def _blocks(lag: Lag | None) -> int:
    return -1 if lag is None or lag.blocks is None else lag.blocks


def _upstream_lag(node: NodeSnapshot) -> Lag | None:
    """What the "Src lag" column shows: a light node's safe lag behind its source, a deriving
    node's derivation lag (L1 blocks behind its L1 head)."""
    return node.source_lag_safe if node.derivation_lag is None else node.derivation_lag


def _health_rank(node: NodeSnapshot) -> tuple[int, int]:
    return (node.verdict.rank, len(node.alarms))


COLUMNS: tuple[Column, ...] = (
    Column("name", "Node", "1", None, lambda n: n.name.lower(), numeric=False),
    Column("unsafe", "Unsafe", "2", 11, lambda n: _number(n, "unsafe")),
    Column("local_safe", "Local-safe", "3", 11, lambda n: _number(n, "local_safe")),
    Column("safe", "Safe", "4", 11, lambda n: _number(n, "safe")),
    Column("finalized", "Finalized", "5", 11, lambda n: _number(n, "finalized")),
    Column("lag_unsafe", "Unsafe lag", "6", 10, lambda n: _blocks(n.lag_unsafe)),
    Column("lag_safe", "Safe lag", "7", 10, lambda n: _blocks(n.lag_safe)),
    Column("source_lag", "Src lag", "8", 9, lambda n: _blocks(_upstream_lag(n))),
    Column("latency", "RPC", "9", 7,
           lambda n: float("inf") if n.latency is None else n.latency),
    Column("health", "Health", "0", 14, _health_rank, numeric=False),
)
COLUMN_IDS = tuple(c.id for c in COLUMNS)


# --- cells --------------------------------------------------------------------------------------


def health(node: NodeSnapshot, diverged: bool = False) -> Text:
    """One word for the node's worst problem, coloured by its verdict."""
    if diverged or node.verdict is Verdict.DIVERGENT:
        return Text("DIVERGED", style=VERDICT_STYLE[Verdict.DIVERGENT])
    if not node.alarms:
        return Text("ok" if node.reachable else "…", style=VERDICT_STYLE[Verdict.HEALTHY])
    worst = max(node.alarms, key=lambda a: (a.verdict.rank, -_KIND_ORDER.index(a.kind)))
    word = _KIND_WORD[worst.kind]
    more = len({a.kind for a in node.alarms}) - 1
    return Text(word + (f" +{more}" if more else ""), style=VERDICT_STYLE[worst.verdict])


_KIND_ORDER = tuple(AlarmKind)
_KIND_WORD = {
    AlarmKind.DIVERGENT: "DIVERGED",
    AlarmKind.UNREACHABLE: "DOWN",
    AlarmKind.GARBAGE: "GARBAGE",
    AlarmKind.NOT_READY: "NOT READY",
    AlarmKind.SOURCE_DOWN: "SOURCE DOWN",
    AlarmKind.FOLLOW_FAILING: "FOLLOW FAILING",
    AlarmKind.STALLED: "STALLED",
    AlarmKind.LAGGING: "LAGGING",
}


def _head_cell(node: NodeSnapshot, head: str, diverged_heads: frozenset[str]) -> Text:
    ref = node.heads.get(head)
    if ref is None:
        return Text("-", style=_DIM, justify="right")
    style = ""
    if head in diverged_heads:
        style = VERDICT_STYLE[Verdict.DIVERGENT]
    elif head in node.stalled_heads:
        style = VERDICT_STYLE[Verdict.STALLED]
    return Text(f"{ref.number:,}", style=style, justify="right")


def _lag_cell(lag: Lag | None, warn: bool, owned: bool = True, unit: str = "") -> Text:
    """A lag: blocks (and time). A head the node's role does not answer for (a derive-only
    source's unsafe head) is shown dim: a fact, never an alarm."""
    if lag is None or lag.blocks is None:
        return Text("-", style=_DIM, justify="right")
    text = f"{lag.blocks}{unit}"
    if lag.seconds is not None and lag.blocks and not unit:
        text += f" {_seconds(lag.seconds)}"
    style = "yellow" if warn and owned and lag.blocks else ("" if lag.blocks and owned else _DIM)
    return Text(text, style=style, justify="right")


def _seconds(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _latency_cell(node: NodeSnapshot) -> Text:
    if node.latency is None:
        return Text("-", style=_DIM, justify="right")
    ms = node.latency * 1000
    style = "red" if ms >= 1000 else "yellow" if ms >= 250 else ""
    return Text(f"{ms:.0f}ms" if ms >= 10 else f"{ms:.1f}ms", style=style, justify="right")


def node_cells(node: NodeSnapshot, diverged_heads: frozenset[str] = frozenset()) -> tuple[Text, ...]:
    """The row of ``node``, one cell per :data:`COLUMNS` entry."""
    lagging = any(a.kind is AlarmKind.LAGGING for a in node.alarms)
    owned = owned_heads(node.role)
    name = Text(node.name, style="" if node.reachable else "red")
    if node.spec.follows:
        name.append(" ← " + ",".join(node.spec.follows), style=_DIM)
    if node.proxy is not None:
        name.append(" · " + node.proxy.summary(), style="bold red" if node.proxy.halted else _DIM)
    return (
        name,
        _head_cell(node, "unsafe", diverged_heads),
        _head_cell(node, "local_safe", diverged_heads),
        _head_cell(node, "safe", diverged_heads),
        _head_cell(node, "finalized", diverged_heads),
        _lag_cell(node.lag_unsafe, lagging, "unsafe" in owned),
        _lag_cell(node.lag_safe, lagging, "safe" in owned),
        _lag_cell(node.source_lag_safe, lagging) if node.derivation_lag is None
        else _lag_cell(node.derivation_lag, lagging, unit=" L1"),
        _latency_cell(node),
        health(node, diverged=bool(diverged_heads)),
    )


def group_cells(chain: str | None, role: Role, count: int) -> tuple[Text, ...]:
    """The header row of one (chain, tier) group."""
    chain_label = f"chain {chain}" if chain is not None else "chain ?"
    label = Text(f"▾ {chain_label} · {role.value} tier ({count})", style="bold cyan")
    return (label,) + tuple(Text("") for _ in COLUMNS[1:])


# --- arrangement --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the table: a group header (``node`` is None) or a node."""

    key: str
    cells: tuple[Text, ...]
    node: NodeSnapshot | None = None


def group_key(chain: str | None, role: Role) -> str:
    return f"group:{chain if chain is not None else '?'}:{role.value}"


def node_key(name: str) -> str:
    return f"node:{name}"


def matches(node: NodeSnapshot, query: str) -> bool:
    """Does ``node`` match the filter? Every word must appear in its name, URL, role, chain or
    health word (case-insensitive): ``light lagging`` keeps lagging light nodes."""
    words = query.lower().split()
    if not words:
        return True
    haystack = " ".join((
        node.name, node.spec.url, node.role.value, f"chain {node.chain}" if node.chain else "",
        health(node).plain, *(a.kind.value for a in node.alarms),
        "down" if not node.reachable else "up",
    )).lower()
    return all(word in haystack for word in words)


def diverged_heads(snapshot: FleetSnapshot) -> dict[str, frozenset[str]]:
    """Node name -> the head kinds on which it is part of a divergence."""
    out: dict[str, set[str]] = {}
    for div in snapshot.divergences:
        for name in div.hashes:
            out.setdefault(name, set()).add(div.head)
    return {name: frozenset(heads) for name, heads in out.items()}


def arrange(snapshot: FleetSnapshot, *, sort: str | None = None, reverse: bool = False,
            query: str = "") -> list[Row]:
    """The rows to show: groups by chain and tier (model order), nodes filtered by ``query`` and,
    within each group, sorted by the column ``sort`` (profile order when None)."""
    column = next((c for c in COLUMNS if c.id == sort), None)
    marks = diverged_heads(snapshot)
    rows: list[Row] = []
    for chain, tiers in snapshot.groups.items():
        for role, nodes in tiers.items():
            shown = [n for n in nodes if matches(n, query)]
            if not shown:
                continue
            if column is not None:
                shown.sort(key=lambda n: (column.sort(n), n.name), reverse=reverse)
            rows.append(Row(group_key(chain, role), group_cells(chain, role, len(shown))))
            rows.extend(Row(node_key(n.name), node_cells(n, marks.get(n.name, frozenset())), n)
                        for n in shown)
    return rows


# --- banner, sparklines, JSON -------------------------------------------------------------------


def _short(h: bytes) -> str:
    return "0x" + h.hex()[:8] + "…"


def divergence_lines(snapshot: FleetSnapshot, limit: int = 3) -> list[str]:
    """The divergence banner: one line per (chain, height), worst (lowest height) first."""
    lines = []
    for div in sorted(snapshot.divergences, key=lambda d: d.number)[:limit]:
        chain = f"chain {div.chain}" if div.chain is not None else "unknown chain"
        by_hash: dict[bytes, list[str]] = {}
        for name, h in div.hashes.items():
            by_hash.setdefault(h, []).append(name)
        sides = "  vs  ".join(f"{','.join(names)} {_short(h)}" for h, names in by_hash.items())
        lines.append(f"DIVERGENCE {chain} at {div.head} #{div.number:,}: {sides}")
    extra = len(snapshot.divergences) - limit
    if extra > 0:
        lines.append(f"… and {extra} more divergent height(s)")
    return lines


def fleet_alarms(snapshot: FleetSnapshot) -> list[Alarm]:
    """Fleet-wide alarms (no node), e.g. a whole source tier down."""
    return [a for a in snapshot.alarms if a.node is None and a.kind is not AlarmKind.DIVERGENT]


def sparkline_data(node: NodeSnapshot, which: str) -> list[float]:
    """The history of ``which`` ("safe" or "unsafe") lag in blocks, unknown points as 0."""
    attr = "safe_lag" if which == "safe" else "unsafe_lag"
    return [float(getattr(p, attr) or 0) for p in node.history]


def summary(snapshot: FleetSnapshot) -> Text:
    """The one-line fleet summary above the table."""
    total = len(snapshot.nodes)
    up = sum(1 for n in snapshot.nodes if n.reachable)
    unhealthy = sum(1 for n in snapshot.nodes if not n.healthy)
    verdict = snapshot.verdict
    text = Text()
    text.append(f" {verdict.value.upper()} ", style="reverse " + VERDICT_STYLE[verdict].replace("on red", ""))
    text.append(f"  {total} nodes · {up} up · {unhealthy} with alarms · "
                f"{len(snapshot.alarms)} alarm(s)")
    return text


def node_json(node: NodeSnapshot) -> str:
    """The node's ``status --json`` entry, as copied by the ``c`` key."""
    import json

    return json.dumps(node.to_json(), indent=2)


def cell_signature(cell: Text) -> tuple[Any, ...]:
    """What makes two cells look the same (rich's ``Text.__eq__`` ignores the base style)."""
    return (cell.plain, str(cell.style), tuple(cell.spans))


def iter_changed(old: Sequence[Text] | None, new: Sequence[Text]) -> Iterable[int]:
    """Indexes of the cells that differ (all of them when there is no old row)."""
    if old is None or len(old) != len(new):
        return range(len(new))
    return (i for i, (a, b) in enumerate(zip(old, new))
            if cell_signature(a) != cell_signature(b))
