"""Batched encoding gives every text its single-call vector and result (issue 11, item 5)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import small_taxonomy
from triaged.classifier import Classifier
from triaged.encoders import Vectors, embed_as_single, get_encoder
from triaged.encoders.onnx import OnnxEncoder
from triaged.taxonomy import read_jsonl

# results are rounded to 6 decimals: "equal to 1e-6" is one unit in the last place (plus the
# float error of subtracting two such decimals)
TOL = 1e-6 + 1e-12


@pytest.fixture(scope="module")
def texts(datasets_dir: Path) -> list[str]:
    """500 real texts: 450 short Banking77 queries and 50 longer DBpedia abstracts, so
    batches mix lengths and carry padding."""
    rng = random.Random(11)
    short = [ex.text for ex in read_jsonl(datasets_dir / "banking77" / "test.jsonl")]
    long = [ex.text for ex in read_jsonl(datasets_dir / "dbpedia14" / "test.jsonl")]
    picked = rng.sample(short, 450) + rng.sample(long[:2000], 50)
    rng.shuffle(picked)
    return picked


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Classifier:
    tax = small_taxonomy(datasets_dir, tmp_path_factory.mktemp("tax"))
    return Classifier.from_taxonomy(tax).fit()


@pytest.fixture(scope="module")
def single_vectors(texts: list[str]) -> Vectors:
    enc = get_encoder()
    return np.concatenate([enc.embed([t], batch_size=1) for t in texts])


def test_exact_batches_reproduce_single_calls_bit_for_bit(
    texts: list[str], single_vectors: Vectors
) -> None:
    enc = get_encoder()
    enc = getattr(enc, "inner", enc)  # under the API's micro-batcher when an app was built
    assert isinstance(enc, OnnxEncoder)
    assert enc._row_session() is not False  # the per-row graph is built and self-checked
    for batch_size, threads in ((16, 1), (500, 1), (16, 3), (8, 2)):
        got = enc.embed_exact(texts, batch_size=batch_size, threads=threads)
        assert np.array_equal(got, single_vectors), (batch_size, threads)


def test_padded_batches_do_depend_on_batch_mates(texts: list[str], single_vectors: Vectors) -> None:
    """The problem being solved is real: per-tensor quantization over a padded batch moves
    vectors, so the exactness test above can fail."""
    padded = get_encoder().embed(texts, batch_size=64)
    diff = np.abs(padded - single_vectors).max(axis=1)
    assert (diff > 1e-4).sum() > 100


def test_classify_batch_equals_classify_in_any_order_and_batch_size(
    fitted: Classifier, texts: list[str]
) -> None:
    single = [fitted.classify(t) for t in texts]
    for batch_size, seed, threads in ((64, None, 1), (7, 1, 2), (500, 2, None), (16, 3, 4)):
        order = list(range(len(texts)))
        if seed is not None:
            random.Random(seed).shuffle(order)
        got = fitted.classify_batch(
            [texts[i] for i in order], batch_size=batch_size, threads=threads
        )
        for res, i in zip(got, order, strict=True):
            assert res.label == single[i].label
            assert res.bucket is single[i].bucket
            assert abs(res.confidence - single[i].confidence) <= TOL
            assert res.scores.keys() == single[i].scores.keys()
            for name, score in res.scores.items():
                assert abs(score - single[i].scores[name]) <= TOL


class _PlainEncoder:
    """An encoder without ``embed_exact``: classify_batch must fall back to one text a call."""

    name = "plain"

    def __init__(self) -> None:
        self.inner = get_encoder()
        self.dim = self.inner.dim
        self.batch_sizes: list[int] = []

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> Vectors:
        self.batch_sizes.append(batch_size)
        return self.inner.embed(texts, batch_size=batch_size, progress=progress)


def test_encoders_without_exact_batches_run_one_text_per_call(
    texts: list[str], single_vectors: Vectors
) -> None:
    plain = _PlainEncoder()
    assert np.array_equal(embed_as_single(plain, texts[:20]), single_vectors[:20])
    assert plain.batch_sizes == [1]
