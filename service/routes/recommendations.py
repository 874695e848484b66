"""`POST /recommendations`: papers for liked (and disliked) ids given in the request, no account needed."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from indexer.errors import NoKnownLikes
from service import ranking
from service.deps import Served
from service.filters import Filters
from service.routes.papers import paper_list
from service.schemas import RecommendationRequest, RecommendationResults

router = APIRouter(tags=["recommendations"])


@router.post("/recommendations", response_model=RecommendationResults)
async def recommendations(served: Served, body: RecommendationRequest) -> RecommendationResults:
    """Papers for someone who liked / disliked these. Unknown ids are ignored and listed in
    `unknown_ids`; 404 only when no liked id is known. With `candidates`, ranks exactly those."""
    filters = Filters.from_arguments(body.category, body.author, body.since, body.until)
    try:
        hits, unknown = await served.compute(ranking.recommend_ids, served.index, body.liked, body.disliked, body.k,
                                             body.offset, filters, body.candidates)
    except NoKnownLikes as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    return RecommendationResults(results=paper_list(served, hits), k=body.k, offset=body.offset, unknown_ids=unknown)
