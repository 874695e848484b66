from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from service import ranking
from service.deps import K, Engine, ListFilters, Offset
from service.ranking import SearchMode
from service.routes.papers import paper_list
from service.schemas import SearchResults

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResults)
async def search(
    engine: Engine,
    filters: ListFilters,
    q: Annotated[str, Query(min_length=1, max_length=1000, pattern=r"\S", description="natural-language query")],
    k: K = 10,
    offset: Offset = 0,
    mode: SearchMode = SearchMode.hybrid,
) -> SearchResults:
    """Papers for a natural-language query: `hybrid` fuses BM25 and embeddings, `semantic` uses
    embeddings only, `keyword` BM25 only."""

    def answer() -> list[ranking.Hit]:
        vector = engine.embed_query(q) if mode is not SearchMode.keyword else None
        return ranking.search(engine.index, q, vector, k, offset, mode, filters)

    hits = await run_in_threadpool(answer)
    return SearchResults(results=paper_list(engine, hits), k=k, offset=offset, query=q, mode=mode.value)
