"""Prediction sets by split-conformal calibration: the smallest set of labels that holds the
right one with probability ``1 - alpha``.

The nonconformity score is the randomized *adaptive prediction set* (APS) score of Romano,
Sesia and Candes (2020): with the labels ranked by probability, the score of label ``y`` is
the probability mass ranked above it plus ``u * p(y)``, ``u`` uniform in ``[0, 1)``.  The
engine records the scores of its *held-out* rows: each in-scope training item scored by a
fold model that never saw it, with the final temperature and lexical weight
(:meth:`triaged.models.Engine.fit`).  At ``alpha`` the threshold ``q`` is the
``ceil((n + 1)(1 - alpha))``-th smallest of those ``n`` scores (the finite-sample correction
of split conformal prediction), and an input's set is every label whose score is at most
``q``: always a prefix of the label ranking (``set_sizes`` is all a caller needs next to the
probabilities), larger where the probability is spread over several labels.

The guarantee is marginal over in-scope inputs drawn like the training items:
``P(true label in set) >= 1 - alpha``, and with the randomization coverage is close to
``1 - alpha`` rather than above it.  A deterministic ``u`` per input (from a hash of its
probability row) keeps an input's set the same on every call.  The price of exact
coverage: when the model's top label alone is right more often than ``1 - alpha``, some
very confident inputs get an *empty* set (``u * p(top) > q``): at that ``alpha`` no label
needs to be named for them; hard inputs never do (``p(top) <= q`` keeps the top label).
The fold models see fewer examples than the final head, so coverage on new data tends to
sit slightly above ``1 - alpha`` (``bench/bench_sets.py`` measures it).  Out-of-scope
inputs have no right label: their sets say nothing about coverage.

Persistence is the sorted score array (``to_arrays`` / ``from_arrays``): engines saved
before prediction sets existed load with :meth:`ConformalSets.empty` and return no set
(``None``), never a set without a calibration behind it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_ALPHA", "ConformalSets"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Miscoverage of the sets the engine returns (``1 - alpha`` = 90% coverage).
DEFAULT_ALPHA = 0.1


@dataclass(frozen=True, slots=True)
class ConformalSets:
    """Held-out nonconformity scores ``1 - p(true label)``, sorted ascending."""

    scores: FloatArray

    @classmethod
    def empty(cls) -> ConformalSets:
        return cls(np.zeros(0))

    @classmethod
    def fit(
        cls, probs: NDArray[np.float64], y: NDArray[np.int64], *, seed: int = 0
    ) -> ConformalSets:
        """Scores of held-out rows: ``probs`` ``(n, L)`` and their true labels ``y``."""
        P = np.asarray(probs, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64).ravel()
        if P.ndim != 2 or P.shape[0] != len(y):
            raise ValueError("probs must be (n, L) with one label per row")
        if len(y) == 0:
            return cls.empty()
        u = np.random.default_rng(seed).random(len(y))
        return cls(np.sort(aps_scores(P, y, u)))

    @property
    def n(self) -> int:
        return int(self.scores.shape[0])

    def threshold(self, alpha: float = DEFAULT_ALPHA) -> float | None:
        """The conformal quantile of the scores at ``alpha``; ``None`` when there are no
        scores, ``1.0`` (every label) when there are too few for ``alpha``
        (``ceil((n + 1)(1 - alpha)) > n``)."""
        if not 0.0 < alpha < 1.0:
            raise ValueError("alpha must lie in (0, 1)")
        n = self.n
        if n == 0:
            return None
        rank = math.ceil((n + 1) * (1.0 - alpha))
        if rank > n:
            return 1.0
        return float(self.scores[rank - 1])

    def set_sizes(
        self, probs: NDArray[np.float64], alpha: float = DEFAULT_ALPHA
    ) -> IntArray | None:
        """Size of each row's prediction set (its labels are the row's ``size`` most
        probable; 0: an empty set); ``None`` without calibration scores."""
        q = self.threshold(alpha)
        if q is None:
            return None
        P = np.asarray(probs, dtype=np.float64)
        if P.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        S = -np.sort(-P, axis=1)
        above = np.cumsum(S, axis=1) - S  # mass ranked above each rank
        u = row_uniforms(P)
        # score of rank r: above[r] + u * S[r], non-decreasing in r, so the set is a prefix
        out: IntArray = (above + u[:, None] * S <= q + 1e-12).sum(axis=1).astype(np.int64)
        return out

    def sets(
        self, probs: NDArray[np.float64], alpha: float = DEFAULT_ALPHA
    ) -> list[IntArray] | None:
        """Label indices of each row's prediction set, most probable first."""
        sizes = self.set_sizes(probs, alpha)
        if sizes is None:
            return None
        P = np.asarray(probs, dtype=np.float64)
        order = np.argsort(-P, axis=1, kind="stable")
        return [order[i, : int(k)].astype(np.int64) for i, k in enumerate(sizes)]

    def to_arrays(self, prefix: str = "conformal_") -> dict[str, np.ndarray]:
        return {f"{prefix}scores": self.scores.astype(np.float64)}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], prefix: str = "conformal_"
    ) -> ConformalSets:
        """The scores stored by :meth:`to_arrays`; empty (no sets) when absent."""
        key = f"{prefix}scores"
        if key not in arrays:
            return cls.empty()
        return cls(np.sort(np.asarray(arrays[key], dtype=np.float64)))


def aps_scores(P: NDArray[np.float64], y: NDArray[np.int64], u: NDArray[np.float64]) -> FloatArray:
    """Randomized APS score of label ``y[i]`` in row ``P[i]``: the mass of the labels ranked
    above it (stable order, as :func:`numpy.argsort` ranks them) plus ``u[i] * P[i, y[i]]``."""
    rows = np.arange(len(y))
    order = np.argsort(-P, axis=1, kind="stable")
    rank = np.argsort(order, axis=1, kind="stable")[rows, y]
    S = np.take_along_axis(P, order, axis=1)
    above = np.cumsum(S, axis=1) - S
    out: FloatArray = np.clip(above[rows, rank] + u * P[rows, y], 0.0, 1.0)
    return out


def row_uniforms(P: NDArray[np.float64]) -> FloatArray:
    """A uniform number in ``[0, 1)`` per row, determined by the row (its probabilities
    rounded to 6 decimals): the same input gets the same set on every call."""
    R = np.ascontiguousarray(np.round(np.asarray(P, dtype=np.float64), 6))
    out = np.empty(R.shape[0])
    for i in range(R.shape[0]):
        digest = hashlib.blake2b(R[i].tobytes(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64
    return out


def coverage(sets: list[IntArray], y: NDArray[np.int64]) -> float:
    """Share of rows whose true label ``y`` is in their set (for tests and benches)."""
    if not sets:
        return float("nan")
    hits = sum(int(int(t) in s) for s, t in zip(sets, np.asarray(y).ravel(), strict=True))
    return hits / len(sets)
