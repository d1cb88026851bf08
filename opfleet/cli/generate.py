"""Generate the man page and the bash, zsh and fish completions from ``opfleet.config.spec``.

The outputs are committed under ``man/`` and ``completions/``; a test fails when they differ from
what this module generates, so they are never stale. Regenerate with::

    python -m opfleet.cli.generate
"""

from __future__ import annotations

import sys
from pathlib import Path

from opfleet._version import __version__
from opfleet.cli.exit import DESCRIPTIONS, ExitStatus
from opfleet.config import spec

HEADER = "generated from opfleet's command definition by `python -m opfleet.cli.generate`; do not edit"


def _flag_options(command: spec.Command) -> list[spec.Option]:
    return [o for o in command.options if not o.positional]


def _short(text: str) -> str:
    """First sentence of a help text, for completion menus."""
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= 80 else first[:77] + "..."


# --- bash ----------------------------------------------------------------------------------------


def bash() -> str:
    lines = [f"# bash completion for opfleet ({HEADER})", "_opfleet() {",
             '    local cur prev cmd="" sub="" i',
             '    cur="${COMP_WORDS[COMP_CWORD]}"',
             '    prev="${COMP_WORDS[COMP_CWORD-1]}"',
             "    for ((i = 1; i < COMP_CWORD; i++)); do",
             '        case "${COMP_WORDS[i]}" in',
             "            -*) ;;",
             '            *) if [[ -z $cmd ]]; then cmd="${COMP_WORDS[i]}";'
             ' elif [[ -z $sub ]]; then sub="${COMP_WORDS[i]}"; fi ;;',
             "        esac",
             "    done",
             '    case "$prev" in']
    value_cases: dict[str, str] = {}
    for _, cmd in spec.walk():
        for option in _flag_options(cmd):
            for flag in option.all_flags:
                if option.kind == spec.CHOICE or option.suggestions:
                    words = " ".join(option.choices or option.suggestions)
                    value_cases[flag] = f'COMPREPLY=($(compgen -W "{words}" -- "$cur")); return'
                elif option.kind == spec.PATH:
                    value_cases[flag] = 'COMPREPLY=($(compgen -f -- "$cur")); return'
                elif option.kind == spec.BOOL:
                    continue
                else:
                    value_cases.setdefault(flag, "return")
    for flag in sorted(value_cases):
        lines.append(f"        {flag}) {value_cases[flag]} ;;")
    lines += ["    esac", '    case "$cmd" in',
              f'        "") COMPREPLY=($(compgen -W "{" ".join(c.name for c in spec.COMMANDS)} --help --version" -- "$cur")); return ;;']
    for cmd in spec.COMMANDS:
        if cmd.subcommands:
            lines.append(f"        {cmd.name})")
            lines.append('            case "$sub" in')
            names = " ".join(c.name for c in cmd.subcommands)
            lines.append(f'                "") COMPREPLY=($(compgen -W "{names} --help" -- "$cur")) ;;')
            for child in cmd.subcommands:
                lines.append(f'                {child.name}) {_bash_words(child)} ;;')
            lines.append("            esac ;;")
        else:
            lines.append(f"        {cmd.name}) {_bash_words(cmd)} ;;")
    lines += ["    esac", "}", "complete -F _opfleet opfleet", ""]
    return "\n".join(lines)


def _bash_words(cmd: spec.Command) -> str:
    flags = [f for o in _flag_options(cmd) for f in o.all_flags] + ["--help"]
    positional = next((o for o in cmd.options if o.positional), None)
    if positional is not None and positional.choices:
        words = " ".join(positional.choices)
        return f'COMPREPLY=($(compgen -W "{words} {" ".join(flags)}" -- "$cur"))'
    if positional is not None and positional.kind == spec.PATH:
        return (f'if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "{" ".join(flags)}" -- "$cur"));'
                ' else COMPREPLY=($(compgen -f -- "$cur")); fi')
    return f'COMPREPLY=($(compgen -W "{" ".join(flags)}" -- "$cur"))'


# --- zsh -----------------------------------------------------------------------------------------


def _zsh_escape(text: str) -> str:
    return (_short(text).replace("\\", "").replace("'", "").replace("[", "(").replace("]", ")")
            .replace(":", " -"))


def _zsh_args(cmd: spec.Command) -> str:
    specs = []
    for option in _flag_options(cmd):
        desc = _zsh_escape(option.help)
        for flag in option.all_flags:
            if option.kind == spec.BOOL:
                specs.append(f"'{flag}[{desc}]'")
            elif option.kind == spec.CHOICE or option.suggestions:
                words = " ".join(option.choices or option.suggestions)
                specs.append(f"'{flag}=[{desc}]:{option.key}:({words})'")
            elif option.kind == spec.PATH:
                specs.append(f"'{flag}=[{desc}]:file:_files'")
            else:
                specs.append(f"'{flag}=[{desc}]:{(option.metavar or option.kind).lower()}: '")
    for option in cmd.options:
        if option.positional:
            many = "*" if option.nargs in ("*", "+") else ""
            action = f"({' '.join(option.choices)})" if option.choices else (
                "_files" if option.kind == spec.PATH else " ")
            specs.append(f"'{many}:{option.key}:{action}'")
    specs.append("'(-h --help)'{-h,--help}'[show help]'")
    return "_arguments -s " + " ".join(specs)


def zsh() -> str:
    lines = ["#compdef opfleet", f"# zsh completion for opfleet ({HEADER})", "", "_opfleet() {",
             "    local -a commands", "    commands=("]
    for cmd in spec.COMMANDS:
        lines.append(f"        '{cmd.name}:{_zsh_escape(cmd.summary)}'")
    lines += ["    )", "    if (( CURRENT == 2 )); then",
              "        _describe -t commands 'opfleet command' commands", "        return", "    fi",
              '    case "${words[2]}" in']
    for cmd in spec.COMMANDS:
        if cmd.subcommands:
            lines.append(f"        {cmd.name})")
            lines.append("            local -a subs")
            subs = " ".join(f"'{c.name}:{_zsh_escape(c.summary)}'" for c in cmd.subcommands)
            lines.append(f"            subs=({subs})")
            lines.append("            if (( CURRENT == 3 )); then _describe -t subs 'what' subs; return; fi")
            lines.append('            shift 2 words; (( CURRENT -= 2 ))')
            lines.append('            case "${words[0]}" in')
            for child in cmd.subcommands:
                lines.append(f"                {child.name}) {_zsh_args(child)} ;;")
            lines.append("            esac ;;")
        else:
            lines.append(f"        {cmd.name}) shift words; (( CURRENT-- )); {_zsh_args(cmd)} ;;")
    lines += ["    esac", "}", "", '_opfleet "$@"', ""]
    return "\n".join(lines)


# --- fish ----------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + _short(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish() -> str:
    lines = [f"# fish completion for opfleet ({HEADER})", "complete -c opfleet -f"]
    top = " ".join(c.name for c in spec.COMMANDS)
    for cmd in spec.COMMANDS:
        lines.append(f"complete -c opfleet -n 'not __fish_seen_subcommand_from {top}' "
                     f"-a {cmd.name} -d {_fish_quote(cmd.summary)}")
    for cmd in spec.COMMANDS:
        if cmd.subcommands:
            names = " ".join(c.name for c in cmd.subcommands)
            for child in cmd.subcommands:
                lines.append(f"complete -c opfleet -n '__fish_seen_subcommand_from {cmd.name}; and "
                             f"not __fish_seen_subcommand_from {names}' -a {child.name} "
                             f"-d {_fish_quote(child.summary)}")
            for child in cmd.subcommands:
                lines += _fish_options(child, f"__fish_seen_subcommand_from {cmd.name}; and "
                                              f"__fish_seen_subcommand_from {child.name}")
        else:
            lines += _fish_options(cmd, f"__fish_seen_subcommand_from {cmd.name}")
    return "\n".join(lines) + "\n"


def _fish_options(cmd: spec.Command, condition: str) -> list[str]:
    out = []
    for option in _flag_options(cmd):
        extra = ""
        if option.kind == spec.CHOICE or option.suggestions:
            extra = f" -x -a '{' '.join(option.choices or option.suggestions)}'"
        elif option.kind == spec.PATH:
            extra = " -r -F"
        elif option.kind != spec.BOOL:
            extra = " -x"
        for flag in option.all_flags:
            name = flag.lstrip("-")
            switch = f"-l {name}" if flag.startswith("--") else f"-s {name}"
            out.append(f"complete -c opfleet -n '{condition}' {switch}{extra} "
                       f"-d {_fish_quote(option.help)}")
    for option in cmd.options:
        if option.positional and option.choices:
            out.append(f"complete -c opfleet -n '{condition}' -a '{' '.join(option.choices)}'")
        elif option.positional and option.kind == spec.PATH:
            out.append(f"complete -c opfleet -n '{condition}' -F")
    return out


# --- man page ------------------------------------------------------------------------------------


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line
                     for line in text.split("\n"))


def _man_options(cmd: spec.Command) -> list[str]:
    from opfleet.cli.main import option_help

    out = []
    for option in cmd.options:
        if option.positional:
            head = f"\\fI{_roff(option.metavar or option.key)}\\fR"
        else:
            value = "" if option.kind == spec.BOOL else \
                " \\fI" + _roff(option.metavar or "|".join(option.choices) or option.kind.upper()) + "\\fR"
            head = ", ".join(f"\\fB{_roff(f)}\\fR" for f in option.all_flags) + value
        out += [".TP", head, _roff(option_help(option))]
    return out


def man() -> str:
    lines = [
        f'.\\" {HEADER}',
        f'.TH OPFLEET 1 "" "opfleet {__version__}" "User Commands"',
        ".SH NAME", f"opfleet \\- {_roff(spec.PROGRAM_SUMMARY)}",
        ".SH SYNOPSIS", "\\fBopfleet\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION", _roff(spec.PROGRAM_DESCRIPTION),
        ".SH COMMANDS",
    ]
    for path, node in spec.walk():
        lines += [f".SS opfleet {_roff(path)}", _roff(node.description)]
        lines += _man_options(node)
        for example in node.examples:
            lines += [".PP", ".nf", ".RS 4", _roff(example), ".RE", ".fi"]
    lines += [
        ".SH SETTINGS",
        _roff("Settings merge in this order: built-in defaults < TOML profile (--profile NAME|PATH; "
              "names resolve in $XDG_CONFIG_HOME/opfleet/profiles/) < environment < command-line "
              "flags. In a profile, write a setting by its flag name with dots and dashes as "
              "underscores (l1_beacon = \"http://...\"); a [source], [light] ... table overrides "
              "top-level keys for that command."),
        ".SH ENVIRONMENT",
        _roff("Settings that mirror op-node flags read OP_NODE_<FLAG> (dots and dashes as "
              "underscores, e.g. OP_NODE_L1_BEACON), plus op-node's own names where they differ "
              "(OP_NODE_L1_ETH_RPC, OP_NODE_L2_ENGINE_RPC, OP_NODE_L2_ENGINE_AUTH). opfleet's own "
              "settings read OPFLEET_<FLAG>. OPFLEET_PROFILE selects a profile; OPFLEET_DEBUG=1 "
              "prints a traceback on unexpected errors."),
        ".SH EXIT STATUS",
    ]
    for status in ExitStatus:
        lines += [".TP", f"\\fB{int(status)}\\fR", _roff(DESCRIPTIONS[status])]
    lines += [
        ".SH FILES",
        ".TP", "\\fI$XDG_CONFIG_HOME/opfleet/profiles/*.toml\\fR", "Settings profiles.",
        ".TP", "\\fI$XDG_CONFIG_HOME/opfleet/plugins/*.py\\fR",
        _roff("Plugins (also plugins/ next to the executable)."),
    ]
    lines += _man_examples()
    lines.append("")
    return "\n".join(lines)


def _man_examples() -> list[str]:
    """EXAMPLES: every command's examples under what the command does, in the table's order."""
    out = [".SH EXAMPLES"]
    for path, node in spec.walk():
        if not node.examples:
            continue
        out += [".PP", _roff(f"opfleet {path}: {node.summary}."), ".nf", ".RS 4"]
        out += [_roff(example) for example in node.examples]
        out += [".RE", ".fi"]
    return out


SHELLS = {"bash": bash, "zsh": zsh, "fish": fish}

# path (relative to the repository root) -> generator
OUTPUTS = {
    "completions/opfleet.bash": bash,
    "completions/_opfleet": zsh,
    "completions/opfleet.fish": fish,
    "man/opfleet.1": man,
}


def write_all(root: Path) -> list[Path]:
    written = []
    for relative, generate in OUTPUTS.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generate())
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1].startswith("-")):
        sys.exit("usage: python -m opfleet.cli.generate [REPOSITORY_ROOT]")
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    for path in write_all(root):
        print(f"wrote {path}")
