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
from sklearn.covariance import ledoit_wolf

__all__ = ["MahalanobisDistance"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(slots=True)
class MahalanobisDistance:
    """``whiten`` (dim, dim) with ``precision = whiten @ whiten.T``; ``means`` (L, dim)
    are the label means already multiplied by ``whiten``."""

    whiten: NDArray[np.float32]
    means: NDArray[np.float32]

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
        if len(y) >= 2:
            cov, _ = ledoit_wolf(Xd - means[y], assume_centered=True)
        else:
            cov = np.eye(dim) * 1e-2
        vals, vecs = np.linalg.eigh(cov)
        vals = np.maximum(vals, 1e-8 * max(float(vals.max()), 1e-12))
        whiten = vecs / np.sqrt(vals)[None, :]
        return cls(whiten.astype(np.float32), (means @ whiten).astype(np.float32))

    def to_labels(self, X: NDArray[np.float32], labels: IntArray) -> FloatArray:
        """``log`` of the mean squared Mahalanobis distance per dimension from each row of
        ``X`` to the mean of its label in ``labels``."""
        Xw = np.einsum("ij,jk->ik", X, self.whiten) if X.shape[0] <= 4 else X @ self.whiten
        diff = Xw.astype(np.float64) - self.means[labels]
        d2 = np.einsum("ij,ij->i", diff, diff) / max(X.shape[1], 1)
        out: FloatArray = np.log(d2 + 1e-12)
        return out

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}whiten": self.whiten, f"{prefix}means": self.means}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> MahalanobisDistance:
        return cls(
            np.asarray(arrays[f"{prefix}whiten"], dtype=np.float32),
            np.asarray(arrays[f"{prefix}means"], dtype=np.float32),
        )
