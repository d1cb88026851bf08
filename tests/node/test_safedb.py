from __future__ import annotations

import pytest

from opfleet.errors import ConfigError
from opfleet.node.safedb import SafeHeadDB, SafeHeadNotFound
from opfleet.protocol.rollup_config import BlockID


def bid(n: int, tag: int = 0) -> BlockID:
    return BlockID(bytes([n % 256, tag]) * 16, n)


def test_lookup_returns_the_latest_entry_at_or_below(tmp_path):
    db = SafeHeadDB(tmp_path / "safedb.sqlite")
    with pytest.raises(SafeHeadNotFound, match="not found"):
        db.safe_head_at(100)
    db.record(bid(10), bid(100))
    db.record(bid(12), bid(110))
    assert db.safe_head_at(9999).safe_head == bid(110)
    assert db.safe_head_at(11).l1_block == bid(10)
    with pytest.raises(SafeHeadNotFound):
        db.safe_head_at(9)


def test_survives_restart_and_reset_drops_newer_heads(tmp_path):
    path = tmp_path / "dir" / "safedb.sqlite"
    db = SafeHeadDB(path)
    for i in range(5):
        db.record(bid(10 + i), bid(100 + 10 * i))
    db.close()
    db = SafeHeadDB(path)
    assert db.safe_head_at(14).safe_head == bid(140)
    assert db.reset(bid(120)) == 2
    assert db.safe_head_at(14).safe_head == bid(120)
    db.record(bid(13, tag=1), bid(121, tag=1))  # re-derived after the reset
    assert db.safe_head_at(20).safe_head == bid(121, tag=1)


def test_unusable_path_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="safe-head database"):
        SafeHeadDB(blocker / "safedb.sqlite")
