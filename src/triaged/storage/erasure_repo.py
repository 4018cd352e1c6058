"""Erasing decisions: the SQL that removes a decision's text and metadata from every row
that holds a copy (:mod:`triaged.services.erasure` says what and why).

A decision row stays (its label, confidence, bucket, review outcome and routing evidence
are no personal data, and the lane's figures rest on them) with an empty text, no
metadata and ``redacted_at`` set.  Copies: reviewers' notes on its review item and in its
review events, the ``metadata`` of its ``decision.*`` webhook events, and stored responses
of idempotency keys (classify answers carry the metadata).  A review item not yet resolved
goes, with its events and answers: nobody can review an empty text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from triaged.storage.review import review_events, review_items
from triaged.storage.review_workspace import review_judgments
from triaged.storage.tables import decisions, idempotency_keys
from triaged.storage.webhooks import webhook_events

__all__ = [
    "CHUNK",
    "erase",
    "expired_decisions",
    "known_ids",
    "with_external_ids",
]

CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit
# how far from its decisions' time a classify answer may have been stored (a batch of 100
# long texts on a loaded machine takes seconds, not an hour)
ANSWER_SLACK = timedelta(hours=1)


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


def known_ids(conn: Connection, workspace_id: str, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` that are decisions of the workspace."""
    d = decisions.c
    out: set[str] = set()
    for part in _chunks(list(dict.fromkeys(ids))):
        rows = conn.execute(select(d.id).where(d.workspace_id == workspace_id, d.id.in_(part)))
        out.update(str(r) for r in rows.scalars())
    return out


def with_external_ids(
    conn: Connection, workspace_id: str, external_ids: Sequence[str]
) -> list[str]:
    """The ids of the workspace's decisions sent with any of ``external_ids``."""
    d = decisions.c
    out: list[str] = []
    for part in _chunks(list(dict.fromkeys(external_ids))):
        rows = conn.execute(
            select(d.id).where(d.workspace_id == workspace_id, d.external_id.in_(part))
        )
        out.extend(str(r) for r in rows.scalars())
    return out


def expired_decisions(conn: Connection, before: datetime, limit: int) -> list[Any]:
    """(workspace_id, id) of up to ``limit`` decisions made before ``before``, not yet
    erased and not waiting for a person (a held decision's workflow waits for its review:
    the retention leaves it until it is answered), oldest first (the retention's next
    batch)."""
    d, r = decisions.c, review_items.c
    waiting = select(r.id).where(r.decision_id == d.id, r.status != "resolved").exists()
    return list(
        conn.execute(
            select(d.workspace_id, d.id)
            .where(d.created_at < before, d.redacted_at.is_(None), ~waiting)
            .order_by(d.created_at, d.id)
            .limit(limit)
        )
    )


def erase(
    conn: Connection, workspace_id: str, ids: Sequence[str], now: datetime
) -> tuple[int, list[Any]]:
    """Erase the workspace's decisions ``ids`` (see the module docstring); returns how many
    were not erased before, and the review items withdrawn (``id``, ``decision_id``,
    ``queue``, ``external_id``)."""
    erased, withdrawn = 0, []
    for part in _chunks(list(dict.fromkeys(ids))):
        _erase_idempotent_answers(conn, workspace_id, part)  # before: reads created_at only
        erased += _erase_decisions(conn, workspace_id, part, now)
        withdrawn += _erase_review(conn, workspace_id, part)
        _erase_webhook_events(conn, workspace_id, part)
    return erased, withdrawn


def _erase_decisions(conn: Connection, workspace_id: str, ids: list[str], now: datetime) -> int:
    d = decisions.c
    scope = (d.workspace_id == workspace_id, d.id.in_(ids))
    fresh = conn.execute(
        update(decisions)
        .where(*scope, d.redacted_at.is_(None))
        .values(text="", metadata=None, redacted_at=now)
    )
    return int(fresh.rowcount or 0)


def _erase_review(conn: Connection, workspace_id: str, ids: list[str]) -> list[Any]:
    """Notes go; unanswered items go: returns those (with their decision's external id)."""
    r, e, j = review_items.c, review_events.c, review_judgments.c
    items = conn.execute(
        select(r.id, r.status, r.decision_id, r.queue, decisions.c.external_id)
        .join(decisions, decisions.c.id == r.decision_id)
        .where(r.workspace_id == workspace_id, r.decision_id.in_(ids))
    ).all()
    withdrawn = [i for i in items if i.status != "resolved"]
    if withdrawn:
        open_items = [str(i.id) for i in withdrawn]
        conn.execute(delete(review_judgments).where(j.item_id.in_(open_items)))
        conn.execute(delete(review_events).where(e.item_id.in_(open_items)))
        conn.execute(delete(review_items).where(r.id.in_(open_items)))
    done = [str(i.id) for i in items if i.status == "resolved"]
    if not done:
        return withdrawn
    conn.execute(update(review_items).where(r.id.in_(done)).values(note=None))
    for event in conn.execute(select(e.id, e.details).where(e.item_id.in_(done))).all():
        details = dict(event.details or {})
        if "note" in details:
            details.pop("note")
            conn.execute(update(review_events).where(e.id == event.id).values(details=details))
    return withdrawn


def _erase_webhook_events(conn: Connection, workspace_id: str, ids: list[str]) -> None:
    """The ``metadata`` of the decisions' ``decision.*`` events (still to be delivered, or
    kept for the deliveries' history) becomes null."""
    w = webhook_events.c
    rows = conn.execute(
        select(w.id, w.payload).where(w.workspace_id == workspace_id, w.decision_id.in_(ids))
    ).all()
    for row in rows:
        payload = dict(row.payload or {})
        data = dict(payload.get("data") or {})
        if data.get("metadata") is None:
            continue
        payload["data"] = {**data, "metadata": None}
        conn.execute(update(webhook_events).where(w.id == row.id).values(payload=payload))


def _erase_idempotent_answers(conn: Connection, workspace_id: str, ids: list[str]) -> None:
    """Stored classify answers (replayed to a retry) lose the decisions' metadata (and
    text, which no answer carries today).  An answer is stored in the transaction that logs
    its decisions: only keys stored within ``ANSWER_SLACK`` of them are read."""
    d, k = decisions.c, idempotency_keys.c
    first, last = conn.execute(
        select(func.min(d.created_at), func.max(d.created_at)).where(
            d.workspace_id == workspace_id, d.id.in_(ids)
        )
    ).one()
    if first is None:
        return
    rows = conn.execute(
        select(k.key, k.response).where(
            k.workspace_id == workspace_id,
            k.created_at >= first - ANSWER_SLACK,
            k.created_at <= last + ANSWER_SLACK,
        )
    ).all()
    wanted = set(ids)
    for row in rows:
        response, changed = _scrub(row.response, wanted)
        if changed:
            conn.execute(
                update(idempotency_keys)
                .where(k.workspace_id == workspace_id, k.key == row.key)
                .values(response=response)
            )


def _scrub(value: Any, ids: set[str]) -> tuple[Any, bool]:
    """``value`` (a stored JSON response) with every object whose ``id`` is one of ``ids``
    stripped of its text and metadata; and whether anything changed."""
    if isinstance(value, list):
        parts = [_scrub(v, ids) for v in value]
        return [p for p, _ in parts], any(c for _, c in parts)
    if not isinstance(value, dict):
        return value, False
    out: dict[str, Any] = {}
    changed = False
    for key, v in value.items():
        out[key], c = _scrub(v, ids)
        changed = changed or c
    if out.get("id") in ids:
        for field in ("text", "metadata"):
            if out.get(field) not in (None, ""):
                out[field] = "" if field == "text" else None
                changed = True
    return out, changed
