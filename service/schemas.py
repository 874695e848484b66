"""The API's request and response bodies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from indexer.papers import MAX_LENGTHS, Paper, is_valid_unicode


MAX_K = 100  # the most results one list call returns (API and CLI)
MAX_OFFSET = 10_000  # the deepest page


def _valid_unicode(text: str) -> str:
    if not is_valid_unicode(text):
        raise ValueError("not valid Unicode (a lone surrogate)")
    return text


# A paper id as a request may give it: what the index could hold, nothing a disk or a log chokes on.
PaperId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LENGTHS["id"]), AfterValidator(_valid_unicode)]


class PaperOut(BaseModel):
    id: str
    title: str
    abstract: str = ""
    authors: list[str] = []
    categories: list[str] = []
    published: str | None = None
    url: str | None = None
    score: float | None = None
    because: list[str] | None = Field(None, description="ids of the given papers that led to this result")
    shared_terms: list[str] | None = Field(None, description="telling words this paper shares with those in `because`")
    extra: dict[str, Any] = Field(default_factory=dict,
                                  description="source-specific fields (upvotes, organisation, ...)")

    @classmethod
    def from_paper(cls, paper: Paper, score: float | None = None, because: list[str] | None = None,
                   shared_terms: list[str] | None = None) -> "PaperOut":
        return cls(id=paper.id, title=paper.title, abstract=paper.abstract, authors=paper.authors,
                   categories=paper.categories, published=paper.published, url=paper.url,
                   score=score, because=because, shared_terms=shared_terms, extra=paper.extra)


class PaperList(BaseModel):
    results: list[PaperOut]
    k: int
    offset: int = 0


class SearchResults(PaperList):
    query: str
    mode: str


class SimilarResults(PaperList):
    paper_id: str


class RecommendationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    liked: list[PaperId] = Field(..., min_length=1, max_length=1000, description="ids of papers the reader liked")
    disliked: list[PaperId] = Field(default_factory=list, max_length=1000)
    k: int = Field(10, ge=1, le=MAX_K)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    candidates: list[PaperId] | None = Field(None, max_length=10_000, description="rank exactly these papers")
    category: list[Annotated[str, StringConstraints(max_length=MAX_LENGTHS["category"]),
                             AfterValidator(_valid_unicode)]] = Field(default_factory=list, max_length=50)
    author: Annotated[str, AfterValidator(_valid_unicode)] | None = Field(None, min_length=1, max_length=200)
    since: dt.date | None = None
    until: dt.date | None = None

    @field_validator("category", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class RecommendationResults(PaperList):
    unknown_ids: list[str] = []


class Health(BaseModel):
    status: str
    papers: int
    model: str
    dim: int
    index: dict[str, Any]
    built_at: str
    encoder: dict[str, str] = {}  # the papers' runtime and numerics (from the index), and the queries'


class UserOut(BaseModel):
    user: str
    likes: list[str]
    dislikes: list[str]
    counts: dict[str, int]


class SeenOut(UserOut):
    unknown_ids: list[str] = Field(default_factory=list, description="ids not in the index: not stored")


class UserRecommendations(PaperList):
    user: str
    reason: str | None = Field(None, description="why the list is empty, when it is")


class LibraryEntryOut(BaseModel):
    key: str
    line: int | None = None
    title: str


class SkippedOut(BaseModel):
    path: str
    line: int | None = None
    key: str
    reason: str
    kept_as: str | None = None


class ImportResults(BaseModel):
    user: str
    matched: int
    unmatched: int
    matched_ids: list[str]
    unmatched_entries: list[str]
    not_in_index: list[LibraryEntryOut] = Field(default_factory=list,
                                                description="the file's entries that are papers the index lacks")
    skipped: list[SkippedOut] = Field(default_factory=list, description="entries that are not papers (left out), "
                                      "and entries kept under their key because another held their id")
