"""The shared user store: `PostgresUserStore`, one PostgreSQL database that several `paperlens serve`
processes share (psycopg is imported here only, and this module only when a postgresql:// URL is opened).

Same semantics as `SQLiteUserStore`: each write is one transaction, committed (and, with
PostgreSQL's default synchronous_commit, flushed to its WAL) before the call returns; marks keep the
order they were made in, across servers, through an identity column rather than wall clocks. One
connection per store, used under a lock; a connection the server dropped is replaced on the next call.
The tables are created when missing, named paperlens_* so the database may hold others.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.errors import InsufficientPrivilege

from service.users.store import DISLIKE, LIKE, UserRecord, UserStore, UserStoreUnavailable, without_password

CONNECT_TIMEOUT_S = 10
SCHEMA_LOCK = 0x70617065  # any constant: serialises CREATE TABLE between servers starting together
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS paperlens_marks (
        seq BIGINT GENERATED ALWAYS AS IDENTITY, username TEXT NOT NULL, paper_id TEXT NOT NULL,
        kind TEXT NOT NULL, created TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (username, paper_id, kind))""",
    "CREATE INDEX IF NOT EXISTS paperlens_marks_by_user ON paperlens_marks (username, seq)",
    "CREATE TABLE IF NOT EXISTS paperlens_tokens (username TEXT PRIMARY KEY, token_hash TEXT NOT NULL)",
)


class PostgresUserStore(UserStore):
    def __init__(self, url: str) -> None:
        self.url = url
        self.name = without_password(url)
        self._lock = threading.Lock()
        self._db: psycopg.Connection | None = None
        with self._session() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in SCHEMA:
                db.execute(statement)

    def mark(self, user: str, paper_ids: Iterable[str], kind: str) -> int:
        opposite = {LIKE: DISLIKE, DISLIKE: LIKE}.get(kind)
        ids = list(dict.fromkeys(paper_ids))
        with self._session() as db, db.transaction():
            if opposite:
                db.execute("DELETE FROM paperlens_marks WHERE username=%s AND kind=%s AND paper_id = ANY(%s)",
                           (user, opposite, ids))
            cursor = db.execute("""INSERT INTO paperlens_marks (username, paper_id, kind)
                SELECT %s, paper_id, %s FROM unnest(%s::text[]) WITH ORDINALITY AS given(paper_id, position)
                ORDER BY position ON CONFLICT DO NOTHING""", (user, kind, ids))
            return cursor.rowcount

    def unmark(self, user: str, paper_id: str, kind: str) -> bool:
        with self._session() as db:
            cursor = db.execute("DELETE FROM paperlens_marks WHERE username=%s AND paper_id=%s AND kind=%s",
                                (user, paper_id, kind))
            return cursor.rowcount > 0

    def get(self, user: str) -> UserRecord:
        with self._session() as db:
            rows = db.execute("SELECT paper_id, kind FROM paperlens_marks WHERE username=%s ORDER BY seq",
                              (user,)).fetchall()
        return UserRecord.from_marks(user, rows)

    def delete(self, user: str) -> int:
        with self._session() as db, db.transaction():
            db.execute("DELETE FROM paperlens_tokens WHERE username=%s", (user,))
            return db.execute("DELETE FROM paperlens_marks WHERE username=%s", (user,)).rowcount

    def set_token(self, user: str, token_hash: str | None) -> None:
        with self._session() as db:
            if token_hash is None:
                db.execute("DELETE FROM paperlens_tokens WHERE username=%s", (user,))
            else:
                db.execute("""INSERT INTO paperlens_tokens VALUES (%s, %s)
                    ON CONFLICT (username) DO UPDATE SET token_hash = EXCLUDED.token_hash""", (user, token_hash))

    def token_hash(self, user: str) -> str | None:
        with self._session() as db:
            row = db.execute("SELECT token_hash FROM paperlens_tokens WHERE username=%s", (user,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection]:
        """The connection, held alone; an unreachable database or missing rights become one line
        naming the store."""
        with self._lock:
            try:
                if self._db is None or self._db.closed:
                    self._db = self._connect()
                yield self._db
            except (psycopg.OperationalError, InsufficientPrivilege) as error:
                raise UserStoreUnavailable(f"user store {self.name}: {_first_line(error)}") from error

    def _connect(self) -> psycopg.Connection:
        try:
            params = conninfo_to_dict(self.url)
        except psycopg.ProgrammingError as error:
            raise UserStoreUnavailable(f"bad user store URL {self.name}: {_first_line(error)}") from error
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        # autocommit: a single statement commits on its own; several go in one explicit transaction
        return psycopg.connect(**params, autocommit=True)


def _first_line(error: Exception) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
