"""The shapes of the review queue: its enums (``Queue`` and ``Status`` name column values and
live with the rows in :mod:`triaged.storage.review_repo`), the reviewer's actions, and an
item as the API shows it (shared by :mod:`~triaged.services.review_queue`,
:mod:`~triaged.services.review_items` and the reviewer-workspace modules)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from triaged.errors import InvalidInput
from triaged.routing import Bucket
from triaged.services.ids import as_utc
from triaged.storage.review_repo import PRIORITY, Queue, Status

__all__ = [
    "MAX_CLAIM",
    "MAX_PAGE",
    "PRIORITY",
    "QUEUE_BUCKET",
    "Action",
    "Queue",
    "Status",
    "iso",
    "item_public",
    "parse",
]

MAX_CLAIM = 1000
MAX_PAGE = 500


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


def iso(value: datetime | None) -> str | None:
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
        "claimed_at": None if expired else iso(m["claimed_at"]),
        "lease_expires_at": None if expired else iso(lease),
        "action": m["action"],
        "resolved_label": m["resolved_label"],
        "new_label": m["new_label"],
        "resolved_by": m["resolved_by"],
        "note": m["note"],
        "final_label": m["final_label"],
        "final_source": m["final_source"],
        "decided_at": iso(m["decided_at"]),
        "created_at": iso(m["created_at"]),
        "updated_at": iso(m["updated_at"]),
        "resolved_at": iso(m["resolved_at"]),
        "review_round": m["review_round"],
        "first_by": m["first_by"],
    }
