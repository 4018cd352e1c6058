"""The review queue under /v1/review, and the learning loop under /v1/taxonomies/{name}.

Only ``reviewer`` and ``admin`` keys may use these routes (``client`` keys get 403).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from triaged.api.deps import Instant, PrincipalDep, ServiceDep, TaxonomyDep
from triaged.api.paging import Cursor, Limit, decode_cursor, envelope, page_of
from triaged.api.review_schemas import (
    ClaimRequest,
    ClaimResponse,
    ItemPage,
    ResolveRequest,
    RollbackRequest,
)
from triaged.service import MAX_REVIEW_PAGE as MAX_PAGE

router = APIRouter(tags=["review"])

QueueName = Literal["hold", "review", "audit"]
StatusName = Literal["pending", "claimed", "resolved"]  # a released item is pending


@router.post("/review/claim", response_model=ClaimResponse)
def claim(body: ClaimRequest, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Claim the next items (hold first, then review, then audit; oldest first) with a lease."""
    items = service.review.claim(
        principal,
        limit=body.limit,
        taxonomy=body.taxonomy,
        queue=body.queue,
        lease_seconds=body.lease_seconds,
    )
    return {"items": items}


@router.get("/review/items", response_model=ItemPage)
def list_items(
    principal: PrincipalDep,
    service: ServiceDep,
    taxonomy: str | None = None,
    queue: QueueName | None = None,
    status: Annotated[
        StatusName | None,
        Query(description="pending: claimable now (handed back and expired leases included)"),
    ] = None,
    claimed_by: Annotated[str | None, Query(description="an API key id")] = None,
    decision_id: str | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text contains (case-insensitive).")
    ] = None,
    label: Annotated[str | None, Query(description="The model's label or the final one.")] = None,
    confidence_min: Annotated[float | None, Query(ge=0, le=1, description="At least.")] = None,
    confidence_max: Annotated[float | None, Query(ge=0, le=1, description="At most.")] = None,
    since: Annotated[Instant | None, Query(description="Queued at or after (ISO).")] = None,
    until: Annotated[Instant | None, Query(description="Queued before (ISO).")] = None,
    decision_ids: Annotated[
        str | None, Query(description="Comma-separated decision ids (at most 500).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")] = 50,
    cursor: Cursor = None,
) -> Any:
    """List and search review items, oldest first, with counts per queue."""
    after = decode_cursor("review_items", cursor, kind=str)
    search = (q, label, confidence_min, confidence_max, since, until, decision_ids)
    if claimed_by is None and decision_id is None and any(v is not None for v in search):
        page = service.desk.search(
            principal,
            taxonomy=taxonomy,
            queue=queue,
            status=status,
            text=q,
            label=label,
            confidence_min=confidence_min,
            confidence_max=confidence_max,
            since=since,
            until=until,
            decision_ids=[d for d in (decision_ids or "").split(",") if d] or None,
            limit=limit,
            cursor=None if after is None else str(after),
        )
    else:
        page = service.review.items(
            principal,
            taxonomy=taxonomy,
            queue=queue,
            status=status,
            claimed_by=claimed_by,
            decision_id=decision_id,
            limit=limit,
            cursor=None if after is None else str(after),
        )
    out = envelope("review_items", page.pop("items"), page.pop("next_cursor"))
    return {**out, **page}  # and counts per queue


@router.get("/review/items/{item_id}")
def get_item(item_id: str, principal: PrincipalDep, service: ServiceDep) -> dict[str, Any]:
    """One item: the decision, its state and the full history (who did what, when)."""
    return service.review.item(principal, item_id)


@router.post("/review/items/{item_id}/resolve")
def resolve(
    item_id: str, body: ResolveRequest, principal: PrincipalDep, service: ServiceDep
) -> dict[str, Any]:
    """Resolve an item you hold: confirm, correct to a label, propose a new category, mark it
    ambiguous, or mark it out of scope (none of the labels fits: the final label becomes
    ``oos``; 422 with a label).  409 if you do not hold it or it is already resolved."""
    return service.review.resolve(
        principal,
        item_id,
        action=body.action,
        label=body.label,
        new_label=body.new_label,
        note=body.note,
    )


@router.post("/review/items/{item_id}/release")
def release(item_id: str, principal: PrincipalDep, service: ServiceDep) -> dict[str, Any]:
    """Hand an item you hold back to the queue; an admin key may release an item whoever
    holds it (a reviewer who claimed more than they can answer)."""
    return service.review.release(principal, item_id)


@router.get("/review/stats")
def stats(
    principal: PrincipalDep,
    service: ServiceDep,
    taxonomy: str | None = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> dict[str, Any]:
    """Depth and oldest age per queue, decisions per reviewer per day, agreement with the
    model per bucket, the measured error of each lane, and agreement between reviewers
    (Cohen's kappa overall, per reviewer pair and per label, over the overlap items)."""
    out = service.review.stats(principal, taxonomy=taxonomy, days=days)
    out["reviewer_agreement"] = service.desk.agreement(principal, taxonomy=taxonomy)
    return out


@router.get("/review/lane-error")
def lane_error(
    principal: PrincipalDep,
    service: ServiceDep,
    taxonomy: str | None = None,
    since: Annotated[Instant | None, Query(description="ISO time, inclusive")] = None,
) -> dict[str, Any]:
    """Measured error of each lane (auto from the audit sample) with 95% Clopper–Pearson
    intervals."""
    return service.review.lane_error(principal, taxonomy=taxonomy, since=since)


@router.get("/taxonomies/{name}/reviewed-examples")
def reviewed_examples(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Resolved review items as examples (source ``review``) and whether each trains or
    evaluates, in item order, a page at a time."""
    rows = sorted(service.review.examples(principal, record.name), key=lambda e: e["item_id"])
    return page_of(
        f"reviewed_examples:{record.id}", rows, lambda e: str(e["item_id"]), limit, cursor
    )


@router.post("/taxonomies/{name}/rollback")
def rollback(
    record: TaxonomyDep, body: RollbackRequest, principal: PrincipalDep, service: ServiceDep
) -> dict[str, Any]:
    """Make an earlier ready model version the active one (admin)."""
    return service.review.rollback(principal, record.name, body.model_id)
