"""The encoder interface: text in, L2-normalised float32 vectors out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeGuard, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Encoder",
    "ExactBatchEncoder",
    "ReportingEncoder",
    "Vectors",
    "embed_as_single",
    "embed_reporting",
]

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


@runtime_checkable
class ExactBatchEncoder(Encoder, Protocol):
    """An encoder that batches without letting batch-mates change a text's vector."""

    def embed_exact(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 16,
        progress: bool = False,
        threads: int = 1,
    ) -> Vectors:
        """Rows equal to ``embed([text], batch_size=1)`` for each text, computed in batches
        (``threads`` of them at a time: a batch's rows do not depend on its neighbours)."""
        ...


@runtime_checkable
class ReportingEncoder(Encoder, Protocol):
    """An encoder that says how far it is through a long list of texts."""

    def embed_reported(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: bool = False,
        on_rows: Callable[[int], None] | None = None,
    ) -> Vectors:
        """``embed(texts)``, calling ``on_rows(k)`` as each batch of ``k`` rows is done
        (rows: the texts' windows; a long text may take several)."""
        ...


def embed_reporting(
    encoder: Encoder, texts: Sequence[str], on_rows: Callable[[int], None], progress: bool = False
) -> Vectors:
    """``encoder.embed(texts)``, telling ``on_rows`` of each batch done (an encoder that
    cannot report tells of every text at the end)."""
    if isinstance(encoder, ReportingEncoder):
        return encoder.embed_reported(texts, progress=progress, on_rows=on_rows)
    vectors = encoder.embed(texts, progress=progress)
    on_rows(len(texts))
    return vectors


def embed_as_single(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    batch_size: int = 16,
    progress: bool = False,
    threads: int = 1,
) -> Vectors:
    """Each text's single-call vector: batched (``threads`` batches at a time) when the
    encoder can do it exactly, else one text per call."""
    if _is_exact(encoder):
        return encoder.embed_exact(texts, batch_size=batch_size, progress=progress, threads=threads)
    return encoder.embed(texts, batch_size=1, progress=progress)


_EXACT_CLASSES: dict[type, bool] = {}


def _is_exact(encoder: Encoder) -> TypeGuard[ExactBatchEncoder]:
    """``isinstance(encoder, ExactBatchEncoder)``, remembered per class: a runtime protocol
    check costs tens of microseconds, a visible share of one classify call."""
    cls = type(encoder)
    known = _EXACT_CLASSES.get(cls)
    if known is None:
        known = _EXACT_CLASSES[cls] = isinstance(encoder, ExactBatchEncoder)
    return known
