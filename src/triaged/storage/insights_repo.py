"""The reads of insights and drift checks: decisions with their reviewer outcomes, the
(time, bucket, label) series, recorded events of one type (the outbox), and the drift
checks' per-workspace advisory lock.

Plain functions on a ``Connection``: the caller owns the transaction.  Times are passed
in UTC; the rows are returned as the database hands them back (SQLite: naive times).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, and_, select

from triaged.storage import locks
from triaged.storage.review import review_items
from triaged.storage.rows import AnyRow
from triaged.storage.tables import decisions
from triaged.storage.webhooks import webhook_events

__all__ = ["decision_buckets", "decisions_with_reviews", "events_of_type", "workspace_lock"]


def decisions_with_reviews(
    conn: Connection,
    workspace_id: str,
    taxonomy_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterable[AnyRow]:
    """The taxonomy's decisions in ``[since, until)`` (erased ones left out: the insights
    read texts), each joined with its resolved review items (one row per item, or one with
    null review columns), by creation time and id."""
    d, r = decisions.c, review_items.c
    stmt = (
        select(
            d.id,
            d.text,
            d.label,
            d.confidence,
            d.bucket,
            d.alternatives,
            d.created_at,
            d.final_label,
            d.taxonomy_version,
            r.action,
            r.resolved_label,
            r.new_label,
            r.resolved_at,
        )
        .select_from(
            decisions.outerjoin(review_items, and_(r.decision_id == d.id, r.status == "resolved"))
        )
        .where(
            d.workspace_id == workspace_id,
            d.taxonomy_id == taxonomy_id,
            d.redacted_at.is_(None),
        )
    )
    if since is not None:
        stmt = stmt.where(d.created_at >= since)
    if until is not None:
        stmt = stmt.where(d.created_at < until)
    return conn.execute(stmt.order_by(d.created_at, d.id))


def decision_buckets(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterable[AnyRow]:
    """(created_at, bucket, label) of the workspace's decisions in ``[since, until)``."""
    d = decisions.c
    stmt = select(d.created_at, d.bucket, d.label).where(d.workspace_id == workspace_id)
    if taxonomy_id is not None:
        stmt = stmt.where(d.taxonomy_id == taxonomy_id)
    if since is not None:
        stmt = stmt.where(d.created_at >= since)
    if until is not None:
        stmt = stmt.where(d.created_at < until)
    return conn.execute(stmt)


def events_of_type(
    conn: Connection, workspace_id: str, event_type: str, *, since: datetime | None = None
) -> Iterable[AnyRow]:
    """(id, payload, created_at) of the workspace's outbox events of one type, newest first."""
    e = webhook_events.c
    stmt = select(e.id, e.payload, e.created_at).where(
        e.workspace_id == workspace_id, e.type == event_type
    )
    if since is not None:
        stmt = stmt.where(e.created_at >= since)
    return conn.execute(stmt.order_by(e.created_at.desc(), e.id.desc()))


def workspace_lock(conn: Connection, key: int, workspace_id: str) -> None:
    """The drift checks' workspace lock (:func:`triaged.storage.locks.workspace_lock`)."""
    locks.workspace_lock(conn, key, workspace_id)
