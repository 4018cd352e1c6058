"""Rows of bulk jobs and the job queue: a job and its uploaded rows, the checkpointed
results, the claim of a run (``attempts`` is its token), the heartbeat, the state changes;
procrastinate's queue (deferring a task, its schema) and the LISTEN/NOTIFY notice of a
new model version.

Plain functions on a ``Connection``: the caller owns the transaction (a chunk's commit
reads the job ``FOR UPDATE`` first, as the caller asks).  Tables: :mod:`triaged.storage.jobs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, null, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from triaged.storage.jobs import bulk_job_rows, bulk_jobs
from triaged.storage.locks import workspace_lock
from triaged.storage.rows import AnyRow
from triaged.storage.tables import quota_counters, workspaces

__all__ = [
    "UNFINISHED",
    "cancel_job",
    "claim_job",
    "count_results",
    "counters_and_waiting",
    "defer_job",
    "delete_job",
    "fail_job",
    "finish_job",
    "insert_job",
    "insert_rows",
    "install_queue_schema",
    "job_page",
    "job_row",
    "job_state",
    "mark_queued",
    "notify",
    "pending_rows",
    "record_chunk",
    "release_job",
    "result_page",
    "set_results",
    "touch_job",
    "unfinished_job_ids",
    "unfinished_job_runs",
    "visible_job",
    "waiting_rows",
    "workspace_plan",
    "workspace_status",
]

#: the states of a job a run may still work on
UNFINISHED = ("queued", "running")


# ------------------------------------------------------------ upload
def insert_job(conn: Connection, values: Mapping[str, Any]) -> None:
    """A new ``bulk_jobs`` row."""
    conn.execute(insert(bulk_jobs).values(**values))


def insert_rows(conn: Connection, batch: Sequence[Mapping[str, Any]]) -> None:
    """One executemany of uploaded rows (``job_id``, ``seq``, text, external id, metadata)."""
    conn.execute(insert(bulk_job_rows), batch)


def mark_queued(conn: Connection, job_id: str, total: int, now: datetime) -> None:
    conn.execute(
        update(bulk_jobs)
        .where(bulk_jobs.c.id == job_id)
        .values(state="queued", total=total, updated_at=now)
    )


def delete_job(conn: Connection, job_id: str) -> None:
    """The job's rows, then the job."""
    conn.execute(delete(bulk_job_rows).where(bulk_job_rows.c.job_id == job_id))
    conn.execute(delete(bulk_jobs).where(bulk_jobs.c.id == job_id))


# -------------------------------------------------------------- reads
def visible_job(conn: Connection, workspace_id: str, job_id: str) -> AnyRow | None:
    """The workspace's job ``job_id`` once its upload is complete, or None."""
    return conn.execute(
        select(bulk_jobs).where(
            bulk_jobs.c.id == job_id,
            bulk_jobs.c.workspace_id == workspace_id,
            bulk_jobs.c.state != "uploading",
        )
    ).first()


def job_page(conn: Connection, workspace_id: str, limit: int) -> Sequence[AnyRow]:
    """The workspace's newest ``limit`` jobs whose upload is complete, newest first."""
    return conn.execute(
        select(bulk_jobs)
        .where(
            bulk_jobs.c.workspace_id == workspace_id,
            bulk_jobs.c.state != "uploading",
        )
        .order_by(bulk_jobs.c.id.desc())
        .limit(limit)
    ).all()


def result_page(conn: Connection, job_id: str, after: int, limit: int) -> Sequence[AnyRow]:
    """(seq, result) of the job's rows after ``after`` that have a result, in input order."""
    return conn.execute(
        select(bulk_job_rows.c.seq, bulk_job_rows.c.result)
        .where(
            bulk_job_rows.c.job_id == job_id,
            bulk_job_rows.c.seq > after,
            bulk_job_rows.c.result.is_not(None),
        )
        .order_by(bulk_job_rows.c.seq)
        .limit(limit)
    ).all()


#: advisory lock class of bulk-job submissions of a workspace (PostgreSQL)
SUBMIT_LOCK = 727375011


def _waiting(workspace_id: str, uploads_since: datetime, exclude: str | None) -> Any:
    t = bulk_jobs.c
    holding = t.state.in_(UNFINISHED) | ((t.state == "uploading") & (t.created_at >= uploads_since))
    query = select(func.coalesce(func.sum(t.total - t.done), 0)).where(
        t.workspace_id == workspace_id, holding
    )
    return query if exclude is None else query.where(t.id != exclude)


def waiting_rows(
    conn: Connection,
    workspace_id: str,
    *,
    uploads_since: datetime,
    exclude: str | None = None,
    lock: bool = True,
) -> int:
    """Rows the workspace's jobs have yet to classify (``total - done``; the quota they
    hold): queued and running ones, and those still uploading that were created since
    ``uploads_since`` (one whose upload died holds nothing for ever); the job ``exclude``
    left out.  ``lock``: read under the workspace's submission lock (PostgreSQL; SQLite has
    one writer), held to the end of the transaction, so submissions, online requests and
    job chunks racing each see the others' rows and counts once they committed."""
    if lock:
        workspace_lock(conn, SUBMIT_LOCK, workspace_id)
    return int(conn.execute(_waiting(workspace_id, uploads_since, exclude)).scalar_one())


def counters_and_waiting(
    conn: Connection, workspace_id: str, *, uploads_since: datetime
) -> tuple[AnyRow, int]:
    """The workspace's quota counters (``period``, ``period_used``, ``minute``,
    ``minute_used``; None each without a counter row) and :func:`waiting_rows` (no lock),
    read in one statement: one snapshot, so a chunk that moved rows from waiting to counted
    meanwhile is seen on both sides or on neither."""
    q = quota_counters.c
    mine = q.workspace_id == workspace_id
    row = conn.execute(
        select(
            *(select(c).where(mine).scalar_subquery().label(c.name) for c in _COUNTERS),
            _waiting(workspace_id, uploads_since, None).scalar_subquery().label("waiting"),
        )
    ).one()
    return row, int(row.waiting)


_COUNTERS = (
    quota_counters.c.period,
    quota_counters.c.period_used,
    quota_counters.c.minute,
    quota_counters.c.minute_used,
)


def _drop_unclassified(conn: Connection, job_id: str) -> None:
    """A job that ended failed or cancelled keeps its results, not the input rows it never
    classified (a failed job kept its whole upload)."""
    conn.execute(
        delete(bulk_job_rows).where(
            bulk_job_rows.c.job_id == job_id, bulk_job_rows.c.result.is_(None)
        )
    )


def cancel_job(conn: Connection, job_id: str, now: datetime) -> None:
    """The job turns ``cancelled``; its rows without a result are deleted."""
    conn.execute(
        update(bulk_jobs)
        .where(bulk_jobs.c.id == job_id)
        .values(state="cancelled", finished_at=now, updated_at=now)
    )
    _drop_unclassified(conn, job_id)


# ------------------------------------------------------- runs: claims
def unfinished_job_runs(conn: Connection) -> list[tuple[str, str, int, str | None]]:
    """(id, state, attempts, runner) of the jobs queued or running, by id."""
    t = bulk_jobs.c
    rows = conn.execute(
        select(t.id, t.state, t.attempts, t.runner).where(t.state.in_(UNFINISHED)).order_by(t.id)
    ).all()
    return [(r.id, r.state, int(r.attempts), r.runner) for r in rows]


def unfinished_job_ids(conn: Connection) -> list[str]:
    """Jobs queued or running, by id."""
    return list(
        conn.execute(
            select(bulk_jobs.c.id)
            .where(bulk_jobs.c.state.in_(("queued", "running")))
            .order_by(bulk_jobs.c.id)
        ).scalars()
    )


def claim_job(
    conn: Connection,
    job_id: str,
    now: datetime,
    *,
    attempts: int | None = None,
    stale_before: datetime | None = None,
    runner: str | None = None,
) -> int | None:
    """One conditional update: the job, if unfinished (and, when given, if it has had
    ``attempts`` runs, or if its heartbeat is older than ``stale_before``), turns
    ``running`` with ``attempts + 1`` and ``runner``, read back as the run's token; None
    when not taken."""
    t = bulk_jobs.c
    cond = [t.id == job_id, t.state.in_(UNFINISHED)]
    if attempts is not None:
        cond.append(t.attempts == attempts)
    if stale_before is not None:
        cond.append(t.updated_at < stale_before)
    taken: CursorResult[Any] = conn.execute(
        update(bulk_jobs)
        .where(*cond)
        .values(
            state="running",
            attempts=t.attempts + 1,
            runner=runner,
            started_at=func.coalesce(t.started_at, now),
            updated_at=now,
        )
    )
    if taken.rowcount != 1:
        return None
    return int(conn.execute(select(t.attempts).where(t.id == job_id)).scalar_one())


def touch_job(conn: Connection, job_id: str, token: int, now: datetime) -> bool:
    """Refresh the heartbeat (``updated_at``) of an unfinished job still held by run
    ``token``; False when it is not (finished, or taken over)."""
    t = bulk_jobs.c
    touched: CursorResult[Any] = conn.execute(
        update(bulk_jobs)
        .where(t.id == job_id, t.attempts == token, t.state.in_(UNFINISHED))
        .values(updated_at=now)
    )
    return touched.rowcount == 1


def release_job(conn: Connection, job_id: str, token: int, now: datetime) -> bool:
    """Run ``token`` stops before the end (its process is shutting down): the job, if that
    run still holds it, turns ``queued`` again for the next run (it said ``running``, with
    no progress, until another run took it over); False when the run no longer held it."""
    t = bulk_jobs.c
    released: CursorResult[Any] = conn.execute(
        update(bulk_jobs)
        .where(t.id == job_id, t.attempts == token, t.state == "running")
        .values(state="queued", updated_at=now)
    )
    return released.rowcount == 1


def fail_job(conn: Connection, job_id: str, error: dict[str, Any], now: datetime) -> None:
    """An unfinished job turns ``failed`` with ``error``; its rows without a result are
    deleted (as once it was cancelled)."""
    failed = conn.execute(
        update(bulk_jobs)
        .where(bulk_jobs.c.id == job_id, bulk_jobs.c.state.in_(("queued", "running")))
        .values(state="failed", error=error, finished_at=now, updated_at=now)
    )
    if failed.rowcount:
        _drop_unclassified(conn, job_id)


def finish_job(conn: Connection, job_id: str, now: datetime) -> None:
    """A running job turns ``done``."""
    conn.execute(
        update(bulk_jobs)
        .where(bulk_jobs.c.id == job_id, bulk_jobs.c.state == "running")
        .values(state="done", finished_at=now, updated_at=now)
    )


# ------------------------------------------------------- runs: chunks
def job_row(conn: Connection, job_id: str) -> AnyRow | None:
    return conn.execute(select(bulk_jobs).where(bulk_jobs.c.id == job_id)).first()


def workspace_plan(conn: Connection, workspace_id: str) -> str:
    """The plan name of the job's workspace."""
    plan: str = conn.execute(
        select(workspaces.c.plan).where(workspaces.c.id == workspace_id)
    ).scalar_one()
    return plan


def workspace_status(conn: Connection, workspace_id: str) -> str | None:
    """``active``, ``pending`` or ``suspended``; None once the workspace is deleted."""
    status: str | None = conn.execute(
        select(workspaces.c.status).where(workspaces.c.id == workspace_id)
    ).scalar()
    return status


def job_state(conn: Connection, job_id: str, *, for_update: bool = False) -> tuple[str, int]:
    """(state, attempts) of the job; ``for_update``: its row locked ``FOR UPDATE``;
    ``("gone", 0)`` once the job was deleted with its workspace (a run in progress ends
    quietly instead of raising ``NoResultFound``)."""
    stmt = select(bulk_jobs.c.state, bulk_jobs.c.attempts).where(bulk_jobs.c.id == job_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        return "gone", 0
    return str(row.state), int(row.attempts)


def pending_rows(conn: Connection, job_id: str, limit: int) -> list[AnyRow]:
    """The first ``limit`` rows of the job without a result, in input order."""
    return list(
        conn.execute(
            select(bulk_job_rows)
            .where(bulk_job_rows.c.job_id == job_id, bulk_job_rows.c.result.is_(None))
            .order_by(bulk_job_rows.c.seq)
            .limit(limit)
        ).all()
    )


def count_results(conn: Connection, job_id: str, seqs: Sequence[int]) -> int:
    """How many of the job's rows ``seqs`` have a result already."""
    taken: int = conn.execute(
        select(func.count())
        .select_from(bulk_job_rows)
        .where(
            bulk_job_rows.c.job_id == job_id,
            bulk_job_rows.c.seq.in_(list(seqs)),
            bulk_job_rows.c.result.is_not(None),
        )
    ).scalar_one()
    return taken


# a classified row keeps its result, not its text and metadata: nothing reads them again
# (a result has neither; the decision log has them, where an erasure finds them)
_SET_RESULT = (
    update(bulk_job_rows)
    .where(bulk_job_rows.c.job_id == bindparam("j"), bulk_job_rows.c.seq == bindparam("s"))
    .values(result=bindparam("r", type_=bulk_job_rows.c.result.type), text="", metadata=null())
)


def set_results(conn: Connection, params: Sequence[Mapping[str, Any]]) -> None:
    """One executemany of ``{"j": job id, "s": seq, "r": result}``; the row's input text
    and metadata go."""
    conn.execute(_SET_RESULT, params)


def record_chunk(conn: Connection, job_id: str, n: int, now: datetime) -> None:
    """``done`` advances by ``n`` (a chunk committed); the heartbeat too."""
    conn.execute(
        update(bulk_jobs)
        .where(bulk_jobs.c.id == job_id)
        .values(done=bulk_jobs.c.done + n, updated_at=now)
    )


# ----------------------------------------------------------- the queue
_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock, :qlock, "
    "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])"
)


def defer_job(conn: Connection, params: Mapping[str, Any]) -> bool:
    """Add a job to procrastinate's queue (``queue``, ``task``, ``lock``, ``qlock``, JSON
    ``args``); with a queueing lock, in a savepoint: False when that lock already has a job
    waiting (nothing is added)."""
    if params["qlock"] is None:
        conn.execute(_DEFER, params)
        return True
    try:
        with conn.begin_nested():
            conn.execute(_DEFER, params)
    except IntegrityError:  # procrastinate's unique queueing-lock index
        return False
    return True


def install_queue_schema(conn: Connection, lock_key: int) -> None:
    """Create procrastinate's tables and functions unless they exist, under the
    transaction-scoped advisory lock ``lock_key`` (several processes may race)."""
    from procrastinate.schema import SchemaManager

    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
    if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
        dbapi: Any = conn.connection.dbapi_connection
        with dbapi.cursor() as cur:  # no parameters: its '%' are not placeholders
            cur.execute(SchemaManager.get_schema())


def notify(conn: Connection, channel: str, payload: str) -> None:
    """``pg_notify`` on ``conn``'s transaction (sent when it commits; PostgreSQL only)."""
    conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})
