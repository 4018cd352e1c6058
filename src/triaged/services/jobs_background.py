"""What runs beside the API in ``triaged serve``, by job mode.

Inline mode (the embedded default): drift checks, housekeeping and the live
routing check run as threads of the process (each periodic round claimed once
per period in ``periodic_runs``, so ``--workers N`` runs it once); the
``webhooks`` job, the same function ``triaged worker`` runs in queue mode, runs
every ``TRIAGED_WEBHOOK_POLL_INTERVAL_S`` in a thread of its own (not behind a
training in the job thread; under ``--workers N`` each process drains, the
outbox's claim leases keep a delivery to one of them); a sweeper keeps the
heartbeat of the bulk jobs this process runs and takes over, in one process of
all, those whose heartbeat is older than ``TRIAGED_JOB_STALLED_SECONDS`` (their
process was killed).  Queue mode: none of that, no delivery
thread either; ``triaged worker`` processes run it.  On PostgreSQL,
in both modes, a listener loads each newly activated model as soon as it is
announced (:mod:`triaged.services.jobs_notify`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from triaged.services.drift_checks import drift_config, start_drift_checker
from triaged.services.housekeeping import start_housekeeper
from triaged.services.jobs import ensure_queue_schema
from triaged.services.jobs_notify import start_model_listener
from triaged.services.jobs_tasks import webhooks
from triaged.services.periodic import Periodic
from triaged.services.routing_policy import start_routing_checker
from triaged.webhooks.config import WebhookSettings

if TYPE_CHECKING:
    from triaged.service import Service

__all__ = ["Background", "start_background"]

log = logging.getLogger("triaged.jobs")


class WebhookJob(Periodic):
    """The ``webhooks`` job every ``interval_s``, in this process (inline mode)."""

    name = "triaged-webhooks"

    def __init__(self, svc: Service, interval_s: float) -> None:
        super().__init__(interval_s)
        self.svc = svc

    def run_once(self) -> int:
        return webhooks(self.svc)


class BulkSweeper(Periodic):
    """Heartbeats of this process's bulk jobs, and the take-over of abandoned bulk and
    training jobs."""

    name = "triaged-bulk-sweeper"

    def __init__(self, svc: Service, interval_s: float) -> None:
        super().__init__(interval_s)
        self.svc = svc

    def run_once(self) -> int:
        self.svc.jobs.heartbeat()
        taken = self.svc.jobs.resume()
        if taken:
            log.info("took over %d unfinished job(s)", taken)
        return taken


@dataclass
class Background:
    svc: Service
    parts: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        self.svc.jobs.stop_event.set()  # a webhook drain or bulk job stops after its round
        for part in reversed(self.parts):
            part.stop()


def start_background(svc: Service) -> Background:
    cfg = svc.settings
    bg = Background(svc)
    if not svc.db.is_sqlite:
        bg.parts.append(start_model_listener(svc))
    if svc.jobs.queued:
        ensure_queue_schema(svc.db)
        return bg
    hooks = WebhookSettings()
    started = [
        WebhookJob(svc, hooks.poll_interval_s).start() if hooks.worker else None,
        start_drift_checker(svc.db, cfg.drift_check_interval_seconds, drift_config(cfg)),
        start_housekeeper(
            svc.db,
            cfg.idempotency_ttl_hours,
            cfg.auth_failure_window_seconds,
            cfg.decision_retention_days,
        ),
        start_routing_checker(svc.db, svc.check_routing, cfg.routing_check_interval_seconds),
    ]
    bg.parts += [p for p in started if p is not None]
    bg.parts.append(BulkSweeper(svc, max(0.5, cfg.job_stalled_seconds / 4)).start())
    return bg
