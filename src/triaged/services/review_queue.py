"""The review queue: enqueue, claim with a lease, resolve, release, list and history.

Items move ``pending -> claimed -> resolved``; ``release`` (or a lease that ran
out) hands an item back.  Claims are exclusive under concurrency: on PostgreSQL
the candidates are picked with ``SELECT ... FOR UPDATE SKIP LOCKED`` so
concurrent reviewers never wait on each other's rows; on SQLite the write
transaction is ``BEGIN IMMEDIATE`` and the claim is one conditional ``UPDATE``.
Every state change is written to ``review_events`` in the same transaction.

An item is *available* when it is pending, released, or claimed with a lease
that has expired; claims take ``hold`` items first (they block a workflow), then
``review``, then ``audit``, oldest first within a queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from triaged.errors import Conflict, InvalidInput, NotFound, TaxonomyError, ValidationFailed
from triaged.inputs import check_text
from triaged.routing import Bucket
from triaged.services import agreement, review_settings
from triaged.services.ids import as_utc, new_id
from triaged.services.label_lineage import current_names
from triaged.services.review_items import ItemFilter, counts, list_items, with_names_now
from triaged.services.review_rows import (
    MAX_CLAIM,
    MAX_PAGE,
    PRIORITY,
    QUEUE_BUCKET,
    Action,
    Queue,
    Status,
    iso,
    item_public,
    parse,
    viewer_of,
    withhold_first_answer,
)
from triaged.storage import agreement_repo, review_repo
from triaged.taxonomy import OOS_LABEL
from triaged.taxonomy_rules import MAX_LABEL_NAME, same_name
from triaged.taxonomy_rules import check_name as check_label_name

__all__ = [
    "MAX_CLAIM",
    "MAX_PAGE",
    "QUEUE_BUCKET",
    "Action",
    "ItemFilter",
    "Queue",
    "Resolution",
    "Status",
    "claim",
    "counts",
    "get_item",
    "item_public",
    "list_items",
    "parse",
    "queue_for",
    "release",
    "resolve",
    "viewer_of",
]

MAX_LABEL = MAX_LABEL_NAME
MAX_NOTE = 2000
FINAL_SOURCE = "review"


def queue_for(bucket: str, audited: bool) -> Queue | None:
    """The queue a decision in ``bucket`` goes to (``audited``: drawn into the audit sample)."""
    if bucket == Bucket.HOLD.value:
        return Queue.HOLD
    if bucket == Bucket.REVIEW.value:
        return Queue.REVIEW
    return Queue.AUDIT if audited else None


def created_events_of(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items with the details of their ``created`` event (the queue)."""
    return [{**it, "event_details": {"queue": it["queue"]}} for it in items]


def items_for(
    decision_rows: Sequence[dict[str, Any]], queues: Sequence[Queue], now: datetime
) -> list[dict[str, Any]]:
    """One pending review item row per decision row, in ``queues``."""
    return [
        {
            "id": new_id("rvi"),
            "workspace_id": d["workspace_id"],
            "decision_id": d["id"],
            "taxonomy_id": d["taxonomy_id"],
            "taxonomy": d["taxonomy"],
            "queue": q.value,
            "status": Status.PENDING.value,
            "created_at": now,
            "updated_at": now,
        }
        for d, q in zip(decision_rows, queues, strict=True)
    ]


def claim(
    conn: Connection,
    *,
    workspace_id: str,
    key_id: str,
    limit: int,
    lease_seconds: float,
    now: datetime,
    taxonomy: str | None = None,
    queue: Queue | None = None,
    item_ids: Sequence[str] | None = None,
    viewer: str | None = None,
) -> list[dict[str, Any]]:
    """Claim up to ``limit`` available items for ``key_id`` with a lease of ``lease_seconds``
    (only among ``item_ids`` when given), as ``viewer`` (default ``key_id``) may see them.
    A second opinion never goes to the key that answered first; a disagreement only to an
    admin key (:mod:`.agreement`)."""
    if not 1 <= limit <= MAX_CLAIM:
        raise InvalidInput(f"limit must be between 1 and {MAX_CLAIM}", details={"limit": limit})
    candidates = review_repo.claim_candidates(
        conn,
        workspace_id=workspace_id,
        key_id=key_id,
        limit=limit,
        now=now,
        taxonomy=taxonomy,
        queue=queue,
        item_ids=item_ids,
    )
    if not candidates:
        return []
    lease = now + timedelta(seconds=lease_seconds)
    claimed = review_repo.mark_claimed(conn, list(candidates), key_id, now, lease)
    expired = [
        {**r._mapping, "event_details": {"claimed_by": r.claimed_by}}
        for i, r in candidates.items()
        if i in claimed and r.status == Status.CLAIMED.value
    ]
    review_repo.insert_events(conn, expired, "expired", None, now)
    review_repo.insert_events(
        conn,
        [dict(r._mapping) for i, r in candidates.items() if i in claimed],
        "claimed",
        key_id,
        now,
        {"lease_expires_at": lease.isoformat()},
    )
    rows = review_repo.items_with_ids(conn, list(claimed))
    items = with_names_now(conn, rows, [item_public(r, now, viewer or key_id) for r in rows])
    return sorted(items, key=lambda it: (PRIORITY[it["queue"]], it["id"]))


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a reviewer decided, as applied to the decision."""

    item: dict[str, Any]
    event_type: str | None  # the webhook event to emit, if any
    changed: bool  # the final label differs from the model's


def _locked_item(conn: Connection, workspace_id: str, item_id: str) -> Any:
    row = review_repo.lock_item(conn, workspace_id, item_id)
    if row is None:
        raise NotFound(f"no review item {item_id!r}", details={"item_id": item_id})
    return row


def _must_hold(row: Any, key_id: str, now: datetime, verb: str) -> None:
    if row.status == Status.RESOLVED.value:
        # who answered it and how: a client retrying after a lost answer learns whether its
        # own resolution landed without a second request
        raise Conflict(
            f"review item {row.id} is already resolved ({row.action} by {row.resolved_by})",
            details={
                "item_id": row.id,
                "status": row.status,
                "reason": "already_resolved",
                "action": row.action,
                "resolved_by": row.resolved_by,
                "resolved_at": as_utc(row.resolved_at).isoformat() if row.resolved_at else None,
            },
        )
    if row.status != Status.CLAIMED.value or row.claimed_by != key_id:
        shown = Status.PENDING.value if row.status == Status.RELEASED.value else row.status
        raise Conflict(
            f"cannot {verb} review item {row.id}: it is not claimed by this key; claim it first",
            details={"item_id": row.id, "status": shown, "reason": "not_claimed_by_caller"},
        )
    lease = row.lease_expires_at
    if lease is not None and as_utc(lease) < now:  # shown as pending, claimable by anyone
        raise Conflict(
            f"cannot {verb} review item {row.id}: this key's lease on it expired at "
            f"{as_utc(lease).isoformat()}; claim it again",
            details={
                "item_id": row.id,
                "status": Status.PENDING.value,
                "reason": "not_claimed_by_caller",
                "lease_expired_at": as_utc(lease).isoformat(),
            },
        )


def _takes_no(action: Action, given: Sequence[str], message: str, reason: str) -> ValidationFailed:
    """The 422 for fields ``given`` that ``action`` does not take (nothing is dropped silently)."""
    return ValidationFailed(
        message,
        details={
            "field": given[0],
            "action": action.value,
            "reason": reason,
            "errors": [{"field": f, "message": message, "type": reason} for f in given],
        },
    )


def _check_confirm(
    model_label: str, label: str | None, new_label: str | None, labels: Sequence[str]
) -> None:
    """``confirm`` keeps the model's label: another ``label`` (or a ``new_label``) is a 422, and
    so is a model label since removed from the taxonomy, like ``correct`` to it."""
    if label is not None and label != model_label:
        message = (
            f"action 'confirm' keeps the model's label {model_label!r}; "
            f"to set {label!r} use action 'correct'"
        )
        raise _takes_no(Action.CONFIRM, ["label"], message, "confirm_keeps_model_label")
    if new_label is not None:
        message = "action 'confirm' takes no 'new_label'; to propose one use action 'new_category'"
        raise _takes_no(Action.CONFIRM, ["new_label"], message, "confirm_keeps_model_label")
    if model_label not in labels:
        raise ValidationFailed(
            f"unknown label {model_label!r}: the model's label is no longer in the taxonomy; "
            "use action 'correct' with an existing label, or 'out_of_scope'",
            details={"field": "label", "label": model_label, "reason": "unknown_label"},
        )


def _check_new_label(name: str, labels: Sequence[str]) -> None:
    """A proposed category follows the rules of a taxonomy's label names (it becomes one)."""
    if same_name([OOS_LABEL], name.strip()) is not None:  # "OOS" too: the same word
        raise ValidationFailed(
            f"{OOS_LABEL!r} (in any case) is reserved for out-of-scope inputs and cannot be a "
            "new category; use action 'out_of_scope'",
            details={"field": "new_label", "label": name, "reason": "reserved_label"},
        )
    try:
        check_label_name(name, "new_label")
    except TaxonomyError as exc:
        raise ValidationFailed(
            exc.message, details={"field": "new_label", "reason": "invalid_label_name"}
        ) from None
    if name in labels:
        raise ValidationFailed(
            f"label {name!r} already exists; use action 'correct'",
            details={"field": "new_label", "label": name, "reason": "label_exists"},
        )
    same = same_name(list(labels), name)
    if same is not None:  # "Billing" beside "billing": one category written twice
        raise ValidationFailed(
            f"label {same!r} already exists (new_label {name!r} differs only in case or Unicode "
            "form); use action 'correct'",
            details={"field": "new_label", "label": same, "reason": "label_exists"},
        )


def _final_label(
    action: Action,
    model_label: str,
    label: str | None,
    new_label: str | None,
    labels: Sequence[str],
) -> tuple[str | None, str | None, str | None]:
    """(final label, resolved label, new label) for ``action``; raises on bad input before
    anything is written (a refused answer leaves the item claimed and unchanged): a 422
    ``validation_error`` whose ``details.reason`` says why, as for any JSON body the API
    cannot take."""
    if action is Action.OUT_OF_SCOPE:
        given = [f for f, v in (("label", label), ("new_label", new_label)) if v is not None]
        if given:
            message = f"action 'out_of_scope' takes no {given[0]!r}: the input fits no label"
            raise _takes_no(action, given, message, "out_of_scope_takes_no_label")
        return OOS_LABEL, OOS_LABEL, None
    if action is Action.CONFIRM:
        _check_confirm(model_label, label, new_label, labels)
        return model_label, model_label, None
    if action is Action.CORRECT:
        if new_label is not None:
            message = "action 'correct' takes no 'new_label'; to propose one use 'new_category'"
            raise _takes_no(action, ["new_label"], message, "correct_takes_no_new_label")
        label = (label or "").strip()  # as a new category's name and an example's label are
        if not label:
            raise ValidationFailed(
                "action 'correct' needs 'label'",
                details={"field": "label", "action": action.value, "reason": "label_required"},
            )
        if label not in labels:
            raise ValidationFailed(
                f"unknown label {label!r}; to propose a new one use action 'new_category'",
                details={"field": "label", "label": label, "reason": "unknown_label"},
            )
        return label, label, None
    if action is Action.NEW_CATEGORY:
        if label is not None and new_label is not None and label != new_label:
            message = "action 'new_category' takes its name in 'new_label' only (not 'label')"
            raise _takes_no(action, ["label"], message, "new_category_takes_new_label")
        name = (new_label or label or "").strip()
        if not name or len(name) > MAX_LABEL:
            raise ValidationFailed(
                f"action 'new_category' needs 'new_label' (1 to {MAX_LABEL} characters)",
                details={"field": "new_label", "reason": "new_label_required"},
            )
        _check_new_label(name, labels)
        return name, None, name
    given = [f for f, v in (("label", label), ("new_label", new_label)) if v is not None]
    if given:  # ambiguous: no label at all
        message = f"action {action.value!r} takes no {given[0]!r}: it sets no label"
        raise _takes_no(action, given, message, "ambiguous_takes_no_label")
    return None, None, None


def _mark_answered(
    conn: Connection,
    row: Any,
    key_id: str,
    values: dict[str, Any],
    next_round: int | None,
    now: datetime,
) -> None:
    """Write the answer to the item: resolved, or back in the queue for its next round."""
    more: dict[str, Any] = {"status": Status.RESOLVED.value}
    if next_round is not None:
        more = {
            "status": Status.PENDING.value,
            "review_round": next_round,
            "first_by": key_id if row.review_round == agreement.FIRST else row.first_by,
            "claimed_by": None,
            "claimed_at": None,
        }
    # False: lost a race with a claim after the lease ran out
    if not review_repo.answer_item(conn, row.id, key_id, {**values, **more}, now):
        raise Conflict(
            f"review item {row.id} is no longer claimed by this key",
            details={"item_id": row.id, "reason": "not_claimed_by_caller"},
        )


def _webhook_type(
    row: Any, changed: bool, final: str | None, previous_final: str | None, reopened: bool
) -> str | None:
    """Round 1: ``decision.resolved`` for a held item, ``decision.corrected`` for a changed
    label; round 2 (a second opinion) changes nothing; round 3 (an admin settling a
    disagreement): ``decision.corrected`` when it changes the final label.  A round-1
    answer given again after a reopen (whose ``decision.reopened`` told the workflow the
    final label is none) always sends one: ``decision.resolved`` when it is the model's."""
    if row.review_round == agreement.SECOND:
        return None
    if row.review_round == agreement.ADJUDICATION:
        return "decision.corrected" if final != previous_final else None
    if row.queue == Queue.HOLD.value:
        return "decision.resolved"
    if changed:
        return "decision.corrected"
    return "decision.resolved" if reopened else None


def _check_note(note: str | None) -> None:
    """A reviewer's note, from any face (the API's schema, a web form, the SDK): at most
    ``MAX_NOTE`` characters, no NUL or lone surrogate (PostgreSQL cannot store a NUL)."""
    if note is None:
        return
    if len(note) > MAX_NOTE:
        raise ValidationFailed(
            f"note: at most {MAX_NOTE} characters, got {len(note)}",
            details={"field": "note", "limit": MAX_NOTE, "got": len(note)},
        )
    check_text(note, "note")


def _current_name(conn: Connection, taxonomy_id: str, dec: Any, labels: Sequence[str]) -> str:
    """The model's label under the name it goes by now: confirming a decision whose label
    was renamed (or merged into another) since confirms the label it continues as."""
    if dec.label in labels:
        return str(dec.label)
    version = int(dec.taxonomy_version)
    return current_names(conn, taxonomy_id, {version})[version].get(dec.label, str(dec.label))


def resolve(
    conn: Connection,
    *,
    workspace_id: str,
    key_id: str,
    item_id: str,
    action: Action,
    labels: Sequence[str],
    now: datetime,
    label: str | None = None,
    new_label: str | None = None,
    note: str | None = None,
    viewer: str | None = None,
) -> Resolution:
    """Resolve a claimed item and set its decision's final label; 409 unless the caller holds
    it.  An overlap item goes on to a second reviewer; a second opinion never changes the
    final label; an admin's answer to a disagreement does (:mod:`.agreement`)."""
    _check_note(note)
    row = _locked_item(conn, workspace_id, item_id)
    _must_hold(row, key_id, now, "resolve")
    dec = review_repo.decision_labels(conn, row.decision_id)
    model_label = _current_name(conn, row.taxonomy_id, dec, labels)
    renamed = dec.label != model_label
    if action is Action.CORRECT and renamed and label == model_label and new_label is None:
        # "correcting" a renamed label to its new name is confirming it: recorded as such,
        # so every report counts the model right (they compare the label as decided)
        action, label = Action.CONFIRM, None
    reopened = row.review_round == agreement.FIRST and agreement_repo.withdrawn_in_round(
        conn, row.id, agreement.FIRST
    )
    final, resolved_label, proposed = _final_label(action, model_label, label, new_label, labels)
    overlap = review_settings.get(conn, row.taxonomy_id).overlap_rate
    next_round = agreement.next_round(conn, row, final, overlap)
    agreement.record(conn, row, reviewer=key_id, action=action.value, label=final, now=now)
    values = {
        "action": action.value,
        "resolved_label": resolved_label,
        "new_label": proposed,
        "note": note or None,
    }
    _mark_answered(conn, row, key_id, values, next_round, now)
    if row.review_round != agreement.SECOND:
        review_repo.set_final_label(
            conn, row.decision_id, final_label=final, final_source=FINAL_SOURCE, resolved_at=now
        )
    changed = (
        action in (Action.CORRECT, Action.NEW_CATEGORY, Action.OUT_OF_SCOPE)
        and final != model_label
    )
    details = {
        "action": action.value,
        "model_label": model_label,
        "final_label": final,
        "label": resolved_label,
        "new_label": proposed,
        "queue": row.queue,
        "round": row.review_round,
        **({"next_round": next_round} if next_round is not None else {}),
        **({"note": note} if note else {}),
    }
    review_repo.insert_events(conn, [dict(row._mapping)], "resolved", key_id, now, details)
    event_type = _webhook_type(row, changed, final, dec.final_label, reopened)
    item = get_item(conn, workspace_id, item_id, now=now, history=False, viewer=viewer or key_id)
    return Resolution(item=item, event_type=event_type, changed=changed)


def release(
    conn: Connection,
    *,
    workspace_id: str,
    key_id: str,
    item_id: str,
    now: datetime,
    viewer: str | None = None,
    admin: bool = False,
) -> dict[str, Any]:
    """Hand a claimed item back to the queue: by the key that holds it, or by an ``admin``
    key whoever holds it (a reviewer may claim up to 1,000 items for up to a day; without
    this only revoking their key freed them)."""
    row = _locked_item(conn, workspace_id, item_id)
    holder = row.claimed_by if admin and row.status == Status.CLAIMED.value else key_id
    _must_hold(row, holder, now, "release")
    if not review_repo.release_item(conn, item_id, holder, now):
        raise Conflict(
            f"review item {item_id} is no longer claimed by this key",
            details={"item_id": item_id, "reason": "not_claimed_by_caller"},
        )
    details = {"holder": holder} if holder != key_id else None
    review_repo.insert_events(conn, [dict(row._mapping)], "released", key_id, now, details)
    return get_item(conn, workspace_id, item_id, now=now, history=False, viewer=viewer or key_id)


_EVENT_ORDER = {
    "created": 0,
    "expired": 1,
    "claimed": 2,
    "released": 3,
    "resolved": 4,
    "reopened": 5,
}


def history(conn: Connection, item_id: str) -> list[dict[str, Any]]:
    """Events oldest first (same-instant events in their logical order)."""
    rows = sorted(
        review_repo.item_events(conn, item_id),
        key=lambda r: (as_utc(r.created_at), _EVENT_ORDER.get(r.event, 9), r.id),
    )
    return [
        {
            "id": r.id,
            "event": r.event,
            "actor": r.actor,
            "details": r.details,
            "at": iso(r.created_at),
        }
        for r in rows
    ]


def get_item(
    conn: Connection,
    workspace_id: str,
    item_id: str,
    *,
    now: datetime,
    history: bool = True,
    viewer: str | None = None,
) -> dict[str, Any]:
    """One item as the key ``viewer`` may see it (:func:`withhold_first_answer`)."""
    row = review_repo.item_row(conn, workspace_id, item_id)
    if row is None:
        raise NotFound(f"no review item {item_id!r}", details={"item_id": item_id})
    item = item_public(row, now, review_repo.SEES_ALL)  # withheld below, with its history
    with_names_now(conn, [row], [item])
    if history:
        item["history"] = _history(conn, item_id)
    return withhold_first_answer(item, viewer)


_history = history
