"""The routing policy of a taxonomy: read it, change it (never retrains), and what-if.

``GET /v1/taxonomies/{name}/routing``: thresholds, the error target, the current bound
and the evidence it rests on.  ``GET .../routing/versions``: every version, newest first,
with who made it.  ``PUT``: a new policy version.  ``GET .../what-if``:
predicted bucket shares and auto error (with its interval) for other thresholds, from
the window's logged and reviewed decisions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from triaged.api.deps import Instant, PrincipalDep, ServiceDep, TaxonomyDep
from triaged.api.paging import Cursor, Limit, decode_cursor, envelope
from triaged.api.routing_schemas import (
    ERROR_RESPONSES,
    RoutingOut,
    RoutingUpdate,
    RoutingVersionList,
    WhatIfOut,
)

router = APIRouter(prefix="/taxonomies", tags=["routing"])


@router.get("/{name}/routing", response_model=RoutingOut, responses=ERROR_RESPONSES)
def get_routing(record: TaxonomyDep, principal: PrincipalDep, service: ServiceDep) -> Any:
    """The current routing policy, the bound of the auto lane's error and its evidence."""
    return service.routing(principal, record.name)


@router.get(
    "/{name}/routing/versions",
    response_model=RoutingVersionList,
    responses=ERROR_RESPONSES,
    summary="List the routing-policy versions, newest first, with who made each",
)
def list_routing_versions(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """Every routing-policy version of the taxonomy, newest first, a page at a time: how the
    auto lane moved and who moved it (``created_by``: an API key id; null when the service
    moved it by itself)."""
    position = decode_cursor(f"routing-versions:{record.id}", cursor, kind=int)
    before = None if position is None else int(position)
    rows = service.routing_versions(principal, record.name, before=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return envelope(f"routing-versions:{record.id}", rows, rows[-1]["version"] if more else None)


@router.put("/{name}/routing", response_model=RoutingOut, responses=ERROR_RESPONSES)
def put_routing(
    record: TaxonomyDep, body: RoutingUpdate, principal: PrincipalDep, service: ServiceDep
) -> Any:
    """A new routing-policy version (admin).  Never retrains; ``auto: null`` recomputes the
    certified threshold from the model's held-out evidence."""
    return service.set_routing(principal, record.name, body.model_dump(exclude_unset=True))


@router.get(
    "/{name}/what-if",
    response_model=WhatIfOut,
    responses=ERROR_RESPONSES,
    summary="Predicted bucket shares and auto-lane error for other thresholds",
)
def what_if(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    auto: Annotated[
        float | None, Query(ge=0.0, le=1.0, description="Auto threshold (default: current).")
    ] = None,
    review: Annotated[
        float | None,
        Query(ge=0.0, le=1.0, description="Review threshold (default: current)."),
    ] = None,
    since: Annotated[Instant | None, Query(description="Window start (default: 30 days)")] = None,
    until: Annotated[Instant | None, Query(description="Window end (default: now)")] = None,
) -> Any:
    """Bucket shares and the auto lane's error had ``auto``/``review`` routed the window's
    decisions (reviewed ones importance-weighted: audits by 1 / audit share)."""
    if auto is None:
        auto = service.routing(principal, record.name)["auto"]
    return service.what_if(
        principal, record.name, auto=auto, review=review, since=since, until=until
    )
