"""`GET /search`: papers for a natural-language query, a pasted abstract or paragraph."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from service import ranking
from service.deps import K, ListFilters, Offset, Served
from service.ranking import SearchMode
from service.routes.papers import paper_list
from service.schemas import SearchResults

router = APIRouter(tags=["search"])
MAX_QUERY_LENGTH = 20_000  # a pasted abstract is 1-2k characters, a long paragraph 3-5k


@router.get("/search", response_model=SearchResults)
async def search(
    served: Served,
    filters: ListFilters,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, pattern=r"\S",
                                   description="natural-language query: words, or a pasted abstract or paragraph")],
    k: K = 10,
    offset: Offset = 0,
    mode: SearchMode = SearchMode.hybrid,
) -> SearchResults:
    """Papers for a natural-language query: `hybrid` fuses BM25 and embeddings, `semantic` uses
    embeddings only, `keyword` BM25 only."""
    vector = await asyncio.wrap_future(served.query_vector(q)) if mode is not SearchMode.keyword else None
    hits = await served.compute(ranking.search, served.index, q, vector, k, offset, mode, filters)
    return SearchResults(results=paper_list(served, hits), k=k, offset=offset, query=q, mode=mode.value)
