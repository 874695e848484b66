"""The list calls' filters (category, author, since, until) as a boolean mask over index rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from indexer.paper_index import PaperIndex


@dataclass(frozen=True)
class Filters:
    categories: tuple[str, ...] = ()
    author: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    exclude_rows: frozenset[int] = field(default_factory=frozenset)
    # The last (index, mask) computed: one request asks for its mask from several rankings.
    _computed: list = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_arguments(cls, categories=(), author: str | None = None, since: dt.date | None = None,
                       until: dt.date | None = None) -> Filters:
        """The filters as the API's query, a recommendation body and the CLI give them (blank
        categories dropped)."""
        return cls(tuple(c for c in categories if c), author, since, until)

    def is_empty(self) -> bool:
        return not (self.categories or self.author or self.since or self.until or self.exclude_rows)

    def with_excluded(self, rows: set[int] | frozenset[int]) -> "Filters":
        return Filters(self.categories, self.author, self.since, self.until, self.exclude_rows | frozenset(rows))

    def mask(self, index: PaperIndex) -> np.ndarray | None:
        """Rows that pass every filter and are alive (None when every row passes). A category matches
        case-insensitively and any of several categories passes; an author matches when the
        text is part of one author's name; partial dates count as the first day of their period."""
        if self.is_empty():
            return index.alive
        if self._computed and self._computed[0] is index:
            return self._computed[1]
        allowed = self._compute_mask(index)
        self._computed[:] = [index, allowed]
        return allowed

    def restricts(self) -> bool:
        """True when a filter other than excluded rows applies."""
        return bool(self.categories or self.author or self.since or self.until)

    def _compute_mask(self, index: PaperIndex) -> np.ndarray:
        allowed = np.ones(len(index), dtype=bool) if index.alive is None else index.alive.copy()
        if self.categories:
            in_category = np.zeros(len(index), dtype=bool)
            for category in self.categories:
                rows = index.rows_by_category.get(category.lower())
                if rows is not None:
                    in_category[rows] = True
            allowed &= in_category
        if self.author:
            needle = self.author.lower().strip()
            allowed &= np.fromiter((needle in names for names in index.authors_lower), bool, len(index))
        if self.since or self.until:
            days = index.published_days
            allowed &= days > 0
            if self.since:
                allowed &= days >= _date_number(self.since)
            if self.until:
                allowed &= days <= _date_number(self.until)
        if self.exclude_rows:
            allowed[list(self.exclude_rows)] = False
        return allowed


def _date_number(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day
