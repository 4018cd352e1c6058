"""GET /healthz: liveness without authentication."""

from __future__ import annotations

from fastapi import APIRouter

from triaged import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The service is up."""
    return {"status": "ok", "version": __version__}
