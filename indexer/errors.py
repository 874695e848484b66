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


class ModelMismatch(PaperlensError):
    """An index built with one model was given vectors of another (`paperlens index --update` with
    another model): its old and new vectors would not be comparable."""


class IndexChanged(PaperlensError):
    """The index folder changed under an operation that needed it to hold still (another build
    replaced the live generation while this one ran, or it kept changing while it was loaded):
    nothing was written, and running the operation again is safe."""


class IndexDamaged(PaperlensError):
    """A complete line of an index's journal fails its checksum (or is not a journal line): the
    index is not loaded, and nothing in the journal is cut or overwritten, so the batches after
    the damaged line are still on disk for `paperlens check --repair` to keep."""

    def __init__(self, file: str, line: int, offset: int, reason: str, index_dir: str) -> None:
        self.file = str(file)
        self.line = line
        self.offset = offset
        self.reason = reason
        super().__init__(f"{self.file}: line {line} (byte offset {offset}) is damaged: {reason}. The journal was "
                         f"left as it is; run `paperlens check --index {index_dir} --repair` to keep every intact "
                         "batch and set the damaged bytes aside")


class UnknownPaper(PaperlensError, KeyError):
    """A paper id that is not in the index."""

    def __init__(self, paper_id: str) -> None:
        self.paper_id = paper_id
        super().__init__(f"unknown paper id: {paper_id!r}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


class NoKnownLikes(UnknownPaper):
    """A recommendation was asked for liked papers none of which is in the index."""

    def __init__(self, paper_ids: list[str]) -> None:
        shown = ", ".join(paper_ids[:10]) + (f" (and {len(paper_ids) - 10} more)" if len(paper_ids) > 10 else "")
        self.paper_ids = paper_ids
        self.paper_id = paper_ids[0] if paper_ids else ""
        KeyError.__init__(self, f"none of the liked paper ids is in the index: {shown}")
