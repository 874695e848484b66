"""Health, liveness and Prometheus metrics: what an orchestrator or a monitor polls."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service.deps import Served, State
from service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(served: Served) -> Health:
    """`ok` once the index is loaded (503 before, with Retry-After)."""
    manifest = served.index.manifest
    return Health(status="ok", papers=served.index.live_count, model=manifest.model, dim=manifest.dim,
                  index=manifest.dense.__dict__, built_at=manifest.built_at,
                  encoder={**{f"papers_{key}": value for key, value in manifest.encoder.items()},
                           "queries_runtime": served.encoder.runtime, "queries_numerics": served.encoder.numerics})


@router.get("/ready", response_model=Health)
def ready(served: Served) -> Health:
    """Readiness for orchestrators: 200 once the index is loaded, 503 before."""
    return health(served)


@router.get("/live")
def live() -> dict:
    """Liveness for orchestrators: 200 while the process answers, loaded or not."""
    return {"status": "alive"}


@router.get("/metrics", include_in_schema=False)
def metrics(state: State) -> Response:
    """Prometheus metrics: requests and latency per route and status, index size, model, reloads."""
    body = state.metrics.render(state.served)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
