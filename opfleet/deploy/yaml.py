"""A small, deterministic YAML writer for manifests (block style, keys in insertion order).

Kubernetes manifests only need maps, lists, strings, integers, booleans and null. Strings that a
YAML reader could take for something else (``true``, ``10``, ``1e3``, ``null``, ``'*'``, a leading
or trailing space, ``: `` or `` #`` inside) are written double-quoted with JSON escapes, which
YAML reads the same; multi-line strings as literal blocks (``|``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dump", "dump_all"]

_PLAIN = re.compile(r"^(--?[A-Za-z]|[A-Za-z_./])[A-Za-z0-9_./:@()=+,-]*( [A-Za-z0-9_./:@()=+,-]+)*$")
_RESERVED = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|"
                       r"off|Off|OFF|null|Null|NULL|~|\.inf|\.nan)$")


# outside YAML's printable set, or a line break YAML folds (NEL, LS, PS), or a byte-order mark
_NOT_PRINTABLE = re.compile("[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                            "\U00010000-\U0010ffff]")


def _quoted(value: str) -> str:
    """JSON's double-quoted form, with what YAML may not hold raw escaped (YAML 1.1 §5.1)."""
    text = json.dumps(value, ensure_ascii=False)
    return _NOT_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise TypeError("floats are not written: use an int or a string")
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} as YAML")
    if _PLAIN.fullmatch(value) and not _RESERVED.fullmatch(value) and ": " not in value and not value.endswith(":"):
        return value
    return _quoted(value)


def _block(value: str, indent: int) -> str:
    pad = " " * indent
    lines = value.split("\n")
    if lines[-1] == "":
        lines.pop()
        head = "|"
    else:
        head = "|-"
    if (any(line != line.rstrip() for line in lines) or (lines and lines[0][:1] in (" ", ""))
            or _NOT_PRINTABLE.search(value) or "\r" in value):
        return _quoted(value)  # trailing or leading blanks, control characters: quoted
    return head + "".join("\n" + (pad + line if line else "") for line in lines)


def _emit(value: Any, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            raise ValueError("an empty map is written inline by its parent")
        for key, item in value.items():
            _emit_entry(f"{pad}{_scalar(str(key))}:", item, indent, out)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for item in value:
            if isinstance(item, Mapping) and item:
                first = True
                for key, sub in item.items():
                    prefix = f"{pad}- " if first else f"{pad}  "
                    _emit_entry(f"{prefix}{_scalar(str(key))}:", sub, indent + 2, out)
                    first = False
            else:
                _emit_entry(f"{pad}-", item, indent, out)
    else:
        out.append(pad + _scalar(value))


def _emit_entry(head: str, item: Any, indent: int, out: list[str]) -> None:
    child = indent + 2
    if isinstance(item, Mapping):
        if not item:
            out.append(f"{head} {{}}")
        else:
            out.append(head)
            _emit(item, child, out)
    elif isinstance(item, Sequence) and not isinstance(item, str):
        if not item:
            out.append(f"{head} []")
        else:
            out.append(head)
            _emit(item, child, out)
    elif isinstance(item, str) and "\n" in item:
        out.append(f"{head} {_block(item, child)}")
    else:
        out.append(f"{head} {_scalar(item)}")


def dump(document: Mapping[str, Any], *, comment: str | None = None) -> str:
    """One YAML document; ``comment`` becomes ``#`` lines at the top."""
    out: list[str] = []
    if comment:
        out.extend(f"# {line}".rstrip() for line in comment.splitlines())
    _emit(document, 0, out)
    return "\n".join(out) + "\n"


def dump_all(documents: Sequence[Mapping[str, Any]], *, comment: str | None = None) -> str:
    """Several documents separated by ``---``."""
    parts = [dump(doc, comment=comment if i == 0 else None) for i, doc in enumerate(documents)]
    return "---\n".join(parts)
