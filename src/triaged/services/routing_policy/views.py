"""What the API shows of a policy: its public form, a what-if over the decision log,
threshold and window checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from triaged.errors import InvalidInput, ValidationFailed
from triaged.routing_live import weighted_error_bound
from triaged.services.ids import as_utc
from triaged.services.routing_policy.live import LiveStatus
from triaged.services.routing_policy.live_hold import auto_share, hold_share
from triaged.services.routing_policy.model import LiveConfig, Policy
from triaged.services.routing_policy.reviews import reviewed
from triaged.services.routing_policy.store import _unit
from triaged.storage import routing_repo


# -------------------------------------------------------------------- public
def public(
    policy: Policy,
    taxonomy: str,
    *,
    status: LiveStatus | None,
    cfg: LiveConfig,
    audit_rate: float,
    effective_audit_rate: float,
) -> dict[str, Any]:
    """The API shape (interfaces §4): the bound is live once the version has enough audits."""
    stored = policy.bound
    if status is not None and status.n >= cfg.min_audits and policy.auto is not None:
        bound = {
            "upper": status.upper,
            "estimate": status.estimate,
            "n": status.n,
            "errors": status.errors,
            "since": policy.created_at.isoformat(),
            "basis": "live",
        }
    else:
        bound = _stored_bound(stored)
    live = None
    if status is not None:
        live = {
            "n": status.n,
            "errors": status.errors,
            "estimate": status.estimate,
            "lower": status.lower,
            "upper": status.upper,
            "effective_n": status.effective_n,
            "since": policy.created_at.isoformat(),
        }
    return {
        "taxonomy": taxonomy,
        "version": policy.version,
        "auto": policy.auto,
        "review": policy.review,
        "review_source": policy.review_source,
        "review_floor": policy.review_floor,
        "hold_share": hold_share(policy),
        "auto_share": auto_share(policy),
        "audit_rate": audit_rate,
        "effective_audit_rate": effective_audit_rate,
        "auto_error_target": policy.auto_error_target,
        "confidence_level": policy.confidence_level,
        "expected_out_of_scope": policy.expected_out_of_scope,
        "source": policy.source,
        "reason": policy.reason,
        "auto_lane_open": policy.auto_lane_open,
        "bound": bound,
        "live": live,
        "model_id": policy.model_id,
        "created_at": policy.created_at.isoformat(),
        "created_by": policy.created_by,
    }


def _stored_bound(stored: dict[str, Any]) -> dict[str, Any]:
    """The compact public form of a version's stored bound (``_bound_dict`` in :mod:`.store`)."""
    return {
        "upper": stored.get("upper_bound"),
        "estimate": stored.get("estimate"),
        "n": int(stored.get("n") or 0),
        "errors": int(stored.get("errors") or 0),
        "since": stored.get("since"),
        "basis": stored.get("basis", "training"),
    }


def history(
    conn: Connection, taxonomy_id: str, *, before: int | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The taxonomy's policy versions, newest first (below version ``before``, at most
    ``limit``), each with the bound it was written with and who made it (``created_by``:
    an API key id; None when the service changed the policy by itself)."""
    out = []
    for row in routing_repo.policy_rows(conn, taxonomy_id, before=before, limit=limit):
        policy = Policy.from_row(row)
        out.append(
            {
                "version": policy.version,
                "auto": policy.auto,
                "review": policy.review,
                "review_source": policy.review_source,
                "source": policy.source,
                "reason": policy.reason,
                "auto_lane_open": policy.auto_lane_open,
                "model_id": policy.model_id,
                "created_at": policy.created_at.isoformat(),
                "created_by": policy.created_by,
                "bound": _stored_bound(policy.bound),
            }
        )
    return out


def what_if(
    conn: Connection,
    *,
    taxonomy_id: str,
    auto: float | None,
    review: float,
    since: datetime,
    until: datetime,
    confidence_level: float,
    default_rate: float,
) -> dict[str, Any]:
    """Bucket shares and auto error had ``auto``/``review`` routed the window's decisions."""
    n, n_auto, n_review = routing_repo.window_counts(
        conn, taxonomy_id, auto=auto, review=review, since=since, until=until
    )
    ev = reviewed(conn, taxonomy_id, since=since, until=until, default_rate=default_rate)
    delta = (1.0 - confidence_level) / 2.0
    if auto is not None:
        mask = ev.confidence >= auto
        wb = weighted_error_bound(ev.wrong[mask], ev.weight[mask], delta)
        auto_error: dict[str, Any] = {
            "estimate": wb.estimate,
            "lower": wb.lower if wb.n else None,
            "upper": wb.upper if wb.n else None,
            "n_reviewed": wb.n,
            "effective_n": round(wb.effective_n, 3),
            "confidence_level": confidence_level,
        }
    else:
        auto_error = {
            "estimate": None,
            "lower": None,
            "upper": None,
            "n_reviewed": 0,
            "effective_n": 0.0,
            "confidence_level": confidence_level,
        }
    shares = (
        {
            "auto": n_auto / n,
            "review": n_review / n,
            "hold": (n - n_auto - n_review) / n,
        }
        if n
        else {"auto": None, "review": None, "hold": None}
    )
    return {
        "auto": auto,
        "review": review,
        "n_decisions": n,
        "shares": shares,
        "auto_error": auto_error,
        "window": {"since": since.isoformat(), "until": until.isoformat()},
    }


def check_thresholds(auto: float | None, review: float) -> None:
    """Structured errors for what-if parameters (values in [0, 1], review <= auto)."""
    _unit("review", review)
    if auto is not None:
        _unit("auto", auto)
        if review > auto:
            raise ValidationFailed(
                f"review ({review:g}) must not exceed auto ({auto:g})",
                details={"field": "review", "review": review, "auto": auto},
            )


def parse_window(
    since: datetime | None, until: datetime | None, now: datetime, default_days: int = 30
) -> tuple[datetime, datetime]:
    from datetime import timedelta

    end = as_utc(until) if until is not None else now
    start = as_utc(since) if since is not None else end - timedelta(days=default_days)
    if start >= end:
        raise InvalidInput(
            "since must be before until",
            details={"since": start.isoformat(), "until": end.isoformat()},
        )
    return start, end
