"""Class-conditional Mahalanobis distance in embedding space (shared, shrunk covariance).

Lee et al. (2018) "A simple unified framework for detecting out-of-distribution samples":
one Gaussian per label with a covariance shared by all labels.  An input far from the mean
of the label the head chose is unlike that label's examples even when the head is sure,
which is what an input of an unknown label looks like.  The covariance of the
within-label residuals is shrunk towards a scaled identity by the Ledoit-Wolf formula, so
a few-shot taxonomy (fewer examples than dimensions) gets a well-posed distance without a
tuned constant.  Labels without examples use their prompt vector as mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["MahalanobisDistance", "within_label_dof"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(slots=True)
class MahalanobisDistance:
    """``whiten`` (dim, dim) with ``precision = whiten @ whiten.T``; ``means`` (L, dim)
    are the label means already multiplied by ``whiten``; ``spread`` (L,): ``1 + 1/n`` for
    a label of ``n`` examples (1 for a label without any, or from a model saved before
    it was kept)."""

    whiten: NDArray[np.float32]
    means: NDArray[np.float32]
    spread: NDArray[np.float64] | None = None

    @classmethod
    def fit(
        cls, X: NDArray[np.float32], y: IntArray, fallback_means: NDArray[np.float32]
    ) -> MahalanobisDistance:
        n_labels, dim = fallback_means.shape
        Xd = np.asarray(X, dtype=np.float64)
        counts = np.bincount(y, minlength=n_labels).astype(np.float64)
        sums = np.zeros((n_labels, dim))
        np.add.at(sums, y, Xd)
        means = np.asarray(fallback_means, dtype=np.float64).copy()
        has = counts > 0
        means[has] = sums[has] / counts[has, None]
        whiten = _whitening(Xd, y, means, counts)
        spread = np.ones(n_labels)
        spread[has] = 1.0 + 1.0 / counts[has]
        return cls(whiten.astype(np.float32), (means @ whiten).astype(np.float32), spread)

    def to_labels(self, X: NDArray[np.float32], labels: IntArray) -> FloatArray:
        """``log`` of the mean squared Mahalanobis distance per dimension from each row of
        ``X`` to the mean of its label in ``labels``, over what a new input of that label
        is expected to show (``1 + 1/n`` of the spread: the mean of ``n`` examples is itself
        off by ``1/n``), so that a label of few examples reads the same whether it has
        ``n`` of them (the served model) or ``n - 1`` (a held-out fold)."""
        Xw = np.einsum("ij,jk->ik", X, self.whiten) if X.shape[0] <= 4 else X @ self.whiten
        diff = Xw.astype(np.float64) - self.means[labels]
        d2 = np.einsum("ij,ij->i", diff, diff) / max(X.shape[1], 1)
        if self.spread is not None:
            d2 = d2 / self.spread[labels]
        out: FloatArray = np.log(d2 + 1e-12)
        return out

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {f"{prefix}whiten": self.whiten, f"{prefix}means": self.means}
        if self.spread is not None:
            out[f"{prefix}spread"] = self.spread
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> MahalanobisDistance:
        spread = arrays.get(f"{prefix}spread")
        return cls(
            np.asarray(arrays[f"{prefix}whiten"], dtype=np.float32),
            np.asarray(arrays[f"{prefix}means"], dtype=np.float32),
            None if spread is None else np.asarray(spread, dtype=np.float64),
        )


def within_label_dof(counts: NDArray[np.float64] | IntArray) -> int:
    """Degrees of freedom of the within-label residuals of labels with ``counts`` examples:
    the rows of labels with two or more, less one per such label (a label's only example
    is its own mean)."""
    c = np.asarray(counts)
    return int(c[c >= 2].sum() - np.count_nonzero(c >= 2))


def _whitening(
    X: NDArray[np.float64], y: IntArray, means: NDArray[np.float64], counts: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``whiten`` of the shrunk covariance of the within-label residuals, on the scale of a
    new input: ``n`` residuals about their own mean keep ``n - 1`` degrees of freedom, so
    the sample covariance (over all residuals) is scaled by rows / (rows - labels).  A
    label's only example is its own mean (a residual of zero says nothing of the spread):
    only labels of two or more examples count.  Without any such label there is no
    within-label spread to measure; the spread of all examples about their mean stands in
    (larger: the distance of a held-out row reads small, as it should for a fit that knows
    so little)."""
    from sklearn.covariance import ledoit_wolf  # fitting only (see triaged.models)

    dim = X.shape[1]
    in_pairs = counts[y] >= 2
    dof = within_label_dof(counts)
    if dof >= 1:
        n_rows = int(in_pairs.sum())
        cov, _ = ledoit_wolf(X[in_pairs] - means[y[in_pairs]], assume_centered=True)
        cov *= n_rows / dof
    elif len(y) >= 2:
        cov, _ = ledoit_wolf(X)
    else:
        cov = np.eye(dim) * 1e-2
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, 1e-8 * max(float(vals.max()), 1e-12))
    out: NDArray[np.float64] = vecs / np.sqrt(vals)[None, :]
    return out
