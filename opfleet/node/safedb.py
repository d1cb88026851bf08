"""The safe-head database behind ``optimism_safeHeadAtL1Block``.

For each L1 block at which the safe head changed, remember which L2 block was safe once that L1
block was fully derived. Persisted in sqlite (standard library), so answers survive restarts, as
op-node's ``--safedb.path`` does. Entries are keyed by L1 number; a reset to an older safe head
drops every entry whose safe head no longer exists.

Reference: op-node ``op-node/node/safedb`` (SeekLT(n+1): the most recent entry at or below n).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from opfleet.errors import ConfigError
from opfleet.protocol.rollup_config import BlockID

_SCHEMA = """
CREATE TABLE IF NOT EXISTS safe_heads (
    l1_number INTEGER PRIMARY KEY,
    l1_hash   BLOB NOT NULL,
    l2_number INTEGER NOT NULL,
    l2_hash   BLOB NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class SafeHeadEntry:
    l1_block: BlockID
    safe_head: BlockID


class SafeHeadNotFound(LookupError):
    """No entry at or below the requested L1 block (op-node's error says "not found")."""


class SafeHeadDB:
    """sqlite-backed; ``path=None`` keeps it in memory (tests, devnet)."""

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
        """The safe head after deriving everything from ``l1_block``; later writes for the same
        L1 block replace earlier ones."""
        self._db.execute(
            "INSERT OR REPLACE INTO safe_heads VALUES (?, ?, ?, ?)",
            (l1_block.number, l1_block.hash, safe_head.number, safe_head.hash),
        )

    def reset(self, safe_head: BlockID) -> int:
        """The safe head went back to ``safe_head``: forget entries naming later L2 blocks.

        Returns how many entries were dropped."""
        cursor = self._db.execute("DELETE FROM safe_heads WHERE l2_number > ?", (safe_head.number,))
        return cursor.rowcount

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
