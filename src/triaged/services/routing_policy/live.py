"""The live guarantee: audits and reviews since a version, checked against its target
(after reviews and periodically); a change is a ``live`` version and an alert."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection

from triaged.routing import LaneBound, threshold_grid
from triaged.routing_live import (
    block_failure,
    certify_from_review_stream,
    certify_from_reviews,
    early_failure,
    weighted_error_bound,
)
from triaged.services.periodic import Periodic
from triaged.services.routing_learning import stratified_weights
from triaged.services.routing_policy.certify import (
    bound_dict,
    half_risk,
    learned_share_cert,
    lower_of,
)
from triaged.services.routing_policy.live_hold import HoldChange, hold_share, live_hold
from triaged.services.routing_policy.model import ALERT_EVENT, LiveConfig, Policy, lane_change
from triaged.services.routing_policy.reviews import reviewed
from triaged.services.routing_policy.store import (
    _insert,
    _lock,
    current,
    evidence_of_model,
)
from triaged.storage import routing_repo, training_repo
from triaged.storage.db import Database

log = logging.getLogger("triaged.routing")


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
    ev = reviewed(
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
    return training_repo.model_version(conn, model_id)


def _fails(status: LiveStatus, policy: Policy, cfg: LiveConfig) -> bool:
    """Whether the audits since ``policy`` say its auto lane misses the target.

    From ``n_min`` audits on (``min_audits``, and at least as many as could certify the
    target with no error at all) the lane must be certified live: its upper bound at the
    policy's level must meet the target, and no block of ``n_min`` consecutive audits may
    show a clear failure (:func:`triaged.routing_live.block_failure`: a change in the
    traffic long after the version).  Before that only a clear failure counts
    (:func:`triaged.routing_live.early_failure`: fixed looks, Bonferroni over them).
    """
    target, delta = policy.auto_error_target, 1.0 - policy.confidence_level
    n_min = max(cfg.min_audits, math.ceil(math.log(delta) / math.log1p(-target)))
    if status.effective_n >= n_min and status.upper > target:
        return True
    if status.wrong is None or status.weight is None:
        return False
    if status.effective_n >= n_min:
        return block_failure(status.wrong, status.weight, target=target, delta=delta, block=n_min)
    return early_failure(status.wrong, status.weight, target=target, delta=delta, n_min=n_min)


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
    version = _model_version(conn, active_model_id or policy.model_id)
    pool = reviewed(conn, policy.taxonomy_id, model_version=version, default_rate=default_rate)
    weight = stratified_weights(conn, policy.taxonomy_id, version, pool.confidence, pool.weight)
    grid = threshold_grid(policy.review)
    if failing:
        assert policy.auto is not None
        higher = [t for t in grid if t > policy.auto + 1e-12]
        cert = certify_from_reviews(
            pool.confidence,
            pool.wrong,
            weight,
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
    model_id = active_model_id or policy.model_id
    # two ways to a lower threshold (these reviews alone; the model's evidence at the
    # out-of-scope share the reviews bound): each at half the risk, the lower one wins;
    # both read the reviews through time-uniform bounds, so checking after every review
    # spends it once
    each = level if model_id is None else half_risk(level)
    cert = certify_from_review_stream(
        pool.confidence,
        pool.wrong,
        weight,
        target=target,
        confidence_level=each,
        review_threshold=policy.review,
        grid=grid,
    )
    if model_id is not None:
        learned = learned_share_cert(
            conn,
            policy.taxonomy_id,
            evidence_of_model(conn, model_id),
            target=target,
            level=each,
            pi=policy.expected_out_of_scope,
            review=policy.review,
            model_version=version,
        )
        cert = lower_of(cert, learned)
    if cert.threshold is None or (policy.auto is not None and cert.threshold >= policy.auto):
        return None
    was = "closed" if policy.auto is None else f"{policy.auto:g}"
    return (
        cert.threshold,
        f"live: reviews certify a lower threshold; {was} -> {cert.threshold:g} ({cert.reason})",
        cert,
        status,
    )


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
        if policy.auto is None and lowering:  # a closed lane has no audits to keep apart
            return _closed_lane_hold(
                conn, policy, active_model_id, default_rate, workspace_id, write
            )
        return None
    auto, auto_reason, cert, status = decision
    # with an open lane the hold threshold moves with a new auto threshold only, so a
    # version's audits always measure the auto threshold it was routed by
    hold = _hold_change(conn, policy, active_model_id, default_rate, auto)
    reason = "; ".join(part for part in (auto_reason, hold.reason if hold else "") if part)
    if not write:
        return {"auto": auto, "review": hold.review if hold else policy.review, "reason": reason}
    bound = bound_dict(cert, "live", policy.created_at)
    bound["hold_share"] = hold.share if hold is not None else hold_share(policy)
    bound["auto_reason"] = auto_reason
    review = hold.review if hold is not None else policy.review
    new = _insert(
        conn,
        workspace_id=workspace_id,
        taxonomy_id=taxonomy_id,
        based_on=policy.version,
        values=_live_values(policy, active_model_id, auto, review, reason, bound),
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
            "change": lane_change(policy.auto, auto),
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


def _hold_change(
    conn: Connection,
    policy: Policy,
    active_model_id: str | None,
    default_rate: float,
    auto: float | None,
) -> HoldChange | None:
    """The hold threshold the taxonomy's reviews call for (:mod:`.live_hold`)."""
    if policy.version == 0 or policy.review_source != "evidence":
        return None
    return live_hold(
        conn,
        policy,
        model_id=active_model_id or policy.model_id,
        ceiling=auto,
        default_rate=default_rate,
    )


def _live_values(
    policy: Policy,
    model_id: str | None,
    auto: float | None,
    review: float,
    reason: str,
    bound: dict[str, Any],
) -> dict[str, Any]:
    """The row of a ``live`` version: ``policy``'s parameters with new thresholds."""
    return {
        "model_id": model_id or policy.model_id,
        "auto": auto,
        "review": review,
        "review_source": policy.review_source,
        "review_floor": policy.review_floor,
        "audit_rate": policy.audit_rate,
        "auto_error_target": policy.auto_error_target,
        "confidence_level": policy.confidence_level,
        "expected_out_of_scope": policy.expected_out_of_scope,
        "source": "live",
        "reason": reason,
        "bound": bound,
    }


def _closed_lane_hold(
    conn: Connection,
    policy: Policy,
    active_model_id: str | None,
    default_rate: float,
    workspace_id: str,
    write: bool,
) -> Policy | dict[str, Any] | None:
    """A new hold threshold for a closed auto lane (a ``live`` version with the lane still
    closed and its reason kept); None when the reviews call for none."""
    hold = _hold_change(conn, policy, active_model_id, default_rate, None)
    if hold is None:
        return None
    closed = str(policy.bound.get("auto_reason") or policy.reason)
    reason = f"{closed}; {hold.reason}"
    if not write:
        return {"auto": None, "review": hold.review, "reason": reason}
    new = _insert(
        conn,
        workspace_id=workspace_id,
        taxonomy_id=policy.taxonomy_id,
        based_on=policy.version,
        values=_live_values(
            policy,
            active_model_id,
            None,
            hold.review,
            reason,
            {**policy.bound, "hold_share": hold.share, "auto_reason": closed},
        ),
    )
    if new is not None:
        log.info("routing %s: %s", policy.taxonomy_id, hold.reason)
    return new


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
        with self.db.read() as conn:
            rows = routing_repo.active_taxonomies(conn)
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
