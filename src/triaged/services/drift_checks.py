"""Drift checks in the background of ``triaged serve``: every workspace, every interval.

Each round reads every workspace's active taxonomies (:func:`pending_drift_alerts`);
only a workspace with a new alert takes a write transaction, in which
:func:`record_drift_alerts` checks again and records each new alert as an
``alert.drift`` outbox event, which the webhook worker delivers.  Several API
workers may run their own checker on one database: recording is serialised per
workspace and an alert is recorded once per recent window, so none is sent twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from triaged.drift import DriftConfig
from triaged.services.insights import pending_drift_alerts, record_drift_alerts
from triaged.services.periodic import Periodic
from triaged.settings import Settings
from triaged.storage import periodic_repo
from triaged.storage.db import Database

__all__ = ["DriftChecker", "drift_config", "start_drift_checker"]

log = logging.getLogger("triaged.drift")


class DriftChecker(Periodic):
    """A thread that runs the drift check every ``interval_s``; ``start()``/``stop()``.

    ``run_once()`` does one round synchronously and returns the alerts it recorded.
    """

    name = "drift-checker"

    def __init__(self, db: Database, interval_s: float, config: DriftConfig | None = None) -> None:
        super().__init__(interval_s)
        self.db = db
        self.config = config or DriftConfig()

    def run_once(self, now: datetime | None = None) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            spaces = periodic_repo.workspace_ids(conn)
        found: list[dict[str, Any]] = []
        for ws in spaces:
            with self.db.read() as conn:  # the usual case, nothing new, takes no write lock
                if not pending_drift_alerts(conn, ws, config=self.config, now=now):
                    continue
            with self.db.write() as conn:
                new = record_drift_alerts(conn, ws, config=self.config, now=now)
            for alert in new:
                log.warning("drift %s/%s: %s", ws, alert["taxonomy"], alert["message"])
            found += new
        return found


def drift_config(
    settings: Settings,
    *,
    recent_hours: float | None = None,
    baseline_hours: float | None = None,
    alpha: float | None = None,
    min_volume: int | None = None,
    min_change: float | None = None,
    per_label: bool | None = None,
) -> DriftConfig:
    """What counts as drift: each value given (a request's, an option's), else this
    server's ``TRIAGED_DRIFT_*``."""
    s = settings

    def pick(given: Any, default: Any) -> Any:
        return default if given is None else given

    return DriftConfig(
        recent=timedelta(hours=pick(recent_hours, s.drift_recent_hours)),
        baseline=timedelta(hours=pick(baseline_hours, s.drift_baseline_hours)),
        alpha=pick(alpha, s.drift_alpha),
        min_volume=pick(min_volume, s.drift_min_volume),
        min_change=pick(min_change, s.drift_min_change),
        per_label=pick(per_label, s.drift_per_label),
    )


def start_drift_checker(
    db: Database, interval_s: float, config: DriftConfig | None = None
) -> DriftChecker | None:
    """Start the checker (first round at once); None when ``interval_s`` is 0."""
    if interval_s <= 0:
        return None
    return DriftChecker(db, interval_s, config).start()
