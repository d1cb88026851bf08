"""The per-node detail screen (Enter) and the help screen (``?``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label, Sparkline, Static

from opfleet.log import mask_url
from opfleet.monitor.analysis import DERIVING_ROLES, owned_heads
from opfleet.monitor.model import HEADS, FleetSnapshot, NodeSnapshot, Verdict
from opfleet.monitor.tui._view import COLUMNS, VERDICT_STYLE, health, sparkline_data

__all__ = ["HelpScreen", "NodeScreen"]

_HEAD_LABELS = {
    "unsafe": "unsafe", "cross_unsafe": "cross-unsafe", "local_safe": "local-safe", "safe": "safe",
    "finalized": "finalized", "current_l1": "current L1", "head_l1": "head L1",
}


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%SZ") if ts else "-"


def heads_table(node: NodeSnapshot) -> Table:
    """Every head of the node's sync status: number, hash, time, L1 origin."""
    table = Table(box=None, pad_edge=False, expand=False, header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (("head", "left"), ("number", "right"), ("hash", "left"),
                                                     ("time", "left"), ("L1 origin", "right"))
    for label, justify in columns:
        table.add_column(label, justify=justify)
    if node.status is None:
        table.add_row(Text("no sync status", style="red"), "", "", "", "")
        return table
    for head in HEADS:
        ref = node.heads[head]
        origin = getattr(ref, "l1_origin", None)
        stalled = head in node.stalled_heads
        table.add_row(
            Text(_HEAD_LABELS[head] + (" (stalled)" if stalled else ""),
                 style=VERDICT_STYLE[Verdict.STALLED] if stalled else ""),
            f"{ref.number:,}", "0x" + ref.hash.hex()[:16] + "…", _clock(ref.timestamp),
            f"{origin.number:,}" if origin is not None else "",
        )
    return table


def info_text(node: NodeSnapshot, latencies: Sequence[float]) -> Text:
    """URL, role, chain, RPC latency, follow-source outcomes and alarms."""
    text = Text()
    text.append(f"{node.name}", style="bold")
    text.append(f"  {node.role.value} · chain {node.chain or '?'}\n")
    text.append(f"{mask_url(node.spec.url)}\n", style="dim")
    if node.spec.follows:
        text.append("follows " + ", ".join(node.spec.follows) + "\n")
    text.append("health ")
    text.append_text(health(node))
    text.append("\n")
    if node.error:
        text.append(f"error: {node.error}\n", style="red")
    if node.latency is not None:
        text.append(f"RPC latency {node.latency * 1000:.1f} ms")
        if latencies:
            text.append(f" (min {min(latencies) * 1000:.1f}, max {max(latencies) * 1000:.1f} "
                        f"over {len(latencies)} polls)")
        text.append("\n")
    else:
        text.append("RPC latency -\n", style="dim")
    for label, lag in (("lag behind fleet: unsafe", node.lag_unsafe), ("safe", node.lag_safe),
                       ("behind source: unsafe", node.source_lag_unsafe),
                       ("safe", node.source_lag_safe)):
        if lag is not None and lag.blocks is not None:
            text.append(f"{label} {lag.blocks} blocks ({lag.seconds or 0:.0f}s)  ")
    if node.derivation_lag is not None and node.derivation_lag.blocks is not None:
        text.append(f"derivation behind L1 head {node.derivation_lag.blocks} L1 blocks "
                    f"({node.derivation_lag.seconds or 0:.0f}s)")
    text.append("\n")
    text.append("judged by: " + ", ".join(h.replace("_", "-") for h in owned_heads(node.role))
                + (" and derivation lag" if node.role in DERIVING_ROLES else "") + "\n", style="dim")
    text.append("follow-source outcomes: ", style="bold")
    if node.follow_results is None:
        text.append("n/a (no metrics URL)\n", style="dim")
    else:
        parts = [f"{result}={value:g}" for result, value in sorted(node.follow_results.items())]
        text.append((", ".join(parts) or "none yet") + "\n")
    text.append("alarms: ", style="bold")
    if not node.alarms:
        text.append("none\n", style="green")
    for alarm in node.alarms:
        text.append(f"\n  {alarm.kind.value}: {alarm.message}", style=VERDICT_STYLE[alarm.verdict])
    return text


def changes_table(node: NodeSnapshot, limit: int = 12) -> Table:
    """The most recent head changes, newest first; a move backwards is a reorg."""
    table = Table(box=None, pad_edge=False, header_style="bold", title="recent head changes",
                  title_justify="left", title_style="bold")
    for label in ("time", "head", "from", "to", "hash"):
        table.add_column(label, justify="right" if label in ("from", "to") else "left")
    for change in list(reversed(node.changes))[:limit]:
        table.add_row(_clock(change.at), _HEAD_LABELS.get(change.head, change.head),
                      f"{change.old_number:,}", f"{change.new_number:,}",
                      Text("0x" + change.new_hash.hex()[:12] + "…" + (" reorg" if change.reorg else ""),
                           style="red" if change.reorg else ""))
    if not node.changes:
        table.add_row("-", "", "", "", "")
    return table


class NodeScreen(Screen[None]):
    """Everything known about one node; follows the live snapshots until closed."""

    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("c", "app.copy_node", "Copy JSON"),
    ]

    def __init__(self, node_name: str):
        super().__init__(name=f"node:{node_name}")
        self.node_name = node_name

    def compose(self) -> ComposeResult:
        yield Static(id="node-title")
        with VerticalScroll(id="node-body"):
            with Horizontal(id="node-top"):
                yield Static(id="node-heads")
                yield Static(id="node-info")
            with Horizontal(id="node-trends"):
                with Vertical(classes="trend"):
                    yield Label("safe lag (blocks)", id="node-safe-label")
                    yield Sparkline([], id="node-safe-spark")
                with Vertical(classes="trend"):
                    yield Label("unsafe lag (blocks)", id="node-unsafe-label")
                    yield Sparkline([], id="node-unsafe-spark")
                with Vertical(classes="trend"):
                    yield Label("RPC latency (ms)", id="node-latency-label")
                    yield Sparkline([], id="node-latency-spark")
            yield Static(id="node-changes")
        yield Footer()

    def show(self, snapshot: FleetSnapshot, latencies: Sequence[float]) -> None:
        node = snapshot.node(self.node_name)
        title = self.query_one("#node-title", Static)
        if node is None:
            title.update(Text(f" {self.node_name}: no longer in the fleet ", style="reverse red"))
            return
        title.update(Text.assemble((f" {node.name} ", "reverse bold"), "  ",
                                   health(node), f"   polled {_clock(node.polled_at)}"))
        self.query_one("#node-heads", Static).update(heads_table(node))
        self.query_one("#node-info", Static).update(info_text(node, latencies))
        self.query_one("#node-changes", Static).update(changes_table(node))
        safe, unsafe = sparkline_data(node, "safe"), sparkline_data(node, "unsafe")
        self.query_one("#node-safe-spark", Sparkline).data = safe
        self.query_one("#node-unsafe-spark", Sparkline).data = unsafe
        self.query_one("#node-latency-spark", Sparkline).data = [x * 1000 for x in latencies]
        self.query_one("#node-safe-label", Label).update(
            f"safe lag (blocks, max {max(safe, default=0):g})")
        self.query_one("#node-unsafe-label", Label).update(
            f"unsafe lag (blocks, max {max(unsafe, default=0):g})")


HELP = """\
[b]opfleet tui[/b] — the fleet's heads, live

[b]Keys[/b]
  [b]↑ ↓ PgUp PgDn[/b]  move          [b]Enter[/b]  node details     [b]Esc[/b]  back
  [b]/[/b]   filter (words must all match: name, URL, role, chain, health; Esc clears)
  [b]p[/b]   pause / resume polling      [b]+ -[/b]  refresh interval
  [b]c[/b]   copy the node's status as JSON to the clipboard (OSC 52)
  [b]?[/b]   this help                   [b]q[/b]   quit
{sort_keys}

[b]Columns[/b]
  heads are block numbers from optimism_syncStatus; lags are blocks (and time) behind the
  fleet's best head on the same chain; "Src lag" is a light node's safe lag behind its source,
  or a source's derivation lag ("3 L1": current_l1 behind its L1 head). Each role is judged by
  what it owns: a source by safe and derivation, light nodes and sequencers by unsafe and safe,
  supernode routes by local-safe and safe (lags of other heads are dim).
  Rows are grouped by chain, then tier: sequencer, source, supernode, proxy, light.

[b]Health[/b]  [green]ok[/green]  [yellow]LAGGING / FOLLOW FAILING[/yellow]  [dark_orange]STALLED[/dark_orange]  \
[bold red]DOWN / NOT READY / GARBAGE / SOURCE DOWN[/bold red]  [bold white on red]DIVERGED[/bold white on red]
A red banner on top names divergences: two nodes with different blocks at the same height.
"""


def help_markup() -> str:
    keys = [f"[b]{c.key}[/b] {c.label}" for c in COLUMNS]
    half = (len(keys) + 1) // 2
    lines = ["  " + "  ".join(keys[:half]), "  " + "  ".join(keys[half:])]
    return HELP.format(sort_keys="\n[b]Sort[/b] (the same key again: reverse, a third time: "
                       "profile order)\n" + "\n".join(lines))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(help_markup(), id="help-text")
