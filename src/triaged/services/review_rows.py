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
from triaged.services.keys import Principal, Role
from triaged.storage.review_repo import PRIORITY, SECOND, SEES_ALL, Queue, Status

__all__ = [
    "MAX_CLAIM",
    "MAX_PAGE",
    "PRIORITY",
    "QUEUE_BUCKET",
    "SHOWN_STATUSES",
    "Action",
    "Queue",
    "Status",
    "iso",
    "item_public",
    "parse",
    "parse_status",
    "viewer_of",
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


#: the statuses an item shows (and the lists filter by): one handed back, or whose lease ran
#: out, is ``pending`` again (its history has the ``released`` or ``expired`` event)
SHOWN_STATUSES = (Status.PENDING.value, Status.CLAIMED.value, Status.RESOLVED.value)


def parse_status(value: str | None) -> Status | None:
    """The status filter of the item lists: one of :data:`SHOWN_STATUSES`."""
    if value is None:
        return None
    if value in SHOWN_STATUSES:
        return Status(value)
    hint = "; a released item is pending" if value == Status.RELEASED.value else ""
    raise InvalidInput(
        f"unknown status {value!r}; use one of {list(SHOWN_STATUSES)}{hint}",
        details={"field": "status", "value": value, "allowed": list(SHOWN_STATUSES)},
    )


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
    if status == Status.RELEASED.value:  # handed back: claimable, as a pending item is
        status = Status.PENDING.value
    return withhold_first_answer(_item_fields(m, status, expired, lease), viewer)


def viewer_of(principal: Principal) -> str:
    """Whose view of the items ``principal`` gets: its own key's, or every answer for an
    admin key (:data:`~triaged.storage.review_repo.SEES_ALL`)."""
    return SEES_ALL if principal.role is Role.ADMIN else principal.key_id


def withhold_first_answer(item: dict[str, Any], viewer: str | None) -> dict[str, Any]:
    """While an item waits for a second opinion (an overlap item, round 2), a reviewer key
    other than the first reviewer sees it without the first answer (its fields and
    ``first_by`` ``null``; in its history, the ``resolved`` and ``reopened`` events without
    their details and every event of the first reviewer without its actor): the second
    reviewer answers blind, whatever face they use.  The decision's final label is unchanged
    (reviewer keys see it without, :func:`triaged.services.decisions.blind_for`), and shown
    again once the round is answered.  Admin keys (:func:`viewer_of`) see it all."""
    waiting = item["review_round"] == SECOND and item["status"] != Status.RESOLVED.value
    first = item["first_by"]
    if not waiting or viewer == SEES_ALL or (viewer is not None and viewer == first):
        return item
    item.update(dict.fromkeys(FIRST_ANSWER))
    item["final_source"] = None
    item["first_by"] = None  # who answered first is not for the second reviewer either
    for event in item.get("history") or ():
        _blind_event(event, first)
    return item


def _blind_event(event: dict[str, Any], first: str | None) -> None:
    """``event`` without the first answer or who gave it (claimed, answered, took back)."""
    if event.get("event") in ("resolved", "reopened"):
        event["details"] = {}
        event["actor"] = None
    if first is not None and event.get("actor") == first:
        event["actor"] = None
    details = event.get("details") or {}
    if first is not None and details.get("claimed_by") == first:  # an expired claim of theirs
        event["details"] = {k: v for k, v in details.items() if k != "claimed_by"}


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
        "redacted_at": iso(m["redacted_at"]),  # its text and metadata were erased
        "created_at": iso(m["created_at"]),
        "updated_at": iso(m["updated_at"]),
        "resolved_at": iso(m["resolved_at"]),
        "review_round": m["review_round"],
        "first_by": m["first_by"],
    }
