"""The review queue's rows: items, their events, and the final label a review gives a decision.

Plain functions on a ``Connection``: the caller owns the transaction, and with it the
locks (``FOR UPDATE`` on PostgreSQL, taken here where the service asks for a row to
change; on SQLite the write transaction is ``BEGIN IMMEDIATE``).  The vocabulary of
the rows lives here too: an item's queue and status, the rounds of an overlap item,
and what *available* (claimable) means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)

from triaged.storage.ids import new_id
from triaged.storage.review import review_events, review_items
from triaged.storage.review_workspace import review_judgments
from triaged.storage.tables import api_keys, decisions

__all__ = [
    "ADJUDICATION",
    "FIRST",
    "PRIORITY",
    "SECOND",
    "SEES_ALL",
    "ItemFilter",
    "Queue",
    "Status",
    "answer_item",
    "available",
    "blind_to",
    "claim_candidates",
    "claimable_by",
    "count_rows",
    "decision_final_label",
    "decision_labels",
    "insert_events",
    "insert_reopened_event",
    "item_events",
    "item_row",
    "item_select",
    "item_taxonomy_id",
    "items_with_ids",
    "list_page",
    "lock_item",
    "mark_claimed",
    "release_item",
    "restore_item",
    "set_final_label",
    "waiting_second_opinion",
]


class Queue(StrEnum):
    HOLD = "hold"
    REVIEW = "review"
    AUDIT = "audit"


class Status(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    RELEASED = "released"


PRIORITY = {Queue.HOLD.value: 0, Queue.REVIEW.value: 1, Queue.AUDIT.value: 2}

#: ``review_items.review_round``: first review, second opinion, an admin's adjudication
FIRST, SECOND, ADJUDICATION = 1, 2, 3

#: the viewer of an admin key: it sees every answer, the first one of an item waiting for
#: a second opinion included (a workflow acts on that final label; admins settle disputes)
SEES_ALL = "*"


# ------------------------------------------------------------ expressions
def available(now: datetime) -> ColumnElement[bool]:
    c = review_items.c
    return or_(
        c.status.in_((Status.PENDING.value, Status.RELEASED.value)),
        and_(c.status == Status.CLAIMED.value, c.lease_expires_at < now),
    )


def item_select() -> Any:
    d = decisions.c
    return select(
        review_items,
        d.text,
        d.label,
        d.confidence,
        d.bucket,
        d.alternatives,
        d.scores,
        d.external_id,
        d.metadata,
        d.model_version,
        d.taxonomy_version,
        d.final_label,
        d.final_source,
        d.created_at.label("decided_at"),
        d.redacted_at,
    ).join(decisions, decisions.c.id == review_items.c.decision_id)


def claimable_by(conn: Connection, key_id: str) -> ColumnElement[bool]:
    """Items ``key_id`` may claim: not a second opinion on its own answer; disagreements
    (round 3) only for admin keys."""
    c = review_items.c
    role = conn.execute(select(api_keys.c.role).where(api_keys.c.id == key_id)).scalar()
    own_second = and_(c.review_round == SECOND, c.first_by == key_id)
    if role == "admin":
        return not_(own_second)
    return and_(not_(own_second), c.review_round != ADJUDICATION)


# ----------------------------------------------------------------- writes
def insert_events(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    event: str,
    actor: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """One ``event`` row per item row (``event_details`` of a row joins ``details``)."""
    if rows:
        conn.execute(insert(review_events), event_rows(rows, event, actor, now, details))


def event_rows(
    rows: Sequence[dict[str, Any]],
    event: str,
    actor: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The ``review_events`` rows :func:`insert_events` writes."""
    return [
        {
            "id": new_id("rev"),
            "item_id": r["id"],
            "workspace_id": r["workspace_id"],
            "decision_id": r["decision_id"],
            "event": event,
            "actor": actor,
            "details": {**(details or {}), **r.get("event_details", {})},
            "created_at": now,
        }
        for r in rows
    ]


def insert_reopened_event(
    conn: Connection,
    *,
    item_id: str,
    workspace_id: str,
    decision_id: str,
    actor: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        review_events.insert().values(
            id=new_id("rev"),
            item_id=item_id,
            workspace_id=workspace_id,
            decision_id=decision_id,
            event="reopened",
            actor=actor,
            details=details,
            created_at=now,
        )
    )


def claim_candidates(
    conn: Connection,
    *,
    workspace_id: str,
    key_id: str,
    limit: int,
    now: datetime,
    taxonomy: str | None = None,
    queue: Queue | None = None,
    item_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Up to ``limit`` items ``key_id`` may claim, by id, ``hold`` first then ``review`` then
    ``audit``, oldest first, except that items ``key_id`` handed back (skipped) come after
    the others of their queue, the longest ago first (a reviewer skipping through a queue
    does not get the item they just skipped back: until 5 December two skips swapped the
    two oldest items forever), and a disagreement ``key_id`` is part of comes last; on
    PostgreSQL locked ``FOR UPDATE SKIP LOCKED``."""
    c = review_items.c
    conds = [c.workspace_id == workspace_id, available(now), claimable_by(conn, key_id)]
    if item_ids is not None:
        conds.append(c.id.in_(list(item_ids)))
    if taxonomy is not None:
        conds.append(c.taxonomy == taxonomy)
    if queue is not None:
        conds.append(c.queue == queue.value)
    priority = case(PRIORITY, value=c.queue, else_=3)
    # a disagreement this key is part of comes after everything else it may claim, so that
    # another admin, if there is one, is offered it first (a lone admin still gets it)
    j = review_judgments.c
    own_dispute = and_(
        c.review_round == ADJUDICATION,
        exists().where(j.item_id == c.id, j.reviewer == key_id, j.withdrawn_at.is_(None)),
    )
    e = review_events.c
    handed_back = (
        select(func.max(e.created_at))
        .where(e.item_id == c.id, e.event == "released", e.actor == key_id)
        .correlate(review_items)
        .scalar_subquery()
    )
    pick = (
        select(c.id, c.workspace_id, c.decision_id, c.status, c.claimed_by)
        .where(*conds)
        .order_by(own_dispute, priority, handed_back.is_not(None), handed_back, c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    return {r.id: r for r in conn.execute(pick)}


def mark_claimed(
    conn: Connection, ids: Sequence[str], key_id: str, now: datetime, lease: datetime
) -> set[str]:
    """Claim those of ``ids`` still available; the ids claimed."""
    c = review_items.c
    return set(
        conn.execute(
            update(review_items)
            .where(c.id.in_(list(ids)), available(now))
            .values(
                status=Status.CLAIMED.value,
                claimed_by=key_id,
                claimed_at=now,
                lease_expires_at=lease,
                updated_at=now,
            )
            .returning(c.id)
        ).scalars()
    )


def lock_item(conn: Connection, workspace_id: str, item_id: str) -> Any:
    """The item row (``FOR UPDATE`` on PostgreSQL), or None."""
    stmt = select(review_items).where(
        review_items.c.id == item_id, review_items.c.workspace_id == workspace_id
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def answer_item(
    conn: Connection, item_id: str, key_id: str, fields: dict[str, Any], now: datetime
) -> bool:
    """Write an answer to an item ``key_id`` holds; False when it no longer holds it."""
    c = review_items.c
    done = conn.execute(
        update(review_items)
        .where(c.id == item_id, c.status == Status.CLAIMED.value, c.claimed_by == key_id)
        .values(**fields, resolved_by=key_id, resolved_at=now, updated_at=now)
        .values(lease_expires_at=None)
        .returning(c.id)
    ).first()
    return done is not None


def release_item(conn: Connection, item_id: str, key_id: str, now: datetime) -> bool:
    """Hand an item ``key_id`` holds back to the queue; False when it no longer holds it."""
    c = review_items.c
    done = conn.execute(
        update(review_items)
        .where(c.id == item_id, c.status == Status.CLAIMED.value, c.claimed_by == key_id)
        .values(**_released(now))
        .returning(c.id)
    ).first()
    return done is not None


def release_claims_of(conn: Connection, key_id: str, now: datetime) -> list[dict[str, Any]]:
    """Hand every item ``key_id`` holds back to the queue (a revoked key answers nothing
    more); the rows as they were claimed, for their events."""
    c = review_items.c
    held = [
        dict(r._mapping)
        for r in conn.execute(
            select(review_items).where(c.status == Status.CLAIMED.value, c.claimed_by == key_id)
        )
    ]
    if held:
        conn.execute(
            update(review_items)
            .where(c.id.in_([r["id"] for r in held]), c.status == Status.CLAIMED.value)
            .values(**_released(now))
        )
    return held


def _released(now: datetime) -> dict[str, Any]:
    """The columns of an item handed back to the queue."""
    return {
        "status": Status.RELEASED.value,
        "claimed_by": None,
        "claimed_at": None,
        "lease_expires_at": None,
        "updated_at": now,
    }


def restore_item(conn: Connection, item_id: str, fields: dict[str, Any]) -> None:
    conn.execute(update(review_items).where(review_items.c.id == item_id).values(**fields))


def decision_labels(conn: Connection, decision_id: str) -> Any:
    """The decision's model label, final label and taxonomy version (``label``,
    ``final_label``, ``taxonomy_version``)."""
    d = decisions.c
    return conn.execute(
        select(d.label, d.final_label, d.taxonomy_version).where(d.id == decision_id)
    ).one()


def decision_final_label(conn: Connection, decision_id: str) -> str | None:
    label: str | None = conn.execute(
        select(decisions.c.final_label).where(decisions.c.id == decision_id)
    ).scalar()
    return label


def blind_to(viewer: str) -> ColumnElement[bool]:
    """Items waiting for a second opinion whose first answer ``viewer`` did not give: the
    decision's final label is that answer, which ``viewer`` must not see (nothing is
    hidden from :data:`SEES_ALL`)."""
    c = review_items.c
    if viewer == SEES_ALL:
        return false()
    return and_(
        c.review_round == SECOND,
        c.status != Status.RESOLVED.value,
        or_(c.first_by.is_(None), c.first_by != viewer),
    )


def waiting_second_opinion(
    conn: Connection, workspace_id: str, decision_ids: Sequence[str], viewer: str
) -> set[str]:
    """Those of ``decision_ids`` whose review item waits for a second opinion that
    ``viewer`` did not give the first answer of (its final label is that first answer)."""
    if not decision_ids:
        return set()
    c = review_items.c
    rows = conn.execute(
        select(c.decision_id).where(
            c.workspace_id == workspace_id,
            c.decision_id.in_(list(dict.fromkeys(decision_ids))),
            blind_to(viewer),
        )
    ).all()
    return {str(r.decision_id) for r in rows}


def set_final_label(conn: Connection, decision_id: str, **fields: Any) -> None:
    """Set the decision's final label fields (``final_label``, ``final_source``, ...)."""
    conn.execute(update(decisions).where(decisions.c.id == decision_id).values(**fields))


# ------------------------------------------------------------------ reads
def items_with_ids(conn: Connection, ids: Sequence[str]) -> list[Any]:
    c = review_items.c
    return list(conn.execute(item_select().where(c.id.in_(list(ids)))))


def item_row(conn: Connection, workspace_id: str, item_id: str) -> Any:
    """The item with its decision (:func:`item_select`), or None."""
    return conn.execute(
        item_select().where(
            review_items.c.id == item_id, review_items.c.workspace_id == workspace_id
        )
    ).first()


def item_events(conn: Connection, item_id: str) -> list[Any]:
    e = review_events.c
    return list(conn.execute(select(review_events).where(e.item_id == item_id)))


def item_taxonomy_id(conn: Connection, item_id: str) -> str:
    return str(
        conn.execute(
            select(review_items.c.taxonomy_id).where(review_items.c.id == item_id)
        ).scalar_one()
    )


# ------------------------------------------------------------ items view
@dataclass(frozen=True, slots=True)
class ItemFilter:
    taxonomy: str | None = None
    queue: Queue | None = None
    status: Status | None = None
    claimed_by: str | None = None
    decision_id: str | None = None
    text: str | None = None  # case-insensitive substring of the decision's text
    label: str | None = None  # the model's label or the final one
    confidence_min: float | None = None
    confidence_max: float | None = None
    since: datetime | None = None  # queued at or after
    until: datetime | None = None  # queued before
    decision_ids: Sequence[str] | None = None
    # the key searching: an item waiting for a second opinion matches ``label`` by its final
    # label (the first answer) only for the reviewer who gave it (blind second opinions)
    viewer: str | None = None


def _status_condition(status: Status, now: datetime) -> ColumnElement[bool]:
    c = review_items.c
    if status is Status.PENDING:  # everything a claim could take
        return available(now)
    if status is Status.CLAIMED:
        return and_(c.status == Status.CLAIMED.value, c.lease_expires_at >= now)
    return c.status == status.value


def _conditions(workspace_id: str, flt: ItemFilter, now: datetime) -> list[ColumnElement[bool]]:
    c = review_items.c
    conds: list[ColumnElement[bool]] = [c.workspace_id == workspace_id]
    if flt.taxonomy is not None:
        conds.append(c.taxonomy == flt.taxonomy)
    if flt.queue is not None:
        conds.append(c.queue == flt.queue.value)
    if flt.status is not None:
        conds.append(_status_condition(flt.status, now))
    if flt.claimed_by is not None:
        conds.append(c.claimed_by == flt.claimed_by)
    if flt.decision_id is not None:
        conds.append(c.decision_id == flt.decision_id)
    return conds + _search_conditions(flt)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_conditions(flt: ItemFilter) -> list[ColumnElement[bool]]:
    c, d = review_items.c, decisions.c
    conds: list[ColumnElement[bool]] = []
    if flt.text:
        conds.append(d.text.ilike(_like(flt.text.strip()), escape="\\"))
    if flt.label:
        blind = blind_to(flt.viewer or "")
        conds.append(or_(d.label == flt.label, and_(d.final_label == flt.label, ~blind)))
    if flt.confidence_min is not None:
        conds.append(d.confidence >= flt.confidence_min)
    if flt.confidence_max is not None:
        conds.append(d.confidence <= flt.confidence_max)
    if flt.since is not None:
        conds.append(c.created_at >= flt.since)
    if flt.until is not None:
        conds.append(c.created_at < flt.until)
    if flt.decision_ids is not None:
        conds.append(c.decision_id.in_(list(dict.fromkeys(flt.decision_ids))))
    return conds


def list_page(
    conn: Connection,
    workspace_id: str,
    flt: ItemFilter,
    *,
    now: datetime,
    limit: int,
    cursor: str | None = None,
) -> list[Any]:
    """Up to ``limit`` + 1 items matching ``flt`` after ``cursor`` (an id), oldest first."""
    c = review_items.c
    stmt = item_select().where(*_conditions(workspace_id, flt, now))
    if cursor:
        stmt = stmt.where(c.id > cursor)
    return list(conn.execute(stmt.order_by(c.id).limit(limit + 1)))


def count_rows(
    conn: Connection, workspace_id: str, *, now: datetime, taxonomy: str | None = None
) -> list[Any]:
    """(queue, effective status, count, oldest created_at) groups; an expired claim and a
    released item count as pending."""
    c = review_items.c
    expired = and_(c.status == Status.CLAIMED.value, c.lease_expires_at < now)
    effective = case(
        (expired, Status.PENDING.value),
        (c.status == Status.RELEASED.value, Status.PENDING.value),
        else_=c.status,
    )
    conds = [c.workspace_id == workspace_id]
    if taxonomy is not None:
        conds.append(c.taxonomy == taxonomy)
    return list(
        conn.execute(
            select(c.queue, effective.label("st"), func.count(), func.min(c.created_at))
            .where(*conds)
            .group_by(c.queue, effective)
        )
    )
