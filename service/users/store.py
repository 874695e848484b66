"""The user store's interface and the types every backend shares.

Owns `UserStore` (what the service needs: mark, unmark, get, delete, set_token, token_hash, close),
`UserRecord`, the marks `LIKE`, `DISLIKE` and `SEEN`, `UserStoreUnavailable`, and `without_password`
(a store's URL as it may be shown). Backends (sqlite.py, postgres.py) import only this module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
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


def without_password(url: str) -> str:
    """The URL as it may be shown: no password in the user part nor in the query."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}@{hosts}" if at else hosts
    query = urlencode([(key, value) for key, value in parse_qsl(parts.query) if key != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
