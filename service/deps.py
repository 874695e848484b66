"""The app's state (one typed object, made at start-up) and the dependencies the routers share, as
Annotated aliases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from service.served import ServedIndex
from service.filters import Filters
from service.observability import Metrics
from service.writer import IndexWriter
from service.schemas import MAX_K, MAX_OFFSET
from service.settings import Settings
from service.users import UserStore


LOADING = "index is loading, try again shortly"


@dataclass
class ServiceState:
    """What the app holds: set up by `create_app` and its lifespan, read by the dependencies below."""

    settings: Settings
    metrics: Metrics
    users: UserStore | None = None  # opened by the lifespan
    served: ServedIndex | None = None  # once the index has loaded
    writer: IndexWriter | None = None  # the index writer, for a live index folder
    load_error: str | None = None  # why the index could not load


def state_of(request: Request) -> ServiceState:
    return request.app.state.service


# The dependencies are `async def` because none of them blocks: FastAPI runs a plain `def`
# dependency on a worker thread: two hops a request, a tenth of the event loop's time under load.
async def get_served(request: Request) -> ServedIndex:
    """The served index over its newest snapshot, pinned for this request."""
    state = state_of(request)
    if state.served is None:
        detail = f"index not available: {state.load_error}" if state.load_error else LOADING
        raise HTTPException(status_code=503, detail=detail, headers={"Retry-After": "2"})
    return state.served.current()


async def get_writer(request: Request) -> IndexWriter:
    """The index writer; 503 while the index loads."""
    writer = state_of(request).writer
    if writer is None:
        raise HTTPException(status_code=503, detail=LOADING, headers={"Retry-After": "2"})
    return writer


async def get_users(request: Request) -> UserStore:
    return state_of(request).users


async def get_settings(request: Request) -> Settings:
    return state_of(request).settings


async def get_state(request: Request) -> ServiceState:
    return state_of(request)


async def get_filters(
    category: Annotated[list[str], Query(description="keep papers in any of these categories (repeatable)",
                                         max_length=50)] = [],
    author: Annotated[str | None, Query(min_length=1, max_length=200, description="part of an author's name")] = None,
    since: Annotated[dt.date | None, Query(description="published on or after (YYYY-MM-DD)")] = None,
    until: Annotated[dt.date | None, Query(description="published on or before (YYYY-MM-DD)")] = None,
) -> Filters:
    return Filters.from_arguments(category, author, since, until)


Served = Annotated[ServedIndex, Depends(get_served)]
Writer = Annotated[IndexWriter, Depends(get_writer)]
State = Annotated[ServiceState, Depends(get_state)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Users = Annotated[UserStore, Depends(get_users)]
ListFilters = Annotated[Filters, Depends(get_filters)]
K = Annotated[int, Query(ge=1, le=MAX_K, description=f"number of results (1-{MAX_K})")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="results to skip, for paging")]
