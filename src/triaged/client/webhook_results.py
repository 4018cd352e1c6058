"""The SDK's typed webhook results: an endpoint and one delivery to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Webhook", "WebhookDelivery"]


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery of an event to an endpoint (``status``: pending, delivering, delivered,
    failed or cancelled)."""

    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    created_at: str
    raw: dict[str, Any] = field(repr=False)

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
