"""A training's progress: written on its model row while it trains, shown with an ETA.

The service fits with a :class:`ProgressRecorder` as ``on_progress``: each write is its own
short transaction (an API process, or another host's, sees it at once), at most one a
second whatever the fit reports.  :func:`progress_view` is what the API shows of it.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from triaged.services.ids import as_utc, utcnow
from triaged.services.progress_rate import eta_seconds, rate_per_second
from triaged.storage import training_repo

if TYPE_CHECKING:
    from triaged.storage.db import Database

__all__ = ["WRITE_EVERY_S", "ProgressRecorder", "progress_view"]

log = logging.getLogger("triaged.training")

#: the least time between two progress writes of one training
WRITE_EVERY_S = 1.0


class ProgressRecorder:
    """``on_progress(done, total, stage)`` of a fit that writes it on model ``model_id``'s
    row: the first report at once (the total and when it started), then at most one every
    ``every`` seconds (the reports in between are dropped; the last one is always written).
    A failed write is logged and the training goes on."""

    def __init__(self, db: Database, model_id: str, every: float = WRITE_EVERY_S) -> None:
        self.db = db
        self.model_id = model_id
        self.every = every
        self.writes = 0
        self._started: datetime | None = None
        self._last = 0.0

    def __call__(self, done: int, total: int, stage: str) -> None:
        now = time.monotonic()
        if self._started is None:
            self._started = utcnow()
        elif done < total and now - self._last < self.every:
            return
        self._last = now
        progress = {
            "done": int(done),
            "total": int(total),
            "stage": stage,
            "started_at": self._started.isoformat(),
            "updated_at": utcnow().isoformat(),
        }
        try:
            with self.db.write() as conn:
                training_repo.set_progress(conn, self.model_id, progress)
            self.writes += 1
        except Exception:  # the database may be briefly unavailable: the next one may pass
            log.warning("progress of model %s not written", self.model_id, exc_info=True)


def progress_view(stored: Any, status: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The API's ``progress`` of a model row: done and total steps, the stage, the done
    share, the ETA at the rate so far (null until a step is done) and the last write's
    time; null unless it is ``training`` and has reported."""
    if status != "training" or not isinstance(stored, dict):
        return None
    try:
        done, total = int(stored["done"]), int(stored["total"])
        started = datetime.fromisoformat(str(stored["started_at"]))
        updated = str(stored["updated_at"])
    except (KeyError, TypeError, ValueError):
        return None
    elapsed = (as_utc(now or utcnow()) - as_utc(started)).total_seconds()
    return {
        "done": done,
        "total": total,
        "stage": str(stored.get("stage") or ""),
        "fraction": round(done / total, 4) if total > 0 else 0.0,
        "eta_seconds": eta_seconds(done, total, rate_per_second(done, elapsed)),
        "updated_at": updated,
    }
