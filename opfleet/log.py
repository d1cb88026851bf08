"""Logging, configured once per process: text (coloured only on a terminal), logfmt or json.

Levels follow op-node's names (trace, debug, info, warn, error, crit). Structured fields go in
``extra={"fields": {...}}`` so every format can print them as key=value pairs.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

TRACE = 5
LEVELS = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO,
          "warn": logging.WARNING, "error": logging.ERROR, "crit": logging.CRITICAL}
_NAMES = {TRACE: "TRACE", logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN",
          logging.ERROR: "ERROR", logging.CRITICAL: "CRIT"}
logging.addLevelName(TRACE, "TRACE")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return dict(getattr(record, "fields", None) or {})


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
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if fmt == "text" and env.stderr_isatty:
        from rich.logging import RichHandler  # rich only when a person is watching
        from rich.console import Console

        handler: logging.Handler = RichHandler(console=Console(file=env.stderr), show_path=False)
        handler.setFormatter(_RichFieldsFormatter())
    else:
        handler = logging.StreamHandler(env.stderr)
        handler.setFormatter({"json": JsonFormatter, "logfmt": LogfmtFormatter}.get(
            fmt, TextFormatter)())
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
    root.propagate = False


class _RichFieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())
        return f"{record.getMessage()} {fields}".rstrip()


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"opfleet.{name}")
