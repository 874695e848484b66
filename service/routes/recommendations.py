from __future__ import annotations

from fastapi import APIRouter, HTTPException

from service import ranking
from service.deps import Engine
from service.filters import Filters
from service.routes.papers import paper_list
from service.schemas import RecommendationRequest, RecommendationResults

router = APIRouter(tags=["recommendations"])


@router.post("/recommendations", response_model=RecommendationResults)
async def recommendations(engine: Engine, body: RecommendationRequest) -> RecommendationResults:
    """Papers for someone who liked / disliked these. Unknown ids are ignored and listed in
    `unknown_ids`; 404 only when no liked id is known. With `candidates`, ranks exactly those."""
    index = engine.index
    liked, _ = index.rows_of(body.liked)
    if not liked:
        raise HTTPException(status_code=404, detail=f"none of the liked paper ids is in the index: {', '.join(body.liked[:10])}")
    disliked, _ = index.rows_of(body.disliked)
    disliked = [row for row in disliked if row not in liked]
    candidates = None if body.candidates is None else index.rows_of(body.candidates)[0]
    _, unknown = index.rows_of([*body.liked, *body.disliked, *(body.candidates or [])])
    filters = Filters(tuple(c for c in body.category if c), body.author, body.since, body.until)
    hits = await engine.compute(ranking.recommend, index, liked, disliked, body.k, body.offset, filters, candidates)
    return RecommendationResults(results=paper_list(engine, hits), k=body.k, offset=body.offset, unknown_ids=unknown)
