"""GET /v1/decisions (filters, cursor pagination), /v1/decisions/{decision_id}, and
POST /v1/decisions/erase."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from triaged.api.deps import Instant, PrincipalDep, ServiceDep
from triaged.api.paging import Cursor, decode_cursor, envelope
from triaged.api.schemas import DecisionOut, DecisionPage, EraseIn, EraseOut
from triaged.service import MAX_DECISIONS_PAGE as MAX_PAGE
from triaged.service import DecisionFilter

router = APIRouter(tags=["decisions"])


@router.get("/decisions", response_model=DecisionPage)
def list_decisions(
    principal: PrincipalDep,
    service: ServiceDep,
    taxonomy: Annotated[str | None, Query(description="Only this taxonomy's decisions.")] = None,
    bucket: Annotated[
        Literal["auto", "review", "hold"] | None, Query(description="Only this bucket.")
    ] = None,
    label: Annotated[str | None, Query(description="Only decisions with this label.")] = None,
    external_id: Annotated[
        str | None, Query(description="Only decisions sent with this external id.")
    ] = None,
    since: Annotated[Instant | None, Query(description="ISO time, inclusive")] = None,
    until: Annotated[Instant | None, Query(description="ISO time, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")] = 50,
    cursor: Cursor = None,
) -> Any:
    """List decisions, newest first."""
    flt = DecisionFilter(taxonomy, bucket, label, external_id, since, until)
    after = decode_cursor("decisions", cursor, kind=str)
    page, last = service.decisions(
        principal, flt, limit=limit, cursor=None if after is None else str(after)
    )
    return envelope("decisions", page, last)


@router.get("/decisions/{decision_id}", response_model=DecisionOut)
def get_decision(decision_id: str, principal: PrincipalDep, service: ServiceDep) -> Any:
    """One decision, with the final label once a reviewer has set it."""
    return service.decision(principal, decision_id)


@router.post("/decisions/erase", response_model=EraseOut)
def erase_decisions(body: EraseIn, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Erase the text and metadata of decisions (a person's right to erasure; admin keys).

    Everywhere a copy was kept: the decision log, reviewers' notes, the metadata of its
    `decision.*` webhook events and of stored idempotent answers. The label, confidence,
    bucket, review outcome and external id stay (the lane's figures rest on them); a review
    item not yet answered is withdrawn. All or nothing: an unknown id is a 404 and nothing is
    erased. Erasing again is harmless (`erased` counts the decisions erased by this call)."""
    return service.erase_decisions(principal, ids=body.ids, external_ids=body.external_ids)
