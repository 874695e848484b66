from __future__ import annotations

from fastapi import APIRouter, HTTPException

from indexer.errors import UnknownPaper
from service import ranking
from service.deps import K, Engine, ListFilters, Offset
from service.engine import SearchEngine
from service.schemas import PaperOut, SimilarResults

router = APIRouter(tags=["papers"])


def paper_list(engine: SearchEngine, hits: list[ranking.Hit]) -> list[PaperOut]:
    papers = engine.index.papers
    return [PaperOut.from_paper(papers[hit.row], hit.score, hit.because or None, hit.shared_terms or None) for hit in hits]


def row_or_404(engine: SearchEngine, paper_id: str) -> int:
    try:
        return engine.index.row_of(paper_id)
    except UnknownPaper:
        raise HTTPException(status_code=404, detail=f"unknown paper id: {paper_id}") from None


# Ids may contain slashes (DOIs): the `path` converter takes them whole. The similar route comes
# first so that ".../similar" is not read as part of an id.
@router.get("/papers/{paper_id:path}/similar", response_model=SimilarResults)
async def similar(engine: Engine, paper_id: str, filters: ListFilters, k: K = 10, offset: Offset = 0) -> SimilarResults:
    """"More like this": the nearest papers, never the paper itself."""
    row = row_or_404(engine, paper_id)
    hits = await engine.compute(ranking.similar, engine.index, row, k, offset, filters)
    return SimilarResults(results=paper_list(engine, hits), k=k, offset=offset, paper_id=paper_id)


@router.get("/papers/{paper_id:path}", response_model=PaperOut)
def paper(engine: Engine, paper_id: str) -> PaperOut:
    """One paper."""
    return PaperOut.from_paper(engine.index.papers[row_or_404(engine, paper_id)])
