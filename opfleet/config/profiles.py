"""TOML settings profiles.

A profile holds settings by their flag names. Top-level keys apply to every command that has the
setting; a table named after a command (``[light]``, ``[source]``…) overrides them for that
command only. Keys may be written as ``l1_beacon``, ``"l1.beacon"`` or nested (``[rpc] port``).
Relative paths in a profile are relative to the profile file.

``[chains.<id>]`` tables are kept as they are for ``opfleet supernode``'s per-chain settings.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from opfleet.config import spec
from opfleet.config.settings import Profile, expected, format_duration, normalize_key
from opfleet.errors import ConfigError

PROFILE_SUFFIX = ".toml"
COMMAND_TABLES = tuple(cmd.name for cmd in spec.COMMANDS if cmd.settings)
RAW_TABLES = ("chains",)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _all_settings() -> dict[str, spec.Option]:
    index: dict[str, spec.Option] = {}
    for cmd in spec.COMMANDS:
        for option in cmd.settings:
            index.setdefault(normalize_key(option.key), option)
    return index


def profile_dir(config_dir: Path) -> Path:
    return config_dir / "profiles"


def locate(name_or_path: str, config_dir: Path) -> Path:
    """A value with a slash or a ``.toml`` suffix is a path; anything else a profile name."""
    if "/" in name_or_path or name_or_path.endswith(PROFILE_SUFFIX):
        return Path(name_or_path).expanduser()
    if not _NAME.match(name_or_path):
        raise ConfigError(
            f"invalid profile name {name_or_path!r}: use letters, digits, '.', '-' and '_'",
            source="--profile",
        )
    return profile_dir(config_dir) / (name_or_path + PROFILE_SUFFIX)


def load(name_or_path: str, config_dir: Path) -> Profile:
    path = locate(name_or_path, config_dir)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        is_name = "/" not in name_or_path and not name_or_path.endswith(PROFILE_SUFFIX)
        hint = f" (create it with: opfleet profile init {name_or_path})" if is_name else ""
        raise ConfigError(f"profile not found{hint}", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read profile: {getattr(exc, 'strerror', None) or exc}",
                          source=str(path)) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from None
    return parse(document, path)


def parse(document: dict[str, Any], path: Path) -> Profile:
    """Check every key against the settings table and keep the raw values with their source."""
    known = _all_settings()
    profile = Profile(path=path)
    where = str(path)
    for key, value in document.items():
        if key in COMMAND_TABLES and isinstance(value, dict):
            command = spec.command(key)
            allowed = {normalize_key(o.key): o for o in command.settings}
            profile.per_command[key] = _flatten(value, allowed, where, prefix=f"{key}.")
        elif key in RAW_TABLES:
            profile.raw_tables[key] = value
        elif isinstance(value, dict) and not _starts_a_setting(key, known):
            raise ConfigError(_unknown_table_message(key), source=where, key=key)
        else:
            profile.shared.update(_flatten({key: value}, known, where))
    return profile


def _starts_a_setting(key: str, known: dict[str, spec.Option]) -> bool:
    """Whether a table ``[key]`` can hold settings (``[rpc] port`` is ``rpc.port``)."""
    prefix = normalize_key(key) + "_"
    return any(name.startswith(prefix) for name in known)


def _unknown_table_message(key: str) -> str:
    import difflib

    tables = [*COMMAND_TABLES, *RAW_TABLES]
    close = difflib.get_close_matches(key, tables, n=1, cutoff=0.5)
    hint = f"; did you mean [{close[0]}]?" if close else ""
    return (f"unknown table [{key}]{hint} (a table is a command's overrides: "
            + ", ".join(f"[{t}]" for t in COMMAND_TABLES) + ")")


def _flatten(table: dict[str, Any], allowed: dict[str, spec.Option], where: str,
             prefix: str = "") -> dict[str, tuple[Any, str]]:
    out: dict[str, tuple[Any, str]] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        for key, value in node.items():
            dotted = f"{path}{key}"
            norm = normalize_key(dotted)
            if isinstance(value, dict) and norm not in allowed:
                walk(value, dotted + ".")
                continue
            option = allowed.get(norm)
            if option is None:
                raise ConfigError(_unknown_key_message(norm, allowed), source=where,
                                  key=prefix + dotted)
            if not _toml_type_ok(option, value):
                raise ConfigError(f"wrong type {type(value).__name__}: expected {expected(option)}",
                                  source=where, key=prefix + dotted)
            out[norm] = (value, f"{where}: {prefix}{dotted}")

    walk(table, "")
    return out


def _unknown_key_message(norm: str, allowed: dict[str, spec.Option]) -> str:
    import difflib

    close = difflib.get_close_matches(norm, list(allowed), n=1)
    # The spelling a TOML profile uses (l1_beacon), not the flag's (--l1.beacon).
    hint = f"; did you mean {normalize_key(allowed[close[0]].key)!r}?" if close else ""
    return "unknown setting" + hint


def _toml_type_ok(option: spec.Option, value: Any) -> bool:
    kind = option.kind
    if kind == spec.BOOL:
        return isinstance(value, bool)
    if kind in (spec.INT, spec.PORT):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == spec.DURATION:
        return isinstance(value, (str, int, float)) and not isinstance(value, bool)
    if kind == spec.LIST:
        return isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value))
    return isinstance(value, str)


# --- the starter profile --------------------------------------------------------------------

_EXAMPLES = {
    "l1": "http://127.0.0.1:8545",
    "l1.beacon": "http://127.0.0.1:5052",
    "l2": "http://127.0.0.1:8551",
    "l2.jwt-secret": "jwt.hex",
    "network": "op-sepolia",
    "rollup.config": "rollup.json",
    "l2.follow.source": ["http://source-1:9545"],
    "l2.follow.payloads": "http://source-1-el:8545",
    "safedb.path": "safedb.sqlite",
    "chain": ["op-sepolia"],
    "fleet": "fleet.toml",
    "prometheus": "http://127.0.0.1:9090",
    "p2p.listen.tcp": 9222,
    "p2p.static": ["/ip4/10.0.0.1/tcp/9222/p2p/16Uiu2HAmQ4CU5qCJLpSfJnW6yXLfofZtmcvMvgJRYWabwS29gVQH"],
}


def starter_profile(name: str) -> str:
    """A commented starter profile: every setting, commented out, with its help and default."""
    import tomli_w

    lines = [
        f"# opfleet profile '{name}'.",
        "# Settings merge as: built-in defaults < this profile < environment < command-line flags.",
        "# Top-level keys apply to every command that has the setting; a table named after a",
        "# command ([source], [light], [supernode], [tui], [status], [devnet]) overrides them for",
        "# that command. Uncomment what you need. Relative paths are relative to this file.",
        "",
    ]
    seen: set[str] = set()
    for cmd in spec.COMMANDS:
        fresh = [o for o in cmd.settings if o.key not in seen and o.key != "profile"]
        if not fresh:
            continue
        lines.append(f"# --- first used by `opfleet {cmd.name}` ---")
        for option in fresh:
            seen.add(option.key)
            value = _EXAMPLES.get(option.key, option.default)
            if value is None:
                value = ""
            elif option.kind == spec.DURATION and isinstance(value, int | float):
                value = format_duration(value)
            # One line per setting, so uncommenting a line always gives valid TOML.
            entry = " ".join(tomli_w.dumps({normalize_key(option.key): value}).split())
            env = ", ".join(option.env)
            lines.append(f"# {option.help} (env: {env})")
            lines.append(f"# {entry}")
        lines.append("")
    lines += [
        "# Per-command overrides, for example:",
        "# [light]",
        "# rpc_port = 9546",
        "",
    ]
    return "\n".join(lines)
