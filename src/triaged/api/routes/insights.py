"""GET /v1/taxonomies/{name}/insights: gap clusters, overlapping labels and label health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from triaged.api.deps import ServiceDep, TaxonomyDep
from triaged.services import insights as insights_log

router = APIRouter(tags=["insights"])


@router.get("/taxonomies/{name}/insights")
def taxonomy_insights(
    record: TaxonomyDep,
    service: ServiceDep,
    since: Annotated[
        datetime | None, Query(description="ISO time, inclusive (default: 30 days ago)")
    ] = None,
    until: Annotated[datetime | None, Query(description="ISO time, exclusive")] = None,
) -> Any:
    """Why the model is uncertain: clusters of held inputs with proposed labels,
    label pairs that overlap (with evidence and a suggested action), per-label health."""
    with service.db.read() as conn:
        return insights_log.taxonomy_insights(conn, record, since=since, until=until)
