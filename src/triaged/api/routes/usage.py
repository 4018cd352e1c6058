"""GET /v1/usage and /v1/workspace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from triaged.api.deps import PrincipalDep, ServiceDep
from triaged.api.schemas import UsageOut, WorkspaceOut

router = APIRouter(tags=["usage"])


@router.get("/usage", response_model=UsageOut)
def usage(principal: PrincipalDep, service: ServiceDep) -> Any:
    """This month's classify count, the plan's limit and when it resets."""
    return service.usage(principal)


@router.get("/workspace", response_model=WorkspaceOut)
def workspace(principal: PrincipalDep, service: ServiceDep) -> Any:
    """The caller's workspace and plan."""
    return service.workspace(principal)
