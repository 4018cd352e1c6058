"""Per-item signals that predict whether a prediction is right (inputs of the calibrators).

All functions are vectorised over rows and cheap enough to run at predict time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COVERAGE_FEATURE",
    "DISTANCE_FEATURE",
    "FEATURE_SENSES",
    "TRAINED_FEATURES",
    "ZERO_SHOT_FEATURES",
    "knn_signals",
    "logit",
    "softmax_rows",
    "top2",
    "trained_features",
    "zero_shot_features",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Calibrator signal of engines with a distance model (appended to TRAINED_FEATURES):
#: log mean squared Mahalanobis distance to the predicted label's mean.
DISTANCE_FEATURE = "maha_top"
#: ... of engines with a lexical channel: share of the input's n-grams seen in training.
COVERAGE_FEATURE = "lex_cover"
TRAINED_FEATURES = ("logit_pmax", "margin", "nn_sim", "nn_class_sim", "knn_agree", "proto_sim")
#: +1 where a larger value of a trained-head signal means a surer prediction, -1 where it
#: means a less sure one (a larger distance to the predicted label's examples).
FEATURE_SENSES = dict.fromkeys(TRAINED_FEATURES, 1.0) | {
    DISTANCE_FEATURE: -1.0,
    COVERAGE_FEATURE: 1.0,
}
ZERO_SHOT_FEATURES = (
    "top_sim",
    "gap",
    "log_gap",
    "centred_top",
    "z_gap",
    "z_centred_top",
    "logit_pmax",
)


def logit(p: FloatArray, eps: float = 1e-6) -> FloatArray:
    q = np.clip(p, eps, 1.0 - eps)
    out: FloatArray = np.log(q) - np.log1p(-q)
    return out


def softmax_rows(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def top2(values: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Argmax, largest and second largest value of each row (second = first with one column)."""
    top = values.argmax(axis=1).astype(np.int64)
    rows = np.arange(values.shape[0])
    first = values[rows, top]
    if values.shape[1] < 2:
        return top, first, first.copy()
    part = np.partition(values, values.shape[1] - 2, axis=1)
    return top, first, part[:, -2]


def knn_signals(
    sims: NDArray[np.float32], train_y: IntArray, top: IntArray, k: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """From cosine similarities to labelled examples (rows = queries, columns = examples):
    the best similarity overall, the best similarity among the top ``k`` examples that carry
    the predicted label (the k-th similarity when none does), and how many of the ``k``
    nearest examples carry the predicted label, out of as many as could (``k``, or the
    label's examples when it has fewer: a label of two examples scores the same when both
    are near as one of ten with all ten near, and a held-out fold that lacks one of them
    reads like the served model)."""
    n, m = sims.shape
    if m == 0:
        zeros = np.zeros(n)
        return zeros, zeros, zeros
    k = max(1, min(k, m))
    idx = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
    # (take_along_axis and bool mean, without their per-call overhead)
    near = sims[np.arange(n)[:, None], idx].astype(np.float64)
    same = train_y[idx] == top[:, None]
    nn_sim = near.max(axis=1)
    kth = near.min(axis=1)
    nn_class = np.where(same.any(axis=1), np.where(same, near, -np.inf).max(axis=1), kth)
    per_label = np.bincount(train_y, minlength=int(top.max()) + 1 if n else 0)
    agree = np.count_nonzero(same, axis=1) / np.clip(per_label[top], 1, k)
    return nn_sim, nn_class, agree


def trained_features(
    probs: FloatArray,
    sims: NDArray[np.float32],
    train_y: IntArray,
    proto_sims: FloatArray,
    k: int,
) -> tuple[IntArray, FloatArray]:
    """Calibrator inputs for the trained head, in the order of :data:`TRAINED_FEATURES`."""
    top, p1, p2 = top2(probs)
    nn_sim, nn_class, agree = knn_signals(sims, train_y, top, k)
    proto = proto_sims[np.arange(len(top)), top]
    feats = np.column_stack([logit(p1), p1 - p2, nn_sim, nn_class, agree, proto])
    return top, feats.astype(np.float64, copy=False)


def zero_shot_features(sims: FloatArray, temperature: float) -> tuple[IntArray, FloatArray]:
    """Calibrator inputs for zero-shot scoring from cosine similarities to the label
    prompts, in the order of :data:`ZERO_SHOT_FEATURES`.  None depends on the label count
    directly, so that one fitted calibrator transfers across taxonomies."""
    top, s1, s2 = top2(sims)
    gap = s1 - s2
    centred = s1 - sims.mean(axis=1)
    spread = sims.std(axis=1) + 1e-6
    p1 = softmax_rows(sims / temperature).max(axis=1)
    feats = np.column_stack(
        [s1, gap, np.log(gap + 1e-3), centred, gap / spread, centred / spread, logit(p1)]
    )
    return top, feats.astype(np.float64, copy=False)
