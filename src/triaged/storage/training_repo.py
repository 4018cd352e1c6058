"""Model versions: training jobs as ``models`` rows (with the trained blob), their recorded
evaluations, the active model of a taxonomy, and the reviewed decisions training reads.

Plain functions on a ``Connection``: the caller owns the transaction (the active-model
switch locks the taxonomy row ``FOR UPDATE``, as the caller asks).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, insert, select, text, update

from triaged.storage.review import model_evaluations, review_items
from triaged.storage.review_repo import Status
from triaged.storage.tables import decisions, models, taxonomies

__all__ = [
    "PUBLIC",
    "beat",
    "beat_runner",
    "fail_stale_jobs",
    "inline_training_rows",
    "insert_evaluation",
    "insert_job",
    "latest_model_row",
    "lock_active_model_id",
    "mark_failed",
    "mark_ready",
    "model_blob",
    "model_row",
    "model_rows",
    "model_status",
    "model_taxonomy_version",
    "model_version",
    "orphan_training_ids",
    "resolved_since_last_model",
    "reviewed_rows",
    "running_job_row",
    "set_active_model",
    "set_progress",
    "set_runner",
    "take_training",
    "training_target",
    "unreviewed_auto_rows",
    "version_rows",
]

#: the columns of a model version the API shows
PUBLIC = (
    models.c.id,
    models.c.taxonomy_id,
    models.c.taxonomy_version,
    models.c.status,
    models.c.model_version,
    models.c.mode,
    models.c.n_examples,
    models.c.error,
    models.c.created_at,
    models.c.finished_at,
    models.c.progress,
)


# ------------------------------------------------------------ model rows
def _active() -> Any:
    """Whether the model row is its taxonomy's active model, read in the statement that reads
    the row.  ``Database.read`` sees one snapshot, but these rows are also read inside write
    transactions (``READ COMMITTED`` on PostgreSQL: each statement sees the commits made
    before it), where an active id read in a statement of its own could be older than the
    rows (a model shown ``ready`` and not active while one commit made it both)."""
    active_id = (
        select(taxonomies.c.active_model_id)
        .where(taxonomies.c.id == models.c.taxonomy_id)
        .scalar_subquery()
    )
    return func.coalesce(models.c.id == active_id, False).label("active")


def model_row(conn: Connection, taxonomy_id: str, model_id: str) -> Any:
    """The public columns of one model of the taxonomy and whether it is active, or None."""
    return conn.execute(
        select(*PUBLIC, _active()).where(
            models.c.id == model_id, models.c.taxonomy_id == taxonomy_id
        )
    ).first()


def model_rows(conn: Connection, taxonomy_id: str) -> list[Any]:
    """The public columns of every model of the taxonomy, newest first."""
    return list(
        conn.execute(
            select(*PUBLIC).where(models.c.taxonomy_id == taxonomy_id).order_by(models.c.id.desc())
        )
    )


def latest_model_row(conn: Connection, taxonomy_id: str) -> Any:
    return conn.execute(
        select(*PUBLIC)
        .where(models.c.taxonomy_id == taxonomy_id)
        .order_by(models.c.id.desc())
        .limit(1)
    ).first()


def running_job_row(conn: Connection, taxonomy_id: str, taxonomy_version: int) -> Any:
    """A job still ``training`` this taxonomy version, or None."""
    return conn.execute(
        select(*PUBLIC).where(
            models.c.taxonomy_id == taxonomy_id,
            models.c.taxonomy_version == taxonomy_version,
            models.c.status == "training",
        )
    ).first()


def model_status(conn: Connection, taxonomy_id: str, model_id: str) -> Any:
    """The ``status`` and ``taxonomy_version`` of one model of the taxonomy (a row), or None."""
    return conn.execute(
        select(models.c.status, models.c.taxonomy_version).where(
            models.c.id == model_id, models.c.taxonomy_id == taxonomy_id
        )
    ).first()


def model_blob(conn: Connection, model_id: str) -> bytes | None:
    blob: bytes | None = conn.execute(
        select(models.c.blob).where(models.c.id == model_id)
    ).scalar_one_or_none()
    return blob


def model_version(conn: Connection, model_id: str) -> str | None:
    version: str | None = conn.execute(
        select(models.c.model_version).where(models.c.id == model_id)
    ).scalar_one_or_none()
    return version


def training_target(conn: Connection, model_id: str) -> Any:
    """The model's status, taxonomy id and version and that taxonomy's workspace, or None."""
    return conn.execute(
        select(
            models.c.status,
            models.c.taxonomy_id,
            models.c.taxonomy_version,
            taxonomies.c.workspace_id,
        )
        .join(taxonomies, taxonomies.c.id == models.c.taxonomy_id)
        .where(models.c.id == model_id)
    ).first()


def model_taxonomy_version(conn: Connection, model_id: str) -> int:
    return int(
        conn.execute(select(models.c.taxonomy_version).where(models.c.id == model_id)).scalar_one()
    )


# ----------------------------------------------------------- job writes
def insert_job(
    conn: Connection,
    *,
    model_id: str,
    taxonomy_id: str,
    taxonomy_version: int,
    n_examples: int,
    created_at: datetime,
) -> None:
    """A ``training`` row."""
    conn.execute(
        insert(models).values(
            id=model_id,
            taxonomy_id=taxonomy_id,
            taxonomy_version=taxonomy_version,
            status="training",
            n_examples=n_examples,
            created_at=created_at,
        )
    )


_ORPHANS = text(
    """
    SELECT m.id, m.trigger FROM models m
     WHERE m.status = 'training' AND COALESCE(m.heartbeat_at, m.created_at) < :before
       AND NOT EXISTS (
           SELECT 1 FROM procrastinate_jobs j
            WHERE j.task_name = 'train' AND j.args ->> 'model_id' = m.id
              AND j.status IN ('todo', 'doing'))
    """
)


def orphan_training_ids(conn: Connection, before: datetime) -> list[tuple[str, str | None]]:
    """Jobs ``training`` and silent (no heartbeat) since before ``before`` with no
    ``train`` job waiting or running in procrastinate's queue (PostgreSQL): (id, the
    retrain's trigger or None).  A retrain trained inside a ``retrain`` job, or waited for
    by an API process, has no ``train`` job but beats while it runs."""
    return [(str(r.id), r.trigger) for r in conn.execute(_ORPHANS, {"before": before})]


def set_runner(conn: Connection, model_id: str, runner: str, trigger: str | None) -> None:
    """Record the process that trains ``model_id`` in this process (inline mode)."""
    conn.execute(
        update(models)
        .where(models.c.id == model_id, models.c.status == "training")
        .values(runner=runner, trigger=trigger)
    )


def inline_training_rows(conn: Connection) -> list[Any]:
    """``training`` rows whose trainer is recorded: (id, runner, trigger, silent_since: the
    last heartbeat, or the row's creation when it never beat)."""
    silent = func.coalesce(models.c.heartbeat_at, models.c.created_at).label("silent_since")
    return list(
        conn.execute(
            select(models.c.id, models.c.runner, models.c.trigger, silent).where(
                models.c.status == "training", models.c.runner.is_not(None)
            )
        )
    )


def beat_runner(conn: Connection, runner: str, now: datetime) -> int:
    """The heartbeat of every ``training`` row recorded as ``runner``'s; how many."""
    result = conn.execute(
        update(models)
        .where(models.c.runner == runner, models.c.status == "training")
        .values(heartbeat_at=now)
    )
    return int(result.rowcount or 0)


def beat(conn: Connection, model_id: str, now: datetime) -> bool:
    """The heartbeat of a training in progress; False once the row is no longer training."""
    result = conn.execute(
        update(models)
        .where(models.c.id == model_id, models.c.status == "training")
        .values(heartbeat_at=now)
    )
    return bool(result.rowcount)


def set_progress(conn: Connection, model_id: str, progress: dict[str, Any]) -> bool:
    """The progress of a training in progress; False once the row is no longer training."""
    result = conn.execute(
        update(models)
        .where(models.c.id == model_id, models.c.status == "training")
        .values(progress=progress)
    )
    return bool(result.rowcount)


def take_training(conn: Connection, model_id: str, was: str, runner: str) -> bool:
    """Move ``model_id``'s training from runner ``was`` to ``runner``; False when another
    process moved it first or it is no longer training."""
    result = conn.execute(
        update(models)
        .where(models.c.id == model_id, models.c.status == "training", models.c.runner == was)
        .values(runner=runner)
    )
    return bool(result.rowcount)


def fail_stale_jobs(conn: Connection, cutoff: datetime, error: str, finished_at: datetime) -> int:
    """Mark jobs ``training`` since before ``cutoff`` as ``failed``; how many."""
    result = conn.execute(
        update(models)
        .where(models.c.status == "training", models.c.created_at < cutoff)
        .values(
            status="failed",
            error=error,
            finished_at=finished_at,
            progress=None,
        )
    )
    return int(result.rowcount or 0)


def mark_failed(conn: Connection, model_id: str, error: str, finished_at: datetime) -> None:
    conn.execute(
        update(models)
        .where(models.c.id == model_id)
        .values(
            status="failed",
            error=error,
            finished_at=finished_at,
            progress=None,
        )
    )


def mark_ready(
    conn: Connection,
    model_id: str,
    *,
    blob: bytes,
    model_version: str,
    mode: str,
    finished_at: datetime,
) -> bool:
    """Store the trained model on its row; False (nothing written) when the row is no
    longer ``training``: another run of the same training finished it first, or it was
    marked failed."""
    result = conn.execute(
        update(models)
        .where(models.c.id == model_id, models.c.status == "training")
        .values(
            status="ready",
            blob=blob,
            model_version=model_version,
            mode=mode,
            finished_at=finished_at,
            progress=None,
        )
    )
    return bool(result.rowcount)


# --------------------------------------------------------- active model
def lock_active_model_id(conn: Connection, taxonomy_id: str) -> str | None:
    """The taxonomy's active model, its row locked ``FOR UPDATE``."""
    tx = conn.execute(
        select(taxonomies.c.active_model_id).where(taxonomies.c.id == taxonomy_id).with_for_update()
    ).one()
    active: str | None = tx.active_model_id
    return active


def set_active_model(conn: Connection, taxonomy_id: str, model_id: str) -> None:
    conn.execute(
        update(taxonomies).where(taxonomies.c.id == taxonomy_id).values(active_model_id=model_id)
    )


# ---------------------------------------------------------- evaluations
def insert_evaluation(
    conn: Connection,
    *,
    model_id: str,
    taxonomy_id: str,
    trigger: str,
    n_examples: int,
    n_review_examples: int,
    evaluation: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        insert(model_evaluations).values(
            model_id=model_id,
            taxonomy_id=taxonomy_id,
            trigger=trigger,
            n_examples=n_examples,
            n_review_examples=n_review_examples,
            n_eval=int(evaluation.get("n_eval") or 0),
            evaluation=evaluation,
            created_at=now,
        )
    )


def version_rows(conn: Connection, taxonomy_id: str) -> list[Any]:
    """Every model of the taxonomy with its recorded evaluation (if any) and whether it is
    active, newest first."""
    m, e = models.c, model_evaluations.c
    return list(
        conn.execute(
            select(
                m.id,
                m.taxonomy_version,
                m.status,
                m.model_version,
                m.mode,
                m.n_examples,
                m.error,
                m.created_at,
                m.finished_at,
                m.progress,
                e.trigger,
                e.n_review_examples,
                e.evaluation,
                _active(),
            )
            .outerjoin(model_evaluations, e.model_id == m.id)
            .where(m.taxonomy_id == taxonomy_id)
            .order_by(m.id.desc())
        )
    )


# -------------------------------------------------- what training reads
def reviewed_rows(conn: Connection, taxonomy_id: str, actions: Sequence[str]) -> list[Any]:
    """The taxonomy's resolved items whose action is one of ``actions``, with their
    decision's text and model label, in the order they were resolved (an erased decision's
    review has no text to learn from: left out)."""
    c = review_items.c
    return list(
        conn.execute(
            select(
                c.id,
                c.decision_id,
                c.queue,
                c.action,
                c.resolved_label,
                c.new_label,
                c.resolved_at,
                decisions.c.text,
                decisions.c.label,
            )
            .join(decisions, decisions.c.id == c.decision_id)
            .where(
                c.taxonomy_id == taxonomy_id,
                c.status == Status.RESOLVED.value,
                c.action.in_(actions),
                decisions.c.redacted_at.is_(None),
            )
            .order_by(c.resolved_at, c.id)
        )
    )


def unreviewed_auto_rows(conn: Connection, taxonomy_id: str, limit: int) -> list[Any]:
    """(text, label, taxonomy_version) of the newest ``limit`` ``auto`` decisions never
    queued for review, without a final label and not erased."""
    d = decisions.c
    queued = exists().where(review_items.c.decision_id == d.id)
    return list(
        conn.execute(
            select(d.text, d.label, d.taxonomy_version)
            .where(
                d.taxonomy_id == taxonomy_id,
                d.bucket == "auto",
                d.final_label.is_(None),
                d.redacted_at.is_(None),
                ~queued,
            )
            .order_by(d.id.desc())
            .limit(limit)
        )
    )


def resolved_since_last_model(conn: Connection, taxonomy_id: str, actions: Sequence[str]) -> int:
    """Resolved items of the taxonomy whose action is one of ``actions``, resolved after its
    newest model job was started."""
    last = conn.execute(
        select(func.max(models.c.created_at)).where(models.c.taxonomy_id == taxonomy_id)
    ).scalar_one_or_none()
    c = review_items.c
    stmt = select(func.count()).where(
        c.taxonomy_id == taxonomy_id,
        c.status == Status.RESOLVED.value,
        c.action.in_(actions),
    )
    if last is not None:
        stmt = stmt.where(c.resolved_at > last)
    return int(conn.execute(stmt).scalar_one())
