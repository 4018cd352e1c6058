"""GET /v1/decisions (filters, cursor pagination) and /v1/decisions/{decision_id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from triaged.api.deps import PrincipalDep, ServiceDep
from triaged.api.schemas import DecisionOut, DecisionPage
from triaged.services.decisions import MAX_PAGE, DecisionFilter

router = APIRouter(tags=["decisions"])


@router.get("/decisions", response_model=DecisionPage)
def list_decisions(
    principal: PrincipalDep,
    service: ServiceDep,
    taxonomy: str | None = None,
    bucket: Literal["auto", "review", "hold"] | None = None,
    label: str | None = None,
    external_id: str | None = None,
    since: Annotated[datetime | None, Query(description="ISO time, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO time, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Any:
    """List decisions, newest first."""
    flt = DecisionFilter(taxonomy, bucket, label, external_id, since, until)
    page, next_cursor = service.decisions(principal, flt, limit=limit, cursor=cursor)
    return {"decisions": page, "next_cursor": next_cursor}


@router.get("/decisions/{decision_id}", response_model=DecisionOut)
def get_decision(decision_id: str, principal: PrincipalDep, service: ServiceDep) -> Any:
    """One decision, with the final label once a reviewer has set it."""
    return service.decision(principal, decision_id)
