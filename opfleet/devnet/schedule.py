"""The devnet's fork schedule: ``opfleet devnet --fork NAME=+DURATION`` / ``--fork NAME=off``.

By default every fork, Karst included, is active from the L2 genesis. ``--fork`` moves one fork
to a time relative to the devnet's start (its L2 genesis), so its activation block can be
watched live (``karst=+60s``), or switches it off (``karst=off``). The schedule is a
:class:`~opfleet.devnet.engine.ForkTimes` of **offsets in seconds from the L2 genesis**;
:meth:`ForkTimes.shifted` turns it into timestamps once the genesis time is known.

A later fork implies every earlier one (as in op-node's rollup config), so:

- a fork not named keeps its default (genesis), but never comes before an earlier fork: it
  follows the latest earlier one, and is off when an earlier one is off (``--fork jovian=+30s``
  moves Karst to +30 s as well, ``--fork jovian=off`` switches Karst off too);
- a named fork before an earlier named one, or named while an earlier one is off, is an
  impossible schedule: one :class:`~opfleet.errors.ConfigError` line (exit status 3).

Durations are Go-style (``90s``, ``1m30s``); fork times are whole seconds, rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from opfleet.config.settings import format_duration, parse_duration
from opfleet.devnet.engine import FORK_NAMES, ForkTimes
from opfleet.errors import ConfigError

DEFAULT_FORKS = ForkTimes.up_to(FORK_NAMES[-1])
"""Every fork from genesis (offset 0)."""

OFF = "off"


def _bad(message: str) -> ConfigError:
    return ConfigError(message, source="--fork")


def parse_fork_item(item: str) -> tuple[str, int | None]:
    """``"karst=+60s"`` -> ``("karst", 60)``; ``"karst=off"`` -> ``("karst", None)``."""
    name, sep, value = (part.strip() for part in item.partition("="))
    name = name.lower()
    if not sep or not name or not value:
        raise _bad(f"expected NAME=+DURATION or NAME=off, got {item!r}")
    if name not in FORK_NAMES:
        raise _bad(f"unknown fork {name!r} (forks: {', '.join(FORK_NAMES)})")
    if value.lower() == OFF:
        return name, None
    if not value.startswith("+"):
        raise _bad(f"{item!r}: a fork time is relative to the devnet's start, e.g. {name}=+60s")
    try:
        seconds = parse_duration(value[1:])
    except ValueError:
        raise _bad(f"{item!r}: {value[1:]!r} is not a duration (e.g. 60s, 1m30s)") from None
    return name, math.ceil(seconds)


def _shown(name: str, offset: int | None) -> str:
    return f"{name}={OFF}" if offset is None else f"{name}=+{format_duration(offset)}"


def parse_fork_schedule(items: Sequence[str], *, base: ForkTimes = DEFAULT_FORKS) -> ForkTimes:
    """The schedule (offsets from the L2 genesis) for ``--fork`` values, each one item or a
    comma-separated list (module docstring)."""
    named: dict[str, int | None] = {}
    for item in (part for value in items for part in value.split(",") if part.strip()):
        name, offset = parse_fork_item(item)
        if name in named and named[name] != offset:
            raise _bad(f"{name} is scheduled twice ({_shown(name, named[name])} and {_shown(name, offset)})")
        named[name] = offset
    times: dict[str, int | None] = {}
    bound: tuple[str, int | None] | None = None  # the earlier fork a later one must not precede
    for name in FORK_NAMES:
        if name in named:
            offset = named[name]
            if offset is not None and bound is not None:
                earlier, when = bound
                if when is None:
                    raise _bad(f"{_shown(name, offset)} needs {earlier}, which is off "
                               "(a fork implies every earlier one)")
                if offset < when:
                    raise _bad(f"{_shown(name, offset)} comes before {_shown(earlier, when)} "
                               "(a fork implies every earlier one)")
            times[name] = offset
            bound = (name, offset)
            continue
        offset = getattr(base, name)
        if bound is not None:
            when = bound[1]
            offset = None if when is None or offset is None else max(offset, when)
            if offset != when:
                bound = (name, offset)  # its own default is later: it constrains what follows
        else:
            bound = (name, offset)
        times[name] = offset
    return ForkTimes(**times)


def describe_schedule(schedule: ForkTimes, block_time: int) -> list[str]:
    """One line per fork that is not active from genesis: ``karst +1m0s (L2 block 30)`` / ``karst off``."""
    lines = []
    for name in FORK_NAMES:
        offset = getattr(schedule, name)
        if offset is None:
            lines.append(f"{name} off")
        elif offset > 0:
            lines.append(f"{name} +{format_duration(offset)} (L2 block {max(1, math.ceil(offset / block_time))})")
    return lines
