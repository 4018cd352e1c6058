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
from triaged.storage.review_repo import PRIORITY, SECOND, Queue, Status

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
    "withhold_first_answer",
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


#: the first answer's fields, withheld while an item waits for its second, blind opinion
FIRST_ANSWER = ("action", "resolved_label", "new_label", "resolved_by", "note", "final_label")


def item_public(row: Any, now: datetime, viewer: str | None = None) -> dict[str, Any]:
    """An item as the API shows it to the key ``viewer`` (:func:`withhold_first_answer`)."""
    m = row._mapping
    status = m["status"]
    lease = m["lease_expires_at"]
    expired = status == Status.CLAIMED.value and lease is not None and as_utc(lease) < now
    return withhold_first_answer(_item_fields(m, status, expired, lease), viewer)


def withhold_first_answer(item: dict[str, Any], viewer: str | None) -> dict[str, Any]:
    """While an item waits for a second opinion (an overlap item, round 2), anyone but the
    first reviewer sees it without the first answer (its fields and ``first_by`` ``null``,
    its ``resolved`` events without their details and actor): the second reviewer answers
    blind, whatever face they use.  The decision's final label is unchanged (reviewer keys
    see it without, :func:`triaged.services.decisions.blind_for`), and shown again once the
    round is answered."""
    waiting = item["review_round"] == SECOND and item["status"] != Status.RESOLVED.value
    if not waiting or (viewer is not None and viewer == item["first_by"]):
        return item
    item.update(dict.fromkeys(FIRST_ANSWER))
    item["final_source"] = None
    item["first_by"] = None  # who answered first is not for the second reviewer either
    for event in item.get("history") or ():
        if event.get("event") == "resolved":
            event["details"] = {}
            event["actor"] = None
    return item


def _item_fields(m: Any, status: str, expired: bool, lease: Any) -> dict[str, Any]:
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
        # every runner-up says whether it is in the prediction set (null: the model has none)
        "alternatives": [
            {"label": a["label"], "confidence": a["confidence"], "in_set": a.get("in_set")}
            for a in (m["alternatives"] or [])
        ],
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
