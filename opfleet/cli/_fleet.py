"""The nodes ``tui``, ``status`` and ``doctor`` look at: ``--fleet FILE`` and bare URLs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opfleet.cli.main import Context
from opfleet.errors import UsageError


def watched_nodes(ctx: Context, *, none: str,
                  discover: Callable[[list[str]], Sequence[Any]] | None = None) -> tuple[str, list[Any]]:
    """The fleet profile's name and nodes, then the bare URLs' nodes the profile does not name
    already (:func:`~opfleet.monitor.fleet.specs_from_urls`) or, with ``discover``, the nodes it
    finds at those URLs (a URL the profile lists is left out). ``none`` ends the usage error
    for an empty fleet: what to give."""
    from opfleet.monitor.fleet import load_profile, specs_from_urls

    urls = list(ctx.arg("urls", []) or [])
    path = ctx.setting("fleet")
    name, specs = "", []
    if path:
        fleet = load_profile(path)
        name, specs = fleet.name, list(fleet.nodes)
    if urls and discover is not None:
        taken = {s.url for s in specs}
        specs.extend(s for s in discover(urls) if s.url not in taken)
    elif urls:
        taken = {s.name for s in specs}
        specs.extend(s for s in specs_from_urls(urls) if s.name not in taken)
    elif discover is not None:
        raise UsageError("--discover: give the node URLs to ask")
    if not specs:
        raise UsageError(f"{none} (see 'opfleet {ctx.command.name} --help')")
    return name, specs
