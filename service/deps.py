"""Dependencies shared by the routers, as Annotated aliases."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from service.engine import SearchEngine
from service.filters import Filters
from service.settings import Settings
from service.users import UserStore


# The dependencies are `async def` because none of them blocks: FastAPI runs a plain `def`
# dependency on a worker thread: two hops a request, a tenth of the event loop's time under load.
async def get_engine(request: Request) -> SearchEngine:
    """The engine over the newest index snapshot, pinned for this request."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        error = getattr(request.app.state, "load_error", None)
        detail = f"index not available: {error}" if error else "index is loading, try again shortly"
        raise HTTPException(status_code=503, detail=detail, headers={"Retry-After": "2"})
    return engine.current()


async def get_users(request: Request) -> UserStore:
    return request.app.state.users


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_filters(
    category: Annotated[list[str], Query(description="keep papers in any of these categories (repeatable)", max_length=50)] = [],
    author: Annotated[str | None, Query(min_length=1, max_length=200, description="part of an author's name")] = None,
    since: Annotated[dt.date | None, Query(description="published on or after (YYYY-MM-DD)")] = None,
    until: Annotated[dt.date | None, Query(description="published on or before (YYYY-MM-DD)")] = None,
) -> Filters:
    return Filters.from_arguments(category, author, since, until)


Engine = Annotated[SearchEngine, Depends(get_engine)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Users = Annotated[UserStore, Depends(get_users)]
ListFilters = Annotated[Filters, Depends(get_filters)]
K = Annotated[int, Query(ge=1, le=100, description="number of results (1-100)")]
Offset = Annotated[int, Query(ge=0, le=10_000, description="results to skip, for paging")]
