from __future__ import annotations

from fastapi import APIRouter

from ..schemas.health import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """No key needed: for load balancers and `make run`'s readiness check."""
    return Health(status="ok")
