"""Certifying a new policy version's thresholds from a model's held-out evidence and the
taxonomy's reviews: the auto threshold (:func:`certify`, :func:`certify_with_reviews`)
and the hold threshold (:func:`hold_threshold`), both together for a version
(:func:`certify_lanes`); :mod:`.store` writes the versions, :mod:`.live` re-certifies them
as reviews come in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection

from triaged.routing import (
    LaneBound,
    RoutingEvidence,
    certify_auto_threshold,
    lane_bound_at,
    threshold_grid,
)
from triaged.routing_hold import HOLD_GRID_TOP, HoldChoice, evidence_hold_threshold
from triaged.services.routing_learning import OwnRows, certify_from_live_share
from triaged.services.routing_policy.reviews import (
    Reviewed,
    measured_share,
    nearest_share,
    traffic_reviews,
)

__all__ = [
    "Lanes",
    "Parameters",
    "bound_dict",
    "certify",
    "certify_lanes",
    "certify_with_reviews",
    "choose_hold",
    "half_risk",
    "hold_threshold",
    "joined",
    "learned_share_cert",
    "lower_of",
    "share_for_hold",
]


def bound_dict(bound: LaneBound, basis: str, since: datetime | None = None) -> dict[str, Any]:
    return {**bound.to_dict(), "basis": basis, "since": since.isoformat() if since else None}


def certify(
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


def certify_with_reviews(
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
    """:func:`certify`, and when the taxonomy's reviews (``traffic``; None: not asked) can
    bound its out-of-scope share, also the evidence at that share: each at half the risk
    (:func:`half_risk`), the lower threshold wins.  Where the reviews' share is clearly
    above ``pi`` the evidence is certified at the lower end of its interval instead (the
    third value: the share certified for): a new model or a re-certification must not
    reopen, on the operator's guess, a lane the traffic's unknown inputs had closed."""
    if traffic is None or not traffic[0].out_of_scope.size:
        auto, bound = certify(
            evidence, target=target, level=level, pi=pi, review=review, manual_auto=manual_auto
        )
        return auto, bound, pi
    more = measured_share(conn, taxonomy_id, was=pi, level=level, traffic=traffic)
    if more is not None and more.estimate is not None and more.lower > pi:
        auto, bound = certify(
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
        return auto, replace(bound, reason=joined(bound.reason, why)), more.lower
    each = half_risk(level)
    _, bound = certify(
        evidence, target=target, level=each, pi=pi, review=review, manual_auto=manual_auto
    )
    learned = learned_share_cert(
        conn,
        taxonomy_id,
        evidence,
        target=target,
        level=each,
        pi=pi,
        review=review,
        traffic=traffic,
    )
    bound = lower_of(bound, learned)
    return bound.threshold, bound, pi


def hold_threshold(
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


def share_for_hold(
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


def joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class Parameters:
    """What a new policy version is certified for: the lane's error target and confidence
    level, the expected out-of-scope share, where the hold threshold comes from (and its
    floor), and the auto threshold set by hand (None: certified)."""

    target: float
    level: float
    pi: float
    review_source: str
    floor: float
    manual_auto: float | None


@dataclass(frozen=True, slots=True)
class Lanes:
    """Both thresholds of a new version, the bound behind the auto one and why."""

    auto: float | None
    review: float
    bound: LaneBound
    hold_share: float
    auto_share: float
    why: tuple[str, str]  # the hold threshold's reason, the hold share's
    params: Parameters

    @property
    def values(self) -> dict[str, Any]:
        """The version's columns these decide."""
        p = self.params
        return {
            "auto": self.auto,
            "review": self.review,
            "review_source": p.review_source,
            "review_floor": p.floor if p.review_source == "evidence" else None,
            "auto_error_target": p.target,
            "confidence_level": p.level,
            "expected_out_of_scope": p.pi,
            "source": "manual" if p.manual_auto is not None else "training",
            "bound": {
                **bound_dict(self.bound, "training"),
                "hold_share": self.hold_share,
                "auto_share": self.auto_share,
            },
        }


def certify_lanes(
    conn: Connection,
    taxonomy_id: str,
    evidence: RoutingEvidence,
    p: Parameters,
    traffic: tuple[Reviewed, np.ndarray] | None,
) -> Lanes:
    """The hold threshold from the model's evidence (for the out-of-scope share the reviews
    in ``traffic`` measure, when they measure one) and the auto threshold certified from
    the evidence and, where they bound the share, the reviews (unless set by hand)."""
    share, share_why = (p.pi, "")
    if traffic is not None and p.review_source == "evidence":
        share, share_why = share_for_hold(conn, taxonomy_id, p.pi, p.level, traffic)
    review, hold_why = hold_threshold(
        evidence, source=p.review_source, floor=p.floor, pi=share, ceiling=p.manual_auto
    )
    auto, bound, auto_share = certify_with_reviews(
        conn,
        taxonomy_id,
        evidence,
        target=p.target,
        level=p.level,
        pi=p.pi,
        review=review,
        manual_auto=p.manual_auto,
        traffic=traffic if p.manual_auto is None else None,
    )
    return Lanes(auto, review, bound, share, auto_share, (hold_why, share_why), p)


def learned_share_cert(
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


def lower_of(a: LaneBound, b: LaneBound | None) -> LaneBound:
    """The certification with the lower (open) threshold (each certified at
    :func:`half_risk` of the policy's level)."""
    if b is None or b.threshold is None:
        return a
    if a.threshold is None or b.threshold < a.threshold:
        return b
    return a
