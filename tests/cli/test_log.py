"""Log formats: text, logfmt and json carry the message and structured fields."""

from __future__ import annotations

import json
import logging

from opfleet import log
from tests.conftest import FakeEnvironment


def emit(fmt: str, level: str = "info") -> str:
    env = FakeEnvironment()
    log.configure(level=level, fmt=fmt, env=env)
    logger = log.get_logger("test")
    logger.info("new safe head", extra={"fields": {"number": 12, "hash": "0xab cd"}})
    logger.debug("hidden at info")
    return env.stderr.getvalue()


def test_json_lines():
    record = json.loads(emit("json").strip())
    assert record["msg"] == "new safe head" and record["lvl"] == "info"
    assert record["number"] == 12 and record["hash"] == "0xab cd"


def test_logfmt_quotes_values_with_spaces():
    line = emit("logfmt").strip()
    assert 'lvl=info msg="new safe head" number=12 hash="0xab cd"' in line


def test_text_and_level_filter():
    text = emit("text")
    assert text.startswith("INFO") and "number=12" in text and "hidden" not in text
    assert "hidden at info" in emit("text", level="debug")


def test_cli_configures_logging_from_settings(cli):
    result = cli(["light", "--log.format", "json"])
    assert result.status == 3  # missing --l2.follow.source; logging is configured before that check
    assert logging.getLogger("opfleet").handlers
    assert isinstance(logging.getLogger("opfleet").handlers[0].formatter, log.JsonFormatter)
