"""Reading a setting in a command: the merged value, or the option table's default.

A command's :class:`~opfleet.config.settings.Settings` holds every setting of that command, its
default included, so the defaults are written once, in :mod:`opfleet.config.spec`. Code (and
tests) may also hand a plain mapping holding only some settings; what it lacks reads as the
table's default, never as a second copy of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opfleet.config import spec
from opfleet.errors import ConfigError


def setting(settings: Mapping[str, Any] | None, key: str, command: spec.Command | None = None) -> Any:
    """The value of setting ``key``; the table's default when ``settings`` lacks it (or is None).

    The default is the one of the settings' own command (a
    :class:`~opfleet.config.settings.Settings`), else of ``command``, else the one every command
    shares (:func:`spec.default`): ``--data-dir`` differs between ``devnet`` and ``supernode``,
    and ``proxy`` has no ``--rpc.port`` default. An explicit ``0``, ``False`` or ``""`` is the
    operator's value and is returned as it is.
    """
    value = settings.get(key) if settings is not None else None
    if value is not None:
        return value
    command = getattr(settings, "command", command)
    if command is not None:
        return command.option(key).default
    return spec.default(key)


def refused(settings: Mapping[str, Any] | None, key: str, message: str) -> ConfigError:
    """The error for a bad value of ``key``, naming where it came from (flag, variable, profile)."""
    from opfleet.config.settings import Settings

    source = settings.value(key).source if isinstance(settings, Settings) and key in settings else None
    return ConfigError(message, source=source, key=key)


def positive(settings: Mapping[str, Any] | None, key: str, command: spec.Command | None = None) -> float:
    """A duration setting that must be above zero (an interval a loop sleeps for)."""
    value = float(setting(settings, key, command))
    if value <= 0:
        raise refused(settings, key, f"must be above zero, got {value:g}")
    return value


def nonempty(settings: Mapping[str, Any] | None, key: str, command: spec.Command | None = None, *,
             hint: str) -> str:
    """A string setting that must not be empty (``--data-dir ""`` is not "the default")."""
    value = str(setting(settings, key, command))
    if not value:
        raise refused(settings, key, f"empty: {hint}")
    return value


ADDRESS_HINT = "give an address (0.0.0.0 listens on every interface)"
"""For an empty listen address: op-node's Go would listen on every interface; we rather have the
operator say so than open an admin RPC by accident."""
