from __future__ import annotations

from fastapi import APIRouter

from service.deps import Engine
from service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(engine: Engine) -> Health:
    """`ok` once the index is loaded (503 before)."""
    manifest = engine.index.manifest
    return Health(status="ok", papers=len(engine.index), model=manifest.model, dim=manifest.dim,
                  index=manifest.dense.__dict__, built_at=manifest.built_at)
