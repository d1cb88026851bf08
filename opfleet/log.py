"""Logging, configured once per process: text (coloured only on a terminal), logfmt or json.

Levels follow op-node's names (trace, debug, info, warn, error, crit). Structured fields go in
``extra={"fields": {...}}`` so every format can print them as key=value pairs. Where several
nodes share one process (``opfleet devnet``), :func:`log_context` names the node and chain a task
speaks for; trio copies context variables into every task and thread it starts, so each line a
node's tasks write carries ``node=`` and ``chain=`` first.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TRACE = 5
LEVELS = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO,
          "warn": logging.WARNING, "error": logging.ERROR, "crit": logging.CRITICAL}
_NAMES = {TRACE: "TRACE", logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN",
          logging.ERROR: "ERROR", logging.CRITICAL: "CRIT"}
logging.addLevelName(TRACE, "TRACE")


# Read-only default: binding a context always sets a new dict.
_CONTEXT: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "opfleet_log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Every line logged in this block, and in the tasks and threads started from it, carries
    ``fields`` (``node=…``, ``chain=…``) before its own; an empty value removes a field."""
    merged = {**_CONTEXT.get(), **{k: str(v) for k, v in fields.items()}}
    token = _CONTEXT.set({k: v for k, v in merged.items() if v})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    # The record's own fields win over the context's (a supernode line naming its chain).
    return {**_CONTEXT.get(), **(getattr(record, "fields", None) or {})}


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\\') :
        return json.dumps(text)
    return text


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = {
            "t": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.created)),
            "lvl": _NAMES.get(record.levelno, record.levelname).lower(),
            "msg": record.getMessage(),
            **_fields(record),
        }
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in pairs.items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj = {
            "t": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(record.created)),
            "lvl": _NAMES.get(record.levelno, record.levelname).lower(),
            "msg": record.getMessage(),
            **_fields(record),
        }
        return json.dumps(obj, default=str)


class TextFormatter(logging.Formatter):
    """op-node's terminal look: ``LEVEL [time] message  key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%m-%d|%H:%M:%S", time.localtime(record.created))
        level = _NAMES.get(record.levelno, record.levelname)
        fields = " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())
        return f"{level:<5} [{stamp}] {record.getMessage():<40} {fields}".rstrip()


def configure(*, level: str, fmt: str, env: Any) -> None:
    """Send opfleet's logs to ``env.stderr`` in the chosen format."""
    root = logging.getLogger("opfleet")
    for old in list(root.handlers):
        root.removeHandler(old)
    if fmt == "text" and env.stderr_isatty:
        from rich.console import Console
        from rich.logging import RichHandler  # rich only when a person is watching

        handler: logging.Handler = RichHandler(console=Console(file=env.stderr), show_path=False)
        handler.setFormatter(_RichFieldsFormatter())
    else:
        handler = logging.StreamHandler(env.stderr)
        handler.setFormatter({"json": JsonFormatter, "logfmt": LogfmtFormatter}.get(
            fmt, TextFormatter)())
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
    root.propagate = False


def log_to_file(path: Path, *, fmt: str, only: bool = False) -> Path:
    """Also (``only``: instead of the terminal) write opfleet's logs to ``path``, appending, in
    ``fmt`` (``text`` is the uncoloured terminal look): the same lines, fields included."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger("opfleet")
    if only:
        for old in list(root.handlers):
            root.removeHandler(old)
    handler = logging.FileHandler(path)
    handler.setFormatter({"json": JsonFormatter, "logfmt": LogfmtFormatter}.get(fmt, TextFormatter)())
    root.addHandler(handler)
    return path


class _RichFieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())
        return f"{record.getMessage()} {fields}".rstrip()


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"opfleet.{name}")


# --- secrets in printed URLs -----------------------------------------------------------------

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{16,}$")


def mask_url(url: str) -> str:
    """``url`` with its secrets replaced by ``****``: the password (or a bare user token), path
    segments that look like API keys, query values. The one function every printed URL goes
    through; a value that is not a URL comes back as it is."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a bad IPv6 literal: print nothing of it rather than a secret
        return "****"
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:****@{host}" if ":" in userinfo else f"****@{host}"
    path = "/".join("****" if _TOKEN.match(seg) else seg for seg in parts.path.split("/"))
    query = "&".join(
        (pair.split("=", 1)[0] + "=****") if "=" in pair else "****"
        for pair in parts.query.split("&")
    ) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, path, query, ""))
