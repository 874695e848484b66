"""Users' likes, dislikes and seen papers, behind one small interface.

`UserStore` is what the service needs; `SQLiteUserStore` is the embedded default (a real database
file in WAL mode, each write committed with a full fsync before it is acknowledged). A PostgreSQL
store for several servers implements the same seven methods.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.paper_index import PaperIndex
from service import ranking
from service.filters import Filters

LIKE, DISLIKE, SEEN = "like", "dislike", "seen"


@dataclass
class UserRecord:
    user: str
    likes: list[str] = field(default_factory=list)  # oldest first
    dislikes: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


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
        """Erases everything about the user; returns how many marks were removed."""

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
        record = UserRecord(user)
        lists = {LIKE: record.likes, DISLIKE: record.dislikes, SEEN: record.seen}
        for paper_id, kind in rows:
            lists[kind].append(paper_id)
        return record

    def delete(self, user: str) -> int:
        with self._lock, self._transaction():
            return self._db.execute("DELETE FROM marks WHERE user=?", (user,)).rowcount

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
    """`sqlite:///path/users.sqlite` or a plain path; other schemes (postgresql://) come later."""
    if url.startswith("sqlite:///"):
        return SQLiteUserStore(url[len("sqlite:///"):])
    if "://" in url:
        raise ValueError(f"unsupported user store {url!r}: only sqlite:///PATH is available")
    return SQLiteUserStore(url)


def recommend_for_user(index: PaperIndex, users: UserStore, user: str, k: int, offset: int = 0,
                       filters: Filters = Filters(), diversity: float = 0.0,
                       recency: float | None = None) -> tuple[list[ranking.Hit], str | None]:
    """(hits, reason the list is empty): the user's likes and dislikes drive `ranking.recommend`;
    liked, disliked and seen papers are never returned."""
    record = users.get(user)
    liked, _ = index.rows_of(record.likes)
    if not liked:
        return [], "no liked papers yet: like a few papers (PUT /users/{user}/likes/{id}) or import a library"
    disliked, _ = index.rows_of(record.dislikes)
    seen = set(index.rows_of(record.seen)[0])
    hits = ranking.recommend(index, liked, disliked, k, offset, filters.with_excluded(seen),
                             diversity=diversity, recency_half_life=recency)
    return hits, None
