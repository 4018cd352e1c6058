"""What runs beside the API in ``triaged serve``, by job mode.

Inline mode (the embedded default): webhook delivery, drift checks,
housekeeping and the live routing check run as threads of the process (each
periodic round claimed once per period in ``periodic_runs``, so ``--workers N``
runs it once), and bulk jobs left unfinished by a stopped process resume.
Queue mode: none of that; ``triaged worker`` processes run it.  On PostgreSQL,
in both modes, a listener loads each newly activated model as soon as it is
announced (:mod:`triaged.services.jobs_notify`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from triaged.services.drift_checks import start_drift_checker
from triaged.services.housekeeping import start_housekeeper
from triaged.services.jobs import ensure_queue_schema
from triaged.services.jobs_notify import start_model_listener
from triaged.services.routing_policy import start_routing_checker
from triaged.webhooks.admin import start_worker as start_webhook_worker

if TYPE_CHECKING:
    from triaged.service import Service

__all__ = ["Background", "start_background"]

log = logging.getLogger("triaged.jobs")


@dataclass
class Background:
    parts: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for part in reversed(self.parts):
            part.stop()


def start_background(svc: Service) -> Background:
    cfg = svc.settings
    bg = Background()
    if not svc.db.is_sqlite:
        bg.parts.append(start_model_listener(svc))
    if svc.jobs.queued:
        ensure_queue_schema(svc.db)
        return bg
    started = [
        start_webhook_worker(svc.db),
        start_drift_checker(svc.db, cfg.drift_check_interval_seconds),
        start_housekeeper(svc.db, cfg.idempotency_ttl_hours),
        start_routing_checker(svc.db, svc.check_routing, cfg.routing_check_interval_seconds),
    ]
    bg.parts += [p for p in started if p is not None]
    resumed = svc.jobs.resume()
    if resumed:
        log.info("resumed %d unfinished bulk job(s)", resumed)
    return bg
