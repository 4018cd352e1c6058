"""``triaged worker``: runs the queue's jobs with procrastinate on PostgreSQL.

Each process registers the job functions of :mod:`triaged.services.jobs_tasks`
as procrastinate tasks and runs them (``worker_concurrency`` at a time).  The
periodic jobs (drift checks, housekeeping, the live routing check) are
procrastinate periodic tasks: every worker offers to defer them, and the queue
keeps one job per task and period.  That is not quite once: procrastinate prunes
a task's older period rows when it defers a newer one, so a worker that lags
(a slow start on a busy box) can defer a pruned period again.  Each round
therefore claims its period's timestamp in ``periodic_runs`` first
(:func:`run_period`; a claim only moves forward), and a second job of a period,
or one older than the last run, does nothing: each runs once per period however
many workers run.  Webhook delivery is the periodic ``webhooks`` job, every
``TRIAGED_WEBHOOK_POLL_INTERVAL_S`` (whole seconds, at least 1), on a queue of
its own (``triaged_webhooks``) that each worker process serves with one slot
of its own, so a delivery never waits behind a training and never takes a
training's slot; a ``queueing_lock`` keeps at most one waiting, and a finished
one is deleted at once (one a second would fill the table otherwise).  An event
written on PostgreSQL sends a notice that makes the worker defer a drain at
once (the period is then the floor for retries and for a missed notice).  A job
whose worker stopped sending heartbeats for ``job_stalled_seconds`` (killed,
lost) is put back in the queue by any live worker and retried; a stalled
webhook drain is marked failed instead (the next period's drain goes on; the
deliveries it had claimed are sent again when their lease expires).  Other
finished queue jobs are deleted after a week.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from triaged.errors import Unavailable
from triaged.services.jobs import QUEUE, ensure_queue_schema, requeue_orphans
from triaged.services.jobs_tasks import TASKS
from triaged.services.jobs_worker_stop import JobThreads, StopWatch, lane, until_stopped
from triaged.services.periodic import claim_period
from triaged.storage.db import PG_CONNECT_TIMEOUT_S
from triaged.webhooks.config import WebhookSettings
from triaged.webhooks.events import CHANNEL as WEBHOOK_CHANNEL

if TYPE_CHECKING:
    from procrastinate import App
    from procrastinate.worker import Worker

    from triaged.service import Service
    from triaged.settings import Settings

__all__ = ["build_app", "cron_every", "run_period", "run_worker"]

log = logging.getLogger("triaged.worker")

KEEP_FINISHED_HOURS = 24 * 7
WEBHOOK_QUEUE = "triaged_webhooks"
WEBHOOK_TASK = "periodic_webhooks"
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
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (with the engine's
    ``connect_timeout`` unless the URL sets one)."""
    parsed = make_url(url).set(drivername="postgresql")
    if "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(PG_CONNECT_TIMEOUT_S)})
    return parsed.render_as_string(hide_password=False)


def run_period(svc: Service, name: str, timestamp: int) -> bool:
    """Run the periodic job ``name`` for the period starting at ``timestamp`` unless that
    period (or a later one) already ran; True when it ran here."""
    if not claim_period(svc.db, f"queue:{name}", 1.0, now=float(timestamp)):
        log.info("periodic %s at %d already ran: skipped", name, timestamp)
        return False
    log.info("periodic %s at %d runs", name, timestamp)
    TASKS[name](svc)
    return True


def _periodics(svc: Service) -> dict[str, float]:
    s = svc.settings
    out = {
        "drift": s.drift_check_interval_seconds,
        "routing_check": s.routing_check_interval_seconds,
        "housekeeping": 3600.0 if s.idempotency_ttl_hours > 0 else 0.0,
    }
    return {name: every for name, every in out.items() if every > 0}


def build_app(svc: Service, pool_factory: Any = None) -> App:
    """A procrastinate app whose tasks call the job functions with ``svc`` (``pool_factory``:
    makes the queue's connection pool, as procrastinate's ``PsycopgConnector`` takes it)."""
    from procrastinate import App, PsycopgConnector, RetryStrategy

    pool = {"pool_factory": pool_factory} if pool_factory is not None else {}
    connector = PsycopgConnector(conninfo=conninfo(svc.db.url), min_size=1, max_size=6, **pool)
    app = App(connector=connector)
    retry = RetryStrategy(max_attempts=5, wait=2)

    def bind(fn: Any) -> Any:
        def task(**kwargs: Any) -> Any:
            return fn(svc, **kwargs)

        return task

    for name, fn in TASKS.items():
        if name != "webhooks":  # periodic only, on its own queue (below)
            app.task(name=name, queue=QUEUE, retry=retry, pass_context=False)(bind(fn))
    for name, every in _periodics(svc).items():

        def periodic(timestamp: int, _name: str = name) -> bool:
            return run_period(svc, _name, timestamp)

        task = app.task(name=f"periodic_{name}", queue=QUEUE, pass_context=False)(periodic)
        app.periodic(cron=cron_every(every), periodic_id=name)(task)

    async def prune_queue(timestamp: int) -> None:
        """Finished queue jobs older than a week go (the model and job rows stay)."""
        for queue in (QUEUE, WEBHOOK_QUEUE):  # (a webhook drain is kept only if it failed)
            await app.job_manager.delete_old_jobs(
                nb_hours=KEEP_FINISHED_HOURS,
                queue=queue,
                include_failed=True,
                include_cancelled=True,
            )

    hooks = WebhookSettings()
    if hooks.worker:

        def deliver(timestamp: int) -> Any:
            return TASKS["webhooks"](svc)

        drain = app.task(
            name=WEBHOOK_TASK, queue=WEBHOOK_QUEUE, queueing_lock="webhooks", pass_context=False
        )(deliver)
        cron = cron_every(max(1.0, hooks.poll_interval_s))
        app.periodic(cron=cron, periodic_id="webhooks")(drain)

    prune = app.task(name="periodic_prune_queue", queue=QUEUE, pass_context=False)(prune_queue)
    app.periodic(cron="30 3 * * *", periodic_id="prune_queue")(prune)
    return app


async def _trigger_webhooks(app: App) -> None:
    """Defer a webhook drain on each notice of new deliveries (one waits at most)."""
    from procrastinate.exceptions import AlreadyEnqueued

    drain = app.tasks[WEBHOOK_TASK]

    async def on_notice(channel: str, payload: str) -> None:
        with contextlib.suppress(AlreadyEnqueued):  # a drain waits already: it sees these rows
            await drain.defer_async(timestamp=0)

    await _keep_listening(
        lambda: app.connector.listen_notify(on_notification=on_notice, channels=[WEBHOOK_CHANNEL])
    )


#: the longest pause between two attempts of a listener that keeps failing
LISTEN_BACKOFF_MAX_S = 30.0


def backoff_pause(failures: int, cap: float) -> float:
    """The pause after the ``failures``-th failure in a row of a listener: 1 s, doubling, at
    most ``cap`` (the worker's and the API's listeners back off alike)."""
    return min(cap, 2.0 ** max(0, failures - 1))


async def _keep_listening(listen: Any, *, sleep: Any = asyncio.sleep) -> None:
    """Run ``listen`` again whenever it fails (the database may be briefly unavailable).

    The first failure of a run is logged with its traceback, the next ones in one line, and
    the pause between attempts doubles from 1 s to :data:`LISTEN_BACKOFF_MAX_S`: a worker
    that lost its database logged a full traceback every second (1,400 lines before it
    stopped).  A listener that ran a minute before failing starts over at 1 s."""
    failures = 0
    while True:
        started = time.monotonic()
        try:
            await listen()
        except Exception as exc:
            if time.monotonic() - started > 60.0:
                failures = 0
            if failures == 0:
                log.exception("webhook notice listener failed")
            else:
                log.warning("webhook notice listener failed again (%d): %s", failures + 1, exc)
            failures += 1
        await sleep(backoff_pause(failures, LISTEN_BACKOFF_MAX_S))


async def _sweep(app: App, svc: Service, stalled_s: float) -> None:
    """Beat on the rows of this worker's bulk jobs, put the jobs of workers without a recent
    heartbeat back in the queue; now and then, queue the training of model rows whose job
    was never enqueued."""
    from procrastinate.exceptions import ConnectorException
    from procrastinate.jobs import Status

    last_orphans = 0.0
    while True:
        try:
            # the bulk jobs this worker runs: alive while they wait (the plan's pace)
            await asyncio.to_thread(svc.jobs.beat_bulk)
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_s):
                try:
                    if job.task_name == WEBHOOK_TASK:  # its queueing lock may be taken: not retried
                        log.warning("webhook drain %s: its worker stopped", job.id)
                        await app.job_manager.finish_job(job, Status.FAILED, delete_job=False)
                        continue
                    log.warning("retrying job %s (%s): its worker stopped", job.id, job.task_name)
                    await app.job_manager.retry_job(job)
                except ConnectorException:  # it finished (or was retried) meanwhile
                    log.info("stalled job %s moved on before the sweep", job.id)
            if time.monotonic() - last_orphans > ORPHAN_CHECK_S:
                last_orphans = time.monotonic()
                for model_id in await asyncio.to_thread(requeue_orphans, svc.db):
                    log.warning("queued the training of model %s (it had no job)", model_id)
        except Exception:  # the database may be briefly unavailable
            log.exception("stalled-job sweep failed")
        await asyncio.sleep(max(0.5, stalled_s / 4))


def _graceful_stop(
    app: App, svc: Service, worker: Worker, running: asyncio.Task[Any], beat: float
) -> None:
    """SIGINT/SIGTERM: take no new job, stop a bulk job after its chunk in flight (it is
    queued again for the rest), let a training finish, and keep this worker's heartbeat
    going meanwhile.  procrastinate's own shutdown stops the heartbeat first and then waits
    for the jobs: another worker then saw a job "stalled" after ``job_stalled_seconds`` and
    ran it a second time beside this one.  A second signal stops at once."""
    if svc.jobs.stop_event.is_set():
        running.cancel()  # the second signal
        return
    log.info("stopping: the jobs in flight finish first (send the signal again to stop now)")
    svc.jobs.stop_event.set()

    async def keep_beating() -> None:
        while not running.done() and worker.worker_id is not None:
            with contextlib.suppress(Exception):  # the database may be briefly unavailable
                await app.job_manager.update_heartbeat(worker.worker_id)
            await asyncio.sleep(beat)

    _BEATING.add(asyncio.get_running_loop().create_task(keep_beating()))
    worker.stop()  # type: ignore[no-untyped-call]


_BEATING: set[asyncio.Task[Any]] = set()  # a reference, so the task is not collected


class _QuietDrains(logging.Filter):
    """procrastinate's INFO lines about the webhook drain (deferred, started, ended: three
    a second on an idle worker) are dropped; its warnings and errors stay, and so do the
    lines of every other job.  The drain's deliveries are logged by the webhook worker."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or not record.name.startswith("procrastinate"):
            return True
        return WEBHOOK_TASK not in record.getMessage()


def _stopped_unasked() -> Unavailable:
    """procrastinate stops a worker whose queue listener or job fetch lost the database (a
    few seconds' outage): say so and exit non-zero, so a supervisor restarts it (it exited 0
    without a word, or with a traceback, and queued jobs waited for ever)."""
    return Unavailable(
        "the worker stopped without being asked to: it lost its database connection "
        "(see the log above); restart it",
        details={"database": "lost"},
    )


def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """Run a worker until SIGINT/SIGTERM (the job in flight finishes first)."""
    from triaged.service import Service

    logging.basicConfig(  # the worker's own lines (and procrastinate's) at the set level
        level="DEBUG" if settings.log_level == "trace" else settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietDrains())
    # httpx's "HTTP Request: POST <url>" line at info wrote each webhook URL whole (a secret
    # in its path or query with it); the delivery's own line names the host only
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # never the first admin key: a worker on a fresh database made one, hashed with the
    # worker's pepper (the API's may differ), and wrote it to the worker's log
    svc = Service(settings.with_overrides(job_queue="postgres", bootstrap_admin=False))
    svc.start()
    ensure_queue_schema(svc.db)
    watch = StopWatch(conninfo(svc.db.url))
    app = build_app(svc, pool_factory=watch.pool_factory)
    log.info("triaged worker: queue %r on %s", QUEUE, svc.db.engine.url.host)
    try:
        asyncio.run(_work(app, svc, watch, concurrency))
    finally:
        # a stop signal now finds the stop under way (it killed the process, or raised
        # KeyboardInterrupt, once the event loop's handlers were gone)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        svc.jobs.stop_event.set()
        svc.close()


async def _work(app: App, svc: Service, watch: StopWatch, concurrency: int | None) -> None:
    """The worker's lanes (its jobs; the webhook drains) until a stop; raises
    :func:`_stopped_unasked` when procrastinate stopped it (its database was lost)."""
    from procrastinate.exceptions import ConnectorException

    stalled = svc.settings.job_stalled_seconds
    beat = max(0.5, stalled / 4)
    lanes: dict[str, Any] = {
        "install_signal_handlers": False,  # _graceful_stop below
        "update_heartbeat_interval": beat,
        "stalled_worker_timeout": stalled,
    }
    threads = JobThreads()  # a job left running without the database holds no exit
    asyncio.get_running_loop().set_default_executor(threads)
    async with app.open_async():
        sweeper = asyncio.create_task(_sweep(app, svc, stalled))
        hooks = asyncio.create_task(  # the webhook lane: one slot, its own queue
            lane(
                app,
                watch,
                queues=[WEBHOOK_QUEUE],
                name="webhooks",
                concurrency=1,
                delete_jobs="successful",
                **lanes,
            ).run()
        )
        trigger = asyncio.create_task(_trigger_webhooks(app)) if WEBHOOK_TASK in app.tasks else None
        worker = lane(
            app,
            watch,
            queues=[QUEUE],
            concurrency=concurrency or svc.settings.worker_concurrency,
            **lanes,
        )
        running = asyncio.create_task(worker.run())
        watcher = asyncio.create_task(watch.watch())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _graceful_stop, app, svc, worker, running, beat)
        try:
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await until_stopped(running, watch, threads)
            except ConnectorException:  # its job fetch, or its shutdown, lost the database
                if svc.jobs.stop_event.is_set() and not watch.lost and await watch.reachable():
                    raise
            asked = svc.jobs.stop_event.is_set()  # a signal, or procrastinate gave up
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)  # restores the default: the stop is under way,
                signal.signal(sig, signal.SIG_IGN)  # a signal now must not kill it half done
            for task in (sweeper, trigger, hooks):
                if task is not None:
                    task.cancel()  # the webhook drain in flight finishes (the stop event ends it)
            svc.jobs.stop_event.set()
            await asyncio.gather(hooks, return_exceptions=True)  # (the watcher still watches)
            watcher.cancel()
    if not asked:
        raise _stopped_unasked()
