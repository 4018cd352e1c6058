"""The jobs themselves: plain functions of the service and JSON arguments.

The same functions run in ``triaged serve`` (inline mode) and in ``triaged
worker`` (queue mode, :mod:`triaged.services.jobs_worker`).  Each one is safe to
run again after a crash: training finishes the model row it was given (a row
already finished is left alone), a bulk job resumes at its first row without a
result, and the periodic ones are idempotent rounds (webhook delivery claims each
outbox row with a lease, so two drains never send the same row at once and a
drain killed mid-send leaves its claims to expire and be sent again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from triaged.services import learning
from triaged.services import taxonomies as taxo
from triaged.storage import training_repo

if TYPE_CHECKING:
    from triaged.service import Service

__all__ = ["TASKS", "WEBHOOK_DRAIN_S", "retrain_auto", "run_bulk", "train_model", "webhooks"]

log = logging.getLogger("triaged.jobs")

WEBHOOK_DRAIN_S = 10.0  # one webhooks job sends for at most this long; the next period goes on


def train_model(svc: Service, model_id: str, trigger: str | None = None) -> str:
    """Train the model row ``model_id`` (status ``training``) and activate it if newest.

    ``trigger`` (``api``, ``auto``, ...): a retrain on reviews, whose evaluation on the
    held-out reviewed examples is recorded with the model."""
    with svc.db.read() as conn:
        row = training_repo.training_target(conn, model_id)
        if row is None or row.status != "training":
            return "skipped"  # finished by an earlier run of this job
        record = taxo.get_record_by_id(conn, row.workspace_id, row.taxonomy_id)
        tax = taxo.load_version(conn, record, row.taxonomy_version)
        train_tax, reviewed, added = svc.review._training_set(conn, record, tax)
    if trigger is None:
        svc._finish(model_id, train_tax)
    else:
        svc.review._train(record, model_id, train_tax, reviewed, added, trigger)
    return "trained"


def retrain_auto(svc: Service, workspace_id: str, taxonomy_id: str, taxonomy: str) -> bool:
    """The automatic retrain after ``review_retrain_after`` reviews: checked again here,
    so triggers queued before a retrain that already took their reviews do nothing.  When
    it ends, the reviews that came in meanwhile queue the next one if they reach the
    trigger already (a trigger that joined this training would otherwise be lost)."""
    every = int(svc.settings.review_retrain_after)
    with svc.db.read() as conn:
        if every <= 0 or learning.resolved_since_last_model(conn, taxonomy_id) < every:
            return False
    svc.review._retrain(workspace_id, taxonomy, trigger="auto", wait=True, here=True)
    svc.review.maybe_retrain(workspace_id, taxonomy_id, taxonomy)
    return True


def run_bulk(svc: Service, job_id: str, token: int | None = None) -> str:
    """A run of bulk job ``job_id`` (``token``: claimed already by this process)."""
    return svc.jobs.run_bulk(job_id, token)


def drift(svc: Service) -> int:
    from triaged.services.drift_checks import DriftChecker, drift_config

    interval = svc.settings.drift_check_interval_seconds or 900.0
    return len(DriftChecker(svc.db, interval, drift_config(svc.settings)).run_once())


def housekeeping(svc: Service) -> int:
    from triaged.services.housekeeping import housekeeper

    cfg = svc.settings
    keeper = housekeeper(
        svc.db,
        cfg.idempotency_ttl_hours,
        cfg.auth_failure_window_seconds,
        cfg.decision_retention_days,
    )
    return keeper.run_once()


def routing_check(svc: Service) -> int:
    from triaged.services.routing_policy import RoutingChecker

    interval = svc.settings.routing_check_interval_seconds or 300.0
    return len(RoutingChecker(svc.db, svc.check_routing, interval).run_once())


def webhooks(svc: Service) -> int:
    """Deliver the webhook outbox: rounds of claim, signed POST (through the SSRF guard, which
    resolves the receiver's address again at each delivery) and settle, until nothing is due,
    :data:`WEBHOOK_DRAIN_S` has passed or the process is stopping.  Returns how many
    deliveries were tried (0 with ``TRIAGED_WEBHOOK_WORKER=false``)."""
    deliverer = svc.jobs.webhook_deliverer()
    if deliverer is None:
        return 0
    return deliverer.drain(WEBHOOK_DRAIN_S, stop=svc.jobs.stop_event)


def fail_stale_training(svc: Service) -> int:
    """Model rows left ``training`` for hours (their job gone): marked failed."""
    from triaged.services.training import fail_interrupted

    with svc.db.write() as conn:
        return fail_interrupted(conn, 6 * 3600.0)


TASKS: dict[str, Callable[..., Any]] = {
    "train": train_model,
    "retrain": retrain_auto,
    "bulk": run_bulk,
    "drift": drift,
    "housekeeping": housekeeping,
    "routing_check": routing_check,
    "webhooks": webhooks,
}
