"""The decision log: one row per classified text, written before the response is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from triaged.errors import InvalidInput, NotFound
from triaged.inputs import check_window
from triaged.services.ids import as_utc, new_id
from triaged.services.keys import Principal, Role
from triaged.storage import decision_repo, metrics_repo, review_repo, routing_repo

if TYPE_CHECKING:
    from triaged.classifier import Result

__all__ = [
    "DecisionFilter",
    "blind_for",
    "build_row",
    "get_decision",
    "list_decisions",
    "public",
    "stored",
    "with_routing_reasons",
]

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    taxonomy: str | None = None
    bucket: str | None = None
    label: str | None = None
    external_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def build_row(
    *,
    workspace_id: str,
    taxonomy_id: str,
    key_id: str,
    text: str,
    result: Result,
    latency_ms: float,
    created_at: datetime,
    external_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    policy_version: int | None = None,
    audit_rate: float | None = None,
) -> dict[str, Any]:
    """One decision row; ``audit_rate``: the audit share its bucket was sampled with
    (``auto`` only), ``policy_version``: the routing-policy version that routed it.

    ``prediction_set`` (issue 13) is not a column: the row carries it for the response
    only, and the stored alternatives flag the set's runner-ups with ``in_set`` (what the
    review screen shows as "the model cannot tell these apart")."""
    pset = result.prediction_set
    return {
        "id": new_id("dec"),
        "workspace_id": workspace_id,
        "taxonomy_id": taxonomy_id,
        "taxonomy": result.taxonomy,
        "taxonomy_version": result.taxonomy_version,
        "model_version": result.model_version,
        "text": text,
        "external_id": external_id,
        "metadata": metadata,
        "label": result.label,
        "confidence": float(result.confidence),
        "bucket": result.bucket.value,
        "alternatives": [
            {"label": a.label, "confidence": a.confidence}
            | ({} if pset is None else {"in_set": a.label in pset})
            for a in result.alternatives
        ],
        "scores": dict(result.scores),
        "latency_ms": round(latency_ms, 3),
        "key_id": key_id,
        "created_at": created_at,
        "final_label": None,
        "final_source": None,
        "resolved_at": None,
        "policy_version": policy_version,
        "audit_rate": audit_rate if result.bucket.value == "auto" else None,
        RESPONSE_ONLY: pset,
    }


#: Row key that is answered but not stored (the conformal prediction set, issue 13).
RESPONSE_ONLY = "prediction_set"


def stored(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decision rows as the log stores them (without :data:`RESPONSE_ONLY`)."""
    return [{k: v for k, v in r.items() if k != RESPONSE_ONLY} for r in rows]


def tallies(rows: Sequence[dict[str, Any]]) -> list[metrics_repo.Tally]:
    """The Prometheus tally increments of logged decision rows (written with the quota
    count, :func:`triaged.services.quota.consume`)."""
    return metrics_repo.group_tallies(rows)


def public(row: Any, *, include_text: bool = True) -> dict[str, Any]:
    """The API shape of a decision (a mapping row or a dict from :func:`build_row`)."""
    get = row.get if isinstance(row, dict) else row._mapping.get
    resolved = get("resolved_at")
    data: dict[str, Any] = {
        "id": get("id"),
        "label": get("label"),
        "confidence": get("confidence"),
        "bucket": get("bucket"),
        "alternatives": get("alternatives"),
        "prediction_set": get(RESPONSE_ONLY),
        "taxonomy": get("taxonomy"),
        "taxonomy_version": get("taxonomy_version"),
        "model_version": get("model_version"),
        "policy_version": get("policy_version"),
        "latency_ms": get("latency_ms"),
        "external_id": get("external_id"),
        "metadata": get("metadata"),
        "key_id": get("key_id"),
        "created_at": as_utc(get("created_at")).isoformat(),  # type: ignore[arg-type]
        "final_label": get("final_label"),
        "final_source": get("final_source"),
        "resolved_at": as_utc(resolved).isoformat() if resolved is not None else None,
    }
    if include_text:  # a read of the log (a classify answer has neither field)
        redacted = get("redacted_at")
        data["redacted_at"] = as_utc(redacted).isoformat() if redacted is not None else None
        data["text"] = get("text")
    return data


def blind_for(
    conn: Connection, principal: Principal, decisions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``decisions`` as a reviewer key may see them: while a decision's review item waits
    for a second opinion its final label is the first reviewer's answer, which anyone but
    that reviewer must not see (blind second opinions, as the review items show them).
    Client and admin keys see it: a workflow acts on it."""
    if principal.role != Role.REVIEWER or not decisions:
        return decisions
    blind = review_repo.waiting_second_opinion(
        conn, principal.workspace_id, [d["id"] for d in decisions], principal.key_id
    )
    for d in decisions:
        if d["id"] in blind:
            d.update(final_label=None, final_source=None, resolved_at=None)
    return decisions


def get_decision(conn: Connection, workspace_id: str, decision_id: str) -> dict[str, Any]:
    row = decision_repo.decision_row(conn, workspace_id, decision_id)
    if row is None:
        raise NotFound(f"no decision {decision_id!r}", details={"decision_id": decision_id})
    return with_routing_reasons(conn, [row], [public(row)])[0]


def with_routing_reasons(
    conn: Connection, rows: Sequence[Any], out: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``out`` (the public form of ``rows``) with ``routing_reason`` on each decision a closed
    auto lane flagged, as the classify answer gave it: the reason of the policy version
    that routed it (the log keeps the version, not the words)."""
    wanted = {
        (r.taxonomy_id, int(r.policy_version))
        for r in rows
        if r.bucket == "review" and r.policy_version is not None
    }
    reasons = routing_repo.closed_lane_reasons(conn, wanted)
    for r, o in zip(rows, out, strict=True):
        key = (r.taxonomy_id, int(r.policy_version or 0))
        o["routing_reason"] = reasons.get(key) if r.bucket == "review" else None
    return out


def list_decisions(
    conn: Connection,
    workspace_id: str,
    flt: DecisionFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; ``cursor`` is the last id of the previous page."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", details={"limit": limit})
    check_window(flt.since, flt.until)
    rows = decision_repo.page_rows(
        conn,
        workspace_id,
        taxonomy=flt.taxonomy,
        bucket=flt.bucket,
        label=flt.label,
        external_id=flt.external_id,
        since=as_utc(flt.since) if flt.since is not None else None,
        until=as_utc(flt.until) if flt.until is not None else None,
        cursor=cursor,
        fetch=limit + 1,
    )
    page = with_routing_reasons(conn, rows[:limit], [public(r) for r in rows[:limit]])
    next_cursor = page[-1]["id"] if len(rows) > limit and page else None
    return page, next_cursor
