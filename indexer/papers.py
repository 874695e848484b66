"""The paper record that crosses modules (what readers produce and the index stores), the limits
on what one may hold, and the texts the model embeds for it (`embedding_texts`: every build,
cluster build and write through the API embeds those)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# What one paper record may hold: far above any real paper (among the 74,728 arXiv cs papers the
# longest abstract has 3,488 characters, the longest title 226, the longest author list about 3,300
# names; one "author" is 512 characters and one category 149, lists run together by the source), low
# enough that one record cannot fill the disk or a server's memory. The id limit is the API's for any paper id.
MAX_LENGTHS = {"id": 512, "title": 2_000, "abstract": 100_000, "url": 2_048, "author": 1_000, "category": 500}
MAX_AUTHORS = 5_000
MAX_CATEGORIES = 200


def is_valid_unicode(text: str) -> bool:
    """False for a lone surrogate (JSON's \\ud800): no UTF-8 file, database, log or answer can hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass
class Paper:
    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published: str | None = None  # YYYY-MM-DD, YYYY-MM or YYYY
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # source-specific fields (upvotes, organisation, ...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "Paper":
        return cls(
            id=record["id"],
            title=record["title"],
            abstract=record.get("abstract") or "",
            authors=list(record.get("authors") or []),
            categories=list(record.get("categories") or []),
            published=record.get("published"),
            url=record.get("url"),
            extra=dict(record.get("extra") or {}),
        )

    def text(self) -> str:
        """The text that is embedded: title and abstract."""
        if self.abstract:
            return f"{self.title}. {self.abstract}"
        return self.title


def embedding_texts(papers: Iterable[Paper]) -> tuple[list[str], list[str]]:
    """What the model embeds for each paper, in order: (its text, title and abstract, for the text
    vectors; its title alone, for the title vectors that more-like-this weighs up)."""
    papers = list(papers)
    return [paper.text() for paper in papers], [paper.title for paper in papers]


def embeds_alike(paper: Paper, other: Paper) -> bool:
    """Whether the two papers' embedding texts are the same, so that one's vectors serve the other."""
    return embedding_texts([paper]) == embedding_texts([other])
