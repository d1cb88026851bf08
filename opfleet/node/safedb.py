"""The safe-head database behind ``optimism_safeHeadAtL1Block``.

op-node's ``--safedb.path`` (``op-node/node/safedb``), persisted in sqlite (standard library):

- every time the safe head moves, the new safe head is written under the number of the L1 block
  it was derived from (a later safe head derived from the same L1 block replaces the entry);
- a pipeline reset to safe head S (every start, every reorg) drops the entries from the first
  one, at or after S's L1 origin, that names S or a later block, and if an older entry exists
  records S under that entry's L1 block. Re-reading L1 after the reset writes nothing until the
  safe head moves again, so entries for L1 blocks derived before the reset are never rewritten;
- a reset to the L2 genesis records the genesis as safe at L1 block 0.

A lookup answers the most recent entry at or below the requested L1 block (SeekLT(n+1)).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from opfleet.errors import ConfigError
from opfleet.protocol.block_ref import L2BlockRef
from opfleet.protocol.rollup_config import BlockID
from opfleet.protocol.safe_head import SafeHeadEntry as SafeHeadEntry
from opfleet.protocol.safe_head import SafeHeadNotFound as SafeHeadNotFound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS safe_heads (
    l1_number INTEGER PRIMARY KEY,
    l1_hash   BLOB NOT NULL,
    l2_number INTEGER NOT NULL,
    l2_hash   BLOB NOT NULL
)
"""


class SafeHeadDB:
    """sqlite-backed; ``path=None`` keeps it in memory (tests, devnet). A
    :class:`~opfleet.protocol.safe_head.SafeHeadReader` for the RPC."""

    def __init__(self, path: str | Path | None):
        target = ":memory:" if path is None else str(Path(path).expanduser())
        try:
            if path is not None:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open safe-head database: {exc}", source=target) from None

    def record(self, l1_block: BlockID, safe_head: BlockID) -> None:
        """The safe head moved to ``safe_head``, derived from ``l1_block`` (op-node
        ``SafeHeadUpdated``); a later write for the same L1 block replaces this one."""
        self._db.execute(
            "INSERT OR REPLACE INTO safe_heads VALUES (?, ?, ?, ?)",
            (l1_block.number, l1_block.hash, safe_head.number, safe_head.hash),
        )

    def reset(self, safe_head: L2BlockRef) -> int:
        """The pipeline reset to ``safe_head`` (op-node ``SafeHeadReset``): from the first entry
        at or after its L1 origin whose safe head is ``safe_head`` or later, drop every entry;
        if an entry precedes it, record ``safe_head`` under the dropped entry's L1 block (we know
        it was safe there). A safe head older than every entry is not recorded: the L1 block it
        became safe in is unknown. Returns how many entries were dropped."""
        boundary = self._db.execute(
            "SELECT l1_number, l1_hash FROM safe_heads WHERE l1_number >= ? AND l2_number >= ? "
            "ORDER BY l1_number LIMIT 1", (safe_head.l1_origin.number, safe_head.number),
        ).fetchone()
        if boundary is None:
            return 0
        l1_number, l1_hash = boundary
        has_previous = self._db.execute(
            "SELECT 1 FROM safe_heads WHERE l1_number < ? LIMIT 1", (l1_number,)).fetchone() is not None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            dropped = self._db.execute("DELETE FROM safe_heads WHERE l1_number >= ?", (l1_number,)).rowcount
            if has_previous:
                self._db.execute("INSERT INTO safe_heads VALUES (?, ?, ?, ?)",
                                 (l1_number, l1_hash, safe_head.number, safe_head.hash))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return dropped

    def safe_head_at(self, l1_number: int) -> SafeHeadEntry:
        row = self._db.execute(
            "SELECT l1_number, l1_hash, l2_number, l2_hash FROM safe_heads WHERE l1_number <= ? "
            "ORDER BY l1_number DESC LIMIT 1", (l1_number,),
        ).fetchone()
        if row is None:
            raise SafeHeadNotFound("not found")
        return SafeHeadEntry(BlockID(bytes(row[1]), row[0]), BlockID(bytes(row[3]), row[2]))

    def close(self) -> None:
        self._db.close()
