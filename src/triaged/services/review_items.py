"""Listing and searching review items, and the counts per queue.

The items view filters by taxonomy, queue, status, who holds an item, text
(case-insensitive substring of the decision's text), label (the model's or the
final one), a confidence range, the date an item was queued, and a list of
decision ids (a gap cluster opened from the dashboard); the query is
:func:`triaged.storage.review_repo.list_page`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from triaged.errors import InvalidInput
from triaged.services.ids import as_utc
from triaged.services.label_lineage import Lineage, lineage
from triaged.services.review_rows import MAX_PAGE, Queue, Status, item_public
from triaged.storage import review_repo
from triaged.storage.review_repo import ItemFilter

__all__ = [
    "MAX_DECISION_IDS",
    "ItemFilter",
    "counts",
    "item_page",
    "list_items",
    "with_names_now",
]

MAX_DECISION_IDS = 500


def _check_decision_ids(flt: ItemFilter) -> None:
    if flt.decision_ids is not None:
        ids = list(dict.fromkeys(flt.decision_ids))
        if len(ids) > MAX_DECISION_IDS:
            raise InvalidInput(
                f"at most {MAX_DECISION_IDS} decision ids",
                details={"field": "decision_ids", "count": len(ids)},
            )


def list_items(
    conn: Connection,
    workspace_id: str,
    flt: ItemFilter,
    *,
    now: datetime,
    limit: int = 50,
    cursor: str | None = None,
    viewer: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Oldest first, as the key ``viewer`` may see them; ``cursor`` is the last id of the
    previous page."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", details={"limit": limit})
    _check_decision_ids(flt)
    rows = review_repo.list_page(conn, workspace_id, flt, now=now, limit=limit, cursor=cursor)
    page = with_names_now(conn, rows[:limit], [item_public(r, now, viewer) for r in rows[:limit]])
    return page, (page[-1]["id"] if len(rows) > limit and page else None)


def with_names_now(
    conn: Connection, rows: Sequence[Any], items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``items`` (made of ``rows``, in order) with ``label_now`` on the item and on each
    runner-up: the name the label goes by in its taxonomy now (the same name unless renamed
    or merged since; null when removed), so that a reviewer reads and confirms the label as
    it is called today.  Nothing is read but the current versions while every item's
    decision was made under its taxonomy's current version."""
    versions: dict[str, set[int]] = {}
    for row in rows:
        versions.setdefault(str(row.taxonomy_id), set()).add(int(row.taxonomy_version))
    lines: dict[str, Lineage] = {t: lineage(conn, t, vs) for t, vs in versions.items()}
    for row, item in zip(rows, items, strict=True):
        lin, version = lines[str(row.taxonomy_id)], int(row.taxonomy_version)
        item["label_now"] = lin.label_now(version, item["label"])
        for alt in item["alternatives"]:
            alt["label_now"] = lin.label_now(version, alt["label"])
    return items


def item_page(
    conn: Connection,
    workspace_id: str,
    flt: ItemFilter,
    *,
    now: datetime,
    limit: int,
    cursor: str | None,
    viewer: str,
    taxonomy: str | None,
) -> dict[str, Any]:
    """A page of :func:`list_items` as the key ``viewer`` may see it, with the
    :func:`counts` per queue of ``taxonomy`` (the review list and the search)."""
    page, next_cursor = list_items(
        conn, workspace_id, flt, now=now, limit=limit, cursor=cursor, viewer=viewer
    )
    queues = counts(conn, workspace_id, now=now, taxonomy=taxonomy)
    return {"items": page, "next_cursor": next_cursor, "counts": queues}


def counts(
    conn: Connection, workspace_id: str, *, now: datetime, taxonomy: str | None = None
) -> dict[str, dict[str, Any]]:
    """Per queue: pending (claimable), claimed (live lease), resolved, and oldest open age."""
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
    rows = review_repo.count_rows(conn, workspace_id, now=now, taxonomy=taxonomy)
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
