"""GET /v1/taxonomies/{name}/insights: gap clusters, overlapping labels and label health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from triaged.api.deps import Instant, PrincipalDep, ServiceDep, TaxonomyDep

router = APIRouter(tags=["insights"])


@router.get("/taxonomies/{name}/insights")
def taxonomy_insights(
    record: TaxonomyDep,
    principal: PrincipalDep,
    service: ServiceDep,
    since: Annotated[
        Instant | None, Query(description="ISO time, inclusive (default: 30 days ago)")
    ] = None,
    until: Annotated[Instant | None, Query(description="ISO time, exclusive")] = None,
) -> Any:
    """Why the model is uncertain: clusters of held inputs with proposed labels,
    label pairs that overlap (with evidence and a suggested action), per-label health."""
    return service.taxonomy_insights(principal, record.name, since=since, until=until)
