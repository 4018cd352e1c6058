"""The lexical channel's per-call rows (columns looked up once per word, cached per
vocabulary) equal the definition: the n-grams of ``analyze``, counted, in order of first
occurrence, restricted to the vocabulary."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from triaged.models import lexical
from triaged.models.lexical import LexicalModel, LexicalVocabulary, analyze

TRAIN = [
    "reset my password please",
    "my password reset link expired",
    "card declined at the shop",
    "the card was declined twice",
    "where is my new card",
    "new card has not arrived",
    "\x01ab ab weird control characters",
    "\x01ab ab weird control characters again",
]
QUERIES = [
    "reset reset my password password",  # repeated words and n-grams
    "my card card card was declined at the shop",
    "zqxv wpfj",  # nothing in the vocabulary
    "a",
    "",
    "   ",
    "\x01ab ab",  # a character n-gram that spells a word n-gram
    "Ünïcödé card 😀 declined",
    "password " * 40,
]


def _reference(vocab: LexicalVocabulary, text: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(columns, counts, coverage) straight from the definition."""
    grams = analyze(text)
    index = {t: i for i, t in enumerate(vocab.terms)}
    hits = [(index[g], c) for g, c in Counter(grams).items() if g in index]
    cols = np.array([j for j, _ in hits], dtype=np.int64)
    tf = np.array([c for _, c in hits], dtype=np.float32)
    cover = float(tf.sum()) / len(grams) if grams else 1.0
    return cols, tf, cover


@pytest.mark.parametrize("cache_size", [16384, 2])
def test_rows_equal_the_ngram_definition(monkeypatch: pytest.MonkeyPatch, cache_size: int) -> None:
    monkeypatch.setattr(lexical, "_WORD_CACHE", cache_size)  # 2: emptied again and again
    vocab = LexicalVocabulary.fit(TRAIN, 1000)
    assert len(vocab) > 0
    for _ in range(2):  # the second pass reads cached words
        for text in QUERIES + TRAIN:
            cols, tf, vals, cover = vocab._row(text)
            ref_cols, ref_tf, ref_cover = _reference(vocab, text)
            np.testing.assert_array_equal(cols, ref_cols)
            np.testing.assert_array_equal(tf, ref_tf)
            assert tf.dtype == np.float32 and cols.dtype == np.int64
            assert cover == ref_cover
            ref_vals = ((1.0 + np.log(ref_tf)) * vocab.idf[ref_cols]).astype(np.float32)
            norm = np.float32(np.sqrt(ref_vals @ ref_vals))
            np.testing.assert_array_equal(vals, ref_vals / norm if norm > 0 else ref_vals)
    assert len(vocab._word_columns) <= max(cache_size, 1)


def test_scores_for_one_text_equal_the_sparse_path() -> None:
    vocab = LexicalVocabulary.fit(TRAIN, 1000)
    A, _ = vocab.transform(TRAIN)
    y = np.array([0, 0, 1, 1, 2, 2, 0, 0])
    model = LexicalModel.fit(A, y, 3)
    for text in QUERIES:
        one, cover = model.scores_for(vocab, [text])
        B, cover_b = vocab.transform([text])
        np.testing.assert_allclose(one, model.scores(B), atol=1e-6)
        np.testing.assert_array_equal(cover, cover_b)
