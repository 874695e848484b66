"""The FastAPI application: settings, lifespan (loads the index once), routers, error translation."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer.errors import PaperlensError
from models import UnknownModel
from service.engine import SearchEngine
from indexer.store import users_database
from service.routes import health, papers, recommendations, search, users
from service.users import open_user_store
from service.settings import Settings

log = logging.getLogger("paperlens")
STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, engine: SearchEngine | None = None) -> FastAPI:
    """The app over `settings.index_dir`; the index loads in the background at start-up, and list
    calls answer 503 until it is ready. Tests may pass a ready `engine`."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.engine = engine
        app.state.load_error = None
        app.state.users = open_user_store(settings.users or str(users_database(settings.index_dir)))
        task = None if engine is not None else asyncio.create_task(_load(app, settings))
        yield
        if task is not None and not task.done():
            task.cancel()
        app.state.users.close()

    app = FastAPI(title="paperlens", version="0.1.0", lifespan=lifespan,
                  description="Semantic search, more-like-this and recommendations over research papers.")
    for module in (search, papers, recommendations, users, health):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    @app.get("/", include_in_schema=False)
    def home() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app


async def _load(app: FastAPI, settings: Settings) -> None:
    try:
        app.state.engine = await asyncio.to_thread(SearchEngine.load, settings.index_dir, settings.query_cache_size)
        log.info("index loaded: %d papers from %s", len(app.state.engine.index), settings.index_dir)
    except (PaperlensError, UnknownModel, OSError, ValueError) as error:
        app.state.load_error = str(error)
        log.error("cannot load index: %s", error)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with one readable line naming each bad parameter or body field."""
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "body", "path"))
        problems.append(f"{location or 'request'}: {item.get('msg', 'invalid')}")
    return JSONResponse(status_code=422, content={"detail": "; ".join(problems)})


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(status_code=error.status_code, content={"detail": error.detail}, headers=getattr(error, "headers", None))
