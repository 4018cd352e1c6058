"""Webhook endpoints of a workspace, and the log of their deliveries and attempts.

Every function takes the caller's connection and the workspace id: a key of
another workspace sees ``NotFound``, never someone else's endpoint.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from triaged.errors import Conflict, InvalidInput, LimitReached, NotFound
from triaged.storage import webhook_repo
from triaged.storage.ids import as_utc, new_id, utcnow
from triaged.webhooks.config import WebhookSettings
from triaged.webhooks.events import TEST_EVENT, check_event_types, enqueue_event
from triaged.webhooks.netguard import (
    MAX_URL,
    Resolver,
    UrlPolicy,
    check_webhook_url,
    system_resolver,
)

__all__ = [
    "MAX_URL",
    "Endpoint",
    "check_url",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_attempts",
    "list_deliveries",
    "list_endpoints",
    "retry_delivery",
    "rotate_secret",
    "send_test",
    "update_endpoint",
]

SECRET_PREFIX = "whsec_"


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    url: str
    events: list[str]
    description: str
    created_at: datetime
    secret: str | None = None  # only right after creation or a rotation
    previous_expires_at: datetime | None = None  # a rotated secret signs too until then

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "created_at": _iso(self.created_at),
            "previous_secret_expires_at": _iso(self.previous_expires_at),
        }
        if self.secret is not None:
            data["secret"] = self.secret
        return data


def check_url(
    url: str, policy: UrlPolicy | None = None, resolver: Resolver | None = system_resolver
) -> str:
    """``url`` stripped, or :class:`InvalidInput` (see :mod:`triaged.webhooks.netguard`).

    ``policy`` defaults to the operator's ``TRIAGED_WEBHOOK_*`` settings."""
    if policy is None:
        policy = WebhookSettings().url_policy()
    return check_webhook_url(url, policy, resolver)


def create_endpoint(
    conn: Connection,
    workspace_id: str,
    url: str,
    events: list[str],
    description: str = "",
    *,
    policy: UrlPolicy | None = None,
    resolver: Resolver | None = system_resolver,
    limit: int | None = None,
) -> Endpoint:
    """Register ``url`` for ``events``; the returned endpoint carries its secret (shown once).

    The URL must reach a public address unless ``policy`` (default: the
    ``TRIAGED_WEBHOOK_*`` settings) lets it through.  ``limit``: the most endpoints the
    workspace may have (409 ``limit_reached`` at it, counted in this transaction)."""
    if limit is not None:
        n = webhook_repo.live_endpoint_count(conn, workspace_id)
        if n >= limit:
            raise LimitReached(
                f"this workspace has {n} webhooks, the most it may have ({limit}); delete one "
                "to make room",
                details={
                    "limit": limit,
                    "count": n,
                    "resource": "webhooks",
                    "setting": "TRIAGED_MAX_WEBHOOKS_PER_WORKSPACE",
                },
            )
    endpoint = Endpoint(
        id=new_id("wh"),
        url=check_url(url, policy, resolver),
        events=check_event_types(list(events)),
        description=description[:200],
        created_at=utcnow(),
        secret=SECRET_PREFIX + secrets.token_urlsafe(32),
    )
    webhook_repo.insert_endpoint(
        conn,
        endpoint_id=endpoint.id,
        workspace_id=workspace_id,
        url=endpoint.url,
        events=endpoint.events,
        secret=endpoint.secret,
        description=endpoint.description,
        created_at=endpoint.created_at,
    )
    return endpoint


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        events=list(row.events or []),
        description=row.description,
        created_at=as_utc(row.created_at),
        previous_expires_at=webhook_repo.previous_until(row, utcnow()),
    )


def list_endpoints(conn: Connection, workspace_id: str) -> list[Endpoint]:
    return [_endpoint(r) for r in webhook_repo.endpoint_rows(conn, workspace_id)]


def _live_row(conn: Connection, workspace_id: str, endpoint_id: str) -> Any:
    row = webhook_repo.endpoint_row(conn, workspace_id, endpoint_id)
    if row is None:
        raise NotFound(f"no webhook {endpoint_id!r}", details={"webhook_id": endpoint_id})
    return row


def get_endpoint(conn: Connection, workspace_id: str, endpoint_id: str) -> Endpoint:
    return _endpoint(_live_row(conn, workspace_id, endpoint_id))


def update_endpoint(
    conn: Connection,
    workspace_id: str,
    endpoint_id: str,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    policy: UrlPolicy | None = None,
    resolver: Resolver | None = system_resolver,
) -> Endpoint:
    """Change an endpoint's URL (checked as at creation), event types or description; its
    pending deliveries go to the new URL.  The secret is unchanged (:func:`rotate_secret`)."""
    get_endpoint(conn, workspace_id, endpoint_id)
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = check_url(url, policy, resolver)
    if events is not None:
        values["events"] = check_event_types(list(events))
    if description is not None:
        values["description"] = description[:200]
    if values:
        webhook_repo.update_endpoint(conn, endpoint_id, values)
    return get_endpoint(conn, workspace_id, endpoint_id)


#: longest overlap a rotation may give the old secret (a week)
MAX_OVERLAP_HOURS = 168.0


def rotate_secret(
    conn: Connection, workspace_id: str, endpoint_id: str, *, overlap_hours: float = 24.0
) -> Endpoint:
    """A new signing secret (returned once, like at creation).  For ``overlap_hours`` the
    old one signs too (every delivery carries both ``v1=`` signatures), so the receiver can
    switch without refusing deliveries; 0 ends the old secret at once (a leaked one)."""
    if not 0.0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise InvalidInput(
            f"overlap_hours must be between 0 and {MAX_OVERLAP_HOURS:g}",
            details={"field": "overlap_hours", "got": overlap_hours},
        )
    row = _live_row(conn, workspace_id, endpoint_id)  # its secret becomes the previous one
    endpoint = _endpoint(row)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    until = utcnow() + timedelta(hours=overlap_hours) if overlap_hours > 0 else None
    webhook_repo.update_endpoint(
        conn,
        endpoint_id,
        {
            "secret": secret,
            "previous_secret": row.secret if until is not None else None,
            "previous_expires_at": until,
        },
    )
    return replace(endpoint, secret=secret, previous_expires_at=until)


def send_test(conn: Connection, workspace_id: str, endpoint_id: str) -> dict[str, Any]:
    """A ``webhook.test`` event to this endpoint only, whatever it subscribes to: delivered,
    signed and logged like any other (check the receiver and the signature).  Returns the
    delivery."""
    get_endpoint(conn, workspace_id, endpoint_id)
    event_id = enqueue_event(
        conn,
        workspace_id=workspace_id,
        event_type=TEST_EVENT,
        data={"webhook_id": endpoint_id, "message": "a test event from triaged"},
        endpoint_id=endpoint_id,
    )
    [row] = webhook_repo.event_deliveries(conn, event_id)  # one: to this endpoint
    return _delivery(webhook_repo.delivery_with_type(conn, row.id))


def delete_endpoint(conn: Connection, workspace_id: str, endpoint_id: str) -> None:
    """Stop sending to an endpoint; its undelivered events are cancelled, its log is kept."""
    get_endpoint(conn, workspace_id, endpoint_id)
    if not webhook_repo.retire_endpoint(conn, endpoint_id, utcnow()):  # a concurrent delete won
        raise NotFound(f"no webhook {endpoint_id!r}", details={"webhook_id": endpoint_id})


ERROR_CLASSES = frozenset(
    {
        "http_status",
        "timeout",
        "connect_error",
        "blocked_destination",
        "protocol_error",
        "transport_error",
    }
)


def shown_error(error: str | None) -> str | None:
    """The generic class of a stored error (rows written before errors were classes kept the
    OS or receiver text: never shown)."""
    if error is None or error in ERROR_CLASSES:
        return error
    return "http_status" if error.startswith("HTTP ") else "transport_error"


def _delivery(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event_type": row.type,
        "endpoint_id": row.endpoint_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": _iso(row.next_attempt_at) if row.status == "pending" else None,
        "last_status_code": row.last_status_code,
        "last_error": shown_error(row.last_error),
        "created_at": _iso(row.created_at),
        "finished_at": _iso(row.finished_at),
    }


def list_deliveries(
    conn: Connection,
    workspace_id: str,
    endpoint_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> list[dict[str, Any]]:
    """Deliveries to one endpoint, newest first (``before``: a delivery id, for paging)."""
    get_endpoint(conn, workspace_id, endpoint_id)
    rows = webhook_repo.deliveries_page(
        conn, endpoint_id, status=status, limit=max(1, min(limit, 500)), before=before
    )
    return [_delivery(r) for r in rows]


def retry_delivery(
    conn: Connection, workspace_id: str, endpoint_id: str, delivery_id: str
) -> dict[str, Any]:
    """Send a failed delivery again, now, with a fresh budget of attempts (a cancelled one
    belongs to a deleted endpoint, which is gone from the API with its log);
    refused (409, reason ``superseded``) when a later event about the same decision was sent to
    the endpoint since: the receiver takes the last event of a decision to arrive as its
    state, and the old one would arrive last."""
    get_endpoint(conn, workspace_id, endpoint_id)
    row = webhook_repo.endpoint_delivery_with_type(conn, workspace_id, endpoint_id, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id!r}", details={"delivery_id": delivery_id})
    if row.status not in {"failed", "cancelled"}:
        raise Conflict(
            f"delivery {delivery_id!r} is {row.status}; only failed ones are retried",
            details={"delivery_id": delivery_id, "status": row.status},
        )
    newer = webhook_repo.newer_of_subject(conn, row)
    if newer is not None:  # sent now, it would arrive after, and undo, what came since
        raise Conflict(
            f"delivery {delivery_id!r} is superseded: {newer!r}, a later event about the same "
            "decision, carries its current state (retry that one if it failed)",
            details={"delivery_id": delivery_id, "reason": "superseded", "newer": newer},
        )
    webhook_repo.requeue_delivery(conn, delivery_id, utcnow())
    return _delivery(webhook_repo.delivery_with_type(conn, delivery_id))


def list_attempts(
    conn: Connection,
    workspace_id: str,
    endpoint_id: str,
    delivery_id: str,
    *,
    excerpts: bool | None = None,
) -> list[dict[str, Any]]:
    """Every try of one delivery, oldest first: status code, error class and duration.

    The receiver's answer (``response_excerpt``) only with ``excerpts`` (default:
    ``TRIAGED_WEBHOOK_RESPONSE_EXCERPTS``), even for attempts stored before it was off.

    ``attempt`` counts from 1 again after :func:`retry_delivery`: ``round`` says which
    round of tries (1, then one more per manual retry) an attempt belongs to, and ``n``
    is its place among all of the delivery's tries (1, 2, ...)."""
    get_endpoint(conn, workspace_id, endpoint_id)
    if not webhook_repo.endpoint_delivery_exists(conn, workspace_id, endpoint_id, delivery_id):
        raise NotFound(f"no delivery {delivery_id!r}", details={"delivery_id": delivery_id})
    if excerpts is None:
        excerpts = WebhookSettings().response_excerpts
    out: list[dict[str, Any]] = []
    round_no, last = 1, 0
    for n, r in enumerate(webhook_repo.attempt_rows(conn, delivery_id), start=1):
        if r.attempt <= last:  # numbering started again: a retry's new round
            round_no += 1
        last = r.attempt
        out.append(_attempt(r, n, round_no, excerpts))
    return out


def _attempt(r: Any, n: int, round_no: int, excerpts: bool) -> dict[str, Any]:
    return {
        "n": n,
        "round": round_no,
        "attempt": r.attempt,
        "started_at": _iso(r.started_at),
        "duration_ms": round(r.duration_ms, 3),
        "status_code": r.status_code,
        "error": shown_error(r.error),
        "response_excerpt": r.response_excerpt if excerpts else None,
    }
