"""One paper and more like it (`GET /papers/{id}`, `/papers/{id}/similar`), and the list shape every
list call answers with."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from indexer.errors import UnknownPaper
from service import ranking
from service.deps import K, ListFilters, Offset, Served
from service.served import ServedIndex
from service.schemas import PaperOut, SimilarResults

router = APIRouter(tags=["papers"])


def paper_list(served: ServedIndex, hits: list[ranking.Hit]) -> list[PaperOut]:
    papers = served.index.papers
    return [PaperOut.from_paper(papers[hit.row], hit.score, hit.because or None, hit.shared_terms or None)
            for hit in hits]


def row_or_404(served: ServedIndex, paper_id: str) -> int:
    try:
        return served.index.row_of(paper_id)
    except UnknownPaper:
        raise HTTPException(status_code=404, detail=f"unknown paper id: {paper_id}") from None


# Ids may contain slashes (DOIs): the `path` converter takes them whole. The similar route comes
# first so that ".../similar" is not read as part of an id.
@router.get("/papers/{paper_id:path}/similar", response_model=SimilarResults)
async def similar(served: Served, paper_id: str, filters: ListFilters, k: K = 10,
                  offset: Offset = 0) -> SimilarResults:
    """"More like this": the nearest papers, never the paper itself."""
    row = row_or_404(served, paper_id)
    hits = await served.compute(ranking.similar, served.index, row, k, offset, filters)
    return SimilarResults(results=paper_list(served, hits), k=k, offset=offset, paper_id=paper_id)


@router.get("/papers/{paper_id:path}", response_model=PaperOut)
def paper(served: Served, paper_id: str) -> PaperOut:
    """One paper."""
    return PaperOut.from_paper(served.index.papers[row_or_404(served, paper_id)])
