"""Keep the outbox small: settled deliveries, their attempts and their events expire.

Deliveries that are ``delivered``, ``failed`` or ``cancelled`` and finished
before the cut-off are deleted with their attempts; then events older than the
cut-off with no delivery left.  Pending and in-flight deliveries are never
touched.  Work is done in bounded batches so a SQLite writer is never held long.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from triaged.storage import webhook_repo
from triaged.storage.db import Database
from triaged.storage.ids import utcnow

__all__ = ["prune"]


def prune(
    db: Database, *, older_than: timedelta, batch: int = 1000, now: datetime | None = None
) -> int:
    """Delete settled deliveries (and their attempts and events) older than ``older_than``.

    Returns how many deliveries and events were removed.
    """
    cutoff = (now or utcnow()) - older_than
    removed = 0
    while True:
        with db.write() as conn:
            ids = webhook_repo.settled_delivery_ids(conn, cutoff, batch)
            if ids:
                webhook_repo.delete_deliveries(conn, ids)
            orphans = webhook_repo.orphan_event_ids(conn, cutoff, batch)
            if orphans:
                webhook_repo.delete_events(conn, orphans)
        removed += len(ids) + len(orphans)
        if len(ids) < batch and len(orphans) < batch:
            return removed
