"""The outbox: record an event in the caller's transaction, fanned out to subscribed endpoints.

Part of the same transaction as the change that caused it, so an event exists if
and only if that change was committed; the ``webhooks`` job delivers it later, at
least once, whatever happens to the process in between.  On PostgreSQL the
transaction also sends a notice on :data:`CHANNEL`, on which ``triaged worker``
starts a drain at once rather than at its next period.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from triaged.errors import InvalidInput
from triaged.storage import webhook_repo
from triaged.storage.ids import new_id, utcnow

__all__ = ["CHANNEL", "EVENT_TYPES", "TEST_EVENT", "check_event_types", "enqueue_event"]

CHANNEL = "triaged_webhooks"  # LISTEN/NOTIFY on PostgreSQL: deliveries were enqueued

EVENT_TYPES: tuple[str, ...] = (
    "decision.resolved",
    "decision.corrected",
    "decision.reopened",  # a reviewer took back a resolution (issue 12: reopen / undo)
    "decision.withdrawn",  # erased while waiting for a review: no resolution will come
    "alert.drift",
    "alert.auto_lane",
)

#: sent to one endpoint on request (POST /v1/webhooks/{id}/test); not subscribable
TEST_EVENT = "webhook.test"


def check_event_types(types: list[str]) -> list[str]:
    """The distinct, known event types of ``types`` (in the order of :data:`EVENT_TYPES`)."""
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown or not types:
        raise InvalidInput(
            f"unknown event types {unknown}" if unknown else "subscribe to at least one event type",
            details={"events": list(types), "known": list(EVENT_TYPES)},
        )
    return [t for t in EVENT_TYPES if t in set(types)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def enqueue_event(
    conn: Connection,
    *,
    workspace_id: str,
    event_type: str,
    data: dict[str, Any],
    endpoint_id: str | None = None,
) -> str:
    """Write event ``event_type`` with ``data`` to the outbox on ``conn``; returns its id.

    Call it inside the transaction that makes the change: one ``webhook_events``
    row plus one pending delivery per live endpoint of the workspace subscribed to
    ``event_type``.  Nothing is sent here.  The payload is
    ``{"id", "type", "created_at", "data"}``.  ``endpoint_id``: to that endpoint only.
    The events of one decision (``data["decision_id"]``) are delivered to an endpoint one
    at a time, in the order they were recorded.
    """
    if event_type not in EVENT_TYPES and not (event_type == TEST_EVENT and endpoint_id):
        raise InvalidInput(
            f"unknown event type {event_type!r}",
            details={"event_type": event_type, "known": list(EVENT_TYPES)},
        )
    now = utcnow()
    event_id = new_id("evt")
    # one decision's events reach each endpoint in order (webhook_repo._due)
    decision = data.get("decision_id") if event_type.startswith("decision.") else None
    subject = str(decision)[:40] if decision else None
    payload = {
        "id": event_id,
        "type": event_type,
        "created_at": now.isoformat(),
        "data": json.loads(json.dumps(data, default=_jsonable)),
    }
    webhook_repo.insert_event(
        conn,
        event_id=event_id,
        workspace_id=workspace_id,
        event_type=event_type,
        payload=payload,
        created_at=now,
    )
    endpoints = webhook_repo.subscriptions(conn, workspace_id)
    rows = [
        {
            "id": new_id("dlv"),
            "event_id": event_id,
            "endpoint_id": endpoint.id,
            "workspace_id": workspace_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "subject": subject,
        }
        for endpoint in endpoints
        if (
            endpoint.id == endpoint_id
            if endpoint_id is not None  # one endpoint (a test event), subscribed or not
            else event_type in (endpoint.events or [])
        )
    ]
    if rows:
        webhook_repo.insert_deliveries(conn, rows)
        webhook_repo.notify(conn, CHANNEL)  # PostgreSQL, at commit: `triaged worker` drains at once
    return event_id
