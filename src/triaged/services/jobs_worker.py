"""``triaged worker``: runs the queue's jobs with procrastinate on PostgreSQL.

Each process registers the job functions of :mod:`triaged.services.jobs_tasks`
as procrastinate tasks and runs them (``worker_concurrency`` at a time).  The
periodic jobs (drift checks, housekeeping, the live routing check) are
procrastinate periodic tasks: every worker offers to defer them, and the queue
keeps one job per task and period, so each runs once per period however many
workers run.  Webhook delivery runs here too (its outbox rows are claimed with
leases, so several workers share it).  A job whose worker stopped sending
heartbeats for ``job_stalled_seconds`` (killed, lost) is put back in the queue
by any live worker and retried.  Finished queue jobs are deleted after a week.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from triaged.services.jobs import QUEUE, ensure_queue_schema, requeue_orphans
from triaged.services.jobs_tasks import TASKS

if TYPE_CHECKING:
    from procrastinate import App

    from triaged.service import Service
    from triaged.settings import Settings

__all__ = ["build_app", "cron_every", "run_worker"]

log = logging.getLogger("triaged.worker")

KEEP_FINISHED_HOURS = 24 * 7
ORPHAN_CHECK_S = 30.0


def cron_every(seconds: float) -> str:
    """A cron line (procrastinate's, seconds as an optional 6th field) for ``seconds``."""
    s = max(1, round(seconds))
    if s < 60:
        return f"* * * * * */{s}"
    m = max(1, round(s / 60))
    if m < 60:
        return f"*/{m} * * * *"
    h = max(1, round(m / 60))
    return f"0 */{min(h, 23)} * * *" if h < 24 else "0 0 * * *"


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _periodics(svc: Service) -> dict[str, float]:
    s = svc.settings
    out = {
        "drift": s.drift_check_interval_seconds,
        "routing_check": s.routing_check_interval_seconds,
        "housekeeping": 3600.0 if s.idempotency_ttl_hours > 0 else 0.0,
    }
    return {name: every for name, every in out.items() if every > 0}


def build_app(svc: Service) -> App:
    """A procrastinate app whose tasks call the job functions with ``svc``."""
    from procrastinate import App, PsycopgConnector, RetryStrategy

    app = App(connector=PsycopgConnector(conninfo=conninfo(svc.db.url), min_size=1, max_size=4))
    retry = RetryStrategy(max_attempts=5, wait=2)

    def bind(fn: Any) -> Any:
        def task(**kwargs: Any) -> Any:
            return fn(svc, **kwargs)

        return task

    for name, fn in TASKS.items():
        app.task(name=name, queue=QUEUE, retry=retry, pass_context=False)(bind(fn))
    for name, every in _periodics(svc).items():
        fn = TASKS[name]

        def periodic(timestamp: int, _fn: Any = fn) -> Any:
            return _fn(svc)

        task = app.task(name=f"periodic_{name}", queue=QUEUE, pass_context=False)(periodic)
        app.periodic(cron=cron_every(every), periodic_id=name)(task)

    async def prune_queue(timestamp: int) -> None:
        """Finished queue jobs older than a week go (the model and job rows stay)."""
        await app.job_manager.delete_old_jobs(
            nb_hours=KEEP_FINISHED_HOURS, queue=QUEUE, include_failed=True, include_cancelled=True
        )

    prune = app.task(name="periodic_prune_queue", queue=QUEUE, pass_context=False)(prune_queue)
    app.periodic(cron="30 3 * * *", periodic_id="prune_queue")(prune)
    return app


async def _sweep(app: App, svc: Service, stalled_s: float) -> None:
    """Put the jobs of workers without a recent heartbeat back in the queue; now and then,
    queue the training of model rows whose job was never enqueued."""
    last_orphans = 0.0
    while True:
        try:
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_s):
                log.warning("retrying job %s (%s): its worker stopped", job.id, job.task_name)
                await app.job_manager.retry_job(job)
            if time.monotonic() - last_orphans > ORPHAN_CHECK_S:
                last_orphans = time.monotonic()
                for model_id in await asyncio.to_thread(requeue_orphans, svc.db):
                    log.warning("queued the training of model %s (it had no job)", model_id)
        except Exception:  # the database may be briefly unavailable
            log.exception("stalled-job sweep failed")
        await asyncio.sleep(max(0.5, stalled_s / 4))


def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """Run a worker until SIGINT/SIGTERM (the job in flight finishes first)."""
    from triaged.service import Service
    from triaged.webhooks.admin import start_worker as start_webhook_worker

    svc = Service(settings.with_overrides(job_queue="postgres"))
    svc.start()
    ensure_queue_schema(svc.db)
    app = build_app(svc)
    stalled = svc.settings.job_stalled_seconds
    webhooks = start_webhook_worker(svc.db)

    async def main() -> None:
        async with app.open_async():
            sweeper = asyncio.create_task(_sweep(app, svc, stalled))
            try:
                await app.run_worker_async(
                    queues=[QUEUE],
                    concurrency=concurrency or svc.settings.worker_concurrency,
                    update_heartbeat_interval=max(0.5, stalled / 4),
                    stalled_worker_timeout=stalled,
                )
            finally:
                sweeper.cancel()

    log.info("triaged worker: queue %r on %s", QUEUE, svc.db.engine.url.host)
    try:
        asyncio.run(main())
    finally:
        svc.jobs.stop_event.set()
        if webhooks is not None:
            webhooks.stop()
        svc.close()
