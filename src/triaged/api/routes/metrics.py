"""Health metrics: bucket shares over time and drift alerts under /v1/metrics, and the
Prometheus exposition at /metrics (``prometheus_router``, mounted outside /v1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from triaged.api.deps import Instant, PrincipalDep, ServiceDep
from triaged.api.paging import Cursor, Limit, page_of
from triaged.drift import DriftConfig
from triaged.errors import Unauthenticated

router = APIRouter(tags=["metrics"])
MAX_WINDOW_HOURS = 24 * 366 * 10  # ten years: longer windows overflow datetime arithmetic
prometheus_router = APIRouter(tags=["metrics"])
MAX_ALERTS = 10_000  # recorded drift alerts listed at most


@router.get("/metrics/buckets")
def bucket_shares(
    principal: PrincipalDep,
    service: ServiceDep,
    taxonomy: Annotated[str | None, Query(description="one taxonomy (default: all)")] = None,
    interval: Literal["hour", "day", "week"] = "day",
    label: Annotated[str | None, Query(description="only decisions with this label")] = None,
    since: Annotated[Instant | None, Query(description="ISO time, inclusive")] = None,
    until: Annotated[Instant | None, Query(description="ISO time, exclusive")] = None,
) -> Any:
    """Decision counts per bucket and period (shares follow), oldest period first; at most
    10,000 periods between ``since`` (or the first decision) and ``until`` (or the last; 422
    above)."""
    return service.bucket_metrics(
        principal, taxonomy=taxonomy, interval=interval, since=since, until=until, label=label
    )


def drift_config(
    service: ServiceDep,
    recent_hours: Annotated[
        float | None,
        Query(gt=0, le=MAX_WINDOW_HOURS, description="recent window (TRIAGED_DRIFT_RECENT_HOURS)"),
    ] = None,
    baseline_hours: Annotated[
        float | None,
        Query(
            gt=0,
            le=MAX_WINDOW_HOURS,
            description="baseline window before it (TRIAGED_DRIFT_BASELINE_HOURS)",
        ),
    ] = None,
    alpha: Annotated[float | None, Query(gt=0, lt=1, description="TRIAGED_DRIFT_ALPHA")] = None,
    min_volume: Annotated[
        int | None,
        Query(
            ge=1, le=1_000_000_000, description="decisions per window (TRIAGED_DRIFT_MIN_VOLUME)"
        ),
    ] = None,
    min_change: Annotated[
        float | None,
        Query(ge=0, le=1, description="absolute share change (TRIAGED_DRIFT_MIN_CHANGE)"),
    ] = None,
    per_label: Annotated[bool | None, Query(description="TRIAGED_DRIFT_PER_LABEL")] = None,
) -> DriftConfig:
    """What counts as drift for this request: each parameter given, else the server's."""
    return service.drift_config(
        recent_hours=recent_hours,
        baseline_hours=baseline_hours,
        alpha=alpha,
        min_volume=min_volume,
        min_change=min_change,
        per_label=per_label,
    )


DriftConfigDep = Annotated[DriftConfig, Depends(drift_config)]


@router.get("/metrics/drift")
def drift(
    principal: PrincipalDep,
    service: ServiceDep,
    cfg: DriftConfigDep,
    taxonomy: Annotated[str | None, Query(description="one taxonomy (default: all)")] = None,
) -> Any:
    """Held and review shares of the recent window against the baseline window before it
    (two-proportion z-test, Bonferroni-corrected); one alert per share that moved, with its
    ``taxonomy`` (without ``taxonomy``, each taxonomy is tested on its own).
    Nothing is recorded: see ``POST /v1/metrics/drift/check``."""
    return service.drift(principal, cfg, taxonomy=taxonomy)


@router.post("/metrics/drift/check")
def drift_check(
    principal: PrincipalDep,
    service: ServiceDep,
    cfg: DriftConfigDep,
    taxonomy: Annotated[str | None, Query(description="one taxonomy (default: all)")] = None,
) -> Any:
    """Run the drift check now (admin): each new alert is recorded and sent to the
    webhooks subscribed to ``alert.drift``.  ``triaged serve`` also runs it every
    ``TRIAGED_DRIFT_CHECK_INTERVAL_SECONDS``; an alert is not repeated within its recent
    window."""
    return {"alerts": service.record_drift(principal, cfg, taxonomy=taxonomy)}


@router.get("/metrics/drift/alerts")
def drift_history(
    principal: PrincipalDep,
    service: ServiceDep,
    taxonomy: Annotated[str | None, Query(description="one taxonomy (default: all)")] = None,
    since: Annotated[Instant | None, Query(description="ISO time, inclusive")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """Recorded drift alerts, newest first, a page at a time."""
    page_size, limit = limit, MAX_ALERTS  # alerts are rare (one per window): page in memory
    alerts = service.drift_history(principal, taxonomy=taxonomy, since=since, limit=limit)
    alerts.sort(key=lambda a: str(a["event_id"]), reverse=True)
    return page_of(
        "alerts", alerts, lambda a: str(a["event_id"]), page_size, cursor, descending=True
    )


@prometheus_router.get("/metrics", include_in_schema=False)
async def prometheus(
    service: ServiceDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus text exposition: decisions, latency, review queues, webhook failures."""
    if not service.settings.metrics_public:
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not await run_in_threadpool(service.check_metrics_token, given):
            raise Unauthenticated(
                "/metrics needs the metrics token (printed at first start, or "
                "TRIAGED_METRICS_TOKEN)"
            )
    body = await run_in_threadpool(service.prometheus_exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
