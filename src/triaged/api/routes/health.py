"""Liveness and readiness, without authentication (GET and HEAD).

``/healthz``: the process answers (restart it when it does not).  ``/readyz``: it can
serve, its database answers (send it no traffic while it does not: 503 ``unavailable``).
"""

from __future__ import annotations

from fastapi import APIRouter

from triaged import __version__
from triaged.api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.head("/healthz", include_in_schema=False)
@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The service is up."""
    return {"status": "ok", "version": __version__}


@router.head("/readyz", include_in_schema=False)
@router.get("/readyz")
def readyz(service: ServiceDep) -> dict[str, str]:
    """The service can serve: its database answers (503 ``unavailable`` otherwise)."""
    return {**service.readiness(), "version": __version__}
