"""Running a bulk job: checkpointed chunks, exactly once per row.

Each chunk (:data:`CHUNK` rows, input order) is classified and then committed in
one transaction that counts it against the quota, logs its decisions (ids
derived from job and row: :func:`~triaged.services.jobs_bulk.decision_id`),
queues them for review by bucket like online decisions, stores each row's result
and advances ``done``.  A worker killed mid-chunk loses only that uncommitted
chunk: the next run picks up the rows still without a result, so no row is lost
and none is counted or logged twice.

A run *claims* the job (:func:`claim`), which bumps ``attempts``; that number
is the run's token.  In the embedded mode (``triaged serve``, one or many
processes) one run at a time: each chunk commits only while the job's
``attempts`` is still its token (a run that was taken over stops), the run's
process keeps ``updated_at`` fresh (:func:`heartbeat`), and a process takes a
job over only when its heartbeat is older than ``TRIAGED_JOB_STALLED_SECONDS``,
with a conditional update that exactly one process wins.  On the PostgreSQL
queue procrastinate decides who runs a job and runs are not fenced: a job
retried while its first run still went on (a worker whose heartbeat lagged)
has two runs, each skipping the rows the other committed, and the queue job is
finished by whichever ends last.

The per-minute rate limit of the plan paces a job (it waits for the next
minute).  A job's rows are reserved against the monthly quota from its submission
(:func:`triaged.services.quota.reserved`), so online requests cannot use them up; a
job accepted without that check (on another plan, before a move to a smaller one) can
still meet an exhausted quota, which fails it (rows done stay done; the rows without a
result are deleted, as when a job is cancelled).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from triaged.errors import (
    Conflict,
    QuotaExceeded,
    RateLimited,
    TriagedError,
    WorkspaceInactive,
)
from triaged.services import decisions as decision_log
from triaged.services import quota
from triaged.services import taxonomies as taxo
from triaged.services.ids import utcnow
from triaged.services.jobs_bulk import BulkOptions, decision_id
from triaged.services.runner_id import known_dead, this_runner
from triaged.storage import job_repo
from triaged.storage.db import Database

if TYPE_CHECKING:
    from triaged.service import Service

#: Longest wait between tries of a chunk the plan's per-minute limit refused.
PACE_STEP_S = 1.0

__all__ = ["CHUNK", "claim", "heartbeat", "run_bulk_job", "take_over", "unfinished_jobs"]

log = logging.getLogger("triaged.jobs")

CHUNK = 256
#: A run that fails with an unexpected error is retried (a take-over in the embedded mode,
#: the queue's retry); from this run on, such an error fails the job (until 6 December it
#: stayed "running" for ever, taken over and failing again).  A run stopped by a restart or
#: a kill is not an error: only a run that raises counts.
MAX_RUNS = 5


def unfinished_jobs(svc: Service) -> list[str]:
    """Jobs queued or running (to resume after a restart of the embedded runner)."""
    with svc.db.read() as conn:
        return job_repo.unfinished_job_ids(conn)


def take_over(
    db: Database, stale_before: datetime, mine: Collection[str] = ()
) -> list[tuple[str, int]]:
    """Claim the unfinished jobs whose run is over: a running job whose runner was a
    process of this machine that is gone (at once: claimed at its exact ``attempts``, so
    of several processes one wins), and any job whose heartbeat is older than
    ``stale_before``; never the jobs in ``mine`` (this process runs them).  Returns (job
    id, token) of the jobs taken."""
    with db.read() as conn:
        runs = job_repo.unfinished_job_runs(conn)
    taken = []
    for job_id, _state, attempts, runner in runs:
        if job_id in mine:
            continue
        token = None
        if runner is not None and known_dead(runner):  # running, or released by a stop
            token = claim(db, job_id, attempts=attempts)
        if token is None:
            token = claim(db, job_id, stale_before=stale_before)
        if token is not None:
            taken.append((job_id, token))
    return taken


def claim(
    db: Database,
    job_id: str,
    *,
    attempts: int | None = None,
    stale_before: datetime | None = None,
) -> int | None:
    """Take the job for one run, if unfinished (and, when given, if it has had ``attempts``
    runs so far, or if its heartbeat is older than ``stale_before``): it turns ``running``
    with ``attempts + 1``, which is returned as the run's token; None when not taken.  One
    conditional update: of several processes claiming together, one wins."""
    now = utcnow()
    with db.write() as conn:
        return job_repo.claim_job(
            conn, job_id, now, attempts=attempts, stale_before=stale_before, runner=this_runner()
        )


def heartbeat(db: Database, runs: dict[str, int]) -> list[str]:
    """Refresh ``updated_at`` of the jobs this process runs (job id -> token); returns the
    ids it no longer holds (finished, or taken over by another run)."""
    lost = []
    with db.write() as conn:
        for job_id, token in runs.items():
            if not job_repo.touch_job(conn, job_id, token, utcnow()):
                lost.append(job_id)
    return lost


def _fail(svc: Service, job_id: str, error: dict[str, Any]) -> None:
    with svc.db.write() as conn:
        now = utcnow()
        job_repo.fail_job(conn, job_id, error, now)


def run_bulk_job(
    svc: Service,
    job_id: str,
    *,
    stop: threading.Event | None = None,
    chunk: int = CHUNK,
    token: int | None = None,
    fenced: bool | None = None,
) -> str:
    """Classify the job's remaining rows; returns the job's state when this run ends
    (``superseded`` when another run took the job over).  ``token``: the caller claimed
    the job, and (embedded mode, ``fenced`` unless False) the run is fenced by it; without
    it (the queue) the job is claimed here, unconditionally, and the run is not fenced."""
    fenced = token is not None if fenced is None else fenced
    token = token if token is not None else claim(svc.db, job_id)
    if token is None:
        return "gone"
    with svc.db.read() as conn:
        job = job_repo.job_row(conn, job_id)
    if job is None:
        return "gone"
    if fenced and job.attempts != token:
        return "superseded"
    try:
        return _run(svc, job, stop, chunk, fenced)
    except TriagedError as exc:  # quota exhausted, the model cannot load, ...
        _fail(svc, job_id, exc.to_dict()["error"])
        return "failed"
    except Exception as exc:
        if job.attempts < MAX_RUNS:
            raise  # a later run tries again (a take-over, or the queue's retry)
        # the same failure run after run: a job "running" for ever helps no one
        log.exception("bulk job %s failed in its run %d; giving up", job_id, job.attempts)
        _fail(
            svc,
            job_id,
            {
                "code": "job_error",
                "message": f"the job failed in {job.attempts} runs (last: {type(exc).__name__}); "
                "the rows before the failing chunk are done; the server log has the details",
                "details": {"attempts": job.attempts, "error": type(exc).__name__},
            },
        )
        return "failed"


def _run(svc: Service, job: Any, stop: threading.Event | None, chunk: int, fenced: bool) -> str:
    opts = BulkOptions.from_dict(job.options)
    with svc.db.read() as conn:
        plan = svc.workspace_plan(job_repo.workspace_plan(conn, job.workspace_id))
    for limit in (quota.for_jobs(plan).per_minute, plan.monthly_quota):  # a chunk no limit
        # refuses by itself (a job's share of the per-minute limit: quota.for_jobs)
        if limit is not None:
            chunk = max(1, min(chunk, limit))
    while True:
        if stop is not None and stop.is_set():  # this process is stopping
            with svc.db.write() as conn:
                released = job_repo.release_job(conn, job.id, job.attempts, utcnow())
            return "queued" if released else "superseded"
        with svc.db.read() as conn:
            state, attempts = job_repo.job_state(conn, job.id)
            if fenced and attempts != job.attempts:
                return "superseded"
            if state != "running":
                return str(state)
            rows = job_repo.pending_rows(conn, job.id, _room(conn, job, plan, chunk))
            record = taxo.get_record_by_id(conn, job.workspace_id, job.taxonomy_id)
            active = job_repo.workspace_status(conn, job.workspace_id) == "active"
        if rows and not active:  # suspended since: its keys are refused, so is its work
            raise WorkspaceInactive(
                "the workspace is no longer active; the job stopped with the rows before "
                "this one done",
                details={"reason": "workspace_inactive"},
            )
        if rows and record.archived_at is not None:  # as /v1/classify answers: 409
            raise Conflict(
                f"taxonomy {record.name!r} was archived; the job stopped with "
                "the rows before this one done",
                details={"taxonomy": record.name, "reason": "archived"},
            )
        if not rows:
            _finish(svc, job.id)
            return "done"
        _chunk(svc, job, record, rows, opts, plan, _waiter(stop), fenced)


def _room(conn: Any, job: Any, plan: Any, chunk: int) -> int:
    """Rows for the next chunk: ``chunk``, or fewer when the monthly quota has fewer left
    for this job (its own reserved rows are its to use; a chunk is counted whole: a job of
    150 rows with 70 left did none, it now does 70 and then fails on the exhausted quota)."""
    left = quota.left_for_job(conn, plan, job.id, job.workspace_id)
    return chunk if left is None else max(1, min(chunk, int(left)))


def _waiter(stop: threading.Event | None) -> Callable[[float], bool]:
    def wait(seconds: float) -> bool:
        if stop is None:
            time.sleep(seconds)
            return False
        return stop.wait(seconds)

    return wait


def _chunk(
    svc: Service,
    job: Any,
    record: taxo.TaxonomyRecord,
    rows: list[Any],
    opts: BulkOptions,
    plan: Any,
    wait: Callable[[float], bool],
    fenced: bool,
) -> None:
    started = time.perf_counter()
    clf = svc.classifiers.get(svc.db, record)
    policy, audit_rate = svc.jobs_policy(record, clf)
    results = [
        replace(r, bucket=policy.route(r.confidence))
        for r in clf.classify_batch([r.text for r in rows], threads=1)
    ]
    latency = (time.perf_counter() - started) * 1000 / len(rows)
    now = utcnow()
    built = []
    for row, res in zip(rows, results, strict=True):
        d = decision_log.build_row(
            workspace_id=job.workspace_id,
            taxonomy_id=record.id,
            key_id=job.key_id,
            text=row.text,
            result=res,
            latency_ms=latency,
            created_at=now,
            external_id=row.external_id,
            metadata=row.metadata,
            policy_version=policy.version or None,
            audit_rate=audit_rate,
        )
        d["id"] = decision_id(job.id, row.seq)
        built.append(d)
    while True:
        try:
            _commit(svc, job, rows, built, opts, plan, fenced)
            return
        except QuotaExceeded:
            raise
        except RateLimited as exc:  # the plan's per-minute limit paces the job
            # a second at a time: each try reads the job's state, so a cancel ends the wait
            # within a second (it held the run for the rest of the minute)
            if wait(min(float(exc.retry_after or 1), PACE_STEP_S)):
                return


def _commit(
    svc: Service,
    job: Any,
    rows: list[Any],
    built: list[dict[str, Any]],
    opts: BulkOptions,
    plan: Any,
    fenced: bool,
) -> None:
    win = quota.window()
    now = utcnow()
    with svc.db.write() as conn:
        state, attempts = job_repo.job_state(conn, job.id, for_update=True)
        if state != "running" or (fenced and attempts != job.attempts):
            return  # cancelled, or taken over by another run: nothing of this chunk is written
        # another runner of this job committed these rows first
        taken = job_repo.count_results(conn, job.id, [r.seq for r in rows])
        if taken:
            return
        job_repo.set_results(
            conn,
            [
                {"j": job.id, "s": row.seq, "r": _result(row, d, opts.log)}
                for row, d in zip(rows, built, strict=True)
            ],
        )
        job_repo.record_chunk(conn, job.id, len(built), now)
        # last, as for online requests: the workspace's counter rows are locked until the
        # commit; the decisions and their review items are written with the count (one
        # statement on PostgreSQL)
        tallies = decision_log.tallies(built) if opts.log else []
        quota.consume(
            conn,
            job.workspace_id,
            plan,
            len(built),
            win,
            job.key_id,
            tallies,
            unlogged=not opts.log,
            writes=svc.review.log_writes(built, now) if opts.log else None,
            job_id=job.id,  # its rows move from reserved to used (record_chunk above)
        )


def _result(row: Any, d: dict[str, Any], logged: bool = True) -> dict[str, Any]:
    return {
        "row": row.seq,
        "external_id": row.external_id,
        "id": d["id"] if logged else None,  # not logged: no decision to look up
        "label": d["label"],
        "confidence": d["confidence"],
        "bucket": d["bucket"],
        "alternatives": d["alternatives"],
        "model_version": d["model_version"],
        "policy_version": d["policy_version"],
    }


def _finish(svc: Service, job_id: str) -> None:
    with svc.db.write() as conn:
        now = utcnow()
        job_repo.finish_job(conn, job_id, now)
    log.info("bulk job %s done", job_id)
