"""Errors raised by the indexer; the CLI and the API translate them once, at the edge."""

from __future__ import annotations


class PaperlensError(Exception):
    """Base class of every error paperlens reports to a user."""


class BadRecord(PaperlensError):
    """A source file holds something that cannot become a paper."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {reason}")


class UnknownFormat(PaperlensError):
    """The format of a source is not one paperlens reads."""


class SourceUnreadable(PaperlensError):
    """A source file does not exist or cannot be opened."""


class IndexNotFound(PaperlensError):
    """No usable index at the given folder."""


class UnknownPaper(PaperlensError, KeyError):
    """A paper id that is not in the index."""

    def __init__(self, paper_id: str) -> None:
        self.paper_id = paper_id
        super().__init__(f"unknown paper id: {paper_id!r}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]
