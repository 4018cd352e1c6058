"""The encoder interface: text in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Encoder", "Vectors"]

Vectors = NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into unit-length vectors of a fixed size."""

    name: str
    dim: int

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> Vectors:
        """Return an ``(len(texts), dim)`` float32 array, rows L2-normalised, in input order."""
        ...
