"""Calibration maths: temperature scaling, ECE, NLL and reliability data.

Confidence in triaged means *probability that the predicted label is right*.
These helpers fit and measure that mapping; models use them on held-out or
cross-validated predictions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_softmax, softmax

__all__ = [
    "ReliabilityBin",
    "TemperatureScaler",
    "calibrated_nll",
    "expected_calibration_error",
    "negative_log_likelihood",
    "reliability_bins",
    "runner_up_scale",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability_bins(
    confidences: ArrayLike, correct: ArrayLike, n_bins: int = 15
) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; bin i holds (i/n, (i+1)/n], bin 0 also holds 0."""
    conf = np.asarray(confidences, dtype=float).ravel()
    ok = np.asarray(correct, dtype=float).ravel()
    if conf.shape != ok.shape:
        raise ValueError("confidences and correct must have the same length")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        bins.append(
            ReliabilityBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=n,
                mean_confidence=float(conf[sel].mean()) if n else 0.0,
                accuracy=float(ok[sel].mean()) if n else 0.0,
            )
        )
    return bins


def expected_calibration_error(
    confidences: ArrayLike, correct: ArrayLike, n_bins: int = 15
) -> float:
    """ECE with ``n_bins`` equal-width bins: sum_b |B|/N * |acc(B) - conf(B)|."""
    bins = reliability_bins(confidences, correct, n_bins)
    total = sum(b.count for b in bins)
    if total == 0:
        return 0.0
    return float(sum(b.count / total * abs(b.accuracy - b.mean_confidence) for b in bins))


def negative_log_likelihood(probs: ArrayLike, targets: Sequence[int] | NDArray[np.int64]) -> float:
    """Mean negative log-probability of the true class (probabilities clipped at 1e-12)."""
    p = np.asarray(probs, dtype=float)
    t = np.asarray(targets, dtype=int)
    if p.shape[0] == 0:
        return 0.0
    return float(-np.mean(np.log(np.clip(p[np.arange(len(t)), t], 1e-12, 1.0))))


def runner_up_scale(confidence: float, p_top: float) -> float:
    """The factor a result's runner-ups' model probabilities are multiplied by: they share
    what the calibrated ``confidence`` leaves in the model's proportions, so top label and
    runner-ups never sum above 1 and no runner-up outranks the top (``p_top``: the model's
    probability of the top label).  Plain floats: the classify path calls it per result."""
    p_top = max(p_top, 1e-12)
    return min(confidence / p_top, (1.0 - confidence) / max(1.0 - p_top, 1e-12))


def calibrated_nll(probs: ArrayLike, confidence: ArrayLike, targets: ArrayLike) -> float:
    """Mean negative log-probability of the true label under what a result reports: the
    calibrated ``confidence`` for the top label, and for another label the model's
    probability scaled as the result's runner-ups are (into what the confidence leaves).
    :func:`negative_log_likelihood` of the raw ``probs`` scored a model whose calibration
    said 0.5 as if it had said 0.89."""
    p = np.asarray(probs, dtype=float)
    conf = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    t = np.asarray(targets, dtype=int)
    if p.shape[0] == 0:
        return 0.0
    rows = np.arange(len(t))
    top = p.argmax(axis=1)
    pairs = zip(conf, p[rows, top], strict=True)
    scale = np.array([runner_up_scale(float(c), float(q)) for c, q in pairs])
    p_true = np.where(t == top, conf, np.minimum(conf, p[rows, t] * scale))
    return float(-np.mean(np.log(np.clip(p_true, 1e-12, 1.0))))


class TemperatureScaler:
    """Single-parameter temperature scaling of logits, fitted by minimising NLL."""

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature_ = float(temperature)

    def fit(
        self, logits: ArrayLike, targets: Sequence[int] | NDArray[np.int64]
    ) -> TemperatureScaler:
        z = np.asarray(logits, dtype=float)
        t = np.asarray(targets, dtype=int)
        if z.shape[0] == 0:
            return self

        def nll(log_temp: float) -> float:
            lp = log_softmax(z / np.exp(log_temp), axis=1)
            return float(-lp[np.arange(len(t)), t].mean())

        from scipy.optimize import minimize_scalar  # fitting only: slow to import

        res = minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded")
        self.temperature_ = float(np.exp(res.x))
        return self

    def transform(self, logits: ArrayLike) -> FloatArray:
        z = np.asarray(logits, dtype=float)
        out: FloatArray = softmax(z / self.temperature_, axis=1)
        return out
