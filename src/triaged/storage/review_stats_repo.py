"""Reads behind the review figures: reviews' outcomes per queue, resolutions per reviewer,
the audited ``auto`` decisions, and how far back a taxonomy's decision log goes.

Plain functions on a ``Connection``: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from triaged.storage.review import review_events, review_items
from triaged.storage.review_repo import Queue, Status
from triaged.storage.tables import decisions

__all__ = [
    "answer_events",
    "audited_rows",
    "correction_rows",
    "first_decision_at",
    "outcome_rows",
]


def outcome_rows(
    conn: Connection,
    workspace_id: str,
    actions: Sequence[str],
    taxonomy: str | None,
    since: datetime | None,
) -> list[Any]:
    """(queue, action, resolved label, model label, count) of the resolved items whose
    action is one of ``actions``."""
    c = review_items.c
    conds = [
        c.workspace_id == workspace_id,
        c.status == Status.RESOLVED.value,
        c.action.in_(actions),
    ]
    if taxonomy is not None:
        conds.append(c.taxonomy == taxonomy)
    if since is not None:
        conds.append(c.resolved_at >= since)
    stmt = (
        select(c.queue, c.action, c.resolved_label, decisions.c.label, func.count())
        .join(decisions, decisions.c.id == c.decision_id)
        .where(*conds)
        .group_by(c.queue, c.action, c.resolved_label, decisions.c.label)
    )
    return list(conn.execute(stmt))


def correction_rows(
    conn: Connection, workspace_id: str, taxonomy: str | None, since: datetime | None
) -> list[Any]:
    """(queue, taxonomy_id, action, resolved_label, label (the model's), taxonomy_version
    (the decision's), resolved_at) of every resolved item answered ``correct``: whether the
    correction said the model was wrong depends on the names each label had (a rename or
    merge since)."""
    c, d = review_items.c, decisions.c
    conds = [
        c.workspace_id == workspace_id,
        c.status == Status.RESOLVED.value,
        c.action == "correct",
    ]
    if taxonomy is not None:
        conds.append(c.taxonomy == taxonomy)
    if since is not None:
        conds.append(c.resolved_at >= since)
    stmt = (
        select(
            c.queue,
            c.taxonomy_id,
            c.action,
            c.resolved_label,
            d.label,
            d.taxonomy_version,
            c.resolved_at,
        )
        .join(decisions, d.id == c.decision_id)
        .where(*conds)
    )
    return list(conn.execute(stmt))


def answer_events(
    conn: Connection,
    workspace_id: str,
    since: datetime,
    taxonomy: str | None = None,
    actor: str | None = None,
) -> list[Any]:
    """(item_id, event, actor, created_at, id) of every ``resolved`` and ``reopened`` event
    since ``since`` (of ``actor``, of ``taxonomy``'s items, when given)."""
    e = review_events.c
    stmt = select(e.item_id, e.event, e.actor, e.created_at, e.id).where(
        e.workspace_id == workspace_id,
        e.event.in_(("resolved", "reopened")),
        e.created_at >= since,
    )
    if actor is not None:
        stmt = stmt.where(e.actor == actor)
    if taxonomy is not None:
        stmt = stmt.join(review_items, review_items.c.id == e.item_id).where(
            review_items.c.taxonomy == taxonomy
        )
    return list(conn.execute(stmt))


def audited_rows(
    conn: Connection,
    workspace_id: str,
    taxonomy_id: str,
    actions: Sequence[str],
    since: datetime,
) -> list[Any]:
    """(confidence, label, action, resolved_label, taxonomy_version, resolved_at) of the
    resolved audit items whose action is one of ``actions``, decided since ``since``."""
    c, d = review_items.c, decisions.c
    return list(
        conn.execute(
            select(
                d.confidence,
                d.label,
                c.action,
                c.resolved_label,
                d.taxonomy_version,
                c.resolved_at,
            )
            .join(decisions, d.id == c.decision_id)
            .where(
                c.workspace_id == workspace_id,
                c.taxonomy_id == taxonomy_id,
                c.queue == Queue.AUDIT.value,
                c.status == Status.RESOLVED.value,
                c.action.in_(actions),
                d.created_at >= since,
            )
        ).all()
    )


def first_decision_at(conn: Connection, workspace_id: str, taxonomy_id: str) -> datetime | None:
    """When the taxonomy's first logged decision was made (None: none yet)."""
    first: datetime | None = conn.execute(
        select(func.min(decisions.c.created_at)).where(
            decisions.c.workspace_id == workspace_id,
            decisions.c.taxonomy_id == taxonomy_id,
        )
    ).scalar()
    return first
