"""What live reviews teach the routing policy about the traffic's out-of-scope share.

A taxonomy's ``expected_out_of_scope`` is the operator's guess.  The reviewed decisions
measure it: a person marks an input ``out_of_scope`` when it fits no label.  Weighted by
the inverse of the probability each decision was reviewed (an audited ``auto`` decision
``1 / audit_rate``; a ``review``/``hold`` decision by the share of its lanes that got
reviewed), the marked share estimates the traffic's out-of-scope share.  When its upper
bound lies below the expected share, the model's held-out evidence is re-certified with
it (:func:`triaged.routing.certify_with_live_out_of_scope`): a lane closed for fear of
unknown inputs opens once the reviews show there are few.  More out-of-scope traffic
than expected is the live audits' business (they raise the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection

from triaged.routing import Bucket, LaneBound, RoutingEvidence
from triaged.routing_live import (
    LaneRows,
    certify_with_live_out_of_scope,
    first_look,
    stratum_weights,
)
from triaged.storage import routing_repo

__all__ = ["OwnRows", "certify_from_live_share", "review_weights"]


def review_weights(
    conn: Connection,
    taxonomy_id: str,
    model_version: str | None,
    weight: NDArray[np.float64],
    auto: NDArray[np.bool_],
    hold: NDArray[np.bool_],
) -> NDArray[np.float64] | None:
    """``weight`` with each reviewed ``review`` (``hold``) decision scaled up by the inverse
    of the share of that lane's decisions (of this model version) that were reviewed, so
    that a queue only partly worked through still stands for all of its traffic.

    Each lane has its own share: reviewers who work the hold queue first (the default
    claim order) review nearly all of it and little of the review lane, and one factor for
    both (until 6 December) let the held decisions, mostly out of scope, stand for the
    review lane too (20% of traffic out of scope measured as 45%).  None when a lane that
    has decisions has no reviewed one: nothing stands for its traffic, which may be all
    out of scope (the held one mostly is), so the reviews measure no share yet."""
    totals = routing_repo.bucket_counts(conn, taxonomy_id, model_version)
    out: NDArray[np.float64] = np.asarray(weight, dtype=np.float64).copy()
    for bucket, rows in ((Bucket.REVIEW, ~auto & ~hold), (Bucket.HOLD, ~auto & hold)):
        reviewed, total = int(rows.sum()), totals.get(bucket.value, 0)
        if reviewed == 0 and total > 0:
            return None
        if reviewed:
            out[rows] *= max(1.0, total / reviewed)
    return out


@dataclass(frozen=True)
class OwnRows:
    """Which reviewed decisions (all of the taxonomy's, in review order) the model being
    certified routed (``mask``), whether each was routed ``auto`` and by which auto
    threshold (inf: the lane was closed)."""

    mask: NDArray[np.bool_]
    auto: NDArray[np.bool_]
    routed_auto: NDArray[np.float64]

    def rows(
        self, out_of_scope: NDArray[np.bool_], weights: NDArray[np.float64], size: int
    ) -> LaneRows | None:
        """The model's rows among the first ``size`` (None: none)."""
        m = np.asarray(self.mask[:size], dtype=bool)
        if not m.any():
            return None
        return LaneRows(
            np.asarray(out_of_scope[:size], dtype=bool)[m],
            np.asarray(self.auto[:size], dtype=bool)[m],
            np.asarray(weights[:size], dtype=np.float64)[m],
            np.asarray(self.routed_auto[:size], dtype=np.float64)[m],
        )


def certify_from_live_share(
    evidence: RoutingEvidence,
    out_of_scope: NDArray[np.bool_],
    weights: NDArray[np.float64],
    *,
    target: float,
    confidence_level: float,
    expected_out_of_scope: float,
    review_threshold: float,
    grid: list[float],
    confidence: NDArray[np.float64] | None = None,
    wrong: NDArray[np.bool_] | None = None,
    own: OwnRows | None = None,
) -> LaneBound | None:
    """The threshold the model's evidence certifies at the live out-of-scope share (None:
    the reviews do not bound the share below the expected one, or no evidence).

    Held-out training evidence can be more optimistic about in-scope error than live
    traffic is: with the reviewed decisions' ``confidence`` and ``wrong`` given, the
    threshold is raised along the grid until the reviewed decisions above it do not
    estimate an error over the target (None when no threshold passes).

    The reviews are a stream read again at every check and every retrain: the share is
    bounded over all of them in the order they were reviewed by a time-uniform bound
    (:func:`triaged.routing_live.mixture_upper`), which spends the share's half of the risk
    once however often it is read.  ``own``: which of them the model behind ``evidence``
    routed, and how (:func:`triaged.routing_live.reviewed_lanes_share`)."""
    if evidence.n_in == 0 or expected_out_of_scope <= 0.0 or len(out_of_scope) == 0:
        return None
    share_delta = (1.0 - confidence_level) / 2.0
    learned = certify_with_live_out_of_scope(
        evidence,
        out_of_scope,
        weights,
        target=target,
        confidence_level=confidence_level,
        expected_out_of_scope=expected_out_of_scope,
        review_threshold=review_threshold,
        grid=grid,
        prior_n=first_look(target, share_delta),
        lanes=None if own is None else own.rows(out_of_scope, weights, len(out_of_scope)),
    )
    if learned is None or learned[0].threshold is None:
        return None
    bound = learned[0]
    if confidence is None or wrong is None:
        return bound
    return _checked_live(bound, confidence, wrong, weights, target, grid)


def _checked_live(
    bound: LaneBound,
    confidence: NDArray[np.float64],
    wrong: NDArray[np.bool_],
    weights: NDArray[np.float64],
    target: float,
    grid: list[float],
) -> LaneBound | None:
    """``bound`` at the lowest grid threshold at or above its own whose reviewed decisions
    (weighted) do not estimate an error over ``target``; None when none does."""
    if bound.threshold is None:
        return None
    for t in sorted(g for g in grid if g >= bound.threshold - 1e-12):
        above = confidence >= t
        w = weights[above]
        total = float(w.sum())
        estimate = float((w * wrong[above]).sum()) / total if total > 0 else 0.0
        if estimate <= target:
            note = (
                f"; checked against {int(above.sum())} reviewed decisions above {t:g} "
                f"(weighted error {estimate:.4f})"
            )
            return replace(bound, threshold=t, reason=bound.reason + note)
    return None


def stratified_weights(
    conn: Connection,
    taxonomy_id: str,
    model_version: str | None,
    confidence: NDArray[np.float64],
    fallback: NDArray[np.float64],
) -> NDArray[np.float64]:
    """:func:`triaged.routing_live.stratum_weights` of a model's reviewed decisions
    (``confidence``), the strata cut at every threshold a policy version of the taxonomy
    routed by and counted over all of the model's decisions."""
    if confidence.size == 0:
        return fallback
    edges = sorted({0.0, *(e for e in routing_repo.policy_edges(conn, taxonomy_id) if e > 0)})
    above = routing_repo.counts_at_or_above(conn, taxonomy_id, model_version, edges)
    return stratum_weights(edges, above, confidence, fallback)
