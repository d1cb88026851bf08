"""A chain's log database: every local-safe block with its logs, its verified head and deny list.

One sqlite file per chain (standard library), so the index and the verification state survive
restarts (op-supernode keeps per-chain LogsDBs and a VerifiedDB; ``supernode/activity/interop/``).
Blocks are appended in order, each linking to the previous one by parent hash; a
reorg rewinds the tail. Per log we keep what verification needs: the emitting address, the
payload hash and, for an executing message, the identifier and message hash it claims.

The deny list holds blocks found invalid (with their output-root preimage, for the
replacement's optimistic-block deposit, ``specs/interop/derivation.md``); the verified head is
the newest block whose messages, and whose dependencies' messages, all checked out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from opfleet.errors import ConfigError
from opfleet.interop.messages import ExecutingMessage, Identifier
from opfleet.interop.verify import BlockLogs, IndexedLog
from opfleet.protocol.block_ref import BlockID, L2BlockRef

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    number           INTEGER PRIMARY KEY,
    hash             BLOB NOT NULL,
    parent_hash      BLOB NOT NULL,
    timestamp        INTEGER NOT NULL,
    l1_origin_hash   BLOB NOT NULL,
    l1_origin_number INTEGER NOT NULL,
    sequence_number  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
    block_number  INTEGER NOT NULL,
    log_index     INTEGER NOT NULL,
    origin        BLOB NOT NULL,
    payload_hash  BLOB NOT NULL,
    exec_chain    INTEGER,
    exec_block    INTEGER,
    exec_log      INTEGER,
    exec_time     INTEGER,
    exec_origin   BLOB,
    exec_hash     BLOB,
    PRIMARY KEY (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS denied (
    number          INTEGER NOT NULL,
    hash            BLOB NOT NULL,
    output_preimage BLOB NOT NULL,
    PRIMARY KEY (number, hash)
);
CREATE TABLE IF NOT EXISTS verified (
    id               INTEGER PRIMARY KEY CHECK (id = 0),
    hash             BLOB NOT NULL,
    number           INTEGER NOT NULL,
    parent_hash      BLOB NOT NULL,
    timestamp        INTEGER NOT NULL,
    l1_origin_hash   BLOB NOT NULL,
    l1_origin_number INTEGER NOT NULL,
    sequence_number  INTEGER NOT NULL
);
"""


class LogDBError(Exception):
    """A block that does not extend the database's chain (the caller rewinds first)."""


class LogDB:
    """The log database of one chain; ``path=None`` keeps it in memory (tests)."""

    def __init__(self, path: str | Path | None, *, chain_id: int):
        self.chain_id = chain_id
        self.path = Path(path) if path is not None else None
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path) if self.path is not None else ":memory:",
                                       check_same_thread=False)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the log database: {exc}", source=str(path)) from None

    def close(self) -> None:
        self._db.close()

    # --- blocks ---------------------------------------------------------------------------------

    def latest(self) -> L2BlockRef | None:
        return _ref(self._db.execute(f"SELECT {_REF_COLUMNS} FROM blocks ORDER BY number DESC LIMIT 1").fetchone())

    def block(self, number: int) -> L2BlockRef | None:
        return _ref(self._db.execute(f"SELECT {_REF_COLUMNS} FROM blocks WHERE number = ?", (number,)).fetchone())

    def add_block(self, seal: L2BlockRef, logs: Iterable[IndexedLog]) -> None:
        """Append a block; it must be the first one or extend the latest (else LogDBError)."""
        latest = self.latest()
        if latest is not None and (seal.number != latest.number + 1 or seal.parent_hash != latest.hash):
            raise LogDBError(f"chain {self.chain_id}: block {seal.number} does not extend block {latest.number}")
        with self._db:
            self._db.execute(f"INSERT INTO blocks ({_REF_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", _ref_row(seal))
            self._db.executemany("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 [_log_row(seal.number, log) for log in logs])

    def rewind_to(self, number: int) -> None:
        """Drop every block above ``number`` (and the verified head if it was one of them)."""
        with self._db:
            self._db.execute("DELETE FROM blocks WHERE number > ?", (number,))
            self._db.execute("DELETE FROM logs WHERE block_number > ?", (number,))
            self._db.execute("DELETE FROM verified WHERE number > ?", (number,))

    def block_logs(self, number: int) -> BlockLogs | None:
        seal = self.block(number)
        if seal is None:
            return None
        rows = self._db.execute("SELECT * FROM logs WHERE block_number = ? ORDER BY log_index",
                                (number,)).fetchall()
        return BlockLogs(self.chain_id, seal.number, seal.hash, seal.timestamp,
                         tuple(_log_from_row(self.chain_id, row) for row in rows))

    def find_log(self, number: int, log_index: int) -> tuple[int, IndexedLog] | None:
        """``(block timestamp, log)`` at ``(number, log_index)``, or None."""
        seal = self.block(number)
        if seal is None:
            return None
        row = self._db.execute("SELECT * FROM logs WHERE block_number = ? AND log_index = ?",
                               (number, log_index)).fetchone()
        return None if row is None else (seal.timestamp, _log_from_row(self.chain_id, row))

    def last_at_or_before(self, timestamp: int) -> L2BlockRef | None:
        return _ref(self._db.execute(f"SELECT {_REF_COLUMNS} FROM blocks WHERE timestamp <= ? "
                                     "ORDER BY number DESC LIMIT 1", (timestamp,)).fetchone())

    # --- verification state ---------------------------------------------------------------------

    def verified(self) -> L2BlockRef | None:
        return _ref(self._db.execute(f"SELECT {_REF_COLUMNS} FROM verified").fetchone())

    def set_verified(self, ref: L2BlockRef) -> None:
        with self._db:
            self._db.execute(f"INSERT OR REPLACE INTO verified (id, {_REF_COLUMNS}) VALUES (0, ?, ?, ?, ?, ?, ?, ?)",
                             _ref_row(ref))

    def deny(self, number: int, block_hash: bytes, output_preimage: bytes) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO denied VALUES (?, ?, ?)", (number, block_hash, output_preimage))

    def denied(self, number: int, block_hash: bytes) -> bytes | None:
        """The output-root preimage of a denied block, or None if the block is not denied."""
        row = self._db.execute("SELECT output_preimage FROM denied WHERE number = ? AND hash = ?",
                               (number, block_hash)).fetchone()
        return None if row is None else bytes(row[0])

    def denied_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM denied").fetchone()[0])


_REF_COLUMNS = "number, hash, parent_hash, timestamp, l1_origin_hash, l1_origin_number, sequence_number"


def _ref_row(ref: L2BlockRef) -> tuple:
    return (ref.number, ref.hash, ref.parent_hash, ref.timestamp, ref.l1_origin.hash, ref.l1_origin.number,
            ref.sequence_number)


def _ref(row: tuple | None) -> L2BlockRef | None:
    if row is None:
        return None
    return L2BlockRef(bytes(row[1]), row[0], bytes(row[2]), row[3], BlockID(bytes(row[4]), row[5]), row[6])


def _log_row(number: int, log: IndexedLog) -> tuple:
    m = log.executing
    if m is None:
        return (number, log.log_index, log.origin, log.payload_hash, None, None, None, None, None, None)
    i = m.identifier
    # sqlite integers are signed 64-bit and identifiers are u64 (chain IDs u256): stored as text
    return (number, log.log_index, log.origin, log.payload_hash, str(i.chain_id), str(i.block_number),
            str(i.log_index), str(i.timestamp), i.origin, m.payload_hash)


def _log_from_row(chain_id: int, row: tuple) -> IndexedLog:
    executing = None
    if row[4] is not None:
        ident = Identifier(bytes(row[8]), int(row[5]), int(row[6]), int(row[7]), int(row[4]))
        executing = ExecutingMessage(ident, bytes(row[9]))
    return IndexedLog(row[1], bytes(row[2]), bytes(row[3]), executing)
