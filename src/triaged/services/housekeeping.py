"""Housekeeping in the background of ``triaged serve``: expired idempotency keys.

A retried request is answered from its idempotency key for
``TRIAGED_IDEMPOTENCY_TTL_HOURS`` (24 h by default, like common payment APIs);
older keys are deleted every hour, so the table does not grow with traffic.
"""

from __future__ import annotations

from datetime import timedelta

from triaged.services.idempotency import prune_older_than
from triaged.services.ids import utcnow
from triaged.services.periodic import Periodic
from triaged.storage.db import Database

__all__ = ["Housekeeper", "start_housekeeper"]

EVERY_S = 3600.0


class Housekeeper(Periodic):
    """Deletes idempotency keys older than ``ttl`` every ``interval_s``."""

    name = "housekeeper"

    def __init__(self, db: Database, ttl: timedelta, interval_s: float = EVERY_S) -> None:
        super().__init__(interval_s)
        self.db = db
        self.ttl = ttl

    def run_once(self) -> int:
        with self.db.write() as conn:
            return prune_older_than(conn, utcnow() - self.ttl)


def start_housekeeper(db: Database, ttl_hours: float) -> Housekeeper | None:
    """Start it (first round at once); None when ``ttl_hours`` is 0 (keep keys forever)."""
    if ttl_hours <= 0:
        return None
    return Housekeeper(db, timedelta(hours=ttl_hours)).start()
