"""The embedded user store: `SQLiteUserStore`, one SQLite database file beside the index.

WAL mode, and each write committed with a full fsync before it is acknowledged, so an acknowledged
mark survives a crash or a power cut. One connection per store, used under a lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from service.users.store import DISLIKE, LIKE, UserRecord, UserStore


class SQLiteUserStore(UserStore):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a crash or power cut
        self._db.execute("""CREATE TABLE IF NOT EXISTS marks (
            user TEXT NOT NULL, paper_id TEXT NOT NULL, kind TEXT NOT NULL, created REAL NOT NULL,
            PRIMARY KEY (user, paper_id, kind))""")
        self._db.execute("CREATE TABLE IF NOT EXISTS tokens (user TEXT PRIMARY KEY, token_hash TEXT NOT NULL)")

    def mark(self, user: str, paper_ids: Iterable[str], kind: str) -> int:
        opposite = {LIKE: DISLIKE, DISLIKE: LIKE}.get(kind)
        now = time.time()
        with self._lock, self._transaction():
            added = 0
            for offset, paper_id in enumerate(dict.fromkeys(paper_ids)):
                if opposite:
                    self._db.execute("DELETE FROM marks WHERE user=? AND paper_id=? AND kind=?",
                                     (user, paper_id, opposite))
                cursor = self._db.execute("INSERT OR IGNORE INTO marks VALUES (?, ?, ?, ?)",
                                          (user, paper_id, kind, now + offset * 1e-6))
                added += cursor.rowcount
            return added

    def unmark(self, user: str, paper_id: str, kind: str) -> bool:
        with self._lock, self._transaction():
            cursor = self._db.execute("DELETE FROM marks WHERE user=? AND paper_id=? AND kind=?",
                                      (user, paper_id, kind))
            return cursor.rowcount > 0

    def get(self, user: str) -> UserRecord:
        with self._lock:
            rows = self._db.execute("SELECT paper_id, kind FROM marks WHERE user=? ORDER BY created, paper_id",
                                    (user,)).fetchall()
        return UserRecord.from_marks(user, rows)

    def delete(self, user: str) -> int:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM tokens WHERE user=?", (user,))
            return self._db.execute("DELETE FROM marks WHERE user=?", (user,)).rowcount

    def set_token(self, user: str, token_hash: str | None) -> None:
        with self._lock, self._transaction():
            if token_hash is None:
                self._db.execute("DELETE FROM tokens WHERE user=?", (user,))
            else:
                self._db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?)", (user, token_hash))

    def token_hash(self, user: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT token_hash FROM tokens WHERE user=?", (user,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
