"""The aggregate reads behind the Prometheus exposition (:mod:`triaged.metrics`): decisions
per bucket, the classify latency histogram, the open review queues, webhook deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, case, func, or_, select

from triaged.storage.review import review_items
from triaged.storage.rows import AnyRow
from triaged.storage.tables import decisions
from triaged.storage.webhooks import webhook_attempts, webhook_deliveries

__all__ = [
    "decision_counts",
    "deliveries_by_status",
    "failed_delivery_attempts",
    "latency_histogram",
    "open_review_queues",
]


def decision_counts(conn: Connection) -> list[AnyRow]:
    """``(workspace_id, taxonomy, bucket, n)``: decisions logged per group."""
    d = decisions.c
    stmt = select(d.workspace_id, d.taxonomy, d.bucket, func.count()).group_by(
        d.workspace_id, d.taxonomy, d.bucket
    )
    return list(conn.execute(stmt))


def latency_histogram(conn: Connection, bounds_s: Sequence[float]) -> list[AnyRow]:
    """Per workspace and taxonomy: ``(workspace_id, taxonomy, n, total latency ms, *c)``
    with ``c[i]`` the decisions whose latency is at most ``bounds_s[i]`` seconds."""
    d = decisions.c
    cols = [func.sum(case((d.latency_ms <= b * 1000.0, 1), else_=0)) for b in bounds_s]
    stmt2 = select(
        d.workspace_id, d.taxonomy, func.count(), func.sum(d.latency_ms), *cols
    ).group_by(d.workspace_id, d.taxonomy)
    return list(conn.execute(stmt2))


def open_review_queues(conn: Connection, statuses: Sequence[str]) -> list[AnyRow]:
    """``(queue, n, oldest created_at)`` of the review items in ``statuses``, per queue."""
    r = review_items.c
    stmt3 = (
        select(r.queue, func.count(), func.min(r.created_at))
        .where(r.status.in_(statuses))
        .group_by(r.queue)
    )
    return list(conn.execute(stmt3))


def failed_delivery_attempts(conn: Connection) -> int:
    """Webhook delivery attempts that failed (an error, no status or a non-2xx status)."""
    a = webhook_attempts.c
    failed: int = conn.execute(
        select(func.count()).where(
            or_(a.error.is_not(None), a.status_code.is_(None), a.status_code >= 300)
        )
    ).scalar_one()
    return failed


def deliveries_by_status(conn: Connection) -> list[AnyRow]:
    """``(status, n)``: webhook deliveries per status."""
    w = webhook_deliveries.c
    return list(conn.execute(select(w.status, func.count()).group_by(w.status)))
