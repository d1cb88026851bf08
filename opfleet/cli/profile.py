"""``opfleet profile init|show|list``."""

from __future__ import annotations

import json

from opfleet.cli.exit import ExitStatus
from opfleet.cli.main import Context
from opfleet.config import profiles, settings, spec
from opfleet.errors import ConfigError, UsageError


def run(ctx: Context) -> ExitStatus:
    return {"init": _init, "show": _show, "list": _list}[ctx.command.name](ctx)


def _init(ctx: Context) -> ExitStatus:
    name = ctx.args["name"]
    path = profiles.locate(name, ctx.env.config_dir)
    if path.exists() and not ctx.args.get("force"):
        raise UsageError(f"{path} exists already; pass --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(profiles.starter_profile(path.stem))
    except OSError as exc:
        raise ConfigError(f"cannot write profile: {exc.strerror}", source=str(path)) from None
    ctx.out(f"wrote {path}")
    ctx.out(f"edit it, then run e.g. 'opfleet source --profile {name}'")
    return ExitStatus.OK


def _show(ctx: Context) -> ExitStatus:
    command = spec.command(ctx.args["for"] or "source")
    profile_ref = ctx.args.get("profile") or ctx.env.vars.get("OPFLEET_PROFILE")
    profile = profiles.load(profile_ref, ctx.env.config_dir) if profile_ref else None
    merged = settings.resolve(command, flags=_command_flags(ctx, command), env=ctx.env.vars,
                              profile=profile)
    rows = merged.describe()
    if ctx.args.get("json"):
        ctx.out(json.dumps({"command": command.name,
                            "profile": str(profile.path) if profile else None,
                            "settings": rows}, indent=2))
        return ExitStatus.OK
    from rich.table import Table

    from opfleet.cli.env import rich_console

    table = Table(title=f"opfleet {command.name}: merged settings"
                  + (f" (profile {profile.path})" if profile else ""))
    for column in ("setting", "value", "origin", "from"):
        table.add_column(column)
    for row in rows:
        shown = _display(row["kind"], row["value"])
        source = row["source"] if row["origin"] != "default" else ""
        table.add_row(row["key"], shown, row["origin"], source or "")
    rich_console(ctx.env.stdout, force_terminal=ctx.env.stdout_isatty, width=120).print(table)
    return ExitStatus.OK


def _command_flags(ctx: Context, command: spec.Command) -> dict[str, object]:
    """Parse the flags given after ``--`` as ``command`` itself would."""
    extra = [a for a in (ctx.args.get("flags") or []) if a != "--"]
    if not extra:
        return {}
    from opfleet.cli.main import build_parser, split_bool_values

    parsed = vars(build_parser(ctx.env).parse_args([command.name, *split_bool_values(extra)]))
    return {o.key: parsed.get(o.key) for o in command.settings}


def _list(ctx: Context) -> ExitStatus:
    directory = profiles.profile_dir(ctx.env.config_dir)
    names = sorted(p.stem for p in directory.glob("*" + profiles.PROFILE_SUFFIX)) \
        if directory.is_dir() else []
    if not names:
        ctx.out(f"no profiles in {directory} (create one with: opfleet profile init NAME)")
    for name in names:
        ctx.out(name)
    return ExitStatus.OK


def _display(kind: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == spec.DURATION and isinstance(value, (int, float)):
        return settings.format_duration(value)
    return str(value)
