"""A small logistic model of P(prediction is correct) from per-item signals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ONE_CLASS_PRIOR", "CorrectnessCalibrator", "OneClassRule"]

FloatArray = NDArray[np.float64]

#: Pseudo-count of each outcome when the held-out rows are all right (or all wrong): the
#: constant ``(right + a) / (n + 2a)``.  0.5 (Jeffreys' prior) was chosen leave-one-dataset-out
#: (``scripts/fit_one_class_prior.py``: two-label draws, ten examples per label, dev splits;
#: each fold's choice by the worst of the other datasets' mean ECE) and every fold chose it.
#: Until 5 December it was 1 (Laplace: 21/22 = 0.955 for 20 rows), 3-5 points under the
#: 99%+ accuracy of most such pairs.
ONE_CLASS_PRIOR = 0.5


@dataclass(frozen=True, slots=True)
class OneClassRule:
    """What :meth:`CorrectnessCalibrator.fit` does when every held-out row is right.

    ``corner_weight`` 0: the constant ``(right + a) / (n + 2a)``, ``a = prior``: every input
    gets one confidence, so an input unlike every example (an out-of-scope one) is as sure
    as a copy of one.  ``corner_weight`` > 0 with ``senses`` (+1 where a larger feature
    means a surer prediction, -1 where it means a less sure one): one pseudo-error of that
    total weight at the least sure corner of the held-out rows (each feature at its least
    sure observed value), beside the rows, and a logistic fit as usual.  Confidence then
    falls toward that corner in every feature, in the direction the signals already mean,
    instead of being flat.
    """

    prior: float = ONE_CLASS_PRIOR
    corner_weight: float = 0.0
    senses: tuple[float, ...] | None = None

    def corner(self, feats: FloatArray) -> FloatArray | None:
        """The least sure corner of ``feats`` (None when this rule keeps the constant)."""
        if self.corner_weight <= 0.0 or self.senses is None or not len(feats):
            return None
        senses = np.asarray(self.senses, dtype=np.float64)
        if senses.shape != (feats.shape[1],):
            raise ValueError(f"{len(senses)} feature senses for {feats.shape[1]} features")
        out: FloatArray = np.where(senses > 0, feats.min(axis=0), feats.max(axis=0))
        return out


@dataclass(slots=True)
class CorrectnessCalibrator:
    """``confidence = sigmoid(w . (clip(f) - mean) / scale + b)`` over a fixed feature list.

    Fitted on out-of-fold predictions (never on the rows the head was trained on), so
    its output is an honest estimate of the chance that the argmax label is right.

    ``lower``/``upper``: each feature's range over the rows it was fitted on.  An input is
    read at the nearest point of that range: a logistic model says nothing about inputs
    beyond its data, and a small taxonomy's calibrator, fitted on a few dozen held-out rows
    with correlated signals, can weigh one of them negatively.  Read linearly far outside,
    such a weight turns an input that *is* a training example (similarity 1.0 to its own
    copy, a value no held-out row shows) into the least confident one.  None (models saved
    before 6 December, hand-built calibrators): no clipping.
    """

    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float
    lower: FloatArray | None = None
    upper: FloatArray | None = None

    @classmethod
    def constant(cls, n_features: int, p: float) -> CorrectnessCalibrator:
        p = float(np.clip(p, 1e-4, 1 - 1e-4))
        zeros = np.zeros(n_features)
        return cls(zeros, np.ones(n_features), zeros.copy(), float(np.log(p / (1 - p))))

    @classmethod
    def fit(
        cls,
        feats: FloatArray,
        correct: NDArray[np.bool_],
        *,
        sample_weight: FloatArray | None = None,
        C: float = 1.0,
        one_class_prior: float = ONE_CLASS_PRIOR,
        one_class: OneClassRule | None = None,
    ) -> CorrectnessCalibrator:
        """Logistic regression of ``correct`` on standardised ``feats``; with one class only
        (every held-out row right, as ten examples of two distinct labels often are) what
        ``one_class`` says (default: the smoothed constant ``(right + a) / (n + 2a)``,
        ``a = one_class_prior``)."""
        n_features = feats.shape[1]
        ok = np.asarray(correct, dtype=bool)
        rule = one_class if one_class is not None else OneClassRule(prior=one_class_prior)
        corner = rule.corner(feats) if ok.all() else None
        if corner is not None:
            weights = np.ones(len(ok)) if sample_weight is None else np.asarray(sample_weight)
            feats = np.vstack([feats, corner[None, :]])
            ok = np.concatenate([ok, [False]])
            sample_weight = np.concatenate([weights, [rule.corner_weight]])
        elif ok.all() or not ok.any():
            a = float(rule.prior)
            return cls.constant(n_features, (ok.sum() + a) / (len(ok) + 2.0 * a))
        mean = feats.mean(axis=0)
        scale = feats.std(axis=0)
        scale[scale < 1e-9] = 1.0
        from sklearn.linear_model import LogisticRegression  # fitting only (see triaged.models)

        model = LogisticRegression(C=C, max_iter=1000)
        model.fit((feats - mean) / scale, ok.astype(np.int64), sample_weight=sample_weight)
        coef = model.coef_[0].astype(np.float64)
        fitted = feats if sample_weight is None else feats[np.asarray(sample_weight) > 0]
        return cls(
            mean, scale, coef, float(model.intercept_[0]), fitted.min(axis=0), fitted.max(axis=0)
        )

    def decision(self, feats: FloatArray) -> FloatArray:
        if self.lower is not None and self.upper is not None:
            feats = np.clip(feats, self.lower, self.upper)
        out: FloatArray = ((feats - self.mean) / self.scale) @ self.coef + self.intercept
        return out

    def predict(self, feats: FloatArray) -> FloatArray:
        out: FloatArray = 1.0 / (1.0 + np.exp(-self.decision(feats)))
        return out

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {
            f"{prefix}mean": self.mean,
            f"{prefix}scale": self.scale,
            f"{prefix}coef": self.coef,
            f"{prefix}intercept": np.array([self.intercept]),
        }
        if self.lower is not None and self.upper is not None:
            arrays[f"{prefix}lower"] = self.lower
            arrays[f"{prefix}upper"] = self.upper
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> CorrectnessCalibrator:
        return cls(
            np.asarray(arrays[f"{prefix}mean"], dtype=np.float64),
            np.asarray(arrays[f"{prefix}scale"], dtype=np.float64),
            np.asarray(arrays[f"{prefix}coef"], dtype=np.float64),
            float(np.asarray(arrays[f"{prefix}intercept"]).ravel()[0]),
            _optional(arrays, f"{prefix}lower"),
            _optional(arrays, f"{prefix}upper"),
        )


def _optional(arrays: dict[str, np.ndarray], key: str) -> FloatArray | None:
    return np.asarray(arrays[key], dtype=np.float64) if key in arrays else None
