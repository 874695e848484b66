"""Users' likes, dislikes, seen papers and API token hashes, behind one small interface.

`UserStore` is what the service needs (mark, unmark, get, delete, set_token, token_hash, close);
`SQLiteUserStore` is the embedded default (a real database file in WAL mode, each write committed
with a full fsync before it is acknowledged). `PostgresUserStore` (service/users_postgres.py)
implements the same seven methods over one database that several servers share;
`open_user_store(url)` picks the store from the URL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from indexer.errors import PaperlensError

LIKE, DISLIKE, SEEN = "like", "dislike", "seen"


@dataclass
class UserRecord:
    user: str
    likes: list[str] = field(default_factory=list)  # oldest first
    dislikes: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    @classmethod
    def from_marks(cls, user: str, marks: Iterable[tuple[str, str]]) -> UserRecord:
        """The record from (paper id, kind) pairs, oldest first."""
        record = cls(user)
        lists = {LIKE: record.likes, DISLIKE: record.dislikes, SEEN: record.seen}
        for paper_id, kind in marks:
            lists[kind].append(paper_id)
        return record


class UserStoreUnavailable(PaperlensError):
    """The user store cannot be opened or reached (unsupported URL, unknown or unreachable database);
    the message names the store without its password."""


class UserStore(ABC):
    @abstractmethod
    def mark(self, user: str, paper_ids: Iterable[str], kind: str) -> int:
        """Records papers as liked, disliked or seen; liking a paper undoes its dislike and the
        reverse. Returns how many marks are new."""

    @abstractmethod
    def unmark(self, user: str, paper_id: str, kind: str) -> bool:
        """Removes one like or dislike; False if there was none."""

    @abstractmethod
    def get(self, user: str) -> UserRecord:
        """Everything stored about the user (empty lists for a user never seen)."""

    @abstractmethod
    def delete(self, user: str) -> int:
        """Erases everything about the user, token included; returns how many marks were removed."""

    @abstractmethod
    def set_token(self, user: str, token_hash: str | None) -> None:
        """Stores the hash of the user's API token, replacing any earlier one; None clears it."""

    @abstractmethod
    def token_hash(self, user: str) -> str | None:
        """The stored hash of the user's API token, or None."""

    @abstractmethod
    def close(self) -> None: ...


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
                    self._db.execute("DELETE FROM marks WHERE user=? AND paper_id=? AND kind=?", (user, paper_id, opposite))
                cursor = self._db.execute("INSERT OR IGNORE INTO marks VALUES (?, ?, ?, ?)", (user, paper_id, kind, now + offset * 1e-6))
                added += cursor.rowcount
            return added

    def unmark(self, user: str, paper_id: str, kind: str) -> bool:
        with self._lock, self._transaction():
            return self._db.execute("DELETE FROM marks WHERE user=? AND paper_id=? AND kind=?", (user, paper_id, kind)).rowcount > 0

    def get(self, user: str) -> UserRecord:
        with self._lock:
            rows = self._db.execute("SELECT paper_id, kind FROM marks WHERE user=? ORDER BY created, paper_id", (user,)).fetchall()
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


def open_user_store(url: str) -> UserStore:
    """`postgresql://...` (or `postgres://...`) opens the shared PostgreSQL store;
    `sqlite:///path/users.sqlite` or a plain path the embedded SQLite one."""
    if url.startswith(("postgresql://", "postgres://")):
        from service.users_postgres import PostgresUserStore  # psycopg loads only when used

        return PostgresUserStore(url)
    if "://" in url and not url.startswith("sqlite:///"):
        raise UserStoreUnavailable(f"unsupported user store {without_password(url)}: "
                                   "use sqlite:///PATH, a path, or postgresql://USER@HOST/DATABASE")
    path = url.removeprefix("sqlite:///")
    try:
        return SQLiteUserStore(path)
    except (sqlite3.Error, OSError) as error:
        raise UserStoreUnavailable(f"cannot open user store {path}: {error}") from error


def without_password(url: str) -> str:
    """The URL as it may be shown: no password in the user part nor in the query."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}@{hosts}" if at else hosts
    query = urlencode([(key, value) for key, value in parse_qsl(parts.query) if key != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
