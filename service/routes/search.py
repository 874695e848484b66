"""`GET /search`: papers for a natural-language query, a pasted abstract or paragraph, by relevance
or by date."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from pydantic import Field

from indexer.lexical import Tokenizer
from indexer.paper_index import PaperIndex
from service import ranking
from service.deps import K, ListFilters, Offset, Served
from service.filters import Filters
from service.ranking import SearchMode
from service.routes.papers import paper_list
from service.schemas import SearchResults

router = APIRouter(tags=["search"])
MAX_QUERY_LENGTH = 20_000  # a pasted abstract is 1-2k characters, a long paragraph 3-5k
DATE_SORT_POOL = 500  # sort=date orders this many best matches by date: a date order of every paper is no search
MAX_QUERY_TERMS = 200  # the query words returned for highlighting
_tokenizer = Tokenizer()


class SearchSort(str, Enum):
    relevance = "relevance"
    date = "date"


class SortedSearchResults(SearchResults):
    sort: str = SearchSort.relevance.value
    terms: list[str] = Field(default_factory=list,
                             description="the query's indexed words (stop words left out), for highlighting")


@router.get("/search", response_model=SortedSearchResults)
async def search(
    served: Served,
    filters: ListFilters,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, pattern=r"\S",
                                   description="natural-language query: words, or a pasted abstract or paragraph")],
    k: K = 10,
    offset: Offset = 0,
    mode: SearchMode = SearchMode.hybrid,
    sort: Annotated[SearchSort, Query(description=f"`relevance` (default), or `date`: the {DATE_SORT_POOL} "
                                                  "best matches, newest first")] = SearchSort.relevance,
) -> SortedSearchResults:
    """Papers for a query: `hybrid` fuses BM25 and embeddings, `semantic` uses embeddings only,
    `keyword` BM25 only; `sort=date` puts the best matches newest first."""
    vector = await asyncio.wrap_future(served.query_vector(q)) if mode is not SearchMode.keyword else None
    if sort is SearchSort.date:
        hits = await served.compute(newest_matches, served.index, q, vector, k, offset, mode, filters)
    else:
        hits = await served.compute(ranking.search, served.index, q, vector, k, offset, mode, filters)
    return SortedSearchResults(results=paper_list(served, hits), k=k, offset=offset, query=q, mode=mode.value,
                               sort=sort.value, terms=query_terms(q))


def newest_matches(index: PaperIndex, query: str, vector: np.ndarray | None, k: int, offset: int, mode: SearchMode,
                   filters: Filters) -> list[ranking.Hit]:
    """The DATE_SORT_POOL best matches, newest first (undated papers last; equal dates by
    relevance), then the page. The pool does not depend on the page, so pages never overlap."""
    hits = ranking.search(index, query, vector, DATE_SORT_POOL, 0, mode, filters)
    days = index.published_days
    newest = sorted(enumerate(hits), key=lambda item: (-int(days[item[1].row]), item[0]))
    return [hit for _, hit in newest][offset:offset + k]


def query_terms(query: str) -> list[str]:
    """The words of the query the lexical index would match (each once, in order)."""
    return list(dict.fromkeys(_tokenizer.words(query)))[:MAX_QUERY_TERMS]
