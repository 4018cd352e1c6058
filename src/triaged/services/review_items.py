"""Listing and searching review items, and the counts per queue.

The items view filters by taxonomy, queue, status, who holds an item, text
(case-insensitive substring of the decision's text), label (the model's or the
final one), a confidence range, the date an item was queued, and a list of
decision ids (a gap cluster opened from the dashboard).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select

from triaged.errors import InvalidInput
from triaged.services.ids import as_utc
from triaged.services.review_rows import (
    MAX_PAGE,
    Queue,
    Status,
    available,
    item_public,
    item_select,
)
from triaged.storage.review import review_items
from triaged.storage.tables import decisions

__all__ = ["MAX_DECISION_IDS", "ItemFilter", "counts", "list_items"]

MAX_DECISION_IDS = 500


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
        conds.append(or_(d.label == flt.label, d.final_label == flt.label))
    if flt.confidence_min is not None:
        conds.append(d.confidence >= flt.confidence_min)
    if flt.confidence_max is not None:
        conds.append(d.confidence <= flt.confidence_max)
    if flt.since is not None:
        conds.append(c.created_at >= flt.since)
    if flt.until is not None:
        conds.append(c.created_at < flt.until)
    if flt.decision_ids is not None:
        ids = list(dict.fromkeys(flt.decision_ids))
        if len(ids) > MAX_DECISION_IDS:
            raise InvalidInput(
                f"at most {MAX_DECISION_IDS} decision ids",
                details={"field": "decision_ids", "count": len(ids)},
            )
        conds.append(c.decision_id.in_(ids))
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
    stmt = item_select().where(*_conditions(workspace_id, flt, now))
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
