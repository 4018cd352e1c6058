"""The reviewer workspace as the faces call it: review settings (guidelines, overlap,
reopen window), undo, progress, the items view (search, bulk resolve) and agreement.

Module functions over a :class:`~triaged.service.Service` (the queue itself stays in
``service.review``); the SQL lives in :mod:`triaged.storage.review_repo`,
:mod:`triaged.storage.agreement_repo` and :mod:`triaged.storage.review_settings_repo`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from triaged.errors import Conflict, InvalidInput
from triaged.inputs import check_window
from triaged.services import agreement, review_queue, review_reopen, review_settings, review_stats
from triaged.services import taxonomies as taxo
from triaged.services.ids import as_utc, utcnow
from triaged.services.keys import Principal, Role
from triaged.services.review_items import MAX_DECISION_IDS, ItemFilter, item_page
from triaged.services.review_rows import Action, Queue, Status, parse, parse_status, viewer_of
from triaged.storage import review_repo

if TYPE_CHECKING:
    from triaged.service import Service

__all__ = [
    "MAX_BULK",
    "agreement_stats",
    "bulk_resolve",
    "get_settings",
    "last_reopenable",
    "progress",
    "reopen",
    "resolution_payload",
    "search_items",
    "update_settings",
]

REVIEW_ROLES = (Role.ADMIN, Role.REVIEWER)
MAX_BULK = 500


def resolution_payload(item: dict[str, Any]) -> dict[str, Any]:
    """The webhook payload of a resolution (as ``decision.resolved`` / ``.corrected``)."""
    return {
        "decision_id": item["decision_id"],
        "review_item_id": item["id"],
        "taxonomy": item["taxonomy"],
        "queue": item["queue"],
        "external_id": item["external_id"],
        "metadata": item["metadata"],
        "label": item["label"],
        # the model's label as the taxonomy calls it now (it was renamed or merged since
        # the decision when it differs; null: removed)
        "label_now": item.get("label_now", item["label"]),
        "confidence": item["confidence"],
        "action": item["action"],
        "out_of_scope": item["action"] == Action.OUT_OF_SCOPE.value,
        "final_label": item["final_label"],
        "final_source": item["final_source"],
        # the final label is not the model's: a held item sends decision.resolved (act on
        # it now) whatever the answer, and this says whether the model was wrong
        "corrected": item["final_label"] is not None
        and item["final_label"] != item.get("label_now", item["label"]),
        "new_label": item["new_label"],
        "resolved_by": item["resolved_by"],
        "resolved_at": item["resolved_at"],
    }


# ----------------------------------------------------------------- settings
def get_settings(service: Service, principal: Principal, taxonomy: str) -> dict[str, Any]:
    """Guidelines, overlap rate and reopen window of ``taxonomy`` (reviewers and admins;
    a client key gets 403 as on every other review route)."""
    principal.require(*REVIEW_ROLES)
    with service.db.read() as conn:
        record = taxo.get_record(conn, principal.workspace_id, taxonomy)
        out = review_settings.get(conn, record.id).to_dict()
    return {"taxonomy": taxonomy, **out}


def update_settings(
    service: Service,
    principal: Principal,
    taxonomy: str,
    *,
    guidelines: str | None = None,
    overlap_rate: float | None = None,
    reopen_window_seconds: int | None = None,
) -> dict[str, Any]:
    """Change the given settings of ``taxonomy`` (admin only)."""
    principal.require(Role.ADMIN)
    with service.db.write() as conn:
        record = taxo.get_record(conn, principal.workspace_id, taxonomy, for_update=True)
        out = review_settings.put(
            conn,
            workspace_id=principal.workspace_id,
            taxonomy_id=record.id,
            key_id=principal.key_id,
            now=utcnow(),
            guidelines=guidelines,
            overlap_rate=overlap_rate,
            reopen_window_seconds=reopen_window_seconds,
        ).to_dict()
    return {"taxonomy": taxonomy, **out}


# --------------------------------------------------------------------- undo
def reopen(service: Service, principal: Principal, item_id: str) -> dict[str, Any]:
    """Take back your latest answer to an item inside the reopen window; the item is yours
    again (claimed, fresh lease).  Emits ``decision.reopened`` when the final label a
    workflow saw changes."""
    from triaged.webhooks import enqueue_event

    principal.require(*REVIEW_ROLES)
    now = utcnow()
    with service.db.write() as conn:
        res = review_reopen.reopen(
            conn,
            workspace_id=principal.workspace_id,
            key_id=principal.key_id,
            item_id=item_id,
            now=now,
            lease_seconds=service.settings.review_lease_seconds,
        )
        item = review_queue.get_item(
            conn,
            principal.workspace_id,
            item_id,
            now=now,
            history=False,
            viewer=viewer_of(principal),
        )
        if res.final_changed:
            enqueue_event(
                conn,
                workspace_id=principal.workspace_id,
                event_type="decision.reopened",
                data={
                    "decision_id": item["decision_id"],
                    "review_item_id": item_id,
                    "taxonomy": item["taxonomy"],
                    "queue": item["queue"],
                    "external_id": item["external_id"],
                    "metadata": item["metadata"],
                    "previous_final_label": res.previous_final_label,
                    "final_label": res.final_label,
                    "withdrawn": res.withdrawn,
                    "reopened_by": principal.key_id,
                    "reopened_at": now.isoformat(),
                },
            )
    return item


def last_reopenable(
    service: Service, principal: Principal, *, taxonomy: str | None = None
) -> str | None:
    """The item of your most recent answer that you may still reopen (or None)."""
    principal.require(*REVIEW_ROLES)
    with service.db.read() as conn:
        return review_reopen.last_reopenable(
            conn,
            workspace_id=principal.workspace_id,
            key_id=principal.key_id,
            now=utcnow(),
            taxonomy=taxonomy,
        )


# ----------------------------------------------------------------- progress
def progress(
    service: Service, principal: Principal, *, taxonomy: str | None = None
) -> dict[str, Any]:
    """Your answers today (UTC), the open items of the queue, and your rate per hour over
    your last hour of work; all of them of ``taxonomy`` when given (404 if it is unknown)."""
    principal.require(*REVIEW_ROLES)
    now = utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with service.db.read() as conn:
        if taxonomy:
            taxo.get_record(conn, principal.workspace_id, taxonomy)  # 404 for an unknown one
        stamps = [
            at
            for _, at in review_stats.standing_answers(
                conn,
                principal.workspace_id,
                min(midnight, now - timedelta(hours=1)),
                taxonomy or None,
                actor=principal.key_id,
            )
        ]
        queues = review_queue.counts(conn, principal.workspace_id, now=now, taxonomy=taxonomy)
    today = sum(1 for t in stamps if t >= midnight)
    hour = sorted(t for t in stamps if t >= now - timedelta(hours=1))
    rate = None
    if hour:
        span = max((now - hour[0]).total_seconds(), 60.0)
        rate = round(len(hour) * 3600.0 / span, 1)
    return {
        "done_today": today,
        "remaining": sum(int(q.get("open", 0)) for q in queues.values()),
        "rate_per_hour": rate,
        "taxonomy": taxonomy,
    }


# --------------------------------------------------------------- items view
def _when(value: str | datetime | None, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(
            f"{field}: not an ISO date or time: {value!r}", details={"field": field}
        ) from None


def search_items(
    service: Service,
    principal: Principal,
    *,
    taxonomy: str | None = None,
    queue: str | None = None,
    status: str | None = None,
    text: str | None = None,
    label: str | None = None,
    confidence_min: float | None = None,
    confidence_max: float | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    decision_ids: Sequence[str] | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of items matching every given filter (oldest first), with counts per queue."""
    principal.require(*REVIEW_ROLES)
    start, end = _when(since, "since"), _when(until, "until")
    check_window(start, end)
    flt = ItemFilter(
        taxonomy=taxonomy or None,
        queue=parse(Queue, queue or None, "queue"),
        status=parse_status(status or None),
        text=text or None,
        label=label or None,
        confidence_min=confidence_min,
        confidence_max=confidence_max,
        since=start,
        until=end,
        decision_ids=list(decision_ids) if decision_ids else None,
        viewer=viewer_of(principal),
    )
    now = utcnow()
    with service.db.read() as conn:
        if taxonomy:
            taxo.get_record(conn, principal.workspace_id, taxonomy)
        return item_page(
            conn,
            principal.workspace_id,
            flt,
            now=now,
            limit=limit,
            cursor=cursor,
            viewer=viewer_of(principal),
            taxonomy=taxonomy,
        )


def bulk_resolve(
    service: Service,
    principal: Principal,
    item_ids: Sequence[str],
    *,
    action: str,
    label: str | None = None,
    new_label: str | None = None,
    note: str | None = None,
) -> list[dict[str, Any]]:
    """Resolve many items with one answer in one transaction: each becomes its own review
    event and its own webhook event.  Items you do not hold are claimed first; all or
    nothing (409 if any is held by someone else or already resolved)."""
    from triaged.webhooks import enqueue_event

    principal.require(*REVIEW_ROLES)
    ids = list(dict.fromkeys(item_ids))
    if not 1 <= len(ids) <= MAX_BULK:
        raise InvalidInput(
            f"give 1 to {MAX_BULK} item ids", details={"field": "item_ids", "count": len(ids)}
        )
    act = parse(Action, action, "action")
    now = utcnow()
    done: list[dict[str, Any]] = []
    touched: dict[str, tuple[str, str]] = {}
    with service.db.write() as conn:
        _claim_all(conn, service, principal, ids, now)
        labels_of: dict[str, list[str]] = {}
        for item_id in ids:
            record = taxo.get_record_by_id(
                conn, principal.workspace_id, review_repo.item_taxonomy_id(conn, item_id)
            )
            if record.id not in labels_of:
                labels_of[record.id] = taxo.load_version(conn, record).label_names
            labels = labels_of[record.id]
            res = review_queue.resolve(
                conn,
                workspace_id=principal.workspace_id,
                key_id=principal.key_id,
                item_id=item_id,
                action=act,
                labels=labels,
                now=now,
                label=label,
                new_label=new_label,
                note=note,
                viewer=viewer_of(principal),
            )
            if res.event_type is not None:
                enqueue_event(
                    conn,
                    workspace_id=principal.workspace_id,
                    event_type=res.event_type,
                    data=resolution_payload(res.item),
                )
            touched[record.id] = (record.id, record.name)
            done.append(res.item)
    for taxonomy_id, name in touched.values():
        service.review.maybe_retrain(principal.workspace_id, taxonomy_id, name)
    return done


def _claim_all(
    conn: Connection, service: Service, principal: Principal, ids: list[str], now: datetime
) -> None:
    """Claim every item of ``ids`` the caller does not hold yet; 409 for any it cannot."""
    held = {
        it["id"]
        for it in review_queue.list_items(
            conn,
            principal.workspace_id,
            ItemFilter(status=Status.CLAIMED, claimed_by=principal.key_id),
            now=now,
            limit=MAX_DECISION_IDS,
        )[0]
    }
    want = [i for i in ids if i not in held]
    if want:
        got = review_queue.claim(
            conn,
            workspace_id=principal.workspace_id,
            key_id=principal.key_id,
            limit=len(want),
            lease_seconds=service.settings.review_lease_seconds,
            now=now,
            item_ids=want,
        )
        missing = sorted(set(want) - {it["id"] for it in got})
        if missing:
            raise Conflict(
                f"{len(missing)} of the items cannot be claimed by you (resolved, held by "
                "someone else, or not in this workspace); nothing was changed",
                details={"item_ids": missing[:50], "reason": "not_claimable"},
            )


# ---------------------------------------------------------------- agreement
def agreement_stats(
    service: Service, principal: Principal, *, taxonomy: str | None = None
) -> dict[str, Any]:
    """Cohen's kappa between reviewers (overall, per pair, per label) over the items two
    reviewers answered, and the open disagreements waiting for an admin."""
    principal.require(*REVIEW_ROLES)
    with service.db.read() as conn:
        record = taxo.get_record(conn, principal.workspace_id, taxonomy) if taxonomy else None
        rate = review_settings.get(conn, record.id).overlap_rate if record else None
        return agreement.stats(
            conn,
            principal.workspace_id,
            taxonomy_id=record.id if record else None,
            overlap_rate=rate,
        )


def earlier_answers(service: Service, principal: Principal, item_id: str) -> list[dict[str, Any]]:
    """The standing answers to an item in a disagreement (round 3), for the admin settling
    it: round, reviewer name, action, label, and ``yours`` (the admin gave that answer: they
    settle a disagreement they are part of).  Empty for anyone else or any other round."""
    if principal.role is not Role.ADMIN:
        return []
    with service.db.read() as conn:
        rows = agreement.answers(conn, principal.workspace_id, item_id)
    return [{**a, "yours": a["reviewer_id"] == principal.key_id} for a in rows]
