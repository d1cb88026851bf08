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


def test_log_context_names_the_node_and_chain_on_every_line_in_every_format():
    for fmt in ("text", "logfmt", "json"):
        env = FakeEnvironment()
        log.configure(level="info", fmt=fmt, env=env)
        logger = log.get_logger("test")
        with log.log_context(node="light-1", chain="901"):
            logger.info("new safe head", extra={"fields": {"number": 12}})
            with log.log_context(node="light-1-el"):
                logger.info("engine listening")
            with log.log_context(chain=""):  # an empty value removes the field
                logger.info("speaks for no chain")
        logger.info("outside")
        lines = env.stderr.getvalue().splitlines()
        assert len(lines) == 4, lines
        if fmt == "json":
            records = [json.loads(line) for line in lines]
            assert records[0]["node"] == "light-1" and records[0]["chain"] == "901" and records[0]["number"] == 12
            assert records[1]["node"] == "light-1-el" and records[1]["chain"] == "901"
            assert records[2]["node"] == "light-1" and "chain" not in records[2]
            assert "node" not in records[3]
        else:
            # the node first, then the line's own fields
            assert "node=light-1 chain=901 number=12" in lines[0]
            assert "node=light-1-el chain=901" in lines[1]
            assert "node=light-1" in lines[2] and "chain=" not in lines[2]
            assert "node=" not in lines[3]


def test_a_records_own_field_wins_over_the_context():
    env = FakeEnvironment()
    log.configure(level="info", fmt="logfmt", env=env)
    with log.log_context(node="supernode", chain="901,902"):
        log.get_logger("test").info("reorg", extra={"fields": {"chain": "902"}})
    line = env.stderr.getvalue()
    assert "node=supernode chain=902" in line and "901," not in line


def test_log_context_reaches_trio_tasks_and_threads_but_not_siblings():
    import trio

    env = FakeEnvironment()
    log.configure(level="info", fmt="logfmt", env=env)
    logger = log.get_logger("test")

    async def node(name: str, task_status=trio.TASK_STATUS_IGNORED) -> None:
        with log.log_context(node=name, chain="901"):
            async with trio.open_nursery() as inner:
                inner.start_soon(lambda: trio.to_thread.run_sync(logger.info, f"thread of {name}"))
                task_status.started()
                logger.info(f"task of {name}")

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(node, "source-1")
            await nursery.start(node, "light-1")
            logger.info("the parent")

    trio.run(main)
    lines = env.stderr.getvalue().splitlines()
    for name in ("source-1", "light-1"):
        for what in ("task", "thread"):
            line = next(line for line in lines if f'"{what} of {name}"' in line)
            assert f"node={name} chain=901" in line
    assert "node=" not in next(line for line in lines if "the parent" in line)


def test_log_to_file_keeps_the_fields_and_can_take_over_from_the_terminal(tmp_path):
    env = FakeEnvironment()
    log.configure(level="info", fmt="text", env=env)
    logger = log.get_logger("test")
    path = log.log_to_file(tmp_path / "sub" / "devnet.log", fmt="text")
    with log.log_context(node="source-1", chain="901"):
        logger.info("Source node started", extra={"fields": {"rpc": "http://127.0.0.1:1"}})
    assert "node=source-1 chain=901 rpc=http://127.0.0.1:1" in path.read_text()
    assert "node=source-1" in env.stderr.getvalue()  # the terminal still gets it

    only = log.log_to_file(tmp_path / "tui.log", fmt="logfmt", only=True)  # while a TUI owns the terminal
    before = env.stderr.getvalue()
    with log.log_context(node="light-1"):
        logger.warning("source down", extra={"fields": {"attempts": 3}})
    assert env.stderr.getvalue() == before
    assert 'lvl=warn msg="source down" node=light-1 attempts=3' in only.read_text()
    for handler in list(logging.getLogger("opfleet").handlers):
        handler.close()
        logging.getLogger("opfleet").removeHandler(handler)
