"""Settings: one table (``opfleet.config.spec``), merged defaults < profile < environment < flags.

Every value remembers where it came from, so ``opfleet profile show`` can say why a node runs
with the value it has, and every error names the file, variable or flag that holds the bad value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opfleet.config import spec
from opfleet.config.spec import Command, Option
from opfleet.errors import ConfigError

ORIGINS = ("default", "profile", "env", "flag")

_EXPECTED = {
    spec.STR: "a string",
    spec.URL: "a URL (http://, https://, ws:// or wss://)",
    spec.INT: "an integer",
    spec.PORT: "a port number (0-65535)",
    spec.BOOL: "a boolean (true or false)",
    spec.DURATION: "a duration such as 10s, 500ms, 1m30s (or a number of seconds)",
    spec.PATH: "a file path",
    spec.CHOICE: "one of",
    spec.LIST: "a list of strings (or one comma-separated string)",
}


def expected(option: Option) -> str:
    text = _EXPECTED[option.kind]
    if option.kind == spec.CHOICE:
        text += " " + ", ".join(option.choices)
    return text


@dataclass(frozen=True, slots=True)
class Value:
    """A resolved setting: the value, its origin (default/profile/env/flag) and exact source."""

    value: Any
    origin: str
    source: str | None = None


class Settings(Mapping[str, Any]):
    """The merged settings of one command; ``settings["rpc.port"]`` gives the value."""

    def __init__(self, command: Command, values: dict[str, Value]):
        self.command = command
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key].value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def value(self, key: str) -> Value:
        return self._values[key]

    def describe(self) -> list[dict[str, Any]]:
        """Rows for ``profile show``: key, masked value, origin, source, env names."""
        rows = []
        for option in self.command.settings:
            resolved = self._values[option.key]
            rows.append({
                "key": option.key,
                "kind": option.kind,
                "value": mask(option, resolved.value),
                "origin": resolved.origin,
                "source": resolved.source,
                "env": list(option.env),
            })
        return rows


# --- parsing values ---------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TRUE = {"true", "1", "yes", "on", "t"}
_FALSE = {"false", "0", "no", "off", "f"}


def parse_duration(text: str) -> float:
    """Parse a Go-style duration (``10s``, ``1m30s``, ``500ms``) or plain seconds into seconds."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                raise ValueError(text) from None
            seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise ValueError(text) from None
    if seconds < 0:
        raise ValueError(text)
    return seconds


def format_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def parse_value(option: Option, raw: Any, *, source: str, base_dir: Path | None = None) -> Any:
    """Turn a raw value (a string from env/flags, or a TOML value) into the option's type.

    Raises :class:`ConfigError` naming ``source`` and the expected type.
    """
    try:
        value = _parse(option, raw, base_dir)
    except (ValueError, TypeError):
        from opfleet.log import mask_url  # here: `opfleet --help` reads this module, not the log's json

        shown = mask_url(raw) if isinstance(raw, str) else repr(raw)
        raise ConfigError(
            f"invalid value {shown!r}: expected {expected(option)}", source=source, key=option.key
        ) from None
    return value


def _parse(option: Option, raw: Any, base_dir: Path | None) -> Any:
    kind = option.kind
    if kind == spec.LIST:
        items = raw if isinstance(raw, list) else [raw]
        out: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise TypeError(item)
            out.extend(part.strip() for part in item.split(",") if part.strip())
        return out
    if kind == spec.BOOL:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            return parse_bool(raw)
        raise TypeError(raw)
    if kind in (spec.INT, spec.PORT):
        if isinstance(raw, bool):
            raise TypeError(raw)
        value = raw if isinstance(raw, int) else int(str(raw).strip(), 0)
        if kind == spec.PORT and not 0 <= value <= 65535:
            raise ValueError(raw)
        if value < 0:
            raise ValueError(raw)
        return value
    if kind == spec.DURATION:
        if isinstance(raw, bool):
            raise TypeError(raw)
        if isinstance(raw, (int, float)):
            if raw < 0:
                raise ValueError(raw)
            return float(raw)
        return parse_duration(str(raw))
    if not isinstance(raw, str):
        raise TypeError(raw)
    if kind == spec.CHOICE and raw not in option.choices:
        raise ValueError(raw)
    if kind == spec.URL:
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            raise ValueError(raw)
    if kind == spec.PATH and base_dir is not None and raw and not Path(raw).expanduser().is_absolute():
        return str(base_dir / raw)
    return raw


# --- masking --------------------------------------------------------------------------------

def mask(option: Option, value: Any) -> Any:
    """Hide secrets before printing: secret options whole; in URLs, passwords, API keys in the
    path (a long token segment, as providers put them) and query values."""
    from opfleet.log import mask_url

    if value is None:
        return None
    if option.secret:
        return "****"
    if isinstance(value, list):
        return [mask_url(v) if isinstance(v, str) else v for v in value]
    if isinstance(value, str):  # not only URL settings: devnet's --l1 is "embedded|anvil|URL"
        return mask_url(value)
    return value


# --- merging ----------------------------------------------------------------------------------


def normalize_key(key: str) -> str:
    """Profile keys may be written ``l1_beacon``, ``"l1.beacon"`` or as ``[l1] beacon``: all the
    same setting. (Dots and dashes cannot be told apart from underscores, and need not be.)"""
    return key.lower().replace(".", "_").replace("-", "_")


@dataclass
class Profile:
    """One profile's settings as written, each with where it was read (read by
    :mod:`opfleet.config.profiles`, merged by :func:`resolve`)."""

    path: Path
    # normalized key -> (raw value, where); per-command overrides likewise
    shared: dict[str, tuple[Any, str]] = field(default_factory=dict)
    per_command: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=dict)
    raw_tables: dict[str, Any] = field(default_factory=dict)

    def values_for(self, command: Command) -> dict[str, tuple[Any, str]]:
        """Raw profile values that apply to ``command``, keyed by setting key."""
        out: dict[str, tuple[Any, str]] = {}
        overrides = self.per_command.get(command.name, {})
        for option in command.settings:
            norm = normalize_key(option.key)
            if norm in overrides:
                out[option.key] = overrides[norm]
            elif norm in self.shared:
                out[option.key] = self.shared[norm]
        return out


def resolve(
    command: Command,
    *,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    profile: Profile | None,
) -> Settings:
    """Merge one command's settings: defaults < profile < environment < flags."""
    values: dict[str, Value] = {}
    profile_values = profile.values_for(command) if profile is not None else {}
    profile_dir = profile.path.parent if profile is not None else None
    for option in command.settings:
        resolved = Value(option.default, "default")
        if option.key in profile_values:
            raw, where = profile_values[option.key]
            resolved = Value(
                parse_value(option, raw, source=where, base_dir=profile_dir),
                "profile", where,
            )
        for name in option.env:
            if name in env and env[name] != "":
                resolved = Value(parse_value(option, env[name], source=f"${name}"), "env", name)
                break
        raw = flags.get(option.key)
        if raw is not None:
            flag = "--" + option.key
            resolved = Value(parse_value(option, raw, source=flag), "flag", flag)
        values[option.key] = resolved
    return Settings(command, values)

