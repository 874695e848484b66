"""The FastAPI application: settings, lifespan (loads the index once), routers, error translation."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from concurrent.futures import Future
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer.errors import IndexChanged, IndexDamaged, PaperlensError
from indexer.store import users_database
from models import UnknownModel
from service import __version__
from service.deps import ServiceState
from service.served import ServedIndex
from service.observability import Metrics, RequestObserver
from service.writer import IndexWriter
from service.routes import admin, health, papers, recommendations, search, users
from service.security import HostCheck, Limits, RateLimiter
from service.settings import Settings, load_settings
from service.users import UserStoreUnavailable, open_user_store

log = logging.getLogger("paperlens")
STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The page runs only its own script file: no inline script or handler, whatever text a paper holds.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings | None = None, served: ServedIndex | None = None,
               loading: Future | None = None) -> FastAPI:
    """The app over `settings.index_dir`; the index loads in the background at start-up, and list
    calls answer 503 until it is ready. Tests may pass a ready `served`; `paperlens serve` passes
    the `loading` it started before importing the web stack, so that both go on at once."""
    settings = settings or load_settings()
    state = ServiceState(settings, Metrics())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.users = open_user_store(settings.users or str(users_database(settings.index_dir)))
        tasks = [asyncio.create_task(_load(state, served, loading))]
        if settings.refresh_seconds > 0:
            tasks.append(asyncio.create_task(_refresh_periodically(state, settings.refresh_seconds)))
        with suppress(ValueError, RuntimeError, NotImplementedError):  # only in the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(_reload(state)))
        yield
        for task in tasks:
            task.cancel()
        state.users.close()

    app = FastAPI(title="paperlens", version=__version__, lifespan=lifespan,
                  description="Semantic search, more-like-this and recommendations over research papers.")
    for module in (search, papers, recommendations, users, admin, health):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UserStoreUnavailable, _user_store_unavailable)
    app.add_exception_handler(IndexDamaged, _index_damaged)
    app.add_exception_handler(IndexChanged, _index_changed)
    app.add_exception_handler(Exception, _unexpected_error)
    app.state.service = state
    limiter = RateLimiter(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
    app.add_middleware(Limits, max_body=settings.max_body_bytes, limiter=limiter, admin_key=settings.admin_key)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["Retry-After"])
    if settings.allowed_hosts is not None:  # `paperlens serve` always sets them (service.settings.served_hosts)
        app.add_middleware(HostCheck, allowed=settings.allowed_hosts)
    app.add_middleware(RequestObserver, metrics=state.metrics, json_lines=settings.log_format == "json")

    @app.get("/", include_in_schema=False)
    def home() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS, media_type="text/html; charset=utf-8")

    static_files = {path.name: path for path in STATIC.iterdir() if path.suffix in STATIC_TYPES}

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> FileResponse:
        if name not in static_files:  # only the page's own files: no path is built from the request
            raise StarletteHTTPException(status_code=404, detail=f"no static file {name}")
        path = static_files[name]
        return FileResponse(path, headers=PAGE_HEADERS, media_type=STATIC_TYPES[path.suffix])

    return app


async def _load(state: ServiceState, served: ServedIndex | None, loading: Future | None) -> None:
    settings = state.settings
    try:
        if served is None:
            loading = loading or ServedIndex.load_in_background(settings)
            served = await asyncio.wrap_future(loading)
            gc.freeze()  # the index's objects live as long as the process: no collection need scan them again
        state.writer = IndexWriter(served, settings.compact_after) if served.live is not None else None
        state.served = served
        log.info("index loaded: %d papers from %s", served.index.live_count, settings.index_dir)
    except (PaperlensError, UnknownModel, OSError, ValueError) as error:
        state.load_error = str(error)
        log.error("cannot load index: %s", error)


async def _reload(state: ServiceState) -> None:
    writer = state.writer
    if writer is not None:
        try:
            changed = await asyncio.to_thread(writer.reload)
            log.info("reload: %s", "new index served" if changed else "nothing changed")
        except (PaperlensError, OSError, ValueError) as error:
            log.error("reload failed, still serving the previous index: %s", error)


async def _refresh_periodically(state: ServiceState, seconds: float) -> None:
    """Picks up changes other processes made (an offline `paperlens index` or `delete`, another
    server on the same folder): a stat of the journal every few seconds, a load only on change."""
    while True:
        await asyncio.sleep(seconds)
        await _reload(state)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with one readable line naming each bad parameter or body field."""
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item.get("loc", ()) if part not in ("query", "body", "path"))
        problems.append(f"{location or 'request'}: {item.get('msg', 'invalid')}")
    return JSONResponse(status_code=422, content={"detail": "; ".join(problems)})


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return JSONResponse(status_code=error.status_code, content={"detail": error.detail},
                        headers=getattr(error, "headers", None))


async def _index_damaged(request: Request, error: Exception) -> JSONResponse:
    """A write found a damaged journal line: nothing was appended, and the operator must repair."""
    log.error("%s", error)
    return JSONResponse(status_code=503, content={"detail": f"index needs repair, nothing was changed: {error}"})


async def _index_changed(request: Request, error: Exception) -> JSONResponse:
    """A write met another process replacing the index: nothing was changed, and trying again works."""
    log.warning("%s", error)
    return JSONResponse(status_code=503, content={"detail": f"index changed meanwhile, nothing was changed: {error}"},
                        headers={"Retry-After": "1"})


async def _user_store_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.error("%s", error)  # names the database host: kept out of the answer
    return JSONResponse(status_code=503, content={"detail": "user store unavailable, try again shortly"},
                        headers={"Retry-After": "2"})


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    """A bug must not take the answer's shape with it: logged with its trace, answered as JSON."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse(status_code=500, content={"detail": "internal error (logged by the server)"})
