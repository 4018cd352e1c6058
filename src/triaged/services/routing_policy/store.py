"""Reading policy versions and the reviewed evidence; writing new versions (certified
from a model's evidence when it becomes active, or manual)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from triaged.errors import Conflict, ValidationFailed
from triaged.routing import (
    RoutingEvidence,
)
from triaged.services.ids import new_id, utcnow
from triaged.services.jobs import notify_model
from triaged.services.routing_policy.certify import Parameters, certify_lanes, joined
from triaged.services.routing_policy.model import (
    ALERT_EVENT,
    ROUTING_LOCK_KEY,
    Defaults,
    Policy,
    lane_change,
)
from triaged.services.routing_policy.reviews import (
    traffic_reviews,
)
from triaged.storage import routing_repo, taxonomy_repo, training_repo
from triaged.taxonomy import DEFAULT_REVIEW, Thresholds


# ------------------------------------------------------------------- reading
def current(conn: Connection, taxonomy_id: str) -> Policy | None:
    row = routing_repo.latest_policy_row(conn, taxonomy_id)
    return Policy.from_row(row) if row is not None else None


def get_version(conn: Connection, taxonomy_id: str, version: int) -> Policy | None:
    row = routing_repo.policy_row(conn, taxonomy_id, version)
    return Policy.from_row(row) if row is not None else None


def reviewed_audits_since(conn: Connection, policy: Policy) -> int:
    """Reviewed audits of ``auto`` decisions routed by ``policy`` (for the thin audit share)."""
    return routing_repo.count_reviewed_audits(
        conn, policy.taxonomy_id, policy.created_at, policy.version
    )


def evidence_of(clf: Any) -> RoutingEvidence:
    """A classifier's routing evidence (empty for engines that record none)."""
    get = getattr(clf, "routing_evidence", None)
    if get is None:
        return RoutingEvidence.empty()
    try:
        evidence = get()
    except Exception:  # an unfitted or old engine: no evidence, the lane stays closed
        return RoutingEvidence.empty()
    return evidence if isinstance(evidence, RoutingEvidence) else RoutingEvidence.empty()


def evidence_of_model(conn: Connection, model_id: str) -> RoutingEvidence:
    """The routing evidence stored in a model's blob (rollback, a manual change)."""
    from triaged.classifier import Classifier

    blob = training_repo.model_blob(conn, model_id)
    if blob is None:
        return RoutingEvidence.empty()
    return evidence_of(Classifier.from_bytes(bytes(blob)))


# ------------------------------------------------------------------- writing
def _lock(conn: Connection, taxonomy_id: str) -> None:
    routing_repo.advisory_lock(conn, ROUTING_LOCK_KEY, taxonomy_id)


def _insert(
    conn: Connection,
    *,
    workspace_id: str,
    taxonomy_id: str,
    based_on: int | None,
    values: Mapping[str, Any],
) -> Policy | None:
    """Write the next version unless another writer changed the policy since ``based_on``
    (the version the caller computed from; None: none existed).  Returns the new policy."""
    _lock(conn, taxonomy_id)
    latest = current(conn, taxonomy_id)
    latest_version = latest.version if latest is not None else None
    if latest_version != based_on:
        return None
    version = (latest_version or 0) + 1
    row = {
        "id": new_id("rtp"),
        "workspace_id": workspace_id,
        "taxonomy_id": taxonomy_id,
        "version": version,
        "created_at": utcnow(),
        **values,
    }
    routing_repo.insert_policy(conn, row)
    routing_repo.set_routing_version(conn, taxonomy_id, version)
    notify_model(conn, workspace_id, taxonomy_id, None)  # issue 11: every API process
    return get_version(conn, taxonomy_id, version)


def for_model(
    conn: Connection,
    *,
    workspace_id: str,
    taxonomy_id: str,
    model_id: str,
    evidence: RoutingEvidence,
    thresholds: Thresholds,
    defaults: Defaults,
) -> Policy | None:
    """A new version certified for a model that just became active (same transaction).
    The hold threshold is chosen from the model's evidence unless it was set by hand."""
    prev = current(conn, taxonomy_id)
    if prev is not None:
        target, level = prev.auto_error_target, prev.confidence_level
        pi, rate = prev.expected_out_of_scope, prev.audit_rate
        manual_auto = prev.auto if prev.source == "manual" else None
        review_source, floor = prev.review_source, prev.hold_floor
    else:
        target, level = defaults.auto_error_target, defaults.confidence_level
        pi, rate = defaults.expected_out_of_scope, None
        manual_auto = None
        review_source, floor = "evidence", float(thresholds.review)
    # the taxonomy's reviews (of earlier models: none before the first), read once for the
    # hold share and the learned auto share
    lanes = certify_lanes(
        conn,
        taxonomy_id,
        evidence,
        Parameters(target, level, pi, review_source, floor, manual_auto),
        traffic_reviews(conn, taxonomy_id) if prev is not None else None,
    )
    new = _insert(
        conn,
        workspace_id=workspace_id,
        taxonomy_id=taxonomy_id,
        based_on=prev.version if prev is not None else None,
        values={
            "model_id": model_id,
            "audit_rate": rate,
            **lanes.values,
            "reason": joined(lanes.bound.reason, *lanes.why),
        },
    )
    if new is not None and prev is not None and lanes.auto_share > pi:
        _alert_tightened(conn, workspace_id, prev, new)
    return new


def _alert_tightened(conn: Connection, workspace_id: str, prev: Policy, new: Policy) -> None:
    """An ``alert.auto_lane`` event when a new model's policy, certified for the larger
    out-of-scope share the reviews measured, closes or raises the lane ``prev`` had open:
    the service moved it by itself, as a live check would have."""
    if prev.auto is None or (new.auto is not None and new.auto <= prev.auto):
        return
    from triaged.webhooks import enqueue_event

    row = taxonomy_repo.taxonomy_row(conn, new.taxonomy_id)
    enqueue_event(
        conn,
        workspace_id=workspace_id,
        event_type=ALERT_EVENT,
        data={
            "taxonomy": row.name,
            "from": prev.auto,
            "to": new.auto,
            "change": lane_change(prev.auto, new.auto),
            "policy_version": new.version,
            "bound": {
                "upper": new.bound.get("upper_bound"),
                "estimate": new.bound.get("estimate"),
                "n": new.bound.get("n"),
                "errors": new.bound.get("errors"),
            },
            "reason": f"new model: {new.reason}",
        },
    )


def _unit(name: str, value: Any, *, low_open: bool = False, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValidationFailed(f"{name} must be a number", details={"field": name, "value": value})
    v = float(value)
    lo_ok = v > 0.0 if low_open else v >= 0.0
    hi_ok = v < 1.0 if high_open else v <= 1.0
    if not (lo_ok and hi_ok):
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValidationFailed(
            f"{name} must be in {lo}0, 1{hi}, got {v:g}",
            details={"field": name, "value": v, "range": f"{lo}0, 1{hi}"},
        )
    return v


MANUAL_FIELDS = (
    "auto",
    "review",
    "review_floor",
    "audit_rate",
    "auto_error_target",
    "confidence_level",
    "expected_out_of_scope",
)


def _manual_parameters(
    changes: Mapping[str, Any], base: Policy
) -> tuple[float, float, float, float | None]:
    """(target, confidence level, expected out-of-scope share, audit rate) of a manual
    change: each given one checked, the others kept from ``base``."""
    unknown = sorted(set(changes) - set(MANUAL_FIELDS))
    if unknown:
        raise ValidationFailed(f"unknown routing fields {unknown}", details={"fields": unknown})
    target = _unit(
        "auto_error_target",
        changes.get("auto_error_target", base.auto_error_target),
        low_open=True,
        high_open=True,
    )
    level = _unit(
        "confidence_level",
        changes.get("confidence_level", base.confidence_level),
        low_open=True,
        high_open=True,
    )
    pi = _unit(
        "expected_out_of_scope",
        changes.get("expected_out_of_scope", base.expected_out_of_scope),
        high_open=True,
    )
    rate_in = changes.get("audit_rate", base.audit_rate)
    rate = None if rate_in is None else _unit("audit_rate", rate_in)
    return target, level, pi, rate


def _review_parameters(changes: Mapping[str, Any], base: Policy) -> tuple[str, float]:
    """(source, floor) of the hold threshold after ``changes``: ``review`` a number pins it
    (manual; the floor is the threshold); ``review: null`` or ``review_floor`` lets the
    evidence choose it (from ``review_floor``, else the floor it had, else the default);
    neither keeps ``base``'s."""
    if changes.get("review") is not None and changes.get("review_floor") is not None:
        raise ValidationFailed(
            "give either review (a fixed hold threshold) or review_floor (the lowest one "
            "the evidence may choose), not both",
            details={"field": "review_floor"},
        )
    if changes.get("review") is not None:
        return "manual", _unit("review", changes["review"])
    if changes.get("review_floor") is not None:
        return "evidence", _unit("review_floor", changes["review_floor"])
    if "review" in changes:  # null: back to the evidence
        floor = base.review_floor if base.review_floor is not None else DEFAULT_REVIEW
        return "evidence", floor
    return base.review_source, base.hold_floor


def _manual_auto(
    changes: Mapping[str, Any], base: Policy, review_source: str, floor: float
) -> float | None:
    """The pinned auto threshold after ``changes`` (None: certified), never below ``floor``."""
    if "auto" in changes:
        manual_auto = None if changes["auto"] is None else _unit("auto", changes["auto"])
    else:
        manual_auto = base.auto if base.source == "manual" else None
    if manual_auto is not None and floor > manual_auto:
        field = "review" if review_source == "manual" else "review_floor"
        raise ValidationFailed(
            f"{field} ({floor:g}) must not exceed auto ({manual_auto:g})",
            details={"field": field, field: floor, "auto": manual_auto},
        )
    return manual_auto


def _unchanged(
    base: Policy, values: dict[str, Any], model_id: str | None, rate: float | None
) -> bool:
    """Whether a change leaves every threshold, source and parameter of ``base`` as it is
    (its bound aside: the same thresholds on newer evidence are the same policy)."""
    same = all(getattr(base, k) == v for k, v in values.items() if k != "bound")
    return same and base.model_id == model_id and base.audit_rate == rate


def set_manual(
    conn: Connection,
    *,
    workspace_id: str,
    taxonomy_id: str,
    model_id: str | None,
    evidence: RoutingEvidence,
    changes: Mapping[str, Any],
    base: Policy,
    created_by: str | None = None,
) -> Policy:
    """A new version with ``changes`` (never retrains).  ``auto`` given: a manual threshold;
    ``auto: null``: recomputed from the model's evidence; absent: a manual threshold stays,
    a certified one is re-certified with the new parameters.  ``created_by``: the API key
    id making the change (recorded on the version)."""
    target, level, pi, rate = _manual_parameters(changes, base)
    review_source, floor = _review_parameters(changes, base)
    manual_auto = _manual_auto(changes, base, review_source, floor)
    # the reviews may already bound the traffic's out-of-scope share: the hold threshold is
    # chosen for it, as at a retrain (a manual change chose it for the expected share)
    lanes = certify_lanes(
        conn,
        taxonomy_id,
        evidence,
        Parameters(target, level, pi, review_source, floor, manual_auto),
        traffic_reviews(conn, taxonomy_id),
    )
    if base.version and _unchanged(base, lanes.values, model_id, rate):
        return base  # the same policy again: no new version (as a PATCH of the same thresholds)
    # JSON's words ("auto=null"), not Python's ("auto=None")
    changed = ", ".join(f"{k}={json.dumps(changes[k])}" for k in MANUAL_FIELDS if k in changes)
    new = _insert(
        conn,
        workspace_id=workspace_id,
        taxonomy_id=taxonomy_id,
        based_on=base.version or None,
        values={
            "model_id": model_id,
            "audit_rate": rate,
            **lanes.values,
            "reason": joined(
                f"set through the API ({changed or 'no change'})", lanes.bound.reason, *lanes.why
            ),
            "created_by": created_by,
        },
    )
    if new is None:  # serialised by the lock: only a concurrent writer gets here
        raise Conflict(
            "the routing policy changed while this change was being made; read it and retry",
            details={"taxonomy_id": taxonomy_id, "reason": "policy_changed"},
        )
    return new
