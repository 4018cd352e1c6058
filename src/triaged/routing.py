"""Routing: confidence -> ``auto`` / ``review`` / ``hold``, plus audit sampling.

The auto threshold is *earned*: :func:`certify_auto_threshold` picks the lowest
threshold whose upper confidence bound on the auto lane's error, including inputs
that fit no label, is at most a target (Clopper–Pearson bounds, Learn-then-Test
fixed-sequence testing over a descending grid).  :mod:`triaged.routing_live` does the
same for importance-weighted live evidence (audits of ``auto`` weighted by the inverse
of their sampling rate).  ``RoutingPolicy.from_target_error`` derives thresholds from
reviewed data without a bound.  :meth:`RoutingPolicy.certified` is the policy the service
gives a newly trained model (and the library's :class:`~triaged.classifier.Classifier`
routes by after ``fit``/``load``); the defaults below are the one place that holds them.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaincinv

from triaged.routing_hold import evidence_hold_threshold
from triaged.taxonomy import DEFAULT_REVIEW, Thresholds
from triaged.types import Bucket

__all__ = [
    "DEFAULT_AUTO_ERROR_TARGET",
    "DEFAULT_CONFIDENCE_LEVEL",
    "DEFAULT_EXPECTED_OUT_OF_SCOPE",
    "DEFAULT_GRID_STEP",
    "Bucket",
    "LaneBound",
    "RoutingEvidence",
    "RoutingPolicy",
    "certify_auto_threshold",
    "clustered_share_upper",
    "cp_lower",
    "cp_upper",
    "lane_bound_at",
    "threshold_grid",
]

DEFAULT_GRID_STEP = 0.005
#: A new taxonomy's auto-lane error target, the confidence of its bound and the share of
#: traffic expected to fit no label (the service's defaults; settings can change them).
DEFAULT_AUTO_ERROR_TARGET = 0.02
DEFAULT_CONFIDENCE_LEVEL = 0.95
DEFAULT_EXPECTED_OUT_OF_SCOPE = 0.2
START_MARGIN = 3  # the sequence starts where 3x the minimum support lies above (see below)


@dataclass(frozen=True)
class RoutingEvidence:
    """Held-out evidence for choosing the auto threshold (produced by the engine at fit).

    ``conf_in``/``correct_in``: out-of-fold confidence of in-scope items and whether their
    top label was right; ``conf_oos``: held-out confidence of simulated out-of-scope items
    (items of labels held out of a fold's training, and real ``oos`` examples, scored by a
    model that never saw them); ``oos_cluster``: the cluster of each out-of-scope row (the
    held-out label it belongs to; a real ``oos`` example is its own), so that bounds count
    how many *labels* the evidence saw, not only how many items (items of one label stand
    or fall together).  Empty: every row its own cluster (evidence saved before clusters).
    """

    conf_in: NDArray[np.float64]
    correct_in: NDArray[np.bool_]
    conf_oos: NDArray[np.float64]
    oos_cluster: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        conf_in = np.asarray(self.conf_in, dtype=np.float64).ravel()
        correct_in = np.asarray(self.correct_in, dtype=bool).ravel()
        conf_oos = np.asarray(self.conf_oos, dtype=np.float64).ravel()
        cluster = np.asarray(self.oos_cluster, dtype=np.int64).ravel()
        if conf_in.shape != correct_in.shape:
            raise ValueError("conf_in and correct_in must have the same length")
        if cluster.size == 0:
            cluster = np.arange(conf_oos.size, dtype=np.int64)
        if cluster.shape != conf_oos.shape:
            raise ValueError("oos_cluster and conf_oos must have the same length")
        object.__setattr__(self, "conf_in", conf_in)
        object.__setattr__(self, "correct_in", correct_in)
        object.__setattr__(self, "conf_oos", conf_oos)
        object.__setattr__(self, "oos_cluster", cluster)

    @classmethod
    def empty(cls) -> RoutingEvidence:
        return cls(np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0))

    @property
    def n_oos_clusters(self) -> int:
        return int(np.unique(self.oos_cluster).size)

    def oos_share_upper(self, threshold: float, delta: float) -> tuple[int, float]:
        """Out-of-scope rows at or above ``threshold`` and a one-sided ``1 - delta`` upper
        bound on that share of out-of-scope traffic (:func:`clustered_share_upper`)."""
        return clustered_share_upper(self.conf_oos >= threshold, self.oos_cluster, delta)

    @property
    def n_in(self) -> int:
        return int(self.conf_in.shape[0])

    @property
    def n_oos(self) -> int:
        return int(self.conf_oos.shape[0])

    def to_arrays(self, prefix: str = "evidence_") -> dict[str, np.ndarray]:
        return {
            f"{prefix}conf_in": self.conf_in,
            f"{prefix}correct_in": self.correct_in,
            f"{prefix}conf_oos": self.conf_oos,
            f"{prefix}oos_cluster": self.oos_cluster,
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], prefix: str = "evidence_"
    ) -> RoutingEvidence:
        """The evidence stored by :meth:`to_arrays`; empty when the arrays are absent."""
        if f"{prefix}conf_in" not in arrays:
            return cls.empty()
        cluster = arrays.get(f"{prefix}oos_cluster")
        return cls(
            np.asarray(arrays[f"{prefix}conf_in"], dtype=np.float64),
            np.asarray(arrays[f"{prefix}correct_in"], dtype=bool),
            np.asarray(arrays[f"{prefix}conf_oos"], dtype=np.float64),
            np.zeros(0, np.int64) if cluster is None else np.asarray(cluster, dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """Thresholds that turn a confidence into a bucket.  ``auto_open=False`` is a closed
    auto lane (nothing acts automatically; ``reason`` says why)."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    audit_rate: float = 0.02
    auto_open: bool = True
    reason: str = ""

    def route(self, confidence: float) -> Bucket:
        if self.auto_open and confidence >= self.thresholds.auto:
            return Bucket.AUTO
        if confidence >= self.thresholds.review:
            return Bucket.REVIEW
        return Bucket.HOLD

    def should_audit(self, bucket: Bucket, rng: random.Random | None = None) -> bool:
        """Whether an ``auto`` decision is drawn into the random audit sample."""
        if bucket is not Bucket.AUTO or self.audit_rate <= 0:
            return False
        return (rng or random).random() < self.audit_rate

    @classmethod
    def certified(
        cls,
        evidence: RoutingEvidence,
        *,
        review_threshold: float = DEFAULT_REVIEW,
        target: float = DEFAULT_AUTO_ERROR_TARGET,
        confidence_level: float = DEFAULT_CONFIDENCE_LEVEL,
        expected_out_of_scope: float = DEFAULT_EXPECTED_OUT_OF_SCOPE,
        hold_from_evidence: bool = True,
    ) -> tuple[RoutingPolicy, LaneBound]:
        """The policy whose auto threshold is certified from ``evidence``
        (:func:`certify_auto_threshold`), with the bound behind it; a closed lane when
        no threshold is certified.  With ``hold_from_evidence`` the review (hold)
        threshold is the evidence's (:func:`triaged.routing_hold.evidence_hold_threshold`,
        never below ``review_threshold``), else ``review_threshold`` itself."""
        if hold_from_evidence:
            review_threshold = evidence_hold_threshold(
                evidence, expected_out_of_scope=expected_out_of_scope, floor=review_threshold
            ).threshold
        bound = certify_auto_threshold(
            evidence,
            target=target,
            confidence_level=confidence_level,
            expected_out_of_scope=expected_out_of_scope,
            review_threshold=review_threshold,
        )
        if bound.threshold is None:
            closed = Thresholds(auto=1.0, review=review_threshold)
            return cls(closed, auto_open=False, reason=bound.reason), bound
        auto = float(bound.threshold)
        review = min(review_threshold, auto)
        return cls(Thresholds(auto=auto, review=review), reason=bound.reason), bound

    @staticmethod
    def threshold_for_target_error(
        confidences: Sequence[float],
        correct: Sequence[bool],
        target_error: float,
        *,
        min_support: int = 20,
    ) -> float | None:
        """Lowest threshold t such that items with confidence >= t have error <= target.

        Returns None when no threshold with at least ``min_support`` items meets it.
        """
        conf = np.asarray(confidences, dtype=float)
        ok = np.asarray(correct, dtype=bool)
        if conf.size == 0:
            return None
        order = np.argsort(-conf, kind="stable")
        conf, ok = conf[order], ok[order]
        errors = np.cumsum(~ok)
        counts = np.arange(1, conf.size + 1)
        rate = errors / counts
        best: float | None = None
        for i in range(conf.size):
            # only cut between distinct confidence values
            if i + 1 < conf.size and conf[i + 1] == conf[i]:
                continue
            if counts[i] >= min_support and rate[i] <= target_error:
                best = float(conf[i])
        return best

    @classmethod
    def from_target_error(
        cls,
        confidences: Sequence[float],
        correct: Sequence[bool],
        *,
        auto_error: float = 0.03,
        review_error: float = 0.25,
        base: Thresholds | None = None,
    ) -> RoutingPolicy:
        """Derive thresholds from reviewed (confidence, was-correct) pairs."""
        base = base or Thresholds()
        auto = cls.threshold_for_target_error(confidences, correct, auto_error)
        review = cls.threshold_for_target_error(confidences, correct, review_error)
        auto_v = auto if auto is not None else base.auto
        review_v = min(review if review is not None else base.review, auto_v)
        return cls(Thresholds(auto=auto_v, review=review_v))


# ------------------------------------------------------------------ guarantees
def cp_upper(k: float, n: float, delta: float) -> float:
    """One-sided ``1 - delta`` Clopper–Pearson upper bound of a rate with ``k`` of ``n``.

    ``k`` and ``n`` may be fractional (an effective sample); 1.0 when ``n`` is 0.
    """
    if n <= 0 or k >= n:
        return 1.0
    return float(betaincinv(k + 1.0, n - k, 1.0 - delta))


def cp_lower(k: float, n: float, delta: float) -> float:
    """One-sided ``1 - delta`` Clopper–Pearson lower bound (0.0 when ``k`` or ``n`` is 0)."""
    if n <= 0 or k <= 0:
        return 0.0
    return float(betaincinv(k, n - k + 1.0, delta))


def clustered_share_upper(
    hit: NDArray[np.bool_], cluster: NDArray[np.int64], delta: float
) -> tuple[int, float]:
    """Hits and a one-sided ``1 - delta`` upper bound on the hit share when rows come in
    clusters (the items of one label) that may stand or fall together.

    Clopper–Pearson on the effective sample ``n / deff``, the design effect ``deff`` from
    the cluster-robust (between-cluster) variance of the share, never below 1.  With no hit
    at all the variance says nothing about how hits would cluster: the bound then counts
    clusters, as if each label's items were one observation (the conservative end).  A
    hit never lowers the bound: with hits it is at least the no-hit bound over the
    clusters (a few hits, each in another label, make the design effect look like 1 and
    the item bound tiny, while one more unseen label like those could land above the
    threshold whole)."""
    n = int(hit.size)
    k = int(hit.sum())
    if n == 0:
        return 0, 1.0
    _, idx = np.unique(cluster, return_inverse=True)
    sizes = np.bincount(idx).astype(np.float64)
    n_clusters = int(sizes.size)
    floor = cp_upper(0, n_clusters, delta)  # no hit: one observation per cluster
    if k == 0 or n_clusters < 2:
        return k, max(floor, cp_upper(k, n, delta))
    p = k / n
    hits = np.bincount(idx, weights=hit.astype(np.float64), minlength=n_clusters)
    var = n_clusters / (n_clusters - 1) * float(((hits - p * sizes) ** 2).sum()) / (n * n)
    deff = max(1.0, var / (p * (1.0 - p) / n)) if p < 1.0 else 1.0
    n_eff = n / deff
    return k, max(floor, cp_upper(p * n_eff, n_eff, delta))


def threshold_grid(review_threshold: float = 0.0, step: float = DEFAULT_GRID_STEP) -> list[float]:
    """Candidate auto thresholds, highest first: 0.999, then multiples of ``step`` down to
    ``review_threshold`` (the auto threshold never goes below the review one)."""
    top = [0.999] if review_threshold <= 0.999 else []
    k = math.floor((1.0 - 1e-9) / step)
    values = [round(i * step, 6) for i in range(k, -1, -1)]
    return top + [v for v in values if review_threshold - 1e-12 <= v < 0.999]


@dataclass(frozen=True)
class LaneBound:
    """The certified auto threshold and the bound behind it (interfaces §2)."""

    threshold: float | None  # lowest certified auto threshold; None = auto lane closed
    upper_bound: float | None  # upper confidence bound of the auto-lane error at threshold
    estimate: float | None  # point estimate of that error
    n: int  # evidence behind it: in-scope (or reviewed) items with conf >= threshold
    errors: int
    reason: str

    @property
    def open(self) -> bool:
        return self.threshold is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "upper_bound": self.upper_bound,
            "estimate": self.estimate,
            "n": self.n,
            "errors": self.errors,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LaneBound:
        def num(key: str) -> float | None:
            v = data.get(key)
            return None if v is None else float(v)  # type: ignore[arg-type]

        return cls(
            threshold=num("threshold"),
            upper_bound=num("upper_bound"),
            estimate=num("estimate"),
            n=int(data.get("n") or 0),  # type: ignore[call-overload]
            errors=int(data.get("errors") or 0),  # type: ignore[call-overload]
            reason=str(data.get("reason") or ""),
        )


def _check_params(target: float, confidence_level: float, expected_out_of_scope: float) -> None:
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target!r}")
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
    if not 0.0 <= expected_out_of_scope < 1.0:
        raise ValueError(f"expected_out_of_scope must be in [0, 1), got {expected_out_of_scope!r}")


def _lane_error(e_cond: float, a_in: float, a_oos: float, pi: float) -> float:
    """The auto lane's error from the in-scope error *within* the lane ``e_cond`` (= E_in /
    A_in), the in-scope share above the threshold ``a_in`` and the out-of-scope share
    above it ``a_oos``: ``(e_cond + r) / (1 + r)`` with ``r = pi A_oos / ((1-pi) A_in)``,
    the same as ``[(1-pi) E_in + pi A_oos] / [(1-pi) A_in + pi A_oos]``."""
    if pi <= 0.0:
        return min(1.0, e_cond)
    if a_in <= 0.0:
        return 1.0
    r = pi * a_oos / ((1.0 - pi) * a_in)
    return min(1.0, (e_cond + r) / (1.0 + r))


def _risk_per_bound(confidence_level: float, pi: float) -> float:
    """The risk each bound of the lane's error spends: with out-of-scope traffic three bounds
    (``e``, ``A_in``, ``A_oos``) share ``1 - confidence_level``; with ``pi`` 0 the error is
    ``e`` alone (the shares drop out), one bound with all of it."""
    return (1.0 - confidence_level) / 3 if pi > 0 else 1.0 - confidence_level


def _need_clean(target: float, delta: float) -> int:
    """Items with no error needed above a threshold for a bound at ``delta`` to meet target."""
    need = math.log(delta) / math.log1p(-target)
    return math.ceil(need) if math.isfinite(need) else sys.maxsize  # a target of ~0: never


def _start_support(need: int, supports: Sequence[float]) -> float:
    """Where the fixed sequence starts: the first threshold with ``START_MARGIN * need``
    items (or effective items) above it, else the first with ``need``.  Thresholds with
    fewer could only pass by luck at the edge and would end the sequence early; the start
    is set by how many items lie above each threshold, never by their errors."""
    wanted = START_MARGIN * need
    return wanted if any(s >= wanted for s in supports) else float(need)


def _grid(grid: Sequence[float] | None, review_threshold: float) -> list[float]:
    if grid is None:
        return threshold_grid(review_threshold)
    values = sorted({float(t) for t in grid if review_threshold <= t <= 1.0}, reverse=True)
    return values


def certify_auto_threshold(
    evidence: RoutingEvidence,
    *,
    target: float = DEFAULT_AUTO_ERROR_TARGET,
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL,
    expected_out_of_scope: float = DEFAULT_EXPECTED_OUT_OF_SCOPE,
    review_threshold: float = DEFAULT_REVIEW,
    grid: Sequence[float] | None = None,
) -> LaneBound:
    """The lowest auto threshold whose error bound is at most ``target`` (or a closed lane).

    With an out-of-scope share ``pi`` the auto lane's error at threshold t is
    ``[(1-pi) E_in + pi A_oos] / [(1-pi) A_in + pi A_oos]`` (interfaces §2), written
    ``(e + r) / (1 + r)`` with ``e = E_in / A_in`` the in-scope error within the lane and
    ``r = pi A_oos / ((1-pi) A_in)``.  Its upper bound takes Clopper–Pearson bounds at
    ``(1 - confidence_level) / 3`` each: upper for ``e`` (k wrong of the a in-scope items
    above t: tighter than bounding ``E_in`` over all items) and for ``A_oos`` (on the
    effective sample of its label clusters: :func:`clustered_share_upper`), lower for
    ``A_in``; so the three hold together with probability ``confidence_level`` (with
    pi = 0, one bound on ``e`` at the full level).  Thresholds are tested in a fixed
    sequence from the highest grid value down (Learn-then-Test) and the answer is the last
    one before the first failure, so the guarantee needs no correction for the number of
    thresholds tried.  The sequence starts at the first threshold with enough in-scope
    items above it for a bound to pass comfortably (a count of confidences, not errors).
    """
    _check_params(target, confidence_level, expected_out_of_scope)
    pi = float(expected_out_of_scope)
    delta = _risk_per_bound(confidence_level, pi)
    level = f"error <= {target:.3f} at {confidence_level * 100:.4g}%"
    need = _need_clean(target, delta)
    closed = _missing_evidence(evidence, pi, need, level)
    if closed is not None:
        return closed
    thresholds = _grid(grid, review_threshold)
    start = _start_support(need, [int((evidence.conf_in >= t).sum()) for t in thresholds])
    best: LaneBound | None = None
    first_fail: tuple[float, int, int, int, float] | None = None
    for t in thresholds:
        a, e, o, ub = _bound_at(evidence, t, delta, pi)
        if a < start and best is None:
            first_fail = (t, a, e, o, ub)
            continue  # too little support above t to pass: start lower
        if ub > target:
            first_fail = (t, a, e, o, ub)
            break
        est = _lane_error(e / a, a / evidence.n_in, o / evidence.n_oos if o else 0.0, pi)
        best = LaneBound(t, ub, est, a, e, "")
    if best is None:
        fail = first_fail if first_fail is not None else (1.0, 0, 0, 0, 1.0)
        reason = _closed_reason(evidence, fail, target=target, delta=delta, pi=pi, level=level)
        return LaneBound(None, None, None, fail[1], fail[2], reason)
    oos_note = f", {pi:.0%} of traffic expected out of scope" if pi > 0 else ""
    return replace(
        best,
        reason=f"certified: {level} at threshold {best.threshold:g} (bound "
        f"{best.upper_bound:.4f} from {best.n} held-out items, {best.errors} wrong{oos_note})",
    )


def _closed_reason(
    evidence: RoutingEvidence,
    fail: tuple[float, int, int, int, float],
    *,
    target: float,
    delta: float,
    pi: float,
    level: str,
) -> str:
    """Why no threshold passed, told at the threshold where the sequence stopped (``fail``:
    ``t`` and :func:`_bound_at` there) by what failed: too little in-scope evidence, or (the
    in-scope error alone within the target) the bound on how many unknown inputs reach
    ``t``, which counts held-out *labels*: more examples of the same few labels cannot open
    such a lane."""
    t, a, e, o, ub = fail
    head = (
        f"closed: no threshold certifies {level}: at {t:g}, {a} of {evidence.n_in} held-out items"
    )
    in_scope = cp_upper(e, a, delta) if a else 1.0
    if pi > 0 and in_scope <= target:
        _, share = evidence.oos_share_upper(t, delta)
        return (
            f"{head} above it ({e} wrong) bound the in-scope error at {in_scope:.3f}, but "
            f"{o} of {evidence.n_oos} simulated out-of-scope items from "
            f"{evidence.n_oos_clusters} held-out label groups bound the share of unknown "
            f"inputs reaching it at {share:.3f}: with {pi:.0%} of traffic expected out of "
            f"scope, a lane bound of {ub:.3f}. More labels, `oos` examples, or reviewed "
            "traffic (its reviews measure the out-of-scope share) open the lane, not more "
            "examples of these labels; or set expected_out_of_scope to the share you expect"
        )
    oos = f", {o} of {evidence.n_oos} simulated out-of-scope" if pi > 0 else ""
    return (
        f"{head} above it ({e} wrong{oos}) give a bound of {ub:.3f}; need >= "
        f"{_need_clean(target, delta)} held-out items above a threshold with no error"
    )


def _missing_evidence(
    evidence: RoutingEvidence, pi: float, need: int, level: str
) -> LaneBound | None:
    """A closed lane when there is nothing to certify from (None: there is evidence)."""
    if evidence.n_in == 0:
        why = (
            "closed: no held-out evidence (zero-shot model, too few examples, or a model "
            f"saved before evidence was recorded); need >= {need} held-out items above a "
            f"threshold to certify {level}"
        )
    elif pi > 0 and evidence.n_oos == 0:
        why = (
            f"closed: no out-of-scope evidence to bound the error with {pi:.0%} of traffic "
            "expected to fit no label (needs examples of at least 3 labels, or `oos` "
            "examples in the taxonomy: out-of-scope reviews measure the share but are not "
            "held-out evidence); set expected_out_of_scope to 0 only if every input fits a "
            "label"
        )
    else:
        return None
    return LaneBound(None, None, None, 0, 0, why)


def _bound_at(
    evidence: RoutingEvidence, t: float, delta: float, pi: float
) -> tuple[int, int, int, float]:
    """In-scope items above ``t``, the wrong ones, out-of-scope items above it, and the
    upper bound of the lane's error at ``t`` (three bounds at ``delta`` each)."""
    above = evidence.conf_in >= t
    a = int(above.sum())
    e = int((above & ~evidence.correct_in).sum())
    o, oos_upper = evidence.oos_share_upper(t, delta)
    ub = _lane_error(
        cp_upper(e, a, delta), cp_lower(a, evidence.n_in, delta), oos_upper if pi > 0 else 0.0, pi
    )
    return a, e, o, ub


def lane_bound_at(
    evidence: RoutingEvidence,
    threshold: float,
    *,
    confidence_level: float = 0.95,
    expected_out_of_scope: float = 0.2,
) -> LaneBound:
    """The bound of the auto lane's error at one given threshold (a manual one), however
    little evidence lies above it; ``upper_bound`` None when there is none at all."""
    _check_params(0.5, confidence_level, expected_out_of_scope)
    pi = float(expected_out_of_scope)
    delta = _risk_per_bound(confidence_level, pi)
    n_in, n_oos = evidence.n_in, evidence.n_oos
    if n_in == 0 or (pi > 0 and n_oos == 0):
        return LaneBound(threshold, None, None, 0, 0, "no held-out evidence to bound it")
    a, e, o, ub = _bound_at(evidence, threshold, delta, pi)
    est = _lane_error(e / a, a / n_in, o / n_oos if n_oos else 0.0, pi) if a else None
    return LaneBound(threshold, ub, est, a, e, f"bound {ub:.4f} at {threshold:g}")
