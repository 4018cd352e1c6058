"""Webhook rows (tables in :mod:`triaged.storage.webhooks`): the outbox write of an event and
its deliveries, endpoints and their delivery log, the delivery claim and settle, retention.

Plain functions on a ``Connection``: the caller owns the transaction.  The claim keeps its
locks: :func:`due_ids_for_update` takes ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite:
the caller's ``BEGIN IMMEDIATE`` writer), and :func:`take_due` and :func:`settle_delivery`
are conditional updates (still due; same claim token).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from triaged.storage import metrics_repo
from triaged.storage.ids import as_utc, new_id
from triaged.storage.locks import workspace_lock
from triaged.storage.rows import AnyRow
from triaged.storage.webhooks import (
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)

__all__ = [
    "SETTLED",
    "any_due",
    "attempt_rows",
    "claimed_rows",
    "delete_deliveries",
    "delete_events",
    "delivery_with_type",
    "due_ids_for_update",
    "endpoint_delivery_exists",
    "endpoint_delivery_with_type",
    "endpoint_row",
    "endpoint_rows",
    "event_deliveries",
    "insert_attempt",
    "insert_deliveries",
    "insert_endpoint",
    "insert_event",
    "live_endpoint_count",
    "notify",
    "orphan_event_ids",
    "previous_until",
    "requeue_delivery",
    "retire_endpoint",
    "settle_delivery",
    "settled_delivery_ids",
    "subscriptions",
    "take_due",
    "update_endpoint",
]

SETTLED = ("delivered", "failed", "cancelled")  # delivery statuses retention may delete


# ---------------------------------------------------------------- outbox
def insert_event(
    conn: Connection,
    *,
    event_id: str,
    workspace_id: str,
    event_type: str,
    payload: dict[str, Any],
    created_at: datetime,
) -> None:
    conn.execute(
        insert(webhook_events).values(
            id=event_id,
            workspace_id=workspace_id,
            type=event_type,
            payload=payload,
            created_at=created_at,
            decision_id=_about(event_type, payload),
        )
    )


def _about(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The decision a ``decision.*`` event is about (its ``data.decision_id``)."""
    if not event_type.startswith("decision."):
        return None
    data = payload.get("data")
    about = data.get("decision_id") if isinstance(data, Mapping) else None
    return str(about) if about is not None else None


def subscriptions(conn: Connection, workspace_id: str) -> list[AnyRow]:
    """(id, events) of the workspace's live endpoints."""
    return list(
        conn.execute(
            select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
                webhook_endpoints.c.workspace_id == workspace_id,
                webhook_endpoints.c.deleted_at.is_(None),
            )
        ).all()
    )


def insert_deliveries(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """One executemany of the rows (the caller passes at least one)."""
    conn.execute(insert(webhook_deliveries), rows)


def notify(conn: Connection, channel: str) -> None:
    """``pg_notify(channel, '')`` on PostgreSQL (sent at commit); nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:c, '')"), {"c": channel})


# ---------------------------------------------------------------- endpoints
def insert_endpoint(
    conn: Connection,
    *,
    endpoint_id: str,
    workspace_id: str,
    url: str,
    events: list[str],
    secret: str | None,
    description: str,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(webhook_endpoints).values(
            id=endpoint_id,
            workspace_id=workspace_id,
            url=url,
            events=events,
            secret=secret,
            description=description,
            created_at=created_at,
        )
    )


CAP_LOCK = 727375021  # PostgreSQL advisory lock class: a workspace's endpoint count


def live_endpoint_count(conn: Connection, workspace_id: str) -> int:
    """The workspace's endpoints that are not deleted, counted under the workspace's
    transaction-scoped lock (PostgreSQL; SQLite has one writer), so of registrations racing
    each sees the others' rows once they committed."""
    workspace_lock(conn, CAP_LOCK, workspace_id)
    e = webhook_endpoints.c
    n = conn.execute(
        select(func.count())
        .select_from(webhook_endpoints)
        .where(e.workspace_id == workspace_id, e.deleted_at.is_(None))
    ).scalar_one()
    return int(n)


def endpoint_rows(conn: Connection, workspace_id: str) -> Iterable[AnyRow]:
    """The workspace's live endpoints, by id."""
    return conn.execute(
        select(webhook_endpoints)
        .where(
            webhook_endpoints.c.workspace_id == workspace_id,
            webhook_endpoints.c.deleted_at.is_(None),
        )
        .order_by(webhook_endpoints.c.id)
    )


def endpoint_row(conn: Connection, workspace_id: str, endpoint_id: str) -> AnyRow | None:
    """The workspace's live endpoint ``endpoint_id``, or None."""
    return conn.execute(
        select(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id,
            webhook_endpoints.c.workspace_id == workspace_id,
            webhook_endpoints.c.deleted_at.is_(None),
        )
    ).first()


def update_endpoint(conn: Connection, endpoint_id: str, values: Mapping[str, Any]) -> None:
    """Change a live endpoint's ``url``, ``events``, ``description`` or ``secret``."""
    conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None))
        .values(**values)
    )


def event_deliveries(conn: Connection, event_id: str) -> list[AnyRow]:
    """(id, endpoint_id) of an event's deliveries."""
    d = webhook_deliveries.c
    return list(conn.execute(select(d.id, d.endpoint_id).where(d.event_id == event_id)))


def retire_endpoint(conn: Connection, endpoint_id: str, now: datetime) -> bool:
    """Mark the endpoint deleted, then cancel its pending and in-flight deliveries; False
    (nothing done) when it was deleted already: of concurrent deletes, one does it."""
    done = conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None))
        .values(deleted_at=now)
    ).rowcount
    if not done:
        return False
    conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.status.in_(("pending", "delivering")),
        )
        .values(status="cancelled", finished_at=now, claim_token=None, claimed_until=None)
    )
    return True


# ---------------------------------------------------------------- delivery log
def deliveries_page(
    conn: Connection,
    endpoint_id: str,
    *,
    status: str | None,
    limit: int,
    before: str | None,
) -> Iterable[AnyRow]:
    """Deliveries to one endpoint with their event type, newest first (``before``: an id)."""
    query = (
        select(webhook_deliveries, webhook_events.c.type)
        .join(webhook_events, webhook_events.c.id == webhook_deliveries.c.event_id)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(webhook_deliveries.c.status == status)
    if before is not None:
        query = query.where(webhook_deliveries.c.id < before)
    return conn.execute(query)


def endpoint_delivery_with_type(
    conn: Connection, workspace_id: str, endpoint_id: str, delivery_id: str
) -> AnyRow | None:
    """The delivery (with its event type) if it is the workspace's and the endpoint's."""
    c = webhook_deliveries.c
    return conn.execute(
        select(webhook_deliveries, webhook_events.c.type)
        .join(webhook_events, webhook_events.c.id == c.event_id)
        .where(c.id == delivery_id, c.endpoint_id == endpoint_id, c.workspace_id == workspace_id)
    ).first()


def delivery_with_type(conn: Connection, delivery_id: str) -> AnyRow:
    """The delivery with its event type (it must exist)."""
    c = webhook_deliveries.c
    return conn.execute(
        select(webhook_deliveries, webhook_events.c.type)
        .join(webhook_events, webhook_events.c.id == c.event_id)
        .where(c.id == delivery_id)
    ).one()


def newer_of_subject(conn: Connection, delivery: AnyRow) -> str | None:
    """The id of the newest delivery to the same endpoint about the same subject made after
    ``delivery`` (None: there is none, or the delivery has no subject)."""
    if delivery.subject is None:
        return None
    c = webhook_deliveries.c
    later = _before(delivery.created_at, delivery.id, c.created_at, c.id)
    return conn.execute(
        select(c.id)
        .where(c.endpoint_id == delivery.endpoint_id, c.subject == delivery.subject, later)
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def requeue_delivery(conn: Connection, delivery_id: str, now: datetime) -> None:
    """Pending again from ``now``, with a fresh budget of attempts."""
    c = webhook_deliveries.c
    conn.execute(
        update(webhook_deliveries)
        .where(c.id == delivery_id)
        .values(status="pending", attempts=0, next_attempt_at=now, finished_at=None)
    )


def endpoint_delivery_exists(
    conn: Connection, workspace_id: str, endpoint_id: str, delivery_id: str
) -> bool:
    found = conn.execute(
        select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.workspace_id == workspace_id,
        )
    ).first()
    return found is not None


def attempt_rows(conn: Connection, delivery_id: str) -> Iterable[AnyRow]:
    """Every try of the delivery, oldest first."""
    return conn.execute(
        select(webhook_attempts)
        .where(webhook_attempts.c.delivery_id == delivery_id)
        .order_by(webhook_attempts.c.started_at, webhook_attempts.c.attempt)
    )


# ---------------------------------------------------------------- claim and settle
def _before(created: Any, id_: Any, other_created: Any, other_id: Any) -> Any:
    """Delivery order: made earlier, or at the same instant with a smaller id (columns or
    values on either side)."""
    return or_(created < other_created, and_(created == other_created, id_ < other_id))


def _due(now: datetime) -> Any:
    """Pending and due (or claimed by a worker whose lease ran out), and not behind an
    earlier delivery of the same subject to the same endpoint that is still pending or
    being sent: one decision's events reach an endpoint one at a time, in order (one given
    up, ``failed``, no longer holds the next back)."""
    c = webhook_deliveries.c
    earlier = webhook_deliveries.alias("earlier")
    e = earlier.c
    ahead = (
        select(e.id)
        .where(
            e.endpoint_id == c.endpoint_id,
            e.subject == c.subject,
            e.status.in_(("pending", "delivering")),
            _before(e.created_at, e.id, c.created_at, c.id),
        )
        .exists()
    )
    return and_(
        or_(
            and_(c.status == "pending", c.next_attempt_at <= now),
            and_(c.status == "delivering", c.claimed_until < now),
        ),
        or_(c.subject.is_(None), ~ahead),
    )


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether some delivery is due (pending, or with an expired claim): a read, no lock."""
    c = webhook_deliveries.c
    return conn.execute(select(c.id).where(_due(now)).limit(1)).first() is not None


def due_ids_for_update(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Up to ``limit`` due delivery ids, oldest due first, locked (``SKIP LOCKED``)."""
    c = webhook_deliveries.c
    return list(
        conn.execute(
            select(c.id)
            .where(_due(now))
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def take_due(
    conn: Connection, ids: Sequence[str], now: datetime, token: str, claimed_until: datetime
) -> None:
    """Claim those of ``ids`` still due with ``token`` until ``claimed_until``."""
    c = webhook_deliveries.c
    conn.execute(
        update(webhook_deliveries)
        .where(c.id.in_(ids), _due(now))  # conditional: only still-due rows are taken
        .values(status="delivering", claim_token=token, claimed_until=claimed_until)
    )


def claimed_rows(conn: Connection, token: str) -> list[AnyRow]:
    """(id, attempts, event_id, type, payload, url, secret, previous_secret,
    previous_expires_at) of the deliveries ``token`` holds."""
    c = webhook_deliveries.c
    return list(
        conn.execute(
            select(
                c.id,
                c.attempts,
                c.event_id,
                webhook_events.c.type,
                webhook_events.c.payload,
                webhook_endpoints.c.url,
                webhook_endpoints.c.secret,
                webhook_endpoints.c.previous_secret,
                webhook_endpoints.c.previous_expires_at,
            )
            .join(webhook_events, webhook_events.c.id == c.event_id)
            .join(webhook_endpoints, webhook_endpoints.c.id == c.endpoint_id)
            .where(c.claim_token == token)
            .order_by(c.next_attempt_at, c.id)
        ).all()
    )


def insert_attempt(
    conn: Connection,
    *,
    delivery_id: str,
    attempt: int,
    started_at: datetime,
    duration_ms: float,
    status_code: int | None,
    error: str | None,
    response_excerpt: str | None,
) -> None:
    conn.execute(
        insert(webhook_attempts).values(
            id=new_id("att"),
            delivery_id=delivery_id,
            attempt=attempt,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=status_code,
            error=error,
            response_excerpt=response_excerpt,
        )
    )
    if error is not None or status_code is None or status_code >= 300:
        metrics_repo.add_total(conn, metrics_repo.WEBHOOK_FAILURES)


def settle_delivery(
    conn: Connection,
    delivery_id: str,
    token: str,
    *,
    status: str,
    attempts: int,
    next_attempt_at: datetime,
    last_status_code: int | None,
    last_error: str | None,
    finished_at: datetime | None,
) -> None:
    """Move the delivery on, only while ``token`` still holds its claim."""
    c = webhook_deliveries.c
    conn.execute(
        update(webhook_deliveries)
        .where(c.id == delivery_id, c.claim_token == token)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            claim_token=None,
            claimed_until=None,
            last_status_code=last_status_code,
            last_error=last_error,
            finished_at=finished_at,
        )
    )


# ---------------------------------------------------------------- retention
def settled_delivery_ids(conn: Connection, cutoff: datetime, batch: int) -> list[str]:
    """Up to ``batch`` ids of deliveries settled (:data:`SETTLED`) before ``cutoff``."""
    d = webhook_deliveries.c
    return list(
        conn.execute(
            select(d.id).where(d.status.in_(SETTLED), d.finished_at < cutoff).limit(batch)
        ).scalars()
    )


def delete_deliveries(conn: Connection, ids: Sequence[str]) -> None:
    """Delete the deliveries ``ids``: their attempts first, then the deliveries."""
    d = webhook_deliveries.c
    conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
    conn.execute(delete(webhook_deliveries).where(d.id.in_(ids)))


def orphan_event_ids(conn: Connection, cutoff: datetime, batch: int) -> list[str]:
    """Up to ``batch`` ids of events created before ``cutoff`` with no delivery left."""
    d, e = webhook_deliveries.c, webhook_events.c
    return list(
        conn.execute(
            select(e.id)
            .where(
                e.created_at < cutoff,
                ~exists().where(and_(d.event_id == e.id)),
            )
            .limit(batch)
        ).scalars()
    )


def delete_events(conn: Connection, ids: Sequence[str]) -> None:
    conn.execute(delete(webhook_events).where(webhook_events.c.id.in_(ids)))


def previous_until(row: Any, now: datetime) -> datetime | None:
    """Until when an endpoint row's rotated (previous) secret still signs its deliveries;
    None once it no longer does (or there is none)."""
    until = row.previous_expires_at
    if until is None:
        return None
    until = as_utc(until)
    return until if until > now else None
