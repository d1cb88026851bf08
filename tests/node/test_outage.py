"""Outage: the retry bookkeeping every node's loops share (one warning, one recovery line)."""

from __future__ import annotations

import logging

import pytest

from opfleet.node.outage import Outage


@pytest.fixture
def records(caplog):
    """The records of one logger of our own, captured whatever the CLI did to propagation."""
    logger = logging.getLogger("opfleet.test_outage")
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, caplog
    logger.removeHandler(caplog.handler)


def test_backoff_doubles_up_to_the_cap_and_logs_once_per_outage(records):
    logger, caplog = records
    outage = Outage("L1 head polling", 0.5, 4.0, logger=logger)
    delays = [outage.failed(ConnectionError("refused")) for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0] and outage.failures == 6
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == ["L1 head polling failing, retrying with backoff: refused"]
    assert warnings[0].fields == {"retry_in": "0.5s"}
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 5  # the retries: debug only
    outage.ok()
    outage.ok()  # a success without an outage says nothing
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [(r.getMessage(), r.fields) for r in infos] == [("L1 head polling recovered", {"attempts": 6})]
    assert outage.failures == 0
    assert outage.failed(ConnectionError("again")) == 0.5  # the next outage starts from the base again
    assert sum(r.levelno == logging.WARNING for r in caplog.records) == 2


def test_a_long_outage_never_overflows(records):
    """Hours of failures (well past 2**1024) still answer the cap rather than raising OverflowError."""
    logger, _ = records
    outage = Outage("Derivation", 0.5, 30.0, logger=logger)
    for _ in range(5000):
        delay = outage.failed(TimeoutError("slow"))
    assert delay == 30.0 and outage.failures == 5000
