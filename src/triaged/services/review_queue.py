"""The review queue: enqueue, claim with a lease, resolve, release, list and history.

Items move ``pending -> claimed -> resolved``; ``release`` (or a lease that ran
out) hands an item back.  Claims are exclusive under concurrency: on PostgreSQL
the candidates are picked with ``SELECT ... FOR UPDATE SKIP LOCKED`` so
concurrent reviewers never wait on each other's rows; on SQLite the write
transaction is ``BEGIN IMMEDIATE`` and the claim is one conditional ``UPDATE``.
Every state change is written to ``review_events`` in the same transaction.

An item is *available* when it is pending, released, or claimed with a lease
that has expired; claims take ``hold`` items first (they block a workflow), then
``review``, then ``audit``, oldest first within a queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    insert,
    or_,
    select,
    update,
)

from triaged.errors import Conflict, InvalidInput, NotFound, ValidationFailed
from triaged.routing import Bucket
from triaged.services.ids import as_utc, new_id
from triaged.storage.review import review_events, review_items
from triaged.storage.tables import decisions
from triaged.taxonomy import OOS_LABEL

__all__ = [
    "MAX_CLAIM",
    "Action",
    "ItemFilter",
    "Queue",
    "Resolution",
    "Status",
    "available",
    "claim",
    "counts",
    "enqueue",
    "get_item",
    "list_items",
    "queue_for",
    "release",
    "resolve",
]

MAX_CLAIM = 1000
MAX_PAGE = 500
MAX_LABEL = 100
FINAL_SOURCE = "review"


class Queue(StrEnum):
    HOLD = "hold"
    REVIEW = "review"
    AUDIT = "audit"


class Status(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    RELEASED = "released"


class Action(StrEnum):
    CONFIRM = "confirm"
    CORRECT = "correct"
    NEW_CATEGORY = "new_category"
    AMBIGUOUS = "ambiguous"
    OUT_OF_SCOPE = "out_of_scope"  # "none of these labels": the final label is ``oos``


#: the bucket whose decisions each queue samples (``audit`` samples ``auto``)
QUEUE_BUCKET: dict[Queue, Bucket] = {
    Queue.HOLD: Bucket.HOLD,
    Queue.REVIEW: Bucket.REVIEW,
    Queue.AUDIT: Bucket.AUTO,
}
_PRIORITY = {Queue.HOLD.value: 0, Queue.REVIEW.value: 1, Queue.AUDIT.value: 2}


def parse(enum: type[StrEnum], value: str | None, field: str) -> Any:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        known = [m.value for m in enum]
        raise InvalidInput(
            f"unknown {field} {value!r}; use one of {known}",
            details={"field": field, "value": value, "allowed": known},
        ) from None


def queue_for(bucket: str, audited: bool) -> Queue | None:
    """The queue a decision in ``bucket`` goes to (``audited``: drawn into the audit sample)."""
    if bucket == Bucket.HOLD.value:
        return Queue.HOLD
    if bucket == Bucket.REVIEW.value:
        return Queue.REVIEW
    return Queue.AUDIT if audited else None


def _event(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    event: str,
    actor: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    if rows:
        conn.execute(
            insert(review_events),
            [
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
            ],
        )


def enqueue(
    conn: Connection,
    decision_rows: Sequence[dict[str, Any]],
    queues: Sequence[Queue],
    now: datetime,
) -> list[str]:
    """Create one pending item per decision row (same transaction as the decision insert)."""
    items = [
        {
            "id": new_id("rvi"),
            "workspace_id": d["workspace_id"],
            "decision_id": d["id"],
            "taxonomy_id": d["taxonomy_id"],
            "taxonomy": d["taxonomy"],
            "queue": q.value,
            "status": Status.PENDING.value,
            "created_at": now,
            "updated_at": now,
        }
        for d, q in zip(decision_rows, queues, strict=True)
    ]
    if not items:
        return []
    conn.execute(insert(review_items), items)
    _event(
        conn,
        [{**it, "event_details": {"queue": it["queue"]}} for it in items],
        "created",
        None,
        now,
    )
    return [it["id"] for it in items]


def available(now: datetime) -> ColumnElement[bool]:
    c = review_items.c
    return or_(
        c.status.in_((Status.PENDING.value, Status.RELEASED.value)),
        and_(c.status == Status.CLAIMED.value, c.lease_expires_at < now),
    )


def _item_select() -> Any:
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
    ).join(decisions, decisions.c.id == review_items.c.decision_id)


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def item_public(row: Any, now: datetime) -> dict[str, Any]:
    m = row._mapping
    status = m["status"]
    lease = m["lease_expires_at"]
    expired = status == Status.CLAIMED.value and lease is not None and as_utc(lease) < now
    return {
        "id": m["id"],
        "decision_id": m["decision_id"],
        "queue": m["queue"],
        "status": Status.PENDING.value if expired else status,
        "taxonomy": m["taxonomy"],
        "taxonomy_version": m["taxonomy_version"],
        "model_version": m["model_version"],
        "text": m["text"],
        "label": m["label"],
        "confidence": m["confidence"],
        "bucket": m["bucket"],
        "alternatives": m["alternatives"],
        "external_id": m["external_id"],
        "metadata": m["metadata"],
        "claimed_by": None if expired else m["claimed_by"],
        "claimed_at": None if expired else _iso(m["claimed_at"]),
        "lease_expires_at": None if expired else _iso(lease),
        "action": m["action"],
        "resolved_label": m["resolved_label"],
        "new_label": m["new_label"],
        "resolved_by": m["resolved_by"],
        "note": m["note"],
        "final_label": m["final_label"],
        "final_source": m["final_source"],
        "decided_at": _iso(m["decided_at"]),
        "created_at": _iso(m["created_at"]),
        "updated_at": _iso(m["updated_at"]),
        "resolved_at": _iso(m["resolved_at"]),
    }


def claim(
    conn: Connection,
    *,
    workspace_id: str,
    key_id: str,
    limit: int,
    lease_seconds: float,
    now: datetime,
    taxonomy: str | None = None,
    queue: Queue | None = None,
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` available items for ``key_id`` with a lease of ``lease_seconds``."""
    if not 1 <= limit <= MAX_CLAIM:
        raise InvalidInput(f"limit must be between 1 and {MAX_CLAIM}", details={"limit": limit})
    c = review_items.c
    conds = [c.workspace_id == workspace_id, available(now)]
    if taxonomy is not None:
        conds.append(c.taxonomy == taxonomy)
    if queue is not None:
        conds.append(c.queue == queue.value)
    priority = case(_PRIORITY, value=c.queue, else_=3)
    pick = (
        select(c.id, c.workspace_id, c.decision_id, c.status, c.claimed_by)
        .where(*conds)
        .order_by(priority, c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    candidates = {r.id: r for r in conn.execute(pick)}
    if not candidates:
        return []
    lease = now + timedelta(seconds=lease_seconds)
    claimed = set(
        conn.execute(
            update(review_items)
            .where(c.id.in_(list(candidates)), available(now))
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
    expired = [
        {**r._mapping, "event_details": {"claimed_by": r.claimed_by}}
        for i, r in candidates.items()
        if i in claimed and r.status == Status.CLAIMED.value
    ]
    _event(conn, expired, "expired", None, now)
    _event(
        conn,
        [dict(r._mapping) for i, r in candidates.items() if i in claimed],
        "claimed",
        key_id,
        now,
        {"lease_expires_at": lease.isoformat()},
    )
    rows = conn.execute(_item_select().where(c.id.in_(list(claimed))))
    items = sorted(
        (item_public(r, now) for r in rows), key=lambda it: (_PRIORITY[it["queue"]], it["id"])
    )
    return items


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a reviewer decided, as applied to the decision."""

    item: dict[str, Any]
    event_type: str | None  # the webhook event to emit, if any
    changed: bool  # the final label differs from the model's


def _locked_item(conn: Connection, workspace_id: str, item_id: str) -> Any:
    stmt = select(review_items).where(
        review_items.c.id == item_id, review_items.c.workspace_id == workspace_id
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound(f"no review item {item_id!r}", details={"item_id": item_id})
    return row


def _must_hold(row: Any, key_id: str, now: datetime, verb: str) -> None:
    if row.status == Status.RESOLVED.value:
        raise Conflict(
            f"review item {row.id} is already resolved",
            details={"item_id": row.id, "status": row.status, "reason": "already_resolved"},
        )
    if row.status != Status.CLAIMED.value or row.claimed_by != key_id:
        raise Conflict(
            f"cannot {verb} review item {row.id}: it is not claimed by this key; claim it first",
            details={"item_id": row.id, "status": row.status, "reason": "not_claimed_by_caller"},
        )


def _final_label(
    action: Action,
    model_label: str,
    label: str | None,
    new_label: str | None,
    labels: Sequence[str],
) -> tuple[str | None, str | None, str | None]:
    """(final label, resolved label, new label) for ``action``; raises on bad input."""
    if action is Action.OUT_OF_SCOPE:
        given = [f for f, v in (("label", label), ("new_label", new_label)) if v is not None]
        if given:
            message = f"action 'out_of_scope' takes no {given[0]!r}: the input fits no label"
            raise ValidationFailed(
                message,
                details={
                    "field": given[0],
                    "action": action.value,
                    "reason": "out_of_scope_takes_no_label",
                    "errors": [
                        {"field": f, "message": message, "type": "out_of_scope_takes_no_label"}
                        for f in given
                    ],
                },
            )
        return OOS_LABEL, OOS_LABEL, None
    if action is Action.CONFIRM:
        return model_label, model_label, None
    if action is Action.CORRECT:
        if not label:
            raise InvalidInput("action 'correct' needs 'label'", details={"field": "label"})
        if label not in labels:
            raise InvalidInput(
                f"unknown label {label!r}; to propose a new one use action 'new_category'",
                details={"field": "label", "label": label},
            )
        return label, label, None
    if action is Action.NEW_CATEGORY:
        name = (new_label or label or "").strip()
        if not name or len(name) > MAX_LABEL:
            raise InvalidInput(
                f"action 'new_category' needs 'new_label' (1 to {MAX_LABEL} characters)",
                details={"field": "new_label"},
            )
        if name in labels:
            raise InvalidInput(
                f"label {name!r} already exists; use action 'correct'",
                details={"field": "new_label", "label": name},
            )
        return name, None, name
    return None, None, None


def resolve(
    conn: Connection,
    *,
    workspace_id: str,
    key_id: str,
    item_id: str,
    action: Action,
    labels: Sequence[str],
    now: datetime,
    label: str | None = None,
    new_label: str | None = None,
    note: str | None = None,
) -> Resolution:
    """Resolve a claimed item and set its decision's final label; 409 unless the caller holds it."""
    row = _locked_item(conn, workspace_id, item_id)
    _must_hold(row, key_id, now, "resolve")
    model_label = conn.execute(
        select(decisions.c.label).where(decisions.c.id == row.decision_id)
    ).scalar_one()
    final, resolved_label, proposed = _final_label(action, model_label, label, new_label, labels)
    c = review_items.c
    done = conn.execute(
        update(review_items)
        .where(
            c.id == item_id,
            c.status == Status.CLAIMED.value,
            c.claimed_by == key_id,
        )
        .values(
            status=Status.RESOLVED.value,
            action=action.value,
            resolved_label=resolved_label,
            new_label=proposed,
            resolved_by=key_id,
            note=(note or None),
            resolved_at=now,
            updated_at=now,
            lease_expires_at=None,
        )
        .returning(c.id)
    ).first()
    if done is None:  # lost a race with a claim after the lease ran out
        raise Conflict(
            f"review item {item_id} is no longer claimed by this key",
            details={"item_id": item_id, "reason": "not_claimed_by_caller"},
        )
    conn.execute(
        update(decisions)
        .where(decisions.c.id == row.decision_id)
        .values(final_label=final, final_source=FINAL_SOURCE, resolved_at=now)
    )
    changed = (
        action in (Action.CORRECT, Action.NEW_CATEGORY, Action.OUT_OF_SCOPE)
        and final != model_label
    )
    _event(
        conn,
        [dict(row._mapping)],
        "resolved",
        key_id,
        now,
        {
            "action": action.value,
            "model_label": model_label,
            "final_label": final,
            "label": resolved_label,
            "new_label": proposed,
            "queue": row.queue,
            **({"note": note} if note else {}),
        },
    )
    event_type: str | None = None
    if row.queue == Queue.HOLD.value:
        event_type = "decision.resolved"
    elif changed:
        event_type = "decision.corrected"
    item = get_item(conn, workspace_id, item_id, now=now, history=False)
    return Resolution(item=item, event_type=event_type, changed=changed)


def release(
    conn: Connection, *, workspace_id: str, key_id: str, item_id: str, now: datetime
) -> dict[str, Any]:
    """Hand a claimed item back to the queue (only by the key that holds it)."""
    row = _locked_item(conn, workspace_id, item_id)
    _must_hold(row, key_id, now, "release")
    c = review_items.c
    done = conn.execute(
        update(review_items)
        .where(c.id == item_id, c.status == Status.CLAIMED.value, c.claimed_by == key_id)
        .values(
            status=Status.RELEASED.value,
            claimed_by=None,
            claimed_at=None,
            lease_expires_at=None,
            updated_at=now,
        )
        .returning(c.id)
    ).first()
    if done is None:
        raise Conflict(
            f"review item {item_id} is no longer claimed by this key",
            details={"item_id": item_id, "reason": "not_claimed_by_caller"},
        )
    _event(conn, [dict(row._mapping)], "released", key_id, now)
    return get_item(conn, workspace_id, item_id, now=now, history=False)


_EVENT_ORDER = {"created": 0, "expired": 1, "claimed": 2, "released": 3, "resolved": 4}


def history(conn: Connection, item_id: str) -> list[dict[str, Any]]:
    """Events oldest first (same-instant events in their logical order)."""
    e = review_events.c
    rows = sorted(
        conn.execute(select(review_events).where(e.item_id == item_id)),
        key=lambda r: (as_utc(r.created_at), _EVENT_ORDER.get(r.event, 9), r.id),
    )
    return [
        {
            "id": r.id,
            "event": r.event,
            "actor": r.actor,
            "details": r.details,
            "at": _iso(r.created_at),
        }
        for r in rows
    ]


def get_item(
    conn: Connection, workspace_id: str, item_id: str, *, now: datetime, history: bool = True
) -> dict[str, Any]:
    row = conn.execute(
        _item_select().where(
            review_items.c.id == item_id, review_items.c.workspace_id == workspace_id
        )
    ).first()
    if row is None:
        raise NotFound(f"no review item {item_id!r}", details={"item_id": item_id})
    item = item_public(row, now)
    if history:
        item["history"] = _history(conn, item_id)
    return item


_history = history


@dataclass(frozen=True, slots=True)
class ItemFilter:
    taxonomy: str | None = None
    queue: Queue | None = None
    status: Status | None = None
    claimed_by: str | None = None
    decision_id: str | None = None


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
    return conds


def list_items(
    conn: Connection,
    workspace_id: str,
    flt: ItemFilter,
    *,
    now: datetime,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Oldest first; ``cursor`` is the last id of the previous page."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", details={"limit": limit})
    c = review_items.c
    stmt = _item_select().where(*_conditions(workspace_id, flt, now))
    if cursor:
        stmt = stmt.where(c.id > cursor)
    rows = list(conn.execute(stmt.order_by(c.id).limit(limit + 1)))
    page = [item_public(r, now) for r in rows[:limit]]
    return page, (page[-1]["id"] if len(rows) > limit and page else None)


def counts(
    conn: Connection, workspace_id: str, *, now: datetime, taxonomy: str | None = None
) -> dict[str, dict[str, Any]]:
    """Per queue: pending (claimable), claimed (live lease), resolved, and oldest open age."""
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
    out: dict[str, dict[str, Any]] = {
        q.value: {
            "pending": 0,
            "claimed": 0,
            "resolved": 0,
            "open": 0,
            "oldest_created_at": None,
            "oldest_age_seconds": None,
        }
        for q in Queue
    }
    rows = conn.execute(
        select(c.queue, effective.label("st"), func.count(), func.min(c.created_at))
        .where(*conds)
        .group_by(c.queue, effective)
    )
    for queue, st, n, oldest in rows:
        entry = out.setdefault(queue, {"pending": 0, "claimed": 0, "resolved": 0, "open": 0})
        entry[st] = entry.get(st, 0) + int(n)
        if st != Status.RESOLVED.value:
            entry["open"] += int(n)
            old = as_utc(oldest)
            prev = entry.get("oldest_created_at")
            if prev is None or old.isoformat() < prev:
                entry["oldest_created_at"] = old.isoformat()
                entry["oldest_age_seconds"] = round((now - old).total_seconds(), 3)
    return out
