"""Users' likes, dislikes, seen papers and API token hashes, behind one small interface.

This package owns `open_user_store(url)`, which picks the store from the URL: `SQLiteUserStore`
(sqlite.py, the embedded default) or `PostgresUserStore` (postgres.py, one database several servers
share; psycopg loads only when such a URL is opened). The interface and shared types live in store.py
and are re-exported here, so callers import everything from `service.users`.
"""

from __future__ import annotations

import sqlite3

from service.users.sqlite import SQLiteUserStore
from service.users.store import (DISLIKE, LIKE, SEEN, UserRecord, UserStore, UserStoreUnavailable,
                                 without_password)

__all__ = ["DISLIKE", "LIKE", "SEEN", "SQLiteUserStore", "UserRecord", "UserStore",
           "UserStoreUnavailable", "open_user_store", "without_password"]


def open_user_store(url: str) -> UserStore:
    """`postgresql://...` (or `postgres://...`) opens the shared PostgreSQL store;
    `sqlite:///path/users.sqlite` or a plain path the embedded SQLite one."""
    if url.startswith(("postgresql://", "postgres://")):
        from service.users.postgres import PostgresUserStore  # psycopg loads only when used

        return PostgresUserStore(url)
    if "://" in url and not url.startswith("sqlite:///"):
        raise UserStoreUnavailable(f"unsupported user store {without_password(url)}: "
                                   "use sqlite:///PATH, a path, or postgresql://USER@HOST/DATABASE")
    path = url.removeprefix("sqlite:///")
    try:
        return SQLiteUserStore(path)
    except (sqlite3.Error, OSError) as error:
        raise UserStoreUnavailable(f"cannot open user store {path}: {error}") from error


def __getattr__(name: str) -> object:
    """`service.users.PostgresUserStore`, imported (with psycopg) only when asked for."""
    if name == "PostgresUserStore":
        from service.users.postgres import PostgresUserStore

        return PostgresUserStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
