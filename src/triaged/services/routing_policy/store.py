"""Reading policy versions and the reviewed evidence; writing new versions (certified
from a model's evidence when it becomes active, or manual)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection

from triaged.errors import Conflict, ValidationFailed
from triaged.routing import (
    LaneBound,
    RoutingEvidence,
    certify_auto_threshold,
    lane_bound_at,
    threshold_grid,
)
from triaged.routing_hold import HOLD_GRID_TOP, HoldChoice, evidence_hold_threshold
from triaged.services.ids import new_id, utcnow
from triaged.services.jobs import notify_model
from triaged.services.routing_learning import OwnRows, certify_from_live_share
from triaged.services.routing_policy.model import (
    ALERT_EVENT,
    ROUTING_LOCK_KEY,
    Defaults,
    Policy,
    lane_change,
)
from triaged.services.routing_policy.reviews import (
    Reviewed,
    measured_share,
    nearest_share,
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


def _bound_dict(bound: LaneBound, basis: str, since: datetime | None = None) -> dict[str, Any]:
    return {**bound.to_dict(), "basis": basis, "since": since.isoformat() if since else None}


def _certify(
    evidence: RoutingEvidence,
    *,
    target: float,
    level: float,
    pi: float,
    review: float,
    manual_auto: float | None,
) -> tuple[float | None, LaneBound]:
    """The auto threshold and the training bound behind it (at a manual threshold: its bound)."""
    if manual_auto is None:
        bound = certify_auto_threshold(
            evidence,
            target=target,
            confidence_level=level,
            expected_out_of_scope=pi,
            review_threshold=review,
        )
        return bound.threshold, bound
    at = lane_bound_at(evidence, manual_auto, confidence_level=level, expected_out_of_scope=pi)
    meets = at.upper_bound is not None and at.upper_bound <= target
    if at.upper_bound is None:
        why = f"no training bound at {manual_auto:g} ({at.reason})"
    else:
        verdict = "meets" if meets else "does NOT meet"
        why = (
            f"training bound {at.upper_bound:.4f} at {manual_auto:g} {verdict} the target "
            f"{target:.3f} ({at.n} held-out items, {at.errors} wrong)"
        )
    return manual_auto, replace(at, threshold=manual_auto, reason=f"manual threshold; {why}")


def _certify_with_reviews(
    conn: Connection,
    taxonomy_id: str,
    evidence: RoutingEvidence,
    *,
    target: float,
    level: float,
    pi: float,
    review: float,
    manual_auto: float | None,
    traffic: tuple[Reviewed, np.ndarray] | None,
) -> tuple[float | None, LaneBound, float]:
    """:func:`_certify`, and when the taxonomy's reviews (``traffic``; None: not asked) can
    bound its out-of-scope share, also the evidence at that share: each at half the risk
    (:func:`half_risk`), the lower threshold wins.  Where the reviews' share is clearly
    above ``pi`` the evidence is certified at the lower end of its interval instead (the
    third value: the share certified for): a new model or a re-certification must not
    reopen, on the operator's guess, a lane the traffic's unknown inputs had closed."""
    if traffic is None or not traffic[0].out_of_scope.size:
        auto, bound = _certify(
            evidence, target=target, level=level, pi=pi, review=review, manual_auto=manual_auto
        )
        return auto, bound, pi
    more = measured_share(conn, taxonomy_id, was=pi, level=level, traffic=traffic)
    if more is not None and more.estimate is not None and more.lower > pi:
        auto, bound = _certify(
            evidence,
            target=target,
            level=level,
            pi=more.lower,
            review=review,
            manual_auto=manual_auto,
        )
        # closed, no threshold was certified: said so (it read "auto threshold certified
        # for ..." after "closed: ..." until 7 December)
        judged = "auto threshold certified" if auto is not None else "auto lane judged"
        why = (
            f"{judged} for {more.lower:.3f} out of scope, the lower end of the "
            f"reviews' out-of-scope share {more.estimate:.3f} ({more.lower:.3f}-"
            f"{more.upper:.3f}, effective n {more.effective_n:.0f}), more than the expected "
            f"{pi:.3f}: a lower expected_out_of_scope does not move it while the reviews "
            "measure more"
        )
        return auto, replace(bound, reason=_joined(bound.reason, why)), more.lower
    each = half_risk(level)
    _, bound = _certify(
        evidence, target=target, level=each, pi=pi, review=review, manual_auto=manual_auto
    )
    learned = _learned_share_cert(
        conn,
        taxonomy_id,
        evidence,
        target=target,
        level=each,
        pi=pi,
        review=review,
        traffic=traffic,
    )
    bound = _lower_of(bound, learned)
    return bound.threshold, bound, pi


def _hold(
    evidence: RoutingEvidence, *, source: str, floor: float, pi: float, ceiling: float | None
) -> tuple[float, str]:
    """The hold (review) threshold of a version and the words behind it: ``floor`` itself
    when manual, else the evidence's choice in ``[floor, ceiling]``
    (:func:`triaged.routing_hold.evidence_hold_threshold`)."""
    if source != "evidence":
        return floor, ""
    choice = choose_hold(evidence, pi=pi, floor=floor, ceiling=ceiling)
    return choice.threshold, choice.reason


def choose_hold(
    evidence: RoutingEvidence, *, pi: float, floor: float, ceiling: float | None
) -> HoldChoice:
    """The evidence's hold threshold for an out-of-scope share ``pi`` (a measured share may
    be 1), never below ``floor`` nor above ``ceiling`` (the auto threshold; None: the grid's
    top), the ceiling winning (:func:`triaged.routing_hold.evidence_hold_threshold`)."""
    top = HOLD_GRID_TOP if ceiling is None else min(HOLD_GRID_TOP, ceiling)
    return evidence_hold_threshold(
        evidence, expected_out_of_scope=min(pi, 0.999), floor=min(floor, top), ceiling=top
    )


def _hold_share(
    conn: Connection,
    taxonomy_id: str,
    pi: float,
    level: float,
    traffic: tuple[Reviewed, np.ndarray],
) -> tuple[float, str]:
    """The out-of-scope share to choose a hold threshold for: where the reviews' interval
    excludes the expected ``pi``, its end nearest ``pi`` (:func:`nearest_share`); else ``pi``."""
    measured = measured_share(conn, taxonomy_id, was=pi, level=level, traffic=traffic)
    if measured is None or measured.estimate is None:
        return pi, ""
    share = nearest_share(measured, pi)
    return share, (
        f"hold threshold chosen for {share:.3f} out of scope, the end nearest the expected "
        f"{pi:.3f} of the reviews' out-of-scope share {measured.estimate:.3f} "
        f"({measured.lower:.3f}-{measured.upper:.3f}, effective n {measured.effective_n:.0f})"
    )


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


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
    # the taxonomy's reviews, read once for the hold share and the learned auto share
    traffic = traffic_reviews(conn, taxonomy_id) if prev is not None else None
    share, share_why = (pi, "")
    if traffic is not None and review_source == "evidence":
        share, share_why = _hold_share(conn, taxonomy_id, pi, level, traffic)
    review, hold_why = _hold(
        evidence, source=review_source, floor=floor, pi=share, ceiling=manual_auto
    )
    # reviews of earlier models may already bound the traffic's out-of-scope share
    auto, bound, auto_share = _certify_with_reviews(
        conn,
        taxonomy_id,
        evidence,
        target=target,
        level=level,
        pi=pi,
        review=review,
        manual_auto=manual_auto,
        traffic=traffic if manual_auto is None else None,
    )
    source = "manual" if manual_auto is not None else "training"
    new = _insert(
        conn,
        workspace_id=workspace_id,
        taxonomy_id=taxonomy_id,
        based_on=prev.version if prev is not None else None,
        values={
            "model_id": model_id,
            "auto": auto,
            "review": review,
            "review_source": review_source,
            "review_floor": floor if review_source == "evidence" else None,
            "audit_rate": rate,
            "auto_error_target": target,
            "confidence_level": level,
            "expected_out_of_scope": pi,
            "source": source,
            "reason": _joined(bound.reason, hold_why, share_why),
            "bound": {
                **_bound_dict(bound, "training"),
                "hold_share": share,
                "auto_share": auto_share,
            },
        },
    )
    if new is not None and prev is not None and auto_share > pi:
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


def _learned_share_cert(
    conn: Connection,
    taxonomy_id: str,
    evidence: RoutingEvidence,
    *,
    target: float,
    level: float,
    pi: float,
    review: float,
    traffic: tuple[Reviewed, np.ndarray] | None = None,
    model_version: str | None = None,
) -> LaneBound | None:
    """The threshold ``evidence`` certifies at the out-of-scope share the taxonomy's reviews
    bound (:mod:`triaged.services.routing_learning`; every model version's reviews: the
    share is the traffic's); None when they teach nothing.  ``traffic``: those reviews, when
    the caller has read them (:func:`traffic_reviews`).  ``model_version``: the version of
    the model behind ``evidence``, whose routed decisions also bound the share from the
    reviewed lanes (:func:`triaged.routing_live.reviewed_lanes_share`)."""
    pool, weights = traffic if traffic is not None else traffic_reviews(conn, taxonomy_id)
    if not pool.out_of_scope.size:
        return None
    own = (
        None
        if model_version is None
        else OwnRows(pool.model_version == model_version, pool.auto, pool.routed_auto)
    )
    return certify_from_live_share(
        evidence,
        pool.out_of_scope,
        weights,
        target=target,
        confidence_level=level,
        expected_out_of_scope=pi,
        review_threshold=review,
        grid=threshold_grid(review),
        confidence=pool.confidence,
        wrong=pool.wrong,
        own=own,
    )


def half_risk(level: float) -> float:
    """The confidence level of each of two certifications whose lower threshold is taken:
    each fails with at most half the risk, so the pair holds at ``level`` (a union bound)."""
    return 1.0 - (1.0 - level) / 2.0


def _lower_of(a: LaneBound, b: LaneBound | None) -> LaneBound:
    """The certification with the lower (open) threshold (each certified at
    :func:`half_risk` of the policy's level)."""
    if b is None or b.threshold is None:
        return a
    if a.threshold is None or b.threshold < a.threshold:
        return b
    return a


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
    traffic = traffic_reviews(conn, taxonomy_id)
    share, share_why = (pi, "")
    if review_source == "evidence":
        share, share_why = _hold_share(conn, taxonomy_id, pi, level, traffic)
    review, hold_why = _hold(
        evidence, source=review_source, floor=floor, pi=share, ceiling=manual_auto
    )
    auto, bound, auto_share = _certify_with_reviews(
        conn,
        taxonomy_id,
        evidence,
        target=target,
        level=level,
        pi=pi,
        review=review,
        manual_auto=manual_auto,
        traffic=traffic if manual_auto is None else None,
    )
    source = "manual" if manual_auto is not None else "training"
    # JSON's words ("auto=null"), not Python's ("auto=None")
    changed = ", ".join(f"{k}={json.dumps(changes[k])}" for k in MANUAL_FIELDS if k in changes)
    new = _insert(
        conn,
        workspace_id=workspace_id,
        taxonomy_id=taxonomy_id,
        based_on=base.version or None,
        values={
            "model_id": model_id,
            "auto": auto,
            "review": review,
            "audit_rate": rate,
            "auto_error_target": target,
            "confidence_level": level,
            "expected_out_of_scope": pi,
            "source": source,
            "review_source": review_source,
            "review_floor": floor if review_source == "evidence" else None,
            "reason": _joined(
                f"set through the API ({changed or 'no change'})", bound.reason, hold_why, share_why
            ),
            "created_by": created_by,
            "bound": {
                **_bound_dict(bound, "training"),
                "hold_share": share,
                "auto_share": auto_share,
            },
        },
    )
    if new is None:  # serialised by the lock: only a concurrent writer gets here
        raise Conflict(
            "the routing policy changed while this change was being made; read it and retry",
            details={"taxonomy_id": taxonomy_id, "reason": "policy_changed"},
        )
    return new
