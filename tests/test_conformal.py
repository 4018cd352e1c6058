"""Prediction sets (split-conformal, issue 13): coverage on a held-out slice, sets in the
classify path, persistence, and engines saved before sets existed."""

from __future__ import annotations

import numpy as np
import pytest

from triaged.models import Engine
from triaged.models.conformal import ConformalSets, aps_scores, coverage, row_uniforms

L, DIM = 8, 24


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlapping Gaussian classes on the unit sphere (top-1 accuracy well below 0.9, so a
    set of one label could not reach 90% coverage)."""
    rng = np.random.default_rng(1234)
    centers = rng.normal(size=(L, DIM))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    r = np.random.default_rng(seed)
    y = r.integers(0, L, size=n).astype(np.int64)
    X = centers[y] + r.normal(scale=0.45, size=(n, DIM))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), y, centers.astype(np.float32)


@pytest.fixture(scope="module")
def fitted() -> tuple[Engine, np.ndarray, np.ndarray]:
    X, y, V = _blobs(1600, seed=1)
    eng = Engine(lexical=False).fit(X, y, label_vectors=V)
    Xt, yt, _ = _blobs(4000, seed=2)  # the held-out slice
    return eng, Xt, yt


def test_coverage_on_held_out_slice(fitted) -> None:  # type: ignore[no-untyped-def]
    eng, Xt, yt = fitted
    pred = eng.predict(Xt)
    accuracy = float((pred.top == yt).mean())
    sizes = eng.prediction_set_sizes(pred.probs, 0.1)
    assert sizes is not None
    order = np.argsort(-pred.probs, axis=1, kind="stable")
    sets = [order[i, : sizes[i]] for i in range(len(yt))]
    cov = coverage(sets, yt)
    assert accuracy < 0.85, accuracy  # the sets must do the work, not the top label
    assert 0.87 <= cov <= 0.94, (cov, accuracy)
    assert 1.0 < sizes.mean() < 3.0
    # a smaller alpha buys coverage with larger sets
    sizes_05 = eng.prediction_set_sizes(pred.probs, 0.05)
    assert sizes_05 is not None and sizes_05.mean() > sizes.mean()
    sets_05 = [order[i, : sizes_05[i]] for i in range(len(yt))]
    assert coverage(sets_05, yt) > cov


def test_hard_inputs_get_larger_sets(fitted) -> None:  # type: ignore[no-untyped-def]
    eng, Xt, _ = fitted
    pred = eng.predict(Xt)
    sizes = eng.prediction_set_sizes(pred.probs)
    assert sizes is not None
    p_top = pred.probs.max(axis=1)
    unsure, sure = p_top < np.quantile(p_top, 0.2), p_top > np.quantile(p_top, 0.8)
    assert sizes[unsure].mean() > sizes[sure].mean() + 0.5
    # an input whose top label carries no more than the threshold always keeps it
    q = eng._conformal.threshold(0.1)
    assert q is not None
    assert (sizes[p_top <= q] >= 1).all()


def test_sets_survive_save_and_load(fitted) -> None:  # type: ignore[no-untyped-def]
    eng, Xt, _ = fitted
    arrays, meta = eng.to_state()
    assert "conformal_scores" in arrays
    again = Engine.from_state(dict(arrays), meta)
    P = eng.predict(Xt[:200]).probs
    np.testing.assert_array_equal(eng.prediction_set_sizes(P), again.prediction_set_sizes(P))


def test_state_without_sets_returns_no_set(fitted) -> None:  # type: ignore[no-untyped-def]
    eng, Xt, _ = fitted
    arrays, meta = eng.to_state()
    old = {k: v for k, v in arrays.items() if not k.startswith("conformal_")}
    loaded = Engine.from_state(old, meta)
    assert loaded.prediction_set_sizes(loaded.predict(Xt[:5]).probs) is None


def test_zero_shot_engine_has_no_sets() -> None:
    _, _, V = _blobs(1, seed=0)
    eng = Engine().fit(np.zeros((0, DIM), np.float32), np.zeros(0, np.int64), label_vectors=V)
    X, _, _ = _blobs(5, seed=3)
    assert eng.prediction_set_sizes(eng.predict(X).probs) is None


def test_split_conformal_quantile_and_scores() -> None:
    # exchangeable scores: the threshold is the ceil((n+1)(1-alpha))-th smallest
    cs = ConformalSets(np.arange(1, 10, dtype=np.float64) / 10)  # 0.1 .. 0.9, n = 9
    assert cs.threshold(0.1) == pytest.approx(0.9)  # rank ceil(10 * 0.9) = 9 of 9
    assert cs.threshold(0.05) == 1.0  # rank 10 > n: every label
    assert ConformalSets(np.linspace(0, 1, 99)).threshold(0.5) == pytest.approx(
        np.linspace(0, 1, 99)[49]
    )
    assert ConformalSets.empty().threshold() is None
    P = np.array([[0.6, 0.3, 0.1]])
    # APS: the mass ranked above the label plus u * its probability
    assert aps_scores(P, np.array([1]), np.array([0.5]))[0] == pytest.approx(0.6 + 0.15)
    assert aps_scores(P, np.array([0]), np.array([0.0]))[0] == 0.0
    # the per-row uniforms depend only on the row
    u = row_uniforms(np.vstack([P, P, P[:, ::-1]]))
    assert u[0] == u[1] != u[2] and u.min() >= 0.0 and u.max() < 1.0


def test_sets_are_valid_for_exchangeable_rows() -> None:
    """Calibrate on half of some synthetic model outputs, check on the other half."""
    rng = np.random.default_rng(7)
    n, k = 6000, 5
    logits = rng.normal(size=(n, k)) * 2.0
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=p) for p in P], dtype=np.int64)  # calibrated by design
    cs = ConformalSets.fit(P[:3000], y[:3000], seed=1)
    sets = cs.sets(P[3000:], 0.1)
    assert sets is not None
    assert 0.88 <= coverage(sets, y[3000:]) <= 0.92
