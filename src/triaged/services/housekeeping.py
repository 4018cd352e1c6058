"""Housekeeping in the background of ``triaged serve``: expired idempotency keys, old
failed authentications, and the retention of decision texts.

A retried request is answered from its idempotency key for
``TRIAGED_IDEMPOTENCY_TTL_HOURS`` (24 h by default, like common payment APIs);
older keys are deleted every hour, so the table does not grow with traffic.  Failed
authentications (the throttle's shared memory) older than a day, or than the throttle's
window when that is longer, go at the same time.  With ``TRIAGED_DECISION_RETENTION_DAYS``
set, decisions older than that lose their text and metadata
(:func:`triaged.services.erasure.erase_expired`).
"""

from __future__ import annotations

import time
from datetime import timedelta

from triaged.services.erasure import erase_expired
from triaged.services.idempotency import prune_older_than
from triaged.services.ids import utcnow
from triaged.services.periodic import Periodic
from triaged.storage import auth_failure_repo
from triaged.storage.db import Database

__all__ = ["Housekeeper", "housekeeper", "start_housekeeper"]

EVERY_S = 3600.0
DAY_S = 86400.0


class Housekeeper(Periodic):
    """Every ``interval_s``: deletes idempotency keys older than ``ttl`` (None: keeps them)
    and failed authentications older than ``auth_keep_s``, and erases decisions older than
    ``retention`` (None: keeps them)."""

    name = "housekeeper"

    def __init__(
        self,
        db: Database,
        ttl: timedelta | None,
        interval_s: float = EVERY_S,
        auth_keep_s: float = DAY_S,
        retention: timedelta | None = None,
    ) -> None:
        super().__init__(interval_s)
        self.db = db
        self.ttl = ttl
        self.auth_keep_s = auth_keep_s
        self.retention = retention

    def run_once(self) -> int:
        now = utcnow()
        with self.db.write() as conn:
            gone = 0 if self.ttl is None else prune_older_than(conn, now - self.ttl)
            gone += auth_failure_repo.delete_older_than(conn, time.time() - self.auth_keep_s)
        if self.retention is not None:
            gone += erase_expired(self.db, self.retention, now)
        return gone


def housekeeper(
    db: Database, ttl_hours: float, auth_window_s: float = 0.0, retention_days: float = 0.0
) -> Housekeeper:
    """The housekeeper for these settings (``ttl_hours`` 0: idempotency keys kept forever;
    ``retention_days`` 0: decisions kept whole forever)."""
    ttl = timedelta(hours=ttl_hours) if ttl_hours > 0 else None
    retention = timedelta(days=retention_days) if retention_days > 0 else None
    return Housekeeper(db, ttl, auth_keep_s=max(DAY_S, auth_window_s), retention=retention)


def start_housekeeper(
    db: Database, ttl_hours: float, auth_window_s: float = 0.0, retention_days: float = 0.0
) -> Housekeeper:
    """Start it (first round at once)."""
    return housekeeper(db, ttl_hours, auth_window_s, retention_days).start()
