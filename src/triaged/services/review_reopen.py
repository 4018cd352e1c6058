"""Undo: a reviewer takes back their own latest answer to an item within the taxonomy's
reopen window (:mod:`~triaged.services.review_settings`, default 15 minutes).

The answer is withdrawn (kept in ``review_judgments`` with ``withdrawn_at``), the item
goes back to the state before it, claimed by the same reviewer under a fresh lease,
and the decision's final label is restored: none for a first review, the first
reviewer's for an admin's adjudication; a second opinion never set it.  When the
final label a workflow saw changes, a ``decision.reopened`` webhook event goes out in
the same transaction (its payload names the label taken back); resolving the item
again sends the usual ``decision.resolved`` / ``decision.corrected``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from triaged.errors import Conflict, NotFound
from triaged.services import agreement, review_settings
from triaged.services.ids import as_utc
from triaged.services.review_rows import Action, Status
from triaged.storage import agreement_repo, review_repo

__all__ = ["Reopened", "last_reopenable", "reopen"]


@dataclass(frozen=True, slots=True)
class Reopened:
    item_id: str
    previous_final_label: str | None
    final_label: str | None
    final_changed: bool
    withdrawn: dict[str, Any]  # the answer taken back: round, action, label


def _refuse(item_id: str, reason: str, message: str, **details: Any) -> Conflict:
    return Conflict(message, details={"item_id": item_id, "reason": reason, **details})


def _check(
    row: Any, answer: Any, key_id: str, now: datetime, window: int, answered_before: bool
) -> None:
    if answer is not None and answer.reviewer != key_id and answered_before:
        # the first reviewer after a second opinion: their answer stands, but is not the
        # latest (this said "no answer of yours" until 5 December)
        raise _refuse(
            row.id,
            "answered_since",
            f"review item {row.id}: another reviewer answered it after you; only the latest "
            "answer can be taken back",
        )
    if answer is None or answer.reviewer != key_id:
        raise _refuse(
            row.id, "not_your_answer", f"review item {row.id}: no answer of yours to reopen"
        )
    live = row.lease_expires_at is not None and as_utc(row.lease_expires_at) >= now
    if row.status == Status.CLAIMED.value and live and row.claimed_by != key_id:
        raise _refuse(row.id, "claimed_by_other", f"review item {row.id} is claimed by another key")
    age = (now - as_utc(answer.created_at)).total_seconds()
    if age > window:
        raise _refuse(
            row.id,
            "reopen_window_passed",
            f"review item {row.id} was answered {int(age)} s ago; the reopen window is {window} s",
            window_seconds=window,
        )


def _restored(previous: Any) -> dict[str, Any]:
    """The item's answer fields as they were after ``previous`` (None: unanswered)."""
    if previous is None:
        return {
            "action": None,
            "resolved_label": None,
            "new_label": None,
            "resolved_by": None,
            "resolved_at": None,
            "note": None,
            "first_by": None,
        }
    new = previous.action == Action.NEW_CATEGORY.value
    return {
        "action": previous.action,
        "resolved_label": None
        if new or previous.action == Action.AMBIGUOUS.value
        else previous.label,
        "new_label": previous.label if new else None,
        "resolved_by": previous.reviewer,
        "resolved_at": previous.created_at,
    }


def reopen(
    conn: Connection,
    *,
    workspace_id: str,
    key_id: str,
    item_id: str,
    now: datetime,
    lease_seconds: float,
) -> Reopened:
    """Take back ``key_id``'s latest answer to ``item_id``; 409 when it is not theirs,
    someone else holds the item, or the window has passed."""
    row = review_repo.lock_item(conn, workspace_id, item_id)
    if row is None:
        raise NotFound(f"no review item {item_id!r}", details={"item_id": item_id})
    window = review_settings.get(conn, row.taxonomy_id).reopen_window_seconds
    answer = agreement_repo.latest_answer(conn, item_id)
    mine = agreement_repo.answer_of(conn, item_id, agreement.FIRST)
    _check(row, answer, key_id, now, window, mine is not None and mine.reviewer == key_id)
    agreement.withdraw(conn, answer.id, now)
    rnd = int(answer.review_round)
    previous = agreement.answer_of(conn, item_id, rnd - 1) if rnd > 1 else None
    review_repo.restore_item(
        conn,
        item_id,
        {
            **_restored(previous),
            "review_round": rnd,
            "status": Status.CLAIMED.value,
            "claimed_by": key_id,
            "claimed_at": now,
            "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "updated_at": now,
        },
    )
    before = review_repo.decision_final_label(conn, row.decision_id)
    after = before
    if rnd == agreement.FIRST:
        after = None
        review_repo.set_final_label(
            conn, row.decision_id, final_label=None, final_source=None, resolved_at=None
        )
    elif rnd == agreement.ADJUDICATION:
        first = agreement.answer_of(conn, item_id, agreement.FIRST)
        after = first.label if first is not None else None
        review_repo.set_final_label(conn, row.decision_id, final_label=after)
    withdrawn = {"round": rnd, "action": answer.action, "label": answer.label}
    review_repo.insert_reopened_event(
        conn,
        item_id=item_id,
        workspace_id=workspace_id,
        decision_id=row.decision_id,
        actor=key_id,
        details={**withdrawn, "previous_final_label": before, "final_label": after},
        now=now,
    )
    return Reopened(
        item_id=item_id,
        previous_final_label=before,
        final_label=after,
        final_changed=rnd == agreement.FIRST or (rnd == agreement.ADJUDICATION and before != after),
        withdrawn=withdrawn,
    )


def last_reopenable(
    conn: Connection,
    *,
    workspace_id: str,
    key_id: str,
    now: datetime,
    taxonomy: str | None = None,
) -> str | None:
    """The item of ``key_id``'s most recent standing answer still inside its window."""
    recent = agreement_repo.recent_answers(
        conn,
        workspace_id=workspace_id,
        reviewer=key_id,
        since=now - timedelta(seconds=review_settings.MAX_REOPEN_WINDOW_S),
        taxonomy=taxonomy,
    )
    for r in recent:
        latest = agreement_repo.latest_answer(conn, r.item_id)
        if latest is None or latest.id != r.id:
            continue
        window = review_settings.get(conn, r.taxonomy_id).reopen_window_seconds
        if (now - as_utc(r.created_at)).total_seconds() <= window:
            return str(r.item_id)
    return None
