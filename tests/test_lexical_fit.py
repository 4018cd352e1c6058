"""The lexical channel's fits: the linear SVM (default) against Complement NB on real
ATIS traffic, its biases through save/load and the per-call path, and old CNB arrays."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.svm import LinearSVC

from tests.conftest import DATASETS
from triaged.models.lexical import LexicalModel, LexicalVocabulary


def _split(name: str, n: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    def read(split: str) -> list[dict[str, str]]:
        lines = (DATASETS / "atis" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    train = read("train")[:n]
    labels = sorted({r["label"] for r in train})
    index = {lb: i for i, lb in enumerate(labels)}
    test = [r for r in read(name) if r["label"] in index]
    return (
        [r["text"] for r in train],
        np.array([index[r["label"]] for r in train], np.int64),
        [r["text"] for r in test],
        np.array([index[r["label"]] for r in test], np.int64),
    )


@dataclass
class Atis:
    vocab: LexicalVocabulary
    A: sp.csr_matrix  # training rows
    y: np.ndarray
    B: sp.csr_matrix  # test rows
    y_test: np.ndarray
    n_labels: int


@pytest.fixture(scope="module")
def atis() -> Atis:
    texts, y, test_texts, y_test = _split("test", 2000)
    vocab = LexicalVocabulary.fit(texts, 16384)
    A = vocab.transform(texts)[0]
    B = vocab.transform(test_texts)[0]
    return Atis(vocab, A, y, B, y_test, int(max(y.max(), y_test.max()) + 1))


def test_svm_channel_beats_complement_nb_on_atis(atis: Atis) -> None:
    A, y, B, y_test, n_labels = atis.A, atis.y, atis.B, atis.y_test, atis.n_labels
    svm = LexicalModel.fit(A, y, n_labels, method="svm")
    cnb = LexicalModel.fit(A, y, n_labels, method="cnb", alpha=1.0)
    acc_svm = (svm.scores(B).argmax(axis=1) == y_test).mean()
    acc_cnb = (cnb.scores(B).argmax(axis=1) == y_test).mean()
    # ATIS is imbalanced (flight is most of it): NB's counts favour the big labels
    assert acc_svm > acc_cnb + 0.03, (acc_svm, acc_cnb)
    # the stored (float16) weights predict what scikit-learn's own model predicts
    ref = LinearSVC(C=1.0, random_state=0).fit(A, y).predict(B)
    assert (svm.scores(B).argmax(axis=1) == ref).mean() > 0.99


def test_biases_survive_save_load_and_the_per_call_path(atis: Atis) -> None:
    vocab, A, y, n_labels = atis.vocab, atis.A, atis.y, atis.n_labels
    model = LexicalModel.fit(A, y, n_labels, method="svm")
    assert np.abs(model.bias).max() > 0.1  # one-vs-rest margins have real intercepts
    again = LexicalModel.from_arrays(model.to_arrays("lex_"), "lex_")
    np.testing.assert_array_equal(again.bias, model.bias)
    texts = ["show me flights from boston to denver", "what does fare code qx mean", ""]
    rows = vocab.transform(texts)[0]
    per_call, _ = again.scores_for(vocab, texts)
    np.testing.assert_allclose(per_call, model.scores(rows), atol=1e-5)


def test_two_labels_and_held_out_labels(atis: Atis) -> None:
    A, y, B, n_labels = atis.A, atis.y, atis.B, atis.n_labels
    two = np.array([0, int(np.bincount(y).argmax())])
    model = LexicalModel.fit(A, y, n_labels, labels=two, method="svm")
    assert model.has_data.sum() == 2
    s = model.scores(B)
    others = np.setdiff1d(np.arange(n_labels), two)
    assert (s[:, others] == 0).all()  # labels without data are neutral
    rows = np.isin(y, two)
    ref = LinearSVC(C=1.0, random_state=0).fit(A[rows], y[rows]).predict(B)
    assert (two[s[:, two].argmax(axis=1)] == ref).mean() > 0.99


def test_complement_nb_arrays_without_bias_load_as_before(atis: Atis) -> None:
    A, y, B, n_labels = atis.A, atis.y, atis.B, atis.n_labels
    cnb = LexicalModel.fit(A, y, n_labels, method="cnb", alpha=1.0)
    arrays = cnb.to_arrays("lex_")
    del arrays["lex_bias"]  # as saved before the SVM fit
    old = LexicalModel.from_arrays(arrays, "lex_")
    np.testing.assert_array_equal(old.bias, np.zeros(n_labels, np.float32))
    np.testing.assert_allclose(old.scores(B), cnb.scores(B))
    with pytest.raises(ValueError, match="unknown lexical method"):
        LexicalModel.fit(A, y, n_labels, method="nb")


def test_fold_fits_scaled_to_the_final_channel(atis: Atis) -> None:
    # The SVM sums its hinge losses, so a fit on two thirds of the rows has smaller
    # weights than the final fit on all of them unless C grows by 3/2; the engine's
    # calibration (and the conformal cut) are fitted on fold scores and applied to the
    # final channel's, so their scales must agree (prediction-set coverage fell to 0.88
    # on ATIS without this).
    A, y, n_labels = atis.A, atis.y, atis.n_labels
    final = LexicalModel.fit(A, y, n_labels, method="svm")
    rows = np.random.default_rng(0).permutation(len(y))[: 2 * len(y) // 3]
    plain = LexicalModel.fit(A[rows], y[rows], n_labels, method="svm")
    scaled = LexicalModel.fit(A[rows], y[rows], n_labels, method="svm", C=len(y) / len(rows))

    def spread(m: LexicalModel) -> float:
        s = m.scores(atis.B)
        return float(np.mean(s.max(axis=1) - np.median(s, axis=1)))

    assert abs(spread(scaled) / spread(final) - 1) < abs(spread(plain) / spread(final) - 1)
    assert abs(spread(scaled) / spread(final) - 1) < 0.025  # plain: 3.4% smaller
