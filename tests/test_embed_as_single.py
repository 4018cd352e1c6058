"""``embed_as_single`` takes the exact batched path only for encoders that have one (the
check is remembered per class), and both paths give each text's single-call vector."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from triaged.encoders import ExactBatchEncoder, embed_as_single, get_encoder
from triaged.encoders.base import Vectors


class _PlainEncoder:
    """The bundled encoder without its exact batch path."""

    def __init__(self) -> None:
        self.inner = get_encoder()
        self.name, self.dim = self.inner.name, self.inner.dim
        self.calls: list[int] = []

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> Vectors:
        self.calls.append(batch_size)
        return self.inner.embed(texts, batch_size=batch_size, progress=progress)


def test_plain_and_exact_encoders_take_their_paths() -> None:
    texts = ["my card has not arrived yet", "how do I reset my pin", "card"]
    exact = get_encoder()
    assert isinstance(exact, ExactBatchEncoder)
    single = np.concatenate([exact.embed([t], batch_size=1) for t in texts])
    for _ in range(2):  # the second time from the per-class memory
        plain = _PlainEncoder()
        assert not isinstance(plain, ExactBatchEncoder)
        np.testing.assert_array_equal(embed_as_single(plain, texts), single)
        assert plain.calls == [1]  # one text per encoder call
        np.testing.assert_array_equal(embed_as_single(exact, texts), single)
