"""Live bounds: the auto lane's error from importance-weighted reviewed decisions.

An audited ``auto`` decision stands for ``1 / audit_rate`` decisions of its lane, a reviewed
``review``/``hold`` one for itself; bounds take Clopper–Pearson on the Kish effective
sample.  :func:`certify_from_reviews` certifies a threshold from live reviews alone (the
same Learn-then-Test sequence as :func:`triaged.routing.certify_auto_threshold`);
:func:`certify_with_live_out_of_scope` re-certifies a model's held-out evidence at the
out-of-scope share the reviews bound.

Reviews keep coming, and the service checks after each one.  A bound that is looked at
again and again with more data fails more often than once: certifying a lower threshold
whenever any look allows it gave a false certification in about 30% of simulated streams
whose lane error sat exactly at the target, against 1.5% for one look at the end (the
first few hundred reviews are clean by chance often enough).  So every lowering reads the
reviews through a time-uniform bound (:func:`mixture_upper`, a confidence sequence): it
holds at every review at once, so checking after each one spends the policy's risk once,
and every review counts from the moment it is made.  (Until 7 December the reviews were
read at fixed looks that doubled: a stream between two looks was read as the earlier one,
up to half of its reviews unused.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaincinv, betaln

from triaged.routing import (
    LaneBound,
    RoutingEvidence,
    _check_params,
    _grid,
    _need_clean,
    _start_support,
    certify_auto_threshold,
    cp_lower,
    cp_upper,
)

__all__ = [
    "EARLY_MIN_LOOK",
    "LaneRows",
    "WeightedBound",
    "block_failure",
    "certify_from_review_stream",
    "certify_from_reviews",
    "certify_with_live_out_of_scope",
    "early_failure",
    "early_looks",
    "first_look",
    "look_risk",
    "mixture_upper",
    "mixture_uppers",
    "reviewed_lanes_share",
    "stratum_weights",
    "weighted_error_bound",
]


@dataclass(frozen=True)
class WeightedBound:
    """An error rate from importance-weighted reviews and its Clopper–Pearson interval
    on the Kish effective sample ``(sum w)^2 / sum w^2``."""

    estimate: float | None
    lower: float
    upper: float
    n: int  # reviewed items
    errors: int  # reviewed items that were wrong
    effective_n: float


def _kish(w: NDArray[np.float64]) -> float:
    total = float(w.sum())
    return total * total / float((w * w).sum()) if total > 0 else 0.0


def mixture_upper(k: float, n: float, delta: float, prior_n: float) -> float:
    """Upper end of a time-uniform ``1 - delta`` confidence sequence for a rate seen ``k``
    times in ``n`` (fractional: an effective sample), from the beta-binomial mixture
    martingale with a ``Beta(1, prior_n)`` mixing prior (Robbins 1970; Howard, Ramdas,
    McAuliffe & Sekhon 2021): the largest ``p`` with ``B(1 + k, prior_n + n - k) /
    (B(1, prior_n) p^k (1-p)^(n-k)) < 1 / delta``.  By Ville's inequality the sequence
    covers the rate at every ``n`` at once with probability ``1 - delta``, so a stream may
    be read after every observation.  ``prior_n`` only places the bound's power: near a
    rate of ``1 / prior_n`` (the sample that could certify the target clean); any value
    keeps the guarantee.  1.0 when ``n`` is 0."""
    return float(mixture_uppers(np.array([k]), np.array([n]), delta, prior_n)[0])


def mixture_uppers(
    k: NDArray[np.float64], n: NDArray[np.float64], delta: float, prior_n: float
) -> NDArray[np.float64]:
    """:func:`mixture_upper` of many ``(k, n)`` at once (bisection on the log ratio, which
    rises with ``p`` above ``k / n``: 42 halvings, to about 1e-13)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    out = np.ones_like(n)
    ok = (n > 0) & (k < n)
    if not ok.any():
        return out
    kk, nn = k[ok], n[ok]
    const = betaln(1.0 + kk, prior_n + nn - kk) - betaln(1.0, prior_n) + math.log(delta)

    def excess(p: NDArray[np.float64]) -> NDArray[np.float64]:
        # the log of the mixture ratio less log(1 / delta)
        result: NDArray[np.float64] = const - kk * np.log(p) - (nn - kk) * np.log1p(-p)
        return result

    low = np.maximum(kk / nn, 1e-12)
    high = np.full_like(low, 1.0 - 1e-12)
    inside = excess(low) < 0.0  # else the bound is the rate seen itself
    for _ in range(42):
        mid = (low + high) / 2.0
        below = excess(mid) <= 0.0
        low = np.where(inside & below, mid, low)
        high = np.where(inside & ~below, mid, high)
    out[ok] = np.where(inside, high, low)
    return out


def weighted_error_bound(
    wrong: NDArray[np.bool_] | Sequence[bool],
    weights: NDArray[np.float64] | Sequence[float],
    delta: float,
    prior_n: float | None = None,
) -> WeightedBound:
    """Error estimate with one-sided ``1 - delta`` lower and upper bounds (each side).
    With ``prior_n`` the upper bound is time-uniform (:func:`mixture_upper`)."""
    w = np.asarray(weights, dtype=np.float64)
    bad = np.asarray(wrong, dtype=bool)
    n = int(w.size)
    total = float(w.sum())
    if n == 0 or total <= 0:
        return WeightedBound(None, 0.0, 1.0, 0, 0, 0.0)
    p = float((w * bad).sum()) / total
    n_eff = total * total / float((w * w).sum())
    k_eff = p * n_eff
    upper = (
        cp_upper(k_eff, n_eff, delta)
        if prior_n is None
        else mixture_upper(k_eff, n_eff, delta, prior_n)
    )
    return WeightedBound(p, cp_lower(k_eff, n_eff, delta), upper, n, int(bad.sum()), n_eff)


def _weighted_bounds_above(
    conf: NDArray[np.float64],
    bad: NDArray[np.bool_],
    w: NDArray[np.float64],
    thresholds: Sequence[float],
    delta: float,
    prior_n: float | None = None,
) -> list[WeightedBound]:
    """:func:`weighted_error_bound` of the items with ``conf >= t`` for every t (one pass)."""
    order = np.argsort(-conf, kind="stable")
    c, b, ww = conf[order], bad[order], w[order]
    zero = np.zeros(1)
    cw = np.concatenate([zero, np.cumsum(ww)])
    cw2 = np.concatenate([zero, np.cumsum(ww * ww)])
    cwb = np.concatenate([zero, np.cumsum(ww * b)])
    cb = np.concatenate([zero, np.cumsum(b)])
    # items with conf >= t: the first m of the descending order
    m = np.searchsorted(-c, -np.asarray(thresholds, dtype=np.float64), side="right")
    total, total2, werr = cw[m], cw2[m], cwb[m]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(total > 0, werr / np.where(total > 0, total, 1.0), 0.0)
        n_eff = np.where(total2 > 0, total * total / np.where(total2 > 0, total2, 1.0), 0.0)
    k_eff = p * n_eff
    ok_up = (n_eff > 0) & (k_eff < n_eff)
    upper = np.ones_like(n_eff)
    if prior_n is None:
        upper[ok_up] = betaincinv(k_eff[ok_up] + 1.0, n_eff[ok_up] - k_eff[ok_up], 1.0 - delta)
    else:
        upper[ok_up] = mixture_uppers(k_eff[ok_up], n_eff[ok_up], delta, prior_n)
    ok_lo = (n_eff > 0) & (k_eff > 0)
    lower = np.zeros_like(n_eff)
    lower[ok_lo] = betaincinv(k_eff[ok_lo], n_eff[ok_lo] - k_eff[ok_lo] + 1.0, delta)
    return [
        WeightedBound(
            float(p[i]) if m[i] else None,
            float(lower[i]),
            float(upper[i]),
            int(m[i]),
            int(cb[m[i]]),
            float(n_eff[i]),
        )
        for i in range(len(thresholds))
    ]


def certify_from_reviews(
    confidence: NDArray[np.float64] | Sequence[float],
    wrong: NDArray[np.bool_] | Sequence[bool],
    weights: NDArray[np.float64] | Sequence[float],
    *,
    target: float = 0.02,
    confidence_level: float = 0.95,
    review_threshold: float = 0.60,
    grid: Sequence[float] | None = None,
    prior_n: float | None = None,
) -> LaneBound:
    """The lowest threshold certified by live reviewed decisions (Learn-then-Test).

    Each reviewed decision carries the inverse of the probability it was reviewed
    (an audited ``auto`` decision ``1 / audit_rate``, a reviewed ``review``/``hold``
    one 1), so the reviewed items above a threshold stand for the traffic above it;
    out-of-scope inputs are in that traffic and count as errors.  With ``prior_n`` the
    bounds are time-uniform (:func:`mixture_upper`).
    """
    _check_params(target, confidence_level, 0.0)
    conf = np.asarray(confidence, dtype=np.float64)
    bad = np.asarray(wrong, dtype=bool)
    w = np.asarray(weights, dtype=np.float64)
    delta = 1.0 - confidence_level
    level = f"error <= {target:.3f} at {confidence_level * 100:.4g}%"
    need = _need_clean(target, delta)
    best: LaneBound | None = None
    fail: tuple[float, WeightedBound] | None = None
    thresholds = _grid(grid, review_threshold)
    bounds = _weighted_bounds_above(conf, bad, w, thresholds, delta, prior_n)
    start = _start_support(need, [b.effective_n for b in bounds])
    for t, wb in zip(thresholds, bounds, strict=True):
        if best is None and wb.effective_n < start:
            fail = (t, wb)
            continue  # too little support above t to pass: start lower (see certify above)
        if wb.upper > target:
            fail = (t, wb)
            break
        best = LaneBound(t, wb.upper, wb.estimate, wb.n, wb.errors, "")
    if best is None:
        if fail is None:
            return LaneBound(
                None, None, None, 0, 0, f"closed: no reviewed decisions; need >= {need}"
            )
        t, wb = fail
        return LaneBound(
            None,
            None,
            None,
            wb.n,
            wb.errors,
            f"closed: no threshold certifies {level} on live reviews: at {t:g}, {wb.n} "
            f"reviewed decisions ({wb.errors} wrong, effective n {wb.effective_n:.0f}) give "
            f"a bound of {wb.upper:.3f}; need an effective >= {need} with no error",
        )
    return LaneBound(
        best.threshold,
        best.upper_bound,
        best.estimate,
        best.n,
        best.errors,
        f"certified on live reviews: {level} at threshold {best.threshold:g} (bound "
        f"{best.upper_bound:.4f} from {best.n} reviewed decisions, {best.errors} wrong)",
    )


EARLY_MIN_LOOK = 10  # the first look of the early failure check (reviewed audits)
EARLY_LOOKS = 8  # looks below n_min: the first, then every n_min / 8 audits


def early_looks(n_min: int) -> list[int]:
    """The audit counts at which :func:`early_failure` looks: ``EARLY_MIN_LOOK``, then every
    ``n_min / 8`` audits below ``n_min`` (10, 25, 50, ..., 175 for 200)."""
    step = max(EARLY_MIN_LOOK, n_min // EARLY_LOOKS)
    return sorted({EARLY_MIN_LOOK, *range(step, n_min, step)})


def early_failure(
    wrong: NDArray[np.bool_],
    weight: NDArray[np.float64],
    *,
    target: float,
    delta: float,
    n_min: int,
) -> bool:
    """A clear failure of the auto lane before ``n_min`` audits: at one of the fixed looks
    (:func:`early_looks`; the first ``k`` reviewed audits, in the order they were reviewed)
    the lower bound of the error at ``delta / looks`` exceeds ``target``.  Each look sees
    the same audits however often the check runs, so Bonferroni over the looks keeps false
    alarms under ``delta``.  Looks every ``n_min / 8`` audits (until 5 December only at
    ``n_min / 2``, ``n_min / 4``, ...) leave no long stretch unlooked at: a lane 8.5% wrong
    whose first 100 audits held 6 errors stayed open until 200 audits, which a 3,000-text
    stream with a 62% auto share never reached."""
    looks = early_looks(n_min)
    risk = delta / len(looks)
    w, bad = np.asarray(weight, dtype=np.float64), np.asarray(wrong, dtype=bool)
    return any(
        weighted_error_bound(bad[:k], w[:k], risk).lower > target for k in looks if k <= bad.size
    )


def look_risk(delta: float, j: int) -> float:
    """The risk look ``j`` (from 0) of an open-ended sequence of looks may spend:
    ``delta / ((j + 1)(j + 2))``, which sums to ``delta`` over every look ever taken."""
    return delta / ((j + 1) * (j + 2))


def block_failure(
    wrong: NDArray[np.bool_],
    weight: NDArray[np.float64],
    *,
    target: float,
    delta: float,
    block: int,
) -> bool:
    """A clear failure in one block of ``block`` consecutive audits (in the order they were
    reviewed: audits ``[j block, (j + 1) block)``, complete blocks only): its lower bound at
    ``delta / ((j + 1)(j + 2))`` exceeds ``target``.  The bound over every audit since a
    version dilutes a change: after 2,000 audits 0.5% wrong, 200 audits 10% wrong still
    leave it at 1.8%, under a 2% target, while the lane acts wrongly on one input in ten.
    Blocks are fixed events, so however often the check runs, false alarms over all blocks
    ever stay under ``delta`` (the shares sum to 1)."""
    bad, w = np.asarray(wrong, dtype=bool), np.asarray(weight, dtype=np.float64)
    if block < 1:
        return False
    for j in range(bad.size // block):
        part = slice(j * block, (j + 1) * block)
        if weighted_error_bound(bad[part], w[part], look_risk(delta, j)).lower > target:
            return True
    return False


def first_look(target: float, delta: float) -> int:
    """Clean reviewed decisions that certify ``target`` at ``delta / 2`` with one look: the
    ``prior_n`` of a stream's time-uniform bound (:func:`mixture_upper`), which puts its
    power where a lane begins to be certifiable."""
    return _need_clean(target, delta / 2.0)


def certify_from_review_stream(
    confidence: NDArray[np.float64] | Sequence[float],
    wrong: NDArray[np.bool_] | Sequence[bool],
    weights: NDArray[np.float64] | Sequence[float],
    *,
    target: float = 0.02,
    confidence_level: float = 0.95,
    review_threshold: float = 0.60,
    grid: Sequence[float] | None = None,
) -> LaneBound:
    """:func:`certify_from_reviews` with time-uniform bounds (:func:`mixture_upper`) over
    reviewed decisions given in the order they were reviewed: safe to call after every
    review, and every review counts at once.

    Each threshold's bound covers its error at every review with probability
    ``confidence_level``; the thresholds are tested in their fixed sequence, so a false
    certification at any time needs the first threshold whose error is over the target
    to be passed at some review: at most the stated risk however often the stream is
    read."""
    _check_params(target, confidence_level, 0.0)
    delta = 1.0 - confidence_level
    conf = np.asarray(confidence, dtype=np.float64)
    cert = certify_from_reviews(
        conf,
        wrong,
        weights,
        target=target,
        confidence_level=confidence_level,
        review_threshold=review_threshold,
        grid=grid,
        prior_n=first_look(target, delta),
    )
    note = f" [time-uniform bound over {conf.size} reviewed decisions in review order]"
    return replace(cert, reason=cert.reason + note)


@dataclass(frozen=True)
class LaneRows:
    """Reviewed decisions one model routed, in review order: out of scope, routed auto,
    importance weight, and the auto threshold each was routed by (inf: lane closed)."""

    out_of_scope: NDArray[np.bool_]
    auto: NDArray[np.bool_]
    weight: NDArray[np.float64]
    routed_auto: NDArray[np.float64]


def reviewed_lanes_share(
    evidence: RoutingEvidence,
    out_of_scope: NDArray[np.bool_],
    auto: NDArray[np.bool_],
    weights: NDArray[np.float64],
    routed_auto: NDArray[np.float64],
    delta: float,
    prior_n: float | None = None,
) -> WeightedBound | None:
    """An upper bound on the traffic's out-of-scope share read from the lanes people review
    (``review``/``hold``) and the model's evidence of where unknown inputs land, for
    reviewed decisions the model behind ``evidence`` routed (None: no such bound).

    The importance-weighted share over every reviewed decision (:func:`weighted_error_bound`)
    learns the share inside the auto lane from its audits alone, a few percent of it: a few
    hundred audits, each standing for 10 to 50 decisions, leave an effective sample of a few
    hundred, and a bound near 2% however clean the traffic.  But an input fits no label or
    not whatever lane it took, and an unknown input lands below the auto threshold ``t``
    with probability ``1 - A(t)``, ``A(t)`` the share of simulated unknown inputs (labels
    held out of training) at or above ``t`` in the model's evidence.  So the share of
    traffic that is out of scope *and* routed below the auto threshold is ``pi (1 - A(t))``,
    measured by the reviewed lanes alone: an ``auto`` decision is never in it, so each
    audited one stands for its ``1 / audit_rate`` decisions as that many certain zeros, not
    as one uncertain row.  Then ``pi <= U / (1 - A_up(t_min))`` with ``U`` the
    Clopper–Pearson upper bound of that share on its effective sample at ``delta / 2``,
    ``A_up`` the clustered upper bound of ``A`` (:meth:`RoutingEvidence.oos_share_upper`)
    at ``delta / 2`` and ``t_min`` the lowest auto threshold any of the decisions was
    routed by (``inf`` where the lane was closed: then ``A = 0`` and ``U`` takes all of
    ``delta``).  It rests on the simulated unknown inputs being at least as confident as
    real ones, as the certification itself does; where real ones are more confident the
    live audits of the lane catch it."""
    bad = np.asarray(out_of_scope, dtype=bool) & ~np.asarray(auto, dtype=bool)
    is_auto = np.asarray(auto, dtype=bool)
    w = np.asarray(weights, dtype=np.float64)
    routed = np.asarray(routed_auto, dtype=np.float64)
    if w.size == 0 or evidence.n_oos == 0:
        return None
    total = float(w.sum())
    # an audited auto decision: 1 / audit_rate decisions, each a certain zero (weight 1)
    w2 = float((w[~is_auto] ** 2).sum()) + float(w[is_auto].sum())
    if total <= 0 or w2 <= 0:
        return None
    p = float((w * bad).sum()) / total
    n_eff = total * total / w2
    open_t = routed[np.isfinite(routed)]
    if open_t.size == 0:
        below = _upper(p * n_eff, n_eff, delta, prior_n)
        a_up = 0.0
    else:
        below = _upper(p * n_eff, n_eff, delta / 2.0, prior_n)
        _, a_up = evidence.oos_share_upper(float(open_t.min()), delta / 2.0)
    if a_up >= 1.0:
        return None
    upper = min(1.0, below / (1.0 - a_up))
    return WeightedBound(p, 0.0, upper, int(w.size), int(bad.sum()), n_eff)


def _upper(k: float, n: float, delta: float, prior_n: float | None) -> float:
    return cp_upper(k, n, delta) if prior_n is None else mixture_upper(k, n, delta, prior_n)


def certify_with_live_out_of_scope(
    evidence: RoutingEvidence,
    out_of_scope: NDArray[np.bool_] | Sequence[bool],
    weights: NDArray[np.float64] | Sequence[float],
    *,
    target: float = 0.02,
    confidence_level: float = 0.95,
    expected_out_of_scope: float = 0.2,
    review_threshold: float = 0.60,
    grid: Sequence[float] | None = None,
    prior_n: float | None = None,
    lanes: LaneRows | None = None,
) -> tuple[LaneBound, WeightedBound] | None:
    """Re-certify the model's held-out evidence with the out-of-scope share live traffic
    shows, when the reviews bound it below the expected one.

    ``out_of_scope`` flags the reviewed decisions a person marked as fitting no label and
    ``weights`` are their inverse review probabilities (as in :func:`certify_from_reviews`),
    so the weighted share estimates the traffic's out-of-scope share.  Its upper bound at
    ``delta / 2`` replaces ``expected_out_of_scope`` in :func:`certify_auto_threshold` run at
    ``1 - delta / 2`` (``delta = 1 - confidence_level``): both hold together with
    probability ``confidence_level``.  None when the reviews do not bound the share below
    the expected one (too few reviews, or more out-of-scope traffic than expected: the live
    audits handle that case by raising the threshold).  ``prior_n``: the reviews are a
    stream read again and again, so the share's bounds are time-uniform
    (:func:`mixture_upper` with this prior).  ``lanes``: those of the reviewed
    decisions that the model behind ``evidence`` routed; where some were routed by an open
    auto lane the share is also bounded from the reviewed lanes
    (:func:`reviewed_lanes_share`), each bound at half the share's risk, the lower one used.
    """
    _check_params(target, confidence_level, expected_out_of_scope)
    delta = (1.0 - confidence_level) / 2.0
    split = lanes is not None and bool(np.isfinite(lanes.routed_auto).any())
    share = weighted_error_bound(out_of_scope, weights, delta / 2 if split else delta, prior_n)
    via = ""
    if split and lanes is not None:
        alt = reviewed_lanes_share(
            evidence,
            lanes.out_of_scope,
            lanes.auto,
            lanes.weight,
            lanes.routed_auto,
            delta / 2,
            prior_n,
        )
        if alt is not None and alt.upper < share.upper:
            via = (
                f"; bounded from the reviewed lanes: {alt.errors} of {alt.n} of this model's "
                f"reviewed decisions out of scope below the auto threshold (effective n "
                f"{alt.effective_n:.0f}), over the share of simulated unknown inputs the "
                "model's evidence puts below it"
            )
            share = replace(share, upper=alt.upper)
    if share.estimate is None or share.upper >= expected_out_of_scope:
        return None
    bound = certify_auto_threshold(
        evidence,
        target=target,
        confidence_level=1.0 - delta,
        expected_out_of_scope=share.upper,
        review_threshold=review_threshold,
        grid=grid,
    )
    learned = (
        f"{share.errors} of {share.n} reviewed decisions out of scope (weighted share "
        f"{share.estimate:.3f}, bound {share.upper:.3f} < {expected_out_of_scope:.3f} "
        f"expected, effective n {share.effective_n:.0f}{via})"
    )
    reason = f"{bound.reason}; live out-of-scope share: {learned}"
    return LaneBound(
        bound.threshold, bound.upper_bound, bound.estimate, bound.n, bound.errors, reason
    ), share


def stratum_weights(
    edges: Sequence[float],
    above: Sequence[int],
    confidence: NDArray[np.float64],
    fallback: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Weights that make reviewed decisions (``confidence``) stand for all decisions: each
    reviewed decision of a confidence stratum ``[edges[i], edges[i+1])`` weighs the
    stratum's decisions (``above[i]``: decisions at or above ``edges[i]``) over its
    reviewed ones; ``fallback`` (the inverse chance each was reviewed) where no stratum
    holds them.

    Cut at the thresholds the lanes had, a stratum's decisions of one policy version all
    went to one lane.  One inverse audit rate per decision mixes the decisions reviewed
    while the lane was closed (each reviewed, weight 1) with audits of the same
    confidences once it opened (weight 10-50): the effective sample of that mix falls below
    that of the closed period alone, so a lane opened early at a high threshold could
    never be lowered from its reviews (4 DBpedia-14 labels: opened at 0.985 after 400
    reviews, still there after 2,000 texts).  Pooled per stratum, the reviews of both
    periods stand together for all of the stratum's decisions: this reads the model's
    traffic as one population over its life (a change in it is what the audits since each
    version watch for).  A stratum without a reviewed decision joins the one below it."""
    out = np.asarray(fallback, dtype=np.float64).copy()
    stratum = np.searchsorted(np.asarray(edges, dtype=np.float64), confidence, side="right") - 1
    totals = [above[i] - (above[i + 1] if i + 1 < len(above) else 0) for i in range(len(edges))]
    members: list[int] = []
    carried = 0
    for i in range(len(edges) - 1, -1, -1):  # from the top stratum down
        members.append(i)
        carried += totals[i]
        rows = np.isin(stratum, members)
        if rows.any() and carried > 0:
            out[rows] = carried / int(rows.sum())
            members, carried = [], 0
    return out
