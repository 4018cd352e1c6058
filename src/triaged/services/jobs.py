"""Where jobs run: in this process, or on a queue in PostgreSQL run by ``triaged worker``.

Every job is a function of :mod:`triaged.services.jobs_tasks` called with the
service and JSON arguments.  With ``TRIAGED_JOB_QUEUE=inline`` (the default, and
the only mode on the embedded SQLite database) ``triaged serve`` runs them in a
thread of its own, so ``make serve`` stays one command.  With
``TRIAGED_JOB_QUEUE=postgres`` a job is a row of procrastinate's queue, written
with the caller's connection, so it is enqueued in the same transaction as what
triggers it (a job row, a model row); ``triaged worker`` processes run it, and
the API processes run no training, bulk or periodic work at all.

``queueing_lock``: at most one job with that lock waits in the queue; deferring
another is a no-op (50 concurrent retrain triggers queue one retrain).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from triaged.errors import InvalidInput
from triaged.services.pools import stop_pool
from triaged.storage import job_repo, training_repo
from triaged.storage.db import Database

if TYPE_CHECKING:
    from triaged.service import Service
    from triaged.webhooks.worker import WebhookWorker

__all__ = [
    "CHANNEL",
    "QUEUE",
    "JobRunner",
    "defer_sql",
    "ensure_queue_schema",
    "notify_model",
    "requeue_orphans",
]

log = logging.getLogger("triaged.jobs")

QUEUE = "triaged"
_SCHEMA_LOCK = 0x7472696167656431  # pg_advisory_xact_lock key: "triaged1"

CHANNEL = "triaged_models"  # LISTEN/NOTIFY: a model version was activated
#: Inline mode: bulk runs at once in one process (each waits in its own thread while its
#: plan paces it); trainings keep their single thread.
BULK_THREADS = 4


def notify_model(
    conn: Connection, workspace_id: str, taxonomy_id: str, model_id: str | None
) -> None:
    """Announce an activated model (``model_id``) or a new routing-policy version (None) on
    ``conn``'s transaction (PostgreSQL; a no-op on SQLite): the notice goes out when the
    transaction commits (:mod:`triaged.services.jobs_notify`)."""
    if conn.dialect.name != "postgresql":
        return
    payload = json.dumps({"w": workspace_id, "t": taxonomy_id, "m": model_id})
    job_repo.notify(conn, CHANNEL, payload)


def defer_sql(
    conn: Connection,
    task: str,
    args: dict[str, Any],
    *,
    lock: str | None = None,
    queueing_lock: str | None = None,
) -> bool:
    """Enqueue ``task`` on ``conn``'s transaction; False when ``queueing_lock`` already
    has a job waiting (nothing is added)."""
    params = {
        "queue": QUEUE,
        "task": task,
        "lock": lock,
        "qlock": queueing_lock,
        "args": json.dumps(args),
    }
    return job_repo.defer_job(conn, params)


def ensure_queue_schema(db: Database) -> None:
    """Create procrastinate's tables and functions once (several processes may race)."""
    if db.is_sqlite:
        raise InvalidInput(
            "the job queue needs PostgreSQL; on SQLite `triaged serve` runs jobs itself "
            "(TRIAGED_JOB_QUEUE=inline)"
        )
    with db.write() as conn:
        job_repo.install_queue_schema(conn, _SCHEMA_LOCK)


def requeue_orphans(db: Database, older_than_s: float = 60.0) -> list[str]:
    """Queue the training of model rows left ``training`` with no job in the queue (the
    process that wrote one stopped before enqueueing it); returns their ids."""
    from triaged.services.ids import utcnow

    before = utcnow() - timedelta(seconds=older_than_s)
    with db.write() as conn:
        orphans = training_repo.orphan_training_ids(conn, before)
        for model_id, trigger in orphans:
            args: dict[str, Any] = {"model_id": model_id}
            if trigger is not None:  # a retrain: evaluated on the held-out reviews
                args["trigger"] = trigger
            defer_sql(conn, "train", args, queueing_lock=f"train:{model_id}")
    return [model_id for model_id, _ in orphans]


class JobRunner:
    """The service's door to jobs (one per :class:`~triaged.service.Service`)."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.queued = svc.settings.job_queue == "postgres"
        if self.queued and svc.db.is_sqlite:
            raise InvalidInput(
                "TRIAGED_JOB_QUEUE=postgres needs a PostgreSQL database; the embedded SQLite "
                "default runs jobs inside `triaged serve` (TRIAGED_JOB_QUEUE=inline)"
            )
        self._pool: ThreadPoolExecutor | None = None
        self._bulk_pool: ThreadPoolExecutor | None = None  # bulk runs: see submit
        self._lock = threading.Lock()
        self._futures: list[Future[Any]] = []
        self.stop_event = threading.Event()
        self._schema_ready = False
        self._deliverer: WebhookWorker | None = None
        self._deliverer_made = False
        self._runs: dict[str, int] = {}  # inline mode: bulk jobs claimed here -> run token

    def defer(
        self,
        conn: Connection,
        task: str,
        args: dict[str, Any],
        *,
        lock: str | None = None,
        queueing_lock: str | None = None,
    ) -> Callable[[], None] | None:
        """Enqueue ``task`` in ``conn``'s transaction (queue mode), or return what runs it
        in this process once that transaction has committed (inline mode)."""
        if self.queued:
            self._ensure_schema()
            defer_sql(conn, task, args, lock=lock, queueing_lock=queueing_lock)
            return None

        def run() -> None:
            self.submit(task, args)

        return run

    def defer_now(
        self, task: str, args: dict[str, Any], *, queueing_lock: str | None = None
    ) -> None:
        """Enqueue (or start) ``task`` at once, in a transaction of its own."""
        if self.queued:
            self._ensure_schema()
            with self.svc.db.write() as conn:
                defer_sql(conn, task, args, queueing_lock=queueing_lock)
        else:
            self.submit(task, args)

    def _ensure_schema(self) -> None:
        """The queue's tables, before the first job (a first start enqueues the example
        taxonomy's training before the app's startup has finished)."""
        if not self._schema_ready:
            ensure_queue_schema(self.svc.db)
            self._schema_ready = True

    def submit(self, task: str, args: dict[str, Any]) -> Future[Any]:
        """Run ``task`` in this process's job thread (inline mode).  Bulk runs have threads
        of their own (:data:`BULK_THREADS`): a run the plan's per-minute limit paces waits
        in its thread, and in the one job thread it held up every other workspace's jobs."""
        from triaged.services.jobs_tasks import TASKS

        fn = TASKS[task]
        with self._lock:
            if task == "bulk":
                if self._bulk_pool is None:
                    self._bulk_pool = ThreadPoolExecutor(BULK_THREADS, "triaged-bulk")
                pool = self._bulk_pool
            else:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="triaged-jobs")
                pool = self._pool
            self._futures = [f for f in self._futures if not f.done()]
            future = pool.submit(self._call, task, fn, args)
            self._futures.append(future)
        return future

    def _call(self, task: str, fn: Callable[..., Any], args: dict[str, Any]) -> Any:
        try:
            return fn(self.svc, **args)
        except Exception:
            log.exception("job %s %s failed", task, args)
            raise

    def run_bulk(self, job_id: str, token: int | None = None) -> str:
        """One run of a bulk job.  Queue mode: procrastinate runs each job once at a time.
        Inline mode: a new job's first run claims it only if no run has (another process
        may have taken it over meanwhile); ``token``: claimed already by :meth:`resume`."""
        from triaged.services.jobs_run import claim, run_bulk_job

        if self.queued:  # claimed unconditionally (the queue decides who runs it), unfenced
            token = claim(self.svc.db, job_id)
            if token is None:
                return "gone"
        elif token is None:
            token = claim(self.svc.db, job_id, attempts=0)
            if token is None:
                return "gone"
        with self._lock:
            self._runs[job_id] = token  # beaten by heartbeat()/beat_bulk() while it runs
        try:
            state = run_bulk_job(
                self.svc, job_id, stop=self.stop_event, token=token, fenced=not self.queued
            )
        finally:
            with self._lock:
                if self._runs.get(job_id) == token:
                    del self._runs[job_id]
        if self.queued and state == "queued" and self.stop_event.is_set():
            # this worker is stopping: the rest of the job goes back in the queue
            log.info("bulk job %s stopped with this worker; queued for the rest", job_id)
            self.defer_now("bulk", {"job_id": job_id})
        return state

    def beat_bulk(self) -> None:
        """Refresh the heartbeat (``updated_at``) of the bulk jobs this process runs: a job
        that waits (the plan's per-minute pace) is alive, not stalled.  Inline mode: a
        process takes over a job whose heartbeat is old; both modes: the job's view says
        ``stalled`` then.  (On the queue, until 6 December, only a chunk's commit moved it.)"""
        from triaged.services.jobs_run import heartbeat

        with self._lock:
            runs = dict(self._runs)
        if runs:
            heartbeat(self.svc.db, runs)

    def heartbeat(self) -> None:
        """Inline mode: keep the bulk jobs claimed here, and the trainings this process
        will run (queued behind another in its pool as well as running), from looking
        abandoned."""
        from triaged.services.training import beat_mine

        self.beat_bulk()
        beat_mine(self.svc.db)

    def resume(self) -> int:
        """Inline mode: take over the unfinished bulk jobs whose run stopped and run them
        here: at once when its process was one of this machine's and is gone (a restarted
        ``triaged serve``, a worker process its supervisor replaced), else once it has sent
        no heartbeat for ``job_stalled_seconds``; one process wins each job.  Returns how
        many this process took."""
        if self.queued or self.stop_event.is_set():
            return 0
        from triaged.services.ids import utcnow
        from triaged.services.jobs_run import take_over

        stale = utcnow() - timedelta(seconds=self.svc.settings.job_stalled_seconds)
        with self._lock:
            mine = set(self._runs)
        taken = take_over(self.svc.db, stale, mine)
        for job_id, token in taken:
            with self._lock:
                self._runs[job_id] = token
            self.submit("bulk", {"job_id": job_id, "token": token})
        return len(taken) + self._resume_training()

    def _resume_training(self) -> int:
        """Train again the models a killed process of this machine left ``training``."""
        from triaged.services.training import take_over_dead

        taken = take_over_dead(self.svc.db)
        for model_id, trigger in taken:
            log.info("training model %s again: the process training it is gone", model_id)
            self.submit("train", {"model_id": model_id, "trigger": trigger})
        return len(taken)

    def webhook_deliverer(self) -> WebhookWorker | None:
        """This process's webhook deliverer (one HTTP client and sender pool, made on first
        use by the ``webhooks`` job); None when ``TRIAGED_WEBHOOK_WORKER=false``."""
        from triaged.webhooks.admin import deliverer

        with self._lock:
            if not self._deliverer_made:
                self._deliverer = deliverer(self.svc.db)
                self._deliverer_made = True
            return self._deliverer

    def wait(self, timeout: float | None = None) -> None:
        for future in list(self._futures):
            future.result(timeout=timeout)

    def close(self, deadline: float | None = None) -> int:
        """Stop this process's job thread (see :func:`~triaged.services.pools.stop_pool`);
        how many jobs still run at ``deadline`` (abandoned)."""
        self.stop_event.set()  # a bulk job stops after its chunk in flight
        with self._lock:
            pools = (self._pool, self._bulk_pool)
            self._pool = self._bulk_pool = None
            futures = list(self._futures)
        left = stop_pool(pools, futures, deadline)
        with self._lock:
            if self._deliverer is not None:
                self._deliverer.close()
            self._deliverer, self._deliverer_made = None, False
        return left
