from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.deps import Engine
from service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(engine: Engine) -> Health:
    """`ok` once the index is loaded (503 before, with Retry-After)."""
    manifest = engine.index.manifest
    return Health(status="ok", papers=engine.index.live_count, model=manifest.model, dim=manifest.dim,
                  index=manifest.dense.__dict__, built_at=manifest.built_at)


@router.get("/ready", response_model=Health)
def ready(engine: Engine) -> Health:
    """Readiness for orchestrators: 200 once the index is loaded, 503 before."""
    return health(engine)


@router.get("/live")
def live() -> dict:
    """Liveness for orchestrators: 200 while the process answers, loaded or not."""
    return {"status": "alive"}


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency per route and status, index size, model, reloads."""
    body = request.app.state.metrics.render(getattr(request.app.state, "engine", None))
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
