"""Write calls: papers added, replaced and deleted while serving; reload and compaction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from indexer.errors import BadRecord, ModelMismatch
from indexer.readers import paper_from_record
from indexer.vectors import EMBEDDING_COLUMN, TITLE_EMBEDDING_COLUMN, GivenVectors
from service.deps import AppSettings, Served, Writer
from service.writer import IndexWriter
from service.routes.papers import row_or_404
from service.security import require_admin

VECTOR_FIELDS = (EMBEDDING_COLUMN, TITLE_EMBEDDING_COLUMN)

router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)])


def _papers_of(body: Any, max_batch: int) -> tuple[list, GivenVectors]:
    records = body.get("papers") if isinstance(body, dict) else body
    if not isinstance(records, list):
        raise HTTPException(status_code=422, detail="body: a JSON list of paper records, or {\"papers\": [...]}")
    if not records:
        raise HTTPException(status_code=422, detail="papers: the list is empty")
    if len(records) > max_batch:
        raise HTTPException(status_code=413,
                            detail=f"papers: {len(records)} records, over the limit of {max_batch} per call")
    papers, given = [], GivenVectors()
    for number, record in enumerate(records):
        where = f"papers[{number}]"
        if not isinstance(record, dict):
            raise HTTPException(status_code=422, detail=f"{where}: a paper record must be a JSON object")
        try:  # the readers' checks: Unicode, http(s) urls, field types, dates, MAX_LENGTHS; then the vectors'
            papers.append(paper_from_record(record, where, None))
            given.add(papers[-1].id, [record.get(name) for name in VECTOR_FIELDS], VECTOR_FIELDS, where, None)
        except BadRecord as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
    return papers, given


@router.post("/papers")
async def add_papers(writer: Writer, settings: AppSettings, body: Any = Body(
        ..., description="paper records (the contract's schema, and optionally each paper's `embedding` and "
        "`title_embedding`): a list, or {\"papers\": [...]}")) -> dict:
    """Adds papers, or replaces those whose id is already indexed. Durable when answered: the
    change is in the index's journal on disk and served from the next request on. A record's
    `embedding` (its title and abstract's vector, by the served model) is used as it is, after a
    sample of the request's papers is embedded and compared; without one, the paper is embedded."""
    papers, given = _papers_of(body, settings.max_batch)
    try:
        summary = await run_in_threadpool(writer.upsert, papers, given)
    except ModelMismatch as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    return summary.__dict__


@router.delete("/papers/{paper_id:path}")
def delete_paper(writer: Writer, served: Served, paper_id: str) -> dict:
    """Removes one paper: no call returns it once this is answered."""
    row_or_404(served, paper_id)  # the newest snapshot: Served is pinned to it
    summary = writer.delete([paper_id])
    return {"deleted": paper_id, "papers": summary.papers}


@router.post("/admin/reload")
async def reload(writer: Writer) -> dict:
    """Serves the index folder's newest generation (after `paperlens index` rebuilt it) and any
    change other processes made. Requests keep being answered from the old one meanwhile."""
    changed = await run_in_threadpool(writer.reload)
    return {"reloaded": changed, **status_of(writer)}


@router.post("/admin/compact", status_code=202)
def compact(writer: Writer) -> dict:
    """Starts folding the changes into a new generation in the background."""
    started = writer.compact_in_background()
    return {"started": started, **status_of(writer)}


@router.get("/admin/status")
def status(writer: Writer) -> dict:
    return status_of(writer)


def status_of(writer: IndexWriter) -> dict:
    live = writer.live
    return {"generation": live.position.generation, "papers": live.index.live_count,
            "pending_changes": live.pending(), "compacting": writer.compacting,
            "compactions": writer.compactions, "loaded_at": live.loaded_at}
