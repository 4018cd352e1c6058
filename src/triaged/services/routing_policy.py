"""The routing policy of each taxonomy: versioned thresholds, certified, kept honest live.

A policy version holds the thresholds the service routes by (``auto`` may be None: the
auto lane is closed and everything above ``review`` is flagged), the audit share, the
lane's error target with its confidence level and expected out-of-scope share, where
it came from (``training``, ``manual``, ``live``), why, and the bound behind it.

* When a model becomes active (training, retrain, rollback) a new version is certified
  from the model's held-out routing evidence (:func:`for_model`): the lowest threshold
  whose bound on the lane's error, out-of-scope inputs included, meets the target.  A
  ``manual`` auto threshold (set through the API or in the taxonomy definition) is
  kept, with the bound at it recomputed.
* Live (:func:`live_check`, after each review and periodically): audited ``auto``
  decisions (weighted by the inverse of the audit share they were drawn with) and
  reviewed ``review``/``hold`` decisions are unbiased evidence about real traffic.
  When the upper bound of the auto lane's live error since the current version exceeds
  the target (or, before ``live_min_audits`` audits, its lower bound already does),
  the threshold is raised to the lowest higher one that the live reviews certify, or
  the lane is closed; it is lowered only when the live reviews certify a lower one, or
  when they bound the traffic's out-of-scope share below the expected one and the
  model's evidence certifies a lower one at that share (:mod:`.routing_learning`).
  Each change is a ``live`` version and an ``alert.auto_lane`` webhook event.
* Changing a policy never retrains; every decision records the version it was routed by.

Several API processes may check at once: a change takes the PostgreSQL advisory lock of
the taxonomy (SQLite: the one writer), re-reads the current version and writes only if
it is still the one the check was based on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, case, func, insert, select, text, update

from triaged.errors import Conflict, InvalidInput, ValidationFailed
from triaged.routing import (
    Bucket,
    LaneBound,
    RoutingEvidence,
    certify_auto_threshold,
    certify_from_reviews,
    lane_bound_at,
    threshold_grid,
    weighted_error_bound,
)
from triaged.services.ids import as_utc, new_id, utcnow
from triaged.services.periodic import Periodic
from triaged.services.routing_learning import certify_from_live_share, review_weights
from triaged.storage.db import Database
from triaged.storage.review import review_items
from triaged.storage.tables import decisions, models, routing_policies, taxonomies
from triaged.taxonomy import OOS_LABEL, Thresholds

__all__ = [
    "ALERT_EVENT",
    "Defaults",
    "LiveConfig",
    "Policy",
    "RoutingChecker",
    "current",
    "evidence_of",
    "evidence_of_model",
    "for_model",
    "get_version",
    "legacy",
    "live_check",
    "live_status",
    "public",
    "reviewed_audits_since",
    "set_manual",
    "start_routing_checker",
    "what_if",
]

log = logging.getLogger("triaged.routing")

ALERT_EVENT = "alert.auto_lane"
ROUTING_LOCK_KEY = 727375004  # advisory lock class of routing changes (PostgreSQL)
SOURCES = ("training", "manual", "live")
EARLY_MIN_LOOK = 10  # the first look of the early failure check (reviewed audits)


@dataclass(frozen=True, slots=True)
class Defaults:
    """Parameters of a taxonomy's first policy (from settings)."""

    auto_error_target: float = 0.02
    confidence_level: float = 0.95
    expected_out_of_scope: float = 0.2


_DEFAULTS = Defaults()


@dataclass(frozen=True, slots=True)
class LiveConfig:
    min_audits: int = 200  # reviewed audits after which the lane must be live-certified
    thin_audit_rate: float = 0.10


@dataclass(frozen=True, slots=True)
class Policy:
    """One version of a taxonomy's routing policy."""

    taxonomy_id: str
    version: int
    auto: float | None
    review: float
    audit_rate: float | None  # None: the service's setting (review_audit_rate[s])
    auto_error_target: float
    confidence_level: float
    expected_out_of_scope: float
    source: str
    reason: str
    bound: dict[str, Any]
    created_at: datetime
    model_id: str | None = None

    @property
    def auto_lane_open(self) -> bool:
        return self.auto is not None

    def route(self, confidence: float) -> Bucket:
        if self.auto is not None and confidence >= self.auto:
            return Bucket.AUTO
        if confidence >= self.review:
            return Bucket.REVIEW
        return Bucket.HOLD

    @classmethod
    def from_row(cls, row: Any) -> Policy:
        m = row._mapping
        return cls(
            taxonomy_id=m["taxonomy_id"],
            version=int(m["version"]),
            auto=None if m["auto"] is None else float(m["auto"]),
            review=float(m["review"]),
            audit_rate=None if m["audit_rate"] is None else float(m["audit_rate"]),
            auto_error_target=float(m["auto_error_target"]),
            confidence_level=float(m["confidence_level"]),
            expected_out_of_scope=float(m["expected_out_of_scope"]),
            source=m["source"],
            reason=m["reason"],
            bound=dict(m["bound"] or {}),
            created_at=as_utc(m["created_at"]),
            model_id=m["model_id"],
        )


def legacy(taxonomy_id: str, thresholds: Thresholds) -> Policy:
    """The policy of a taxonomy with no recorded version yet (its definition's thresholds)."""
    return Policy(
        taxonomy_id=taxonomy_id,
        version=0,
        auto=float(thresholds.auto),
        review=float(thresholds.review),
        audit_rate=None,
        auto_error_target=_DEFAULTS.auto_error_target,
        confidence_level=_DEFAULTS.confidence_level,
        expected_out_of_scope=_DEFAULTS.expected_out_of_scope,
        source="manual",
        reason="the taxonomy definition's thresholds (no routing policy recorded yet)",
        bound={},
        created_at=utcnow(),
    )


# ------------------------------------------------------------------- reading
def current(conn: Connection, taxonomy_id: str) -> Policy | None:
    row = conn.execute(
        select(routing_policies)
        .where(routing_policies.c.taxonomy_id == taxonomy_id)
        .order_by(routing_policies.c.version.desc())
        .limit(1)
    ).first()
    return Policy.from_row(row) if row is not None else None


def get_version(conn: Connection, taxonomy_id: str, version: int) -> Policy | None:
    row = conn.execute(
        select(routing_policies).where(
            routing_policies.c.taxonomy_id == taxonomy_id, routing_policies.c.version == version
        )
    ).first()
    return Policy.from_row(row) if row is not None else None


def reviewed_audits_since(conn: Connection, policy: Policy) -> int:
    """Reviewed audits of ``auto`` decisions routed by ``policy`` (for the thin audit share)."""
    r, d = review_items.c, decisions.c
    return int(
        conn.execute(
            select(func.count())
            .select_from(review_items.join(decisions, d.id == r.decision_id))
            .where(
                r.taxonomy_id == policy.taxonomy_id,
                r.resolved_at >= policy.created_at,
                r.queue == "audit",
                d.policy_version == policy.version,
                d.final_label.is_not(None),
            )
        ).scalar_one()
    )


@dataclass(frozen=True, slots=True)
class Reviewed:
    """Reviewed decisions as arrays: confidence, wrong, importance weight, bucket."""

    confidence: np.ndarray
    wrong: np.ndarray
    weight: np.ndarray
    auto: np.ndarray  # routed auto (an audit)
    out_of_scope: np.ndarray  # a person marked it as fitting no label


def _reviewed(
    conn: Connection,
    taxonomy_id: str,
    *,
    model_version: str | None = None,
    policy_version: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    audits_only: bool = False,
    default_rate: float = 0.02,
) -> Reviewed:
    """Decisions a person reviewed with a decisive outcome (a final label).

    An ``auto`` decision was reviewed only if drawn into the audit sample: its weight is
    ``1 / audit_rate`` (the share it was drawn with); a ``review``/``hold`` one weighs 1.
    Wrong: the final label is not the model's (corrected, a new category, ``oos``).
    """
    r, d = review_items.c, decisions.c
    conds = [
        r.taxonomy_id == taxonomy_id,
        r.status == "resolved",
        d.final_label.is_not(None),
        d.final_source == "review",
    ]
    if model_version is not None:
        conds.append(d.model_version == model_version)
    if policy_version is not None:
        conds.append(d.policy_version == policy_version)
    if since is not None:
        conds.append(d.created_at >= since)
    if until is not None:
        conds.append(d.created_at < until)
    if audits_only:
        conds.append(r.queue == "audit")
    rows = conn.execute(
        select(d.confidence, d.label, d.final_label, d.bucket, d.audit_rate)
        .select_from(review_items.join(decisions, d.id == r.decision_id))
        .where(*conds)
        .order_by(r.resolved_at, r.id)  # in the order the reviews came in
    ).all()
    conf = np.fromiter((row.confidence for row in rows), np.float64, len(rows))
    wrong = np.fromiter((row.final_label != row.label for row in rows), bool, len(rows))
    is_auto = np.fromiter((row.bucket == Bucket.AUTO.value for row in rows), bool, len(rows))
    rate = np.fromiter(
        (
            (row.audit_rate if row.audit_rate else default_rate) if row.bucket == "auto" else 1.0
            for row in rows
        ),
        np.float64,
        len(rows),
    )
    weight = 1.0 / np.clip(rate, 1e-6, 1.0)
    oos = np.fromiter((row.final_label == OOS_LABEL for row in rows), bool, len(rows))
    return Reviewed(conf, wrong, weight, is_auto, oos)


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

    blob = conn.execute(select(models.c.blob).where(models.c.id == model_id)).scalar_one_or_none()
    if blob is None:
        return RoutingEvidence.empty()
    return evidence_of(Classifier.from_bytes(bytes(blob)))


# ------------------------------------------------------------------- writing
def _lock(conn: Connection, taxonomy_id: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(:tid))"),
            {"key": ROUTING_LOCK_KEY, "tid": taxonomy_id},
        )


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
    conn.execute(insert(routing_policies).values(**row))
    conn.execute(
        update(taxonomies).where(taxonomies.c.id == taxonomy_id).values(routing_version=version)
    )
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
    """A new version certified for a model that just became active (same transaction)."""
    prev = current(conn, taxonomy_id)
    if prev is not None:
        target, level = prev.auto_error_target, prev.confidence_level
        pi, review, rate = prev.expected_out_of_scope, prev.review, prev.audit_rate
        manual_auto = prev.auto if prev.source == "manual" else None
        if prev.source == "manual" and prev.auto is None:
            manual_auto = None
    else:
        target, level = defaults.auto_error_target, defaults.confidence_level
        pi, review, rate = defaults.expected_out_of_scope, thresholds.review, None
        manual_auto = None
    auto, bound = _certify(
        evidence, target=target, level=level, pi=pi, review=review, manual_auto=manual_auto
    )
    if manual_auto is None and prev is not None:
        # reviews of earlier models already bound the traffic's out-of-scope share
        learned = _learned_share_cert(
            conn, taxonomy_id, evidence, target=target, level=level, pi=pi, review=review
        )
        bound = _lower_of(bound, learned)
        auto = bound.threshold
    source = "manual" if manual_auto is not None else "training"
    return _insert(
        conn,
        workspace_id=workspace_id,
        taxonomy_id=taxonomy_id,
        based_on=prev.version if prev is not None else None,
        values={
            "model_id": model_id,
            "auto": auto,
            "review": review,
            "audit_rate": rate,
            "auto_error_target": target,
            "confidence_level": level,
            "expected_out_of_scope": pi,
            "source": source,
            "reason": bound.reason,
            "bound": _bound_dict(bound, "training"),
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
    "audit_rate",
    "auto_error_target",
    "confidence_level",
    "expected_out_of_scope",
)


def set_manual(
    conn: Connection,
    *,
    workspace_id: str,
    taxonomy_id: str,
    model_id: str | None,
    evidence: RoutingEvidence,
    changes: Mapping[str, Any],
    base: Policy,
) -> Policy:
    """A new version with ``changes`` (never retrains).  ``auto`` given: a manual threshold;
    ``auto: null``: recomputed from the model's evidence; absent: a manual threshold stays,
    a certified one is re-certified with the new parameters."""
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
    review = _unit("review", changes.get("review", base.review))
    rate_in = changes.get("audit_rate", base.audit_rate)
    rate = None if rate_in is None else _unit("audit_rate", rate_in)
    if "auto" in changes:
        manual_auto = None if changes["auto"] is None else _unit("auto", changes["auto"])
    else:
        manual_auto = base.auto if base.source == "manual" else None
    if manual_auto is not None and review > manual_auto:
        raise ValidationFailed(
            f"review ({review:g}) must not exceed auto ({manual_auto:g})",
            details={"field": "review", "review": review, "auto": manual_auto},
        )
    auto, bound = _certify(
        evidence, target=target, level=level, pi=pi, review=review, manual_auto=manual_auto
    )
    if manual_auto is None:
        # the reviews already bound the traffic's out-of-scope share
        learned = _learned_share_cert(
            conn, taxonomy_id, evidence, target=target, level=level, pi=pi, review=review
        )
        bound = _lower_of(bound, learned)
        auto = bound.threshold
    source = "manual" if manual_auto is not None else "training"
    changed = ", ".join(f"{k}={changes[k]}" for k in MANUAL_FIELDS if k in changes)
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
            "reason": f"set through the API ({changed or 'no change'}); {bound.reason}",
            "bound": _bound_dict(bound, "training"),
        },
    )
    if new is None:  # serialised by the lock: only a concurrent writer gets here
        raise Conflict(
            "the routing policy changed while this change was being made; read it and retry",
            details={"taxonomy_id": taxonomy_id, "reason": "policy_changed"},
        )
    return new


# ---------------------------------------------------------------------- live
@dataclass(frozen=True, slots=True)
class LiveStatus:
    n: int
    errors: int
    estimate: float | None
    lower: float
    upper: float
    effective_n: float
    # the audits in the order they were reviewed (for the early check's fixed looks)
    wrong: np.ndarray | None = None
    weight: np.ndarray | None = None


def live_status(conn: Connection, policy: Policy, *, default_rate: float) -> LiveStatus:
    """The auto lane's live error since ``policy`` (its audited decisions, weighted)."""
    ev = _reviewed(
        conn,
        policy.taxonomy_id,
        policy_version=policy.version,
        audits_only=True,
        default_rate=default_rate,
    )
    wb = weighted_error_bound(ev.wrong, ev.weight, 1.0 - policy.confidence_level)
    return LiveStatus(
        wb.n, wb.errors, wb.estimate, wb.lower, wb.upper, wb.effective_n, ev.wrong, ev.weight
    )


def _model_version(conn: Connection, model_id: str | None) -> str | None:
    if model_id is None:
        return None
    return conn.execute(
        select(models.c.model_version).where(models.c.id == model_id)
    ).scalar_one_or_none()


def _fails(status: LiveStatus, policy: Policy, cfg: LiveConfig) -> bool:
    """Whether the audits since ``policy`` say its auto lane misses the target.

    From ``n_min`` audits on (``min_audits``, and at least as many as could certify the
    target with no error at all) the lane must be certified live: its upper bound at the
    policy's level must meet the target.  Before that only a clear failure counts: at
    fixed looks (the first n_min/2, n_min/4, ... reviewed audits, down to 10) the lower
    bound exceeds the target at ``(1 - level) / looks``.  The check runs after every
    audit, but each look sees the same audits every time, so Bonferroni over the looks
    keeps false alarms under ``1 - level``.
    """
    target, delta = policy.auto_error_target, 1.0 - policy.confidence_level
    n_min = max(cfg.min_audits, math.ceil(math.log(delta) / math.log1p(-target)))
    if status.effective_n >= n_min:
        return status.upper > target
    if status.wrong is None or status.weight is None:
        return False
    looks = []
    n = n_min // 2
    while n >= EARLY_MIN_LOOK:
        looks.append(n)
        n //= 2
    reached = [k for k in looks if k <= status.n]
    if not reached:
        return False
    k = max(reached)
    early = weighted_error_bound(status.wrong[:k], status.weight[:k], delta / len(looks))
    return early.lower > target


def _live_decision(
    conn: Connection,
    policy: Policy,
    active_model_id: str | None,
    cfg: LiveConfig,
    default_rate: float,
    lowering: bool = True,
) -> tuple[float | None, str, LaneBound, LiveStatus] | None:
    """What the live evidence says the policy should become (None: keep it).  Lowering
    (and reopening) reads every reviewed decision of the model: ``lowering=False`` skips it."""
    if policy.version == 0:
        return None
    status = live_status(conn, policy, default_rate=default_rate)
    target, level = policy.auto_error_target, policy.confidence_level
    failing = policy.auto is not None and status.n > 0 and _fails(status, policy, cfg)
    can_lower = lowering and policy.source != "manual"
    if not failing and not can_lower:
        return None
    pool = _reviewed(
        conn,
        policy.taxonomy_id,
        model_version=_model_version(conn, active_model_id or policy.model_id),
        default_rate=default_rate,
    )
    grid = threshold_grid(policy.review)
    if failing:
        assert policy.auto is not None
        higher = [t for t in grid if t > policy.auto + 1e-12]
        cert = certify_from_reviews(
            pool.confidence,
            pool.wrong,
            pool.weight,
            target=target,
            confidence_level=level,
            review_threshold=policy.review,
            grid=higher,
        )
        what = (
            f"live: {status.n} audits since version {policy.version} put the auto lane's "
            f"error at {status.estimate or 0.0:.3f} (bound {status.lower:.3f}-"
            f"{status.upper:.3f} at {level:.0%}) against a target of {target:.3f}"
        )
        if cert.threshold is None:
            return None, f"{what}; auto lane closed ({cert.reason})", cert, status
        return cert.threshold, f"{what}; raised to {cert.threshold:g} ({cert.reason})", cert, status
    cert = certify_from_reviews(
        pool.confidence,
        pool.wrong,
        pool.weight,
        target=target,
        confidence_level=level,
        review_threshold=policy.review,
        grid=grid,
    )
    model_id = active_model_id or policy.model_id
    if model_id is not None:
        learned = _learned_share_cert(
            conn,
            policy.taxonomy_id,
            evidence_of_model(conn, model_id),
            target=target,
            level=level,
            pi=policy.expected_out_of_scope,
            review=policy.review,
        )
        cert = _lower_of(cert, learned)
    if cert.threshold is None or (policy.auto is not None and cert.threshold >= policy.auto):
        return None
    was = "closed" if policy.auto is None else f"{policy.auto:g}"
    return (
        cert.threshold,
        f"live: reviews certify a lower threshold; {was} -> {cert.threshold:g} ({cert.reason})",
        cert,
        status,
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
) -> LaneBound | None:
    """The threshold ``evidence`` certifies at the out-of-scope share the taxonomy's reviews
    bound (:mod:`triaged.services.routing_learning`; every model version's reviews: the
    share is the traffic's); None when they teach nothing."""
    pool = _reviewed(conn, taxonomy_id)
    if not pool.out_of_scope.size:
        return None
    weights = review_weights(conn, taxonomy_id, None, pool.weight, pool.auto)
    return certify_from_live_share(
        evidence,
        pool.out_of_scope,
        weights,
        target=target,
        confidence_level=level,
        expected_out_of_scope=pi,
        review_threshold=review,
        grid=threshold_grid(review),
    )


def _lower_of(a: LaneBound, b: LaneBound | None) -> LaneBound:
    """The certification with the lower (open) threshold."""
    if b is None or b.threshold is None:
        return a
    if a.threshold is None or b.threshold < a.threshold:
        return b
    return a


def live_check(
    conn: Connection,
    *,
    workspace_id: str,
    taxonomy_id: str,
    taxonomy: str,
    active_model_id: str | None,
    cfg: LiveConfig,
    write: bool,
    default_rate: float,
    lowering: bool = True,
) -> Policy | dict[str, Any] | None:
    """Check the live bound of a taxonomy's current policy.

    With ``write=False`` (a read transaction) returns what a change would be (a dict) or
    None; with ``write=True`` (a write transaction) records the change as a new ``live``
    version and an ``alert.auto_lane`` event, and returns the new policy.
    """
    if write:
        _lock(conn, taxonomy_id)
    policy = current(conn, taxonomy_id)
    if policy is None:
        return None
    decision = _live_decision(conn, policy, active_model_id, cfg, default_rate, lowering)
    if decision is None:
        return None
    auto, reason, cert, status = decision
    if not write:
        return {"auto": auto, "reason": reason}
    new = _insert(
        conn,
        workspace_id=workspace_id,
        taxonomy_id=taxonomy_id,
        based_on=policy.version,
        values={
            "model_id": active_model_id or policy.model_id,
            "auto": auto,
            "review": policy.review,
            "audit_rate": policy.audit_rate,
            "auto_error_target": policy.auto_error_target,
            "confidence_level": policy.confidence_level,
            "expected_out_of_scope": policy.expected_out_of_scope,
            "source": "live",
            "reason": reason,
            "bound": _bound_dict(cert, "live", policy.created_at),
        },
    )
    if new is None:
        return None
    from triaged.webhooks import enqueue_event

    enqueue_event(
        conn,
        workspace_id=workspace_id,
        event_type=ALERT_EVENT,
        data={
            "taxonomy": taxonomy,
            "from": policy.auto,
            "to": auto,
            "policy_version": new.version,
            "bound": {
                "upper": cert.upper_bound,
                "estimate": cert.estimate,
                "n": cert.n,
                "errors": cert.errors,
                "live": {
                    "n": status.n,
                    "errors": status.errors,
                    "estimate": status.estimate,
                    "upper": status.upper,
                    "since": policy.created_at.isoformat(),
                },
            },
            "reason": reason,
        },
    )
    log.warning("routing %s: %s", taxonomy, reason)
    return new


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
        bound = {
            "upper": stored.get("upper_bound"),
            "estimate": stored.get("estimate"),
            "n": int(stored.get("n") or 0),
            "errors": int(stored.get("errors") or 0),
            "since": stored.get("since"),
            "basis": stored.get("basis", "training"),
        }
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
    }


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
    d = decisions.c
    window = and_(d.taxonomy_id == taxonomy_id, d.created_at >= since, d.created_at < until)
    auto_hit = d.confidence >= auto if auto is not None else d.confidence > 2.0
    n, n_auto, n_review = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((auto_hit, 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(~auto_hit, d.confidence >= review), 1), else_=0)), 0),
        ).where(window)
    ).one()
    n, n_auto, n_review = int(n), int(n_auto), int(n_review)
    ev = _reviewed(conn, taxonomy_id, since=since, until=until, default_rate=default_rate)
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


# ------------------------------------------------------------------ periodic
class RoutingChecker(Periodic):
    """Checks every active taxonomy's live bound every ``interval_s`` (besides the check
    after each review), and certifies a first policy for models older than policies."""

    name = "routing-checker"

    def __init__(self, db: Database, check: Callable[[str, str], Any], interval_s: float) -> None:
        super().__init__(interval_s)
        self.db = db
        self.check = check

    def run_once(self) -> list[Any]:
        t = taxonomies.c
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.workspace_id, t.id).where(
                    t.active_model_id.is_not(None), t.archived_at.is_(None)
                )
            ).all()
        changed = []
        for workspace_id, taxonomy_id in rows:
            try:
                new = self.check(workspace_id, taxonomy_id)
            except Exception:  # one taxonomy's failure must not stop the others
                log.exception("routing check of %s failed", taxonomy_id)
                continue
            if new is not None:
                changed.append(new)
        return changed


def start_routing_checker(
    db: Database, check: Callable[[str, str], Any], interval_s: float
) -> RoutingChecker | None:
    """Start the checker (first round at once); None when ``interval_s`` is 0."""
    if interval_s <= 0:
        return None
    return RoutingChecker(db, check, interval_s).start()
