"""``opfleet``'s entry point: parse, merge settings, run one subcommand, map errors to exit codes.

Subcommand modules are imported only when they run, so ``opfleet --help`` stays fast and never
loads textual, ckzg or rlp.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from opfleet.cli.env import Environment
from opfleet.cli.exit import DESCRIPTIONS, ExitStatus, exit_status_for
from opfleet.config import spec
from opfleet.errors import ConfigError, OpfleetError, UsageError


@dataclass
class Context:
    """What a subcommand's ``run(ctx)`` gets: the environment, its arguments and settings."""

    env: Environment
    command: spec.Command
    args: dict[str, Any]
    settings: Any = None  # opfleet.config.settings.Settings for commands with settings
    path: tuple[str, ...] = field(default_factory=tuple)  # e.g. ("decode", "channel")

    def arg(self, key: str, default: Any = None) -> Any:
        value = self.args.get(key)
        return default if value is None else value

    def setting(self, key: str) -> Any:
        """The setting ``key``, or this command's default for it (see :func:`opfleet.cli._settings.setting`)."""
        from opfleet.cli._settings import setting

        return setting(self.settings, key, self.command)

    def out(self, text: str = "") -> None:
        self.env.stdout.write(text + "\n")


class _ParserExit(Exception):
    def __init__(self, status: int):
        self.status = status


class Parser(argparse.ArgumentParser):
    """argparse that writes to our Environment's streams and never calls sys.exit.

    ``by_path`` (filled on the top-level parser by :func:`build_parser`) holds each (sub)command's
    parser and table entry by its path, ``("decode", "channel")``, so an unknown flag is
    explained by the usage of the command it was given to."""

    def __init__(self, *args: Any, env: Environment, **kw: Any):
        self._env = env
        self.by_path: dict[tuple[str, ...], tuple[Parser, spec.Command]] = {}
        kw.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kw)

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            stream = self._env.stderr if file is sys.stderr else self._env.stdout
            stream.write(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._env.stderr.write(message)
        raise _ParserExit(status)

    def error(self, message: str) -> NoReturn:
        self._env.stderr.write(self.format_usage())
        self._env.stderr.write(f"{self.prog}: error: {message}\n")
        self._env.stderr.write(f"Run '{self.prog} --help' for the options.\n")
        raise _ParserExit(ExitStatus.USAGE)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=36, width=100)


def option_help(option: spec.Option) -> str:
    """Help text with the default and environment names, as op-node prints them."""
    from opfleet.config.settings import format_duration  # light module, no heavy deps

    extra = []
    if option.choices and option.kind == spec.CHOICE and not option.positional:
        extra.append("one of: " + ", ".join(option.choices))
    if option.default not in (None, False, "", ()) and not option.positional:
        default = format_duration(option.default) if option.kind == spec.DURATION else option.default
        extra.append(f"default: {default}")
    if option.env:
        extra.append("env: " + ", ".join(option.env))
    return option.help + (f" ({'; '.join(extra)})" if extra else "")


def _epilog(command: spec.Command | None) -> str:
    parts = []
    if command is not None and command.examples:
        parts.append("examples:\n" + "\n".join(f"  {e}" for e in command.examples))
    if command is None or command.settings:
        parts.append(
            "settings merge as: defaults < TOML profile (--profile) < environment < flags.\n"
            "op-node's flags read OP_NODE_* variables; opfleet's own read OPFLEET_*."
        )
    if command is None:
        codes = "\n".join(f"  {int(s):>3}  {DESCRIPTIONS[s]}" for s in ExitStatus)
        parts.append("exit codes:\n" + codes)
    return "\n\n".join(parts)


def _add_options(parser: argparse.ArgumentParser, command: spec.Command) -> None:
    for option in command.options:
        if option.positional:
            parser.add_argument(option.key, nargs=option.nargs, metavar=option.metavar,
                                help=option_help(option),
                                choices=option.choices or None,
                                default=option.default if not command.uses_settings else None)
            continue
        kw: dict[str, Any] = {"dest": option.key, "help": option_help(option), "default": None}
        if option.kind == spec.BOOL:
            parser.add_argument(*option.all_flags, action="store_const", const="true", **kw)
            # `--flag=false` is rewritten to this hidden twin (see split_bool_values).
            parser.add_argument("--no-" + option.key, dest=option.key, action="store_const",
                                const="false", default=None, help=argparse.SUPPRESS)
        elif option.kind == spec.LIST:
            nargs = option.nargs if option.nargs else None
            action = "store" if nargs else "append"
            parser.add_argument(*option.all_flags, action=action, nargs=nargs,
                                metavar=option.metavar, **kw)
        else:
            metavar = option.metavar or ("|".join(option.choices) if option.choices
                                         else option.kind.upper())
            parser.add_argument(*option.all_flags, metavar=metavar, **kw)


_EVERY_COMMAND = "*"


def build_parser(env: Environment, only: str | None = _EVERY_COMMAND) -> Parser:
    """The parser of the whole command line. With ``only``, the options of that command alone
    are added (argparse parses with one subparser; ``opfleet --help`` needs none): building
    every command's options is most of what ``--help`` costs after the imports."""
    from opfleet._version import __version__

    parser = Parser(prog=spec.PROGRAM, description=spec.PROGRAM_DESCRIPTION,
                    epilog=_epilog(None), env=env)
    parser.add_argument("--version", action="version", version=f"opfleet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in spec.COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.summary,
                                    description=command.description, epilog=_epilog(command),
                                    env=env)
        parser.by_path[(command.name,)] = (sub, command)
        if only != _EVERY_COMMAND and command.name != only:
            continue
        _add_options(sub, command)
        if command.subcommands:
            nested = sub.add_subparsers(dest="subcommand", metavar="WHAT", title="what")
            for child in command.subcommands:
                child_parser = nested.add_parser(child.name, help=child.summary,
                                                 description=child.description,
                                                 epilog=_epilog(child), env=env)
                _add_options(child_parser, child)
                parser.by_path[(command.name, child.name)] = (child_parser, child)
    return parser


def _unknown_arguments(parser: Parser, namespace: argparse.Namespace,
                       extras: list[str]) -> NoReturn:
    """Explain arguments no parser took with the usage of the (sub)command they were given to,
    and the closest flag when one is near (``--l1.beacn`` → ``--l1.beacon``)."""
    import difflib

    path = tuple(p for p in (getattr(namespace, "command", None), getattr(namespace, "subcommand", None)) if p)
    target: Parser
    command: spec.Command | None
    target, command = parser.by_path.get(path, (parser, None))
    hint = ""
    if command is not None:
        flags = [f for o in command.options for f in o.all_flags]
        unknown = next((e.split("=", 1)[0] for e in extras if e.startswith("-")), None)
        close = difflib.get_close_matches(unknown, flags, n=1) if unknown else []
        if close:
            hint = f" (did you mean {close[0]}?)"
    target.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


def split_bool_values(argv: Sequence[str]) -> list[str]:
    """Accept op-node's ``--flag=true|false`` form for boolean flags."""
    from opfleet.config.settings import parse_bool

    bool_flags = {f for _, cmd in spec.walk() for o in cmd.options if o.kind == spec.BOOL
                  for f in o.all_flags}
    out = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        if eq and name in bool_flags:
            try:
                truth = parse_bool(value)
            except ValueError:
                raise UsageError(f"{name} takes true or false, not {value!r}") from None
            out.append(name if truth else "--no-" + name[2:])
        else:
            out.append(arg)
    return out


def _convert_plain_options(ctx: Context) -> None:
    """Options that are not settings are typed here; a bad value is a usage error."""
    from opfleet.config.settings import parse_value

    for option in ctx.command.options:
        raw = ctx.args.get(option.key)
        if option.setting or option.positional or raw is None or option.kind == spec.LIST:
            continue
        try:
            ctx.args[option.key] = parse_value(option, raw, source="--" + option.key)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None


def _load_settings(ctx: Context) -> None:
    from opfleet.config import profiles, settings

    profile_ref = ctx.args.get("profile") or ctx.env.vars.get("OPFLEET_PROFILE") or None
    profile = profiles.load(profile_ref, ctx.env.config_dir) if profile_ref else None
    ctx.settings = settings.resolve(ctx.command, flags=ctx.args, env=ctx.env.vars,
                                    profile=profile)


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run opfleet with ``argv`` (without the program name); return the exit status."""
    env = env or Environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(_run(argv, env))
    except _ParserExit as done:  # a nested parse (e.g. profile show -- FLAGS) already explained
        return done.status
    except KeyboardInterrupt:
        env.stderr.write("opfleet: interrupted\n")
        return ExitStatus.INTERRUPTED
    except OpfleetError as exc:
        env.stderr.write(f"opfleet: error: {exc}\n")
        return exit_status_for(exc)
    except Exception as exc:  # a bug: one line, plus the traceback only when asked for
        if _is_broken_pipe(exc):
            return _broken_pipe(env)
        if env.vars.get("OPFLEET_DEBUG"):
            import traceback

            traceback.print_exc(file=env.stderr)
        env.stderr.write(
            f"opfleet: unexpected error: {type(exc).__name__}: {exc}\n"
            "(set OPFLEET_DEBUG=1 for a traceback, and please report it)\n"
        )
        return ExitStatus.ERROR


def extract_passthrough(argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Take a command's free-form ``--<passthrough>…`` flags out of ``argv`` (``--vn.901.l2 URL``,
    ``--vn.all.l2.jwt-secret=FILE``; a flag without a value is ``true``); the rest is parsed."""
    names = {c.name: c for c in spec.COMMANDS}
    command = next((names[a] for a in argv if a in names), None)
    prefix = "--" + command.passthrough if command is not None and command.passthrough else None
    if prefix is None:
        return list(argv), []
    rest: list[str] = []
    taken: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith(prefix) and len(arg) > len(prefix):
            name, eq, value = arg[2:].partition("=")
            if not eq:
                if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                    value, i = argv[i + 1], i + 1
                else:
                    value = "true"
            taken.append((name, value))
        else:
            rest.append(arg)
        i += 1
    return rest, taken


def _run(argv: list[str], env: Environment) -> ExitStatus:
    argv, passthrough = extract_passthrough(argv)
    # The command is the first word that is not a flag (opfleet's own flags take no value).
    parser = build_parser(env, only=next((a for a in argv if not a.startswith("-")), None))
    try:
        namespace, extras = parser.parse_known_args(split_bool_values(argv))
        if extras:
            _unknown_arguments(parser, namespace, extras)
    except _ParserExit as done:
        return ExitStatus(done.status) if done.status in ExitStatus._value2member_map_ \
            else ExitStatus.USAGE
    if namespace.command is None:
        parser.print_help()
        return ExitStatus.OK
    command = spec.command(namespace.command)
    path: tuple[str, ...] = (command.name,)
    args = vars(namespace)
    if command.passthrough:
        args["passthrough"] = passthrough
    if command.subcommands:
        if args.get("subcommand") is None:
            env.stderr.write(
                f"opfleet {command.name}: say what to do: "
                + ", ".join(c.name for c in command.subcommands)
                + f" (see 'opfleet {command.name} --help')\n"
            )
            return ExitStatus.USAGE
        command = next(c for c in command.subcommands if c.name == args["subcommand"])
        path += (command.name,)
    ctx = Context(env=env, command=command, args=args, path=path)
    _convert_plain_options(ctx)
    if command.uses_settings:
        _load_settings(ctx)
        _configure_logging(ctx)
    module = importlib.import_module(f"opfleet.cli.{command.module}")
    status = module.run(ctx)
    return ExitStatus(status if status is not None else ExitStatus.OK)


def _configure_logging(ctx: Context) -> None:
    if "log.level" not in ctx.settings:
        return
    from opfleet import log

    log.configure(level=ctx.settings["log.level"], fmt=ctx.settings["log.format"], env=ctx.env)


def _is_broken_pipe(exc: BaseException) -> bool:
    """Whether ``exc`` is only a closed pipe, also when a trio nursery wrapped it in a group."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_broken_pipe(inner) for inner in exc.exceptions)
    return isinstance(exc, BrokenPipeError)


def _broken_pipe(env: Environment) -> ExitStatus:
    """Whoever read our output stopped reading (``opfleet … | head``): say nothing and stop, as
    a Unix tool killed by SIGPIPE does (the shell reports 141)."""
    for name in ("stdout", "stderr"):
        stream = getattr(env, name)
        if stream is getattr(sys, name):
            _silence(stream)
    return ExitStatus.BROKEN_PIPE


def _silence(stream: Any) -> None:
    """Point ``stream``'s descriptor at /dev/null, so what is still buffered in it cannot fail
    again when the interpreter flushes it on the way out."""
    import os

    try:
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def console_main() -> NoReturn:
    """The installed ``opfleet`` script."""
    env = Environment()
    status = main(env=env)
    try:
        env.stdout.flush()  # here, not at interpreter exit, where a closed pipe cannot be handled
    except BrokenPipeError:
        status = _broken_pipe(env)
    except (OSError, ValueError):
        pass
    sys.exit(status)
