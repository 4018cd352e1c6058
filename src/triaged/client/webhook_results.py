"""The SDK's typed webhook results: an endpoint, one delivery to it and one try of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Webhook", "WebhookAttempt", "WebhookDelivery"]


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery of an event to an endpoint (``status``: pending, delivering, delivered,
    failed or cancelled); ``next_attempt_at`` while it waits for a try, the last try's
    ``last_status_code``/``last_error``, and ``finished_at`` once delivered or given up."""

    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    created_at: str
    raw: dict[str, Any] = field(repr=False)
    next_attempt_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    finished_at: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookDelivery:
        return cls(
            id=str(data["id"]),
            event_id=str(data["event_id"]),
            event_type=str(data["event_type"]),
            endpoint_id=str(data["endpoint_id"]),
            status=str(data["status"]),
            attempts=int(data.get("attempts") or 0),
            created_at=str(data.get("created_at") or ""),
            raw=dict(data),
            next_attempt_at=data.get("next_attempt_at"),
            last_status_code=_opt_int(data.get("last_status_code")),
            last_error=data.get("last_error"),
            finished_at=data.get("finished_at"),
        )


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One try of a delivery: ``n`` counts every try, ``round`` the manual retries (1, then
    one more per retry) and ``attempt`` the try within its round; the answer's
    ``status_code`` (None: no answer), the ``error`` and the start of the answer's body."""

    n: int
    round: int
    attempt: int
    started_at: str
    duration_ms: float
    status_code: int | None
    error: str | None
    response_excerpt: str | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookAttempt:
        return cls(
            n=int(data["n"]),
            round=int(data["round"]),
            attempt=int(data["attempt"]),
            started_at=str(data["started_at"]),
            duration_ms=float(data.get("duration_ms") or 0.0),
            status_code=_opt_int(data.get("status_code")),
            error=data.get("error"),
            response_excerpt=data.get("response_excerpt"),
        )


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook endpoint; ``secret`` (it signs every delivery) only in the answer that
    created or rotated it; ``previous_secret_expires_at``: after a rotation, until when the
    old secret signs each delivery too."""

    id: str
    url: str
    events: list[str]
    description: str
    created_at: str
    secret: str | None = field(default=None, repr=False)
    previous_secret_expires_at: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Webhook:
        return cls(
            id=data["id"],
            url=str(data["url"]),
            events=[str(e) for e in data.get("events") or []],
            description=str(data.get("description") or ""),
            created_at=str(data.get("created_at") or ""),
            secret=data.get("secret"),
            previous_secret_expires_at=data.get("previous_secret_expires_at"),
        )
