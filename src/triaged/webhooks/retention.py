"""Keep the outbox small: settled deliveries, their attempts and their events expire.

Deliveries that are ``delivered``, ``failed`` or ``cancelled`` and finished
before the cut-off are deleted with their attempts; then events older than the
cut-off with no delivery left.  Pending and in-flight deliveries are never
touched.  Work is done in bounded batches so a SQLite writer is never held long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, select

from triaged.storage.db import Database
from triaged.storage.ids import utcnow
from triaged.storage.webhooks import webhook_attempts, webhook_deliveries, webhook_events

__all__ = ["prune"]

SETTLED = ("delivered", "failed", "cancelled")


def prune(
    db: Database, *, older_than: timedelta, batch: int = 1000, now: datetime | None = None
) -> int:
    """Delete settled deliveries (and their attempts and events) older than ``older_than``.

    Returns how many deliveries and events were removed.
    """
    cutoff = (now or utcnow()) - older_than
    d, e = webhook_deliveries.c, webhook_events.c
    removed = 0
    while True:
        with db.write() as conn:
            ids = list(
                conn.execute(
                    select(d.id).where(d.status.in_(SETTLED), d.finished_at < cutoff).limit(batch)
                ).scalars()
            )
            if ids:
                conn.execute(
                    delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids))
                )
                conn.execute(delete(webhook_deliveries).where(d.id.in_(ids)))
            orphans = list(
                conn.execute(
                    select(e.id)
                    .where(
                        e.created_at < cutoff,
                        ~exists().where(and_(d.event_id == e.id)),
                    )
                    .limit(batch)
                ).scalars()
            )
            if orphans:
                conn.execute(delete(webhook_events).where(e.id.in_(orphans)))
        removed += len(ids) + len(orphans)
        if len(ids) < batch and len(orphans) < batch:
            return removed
