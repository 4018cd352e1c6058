"""Stored example rows (int8) and the product of a few rows with a matrix."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from triaged.encoders.base import Vectors

__all__ = ["dequantize", "quantize", "rows_dot"]


def quantize(X: NDArray[Any]) -> NDArray[np.int8]:
    """Unit-norm embeddings as int8 (coordinates in [-1, 1], steps of 1/127)."""
    out: NDArray[np.int8] = np.clip(np.rint(np.asarray(X) * 127.0), -127, 127).astype(np.int8)
    return out


def dequantize(Q: NDArray[np.int8]) -> Vectors:
    out: Vectors = np.ascontiguousarray(Q.astype(np.float32) / np.float32(127.0))
    return out


def rows_dot(X: NDArray[Any], M: NDArray[Any]) -> NDArray[Any]:
    """``X @ M.T``; for a few rows with single-threaded ``einsum`` loops, which avoid the
    multi-threaded BLAS start-up (milliseconds on a busy machine) on the single-text path."""
    if X.shape[0] <= 4:
        small: NDArray[Any] = np.einsum("ij,kj->ki", M, X)
        return small
    full: NDArray[Any] = X @ M.T
    return full
