"""The hold threshold follows the out-of-scope share the reviews measure.

A hold threshold chosen from the evidence (``review_source: evidence``) was chosen for an
out-of-scope share: the operator's ``expected_out_of_scope``, or the share the reviews
measured (kept in the version's ``bound`` as ``hold_share``).  Reviewed decisions measure
the traffic's real share: a person marks an input ``out_of_scope``, each decision weighted
by the inverse of the chance it was reviewed
(:func:`~triaged.services.routing_policy.reviews.measured_share`).  When the interval of that
measure at the policy's confidence level excludes the share the hold threshold was chosen
for, a new auto threshold (a ``live`` version), a closed lane's next check or a new model
carries a hold threshold chosen again from the model's evidence at the measured share
(:func:`triaged.routing_hold.evidence_hold_threshold`): traffic with more inputs that fit
no label than expected holds more of it before any action, traffic with fewer holds less.
The interval, not a fixed tolerance, keeps it from moving on every review; moving it only
with the auto threshold keeps each version's audits about the auto threshold it was routed
by.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from triaged.services.routing_policy.certify import choose_hold
from triaged.services.routing_policy.model import Policy
from triaged.services.routing_policy.reviews import measured_share, nearest_share
from triaged.services.routing_policy.store import evidence_of_model

__all__ = ["HoldChange", "hold_share", "live_hold"]


@dataclass(frozen=True, slots=True)
class HoldChange:
    review: float
    share: float  # the out-of-scope share it was chosen for
    reason: str


def hold_share(policy: Policy) -> float:
    """The out-of-scope share ``policy``'s hold threshold was chosen for."""
    value = policy.bound.get("hold_share")
    return float(value) if isinstance(value, int | float) else policy.expected_out_of_scope


def auto_share(policy: Policy) -> float:
    """The out-of-scope share ``policy``'s auto threshold was certified for at training or
    through the API: the expected one, or more where the reviews measured more."""
    value = policy.bound.get("auto_share")
    return float(value) if isinstance(value, int | float) else policy.expected_out_of_scope


def live_hold(
    conn: Connection,
    policy: Policy,
    *,
    model_id: str | None,
    ceiling: float | None,
    default_rate: float,
) -> HoldChange | None:
    """A new hold threshold when the taxonomy's reviews put the out-of-scope share clearly
    away from the one ``policy``'s hold threshold was chosen for (its interval at the
    policy's level excludes it); None when it stays (a pinned threshold, too few reviews,
    no evidence to choose from, the same threshold)."""
    if policy.review_source != "evidence" or model_id is None:
        return None
    was = hold_share(policy)
    measured = measured_share(
        conn,
        policy.taxonomy_id,
        was=was,
        level=policy.confidence_level,
        default_rate=default_rate,
    )
    if measured is None or measured.estimate is None:
        return None
    share = nearest_share(measured, was)
    evidence = evidence_of_model(conn, model_id)
    choice = choose_hold(evidence, pi=share, floor=policy.hold_floor, ceiling=ceiling)
    if choice.expected_right is None and share > 0:
        return None  # no evidence to choose from: keep what there is
    if abs(choice.threshold - policy.review) < 1e-9:
        return None
    reason = (
        f"live: {measured.errors} of {measured.n} reviewed decisions out of scope (weighted "
        f"share {measured.estimate:.3f}, {measured.lower:.3f}-{measured.upper:.3f} at "
        f"{policy.confidence_level:.0%}, effective n {measured.effective_n:.0f}) against "
        f"{was:.3f} the hold threshold was chosen for; chosen again for {share:.3f}, the "
        f"end of the interval nearest it: hold threshold {policy.review:g} -> "
        f"{choice.threshold:g} ({choice.reason})"
    )
    return HoldChange(choice.threshold, share, reason)
