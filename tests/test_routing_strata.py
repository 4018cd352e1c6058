"""Reviewed decisions weighted per confidence stratum (routing_live.stratum_weights): the
reviews of a closed lane keep counting once it opens and its audits begin."""

from __future__ import annotations

import numpy as np

from triaged.routing import threshold_grid
from triaged.routing_live import certify_from_review_stream, stratum_weights

EDGES = [0.0, 0.6, 0.96]


def _above(conf: np.ndarray) -> list[int]:
    return [int((conf >= e).sum()) for e in EDGES]


def test_each_stratum_stands_for_its_decisions() -> None:
    every = np.array([0.5, 0.7, 0.8, 0.9, 0.97, 0.98, 0.99, 0.995])
    seen = np.array([0.7, 0.9, 0.99])  # nothing reviewed below 0.6
    w = stratum_weights(EDGES, _above(every), seen, np.ones(3))
    # [0.96, 1): 4 decisions, 1 reviewed; [0.6, 0.96): 3 decisions, 2 reviewed; [0, 0.6)
    # has no reviewed decision and nothing below to join: its decision stands for nothing
    assert w.tolist() == [1.5, 1.5, 4.0]
    # a stratum without a reviewed decision joins the one below it
    w = stratum_weights(EDGES, _above(every), np.array([0.5, 0.7]), np.ones(2))
    assert w.tolist() == [1.0, 7.0]
    assert stratum_weights(EDGES, _above(every), np.zeros(0), np.zeros(0)).size == 0


def _stream(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """400 decisions reviewed while the lane was closed, then 1,600 with the lane open at
    0.96: the auto ones audited at 10% (weight 10), the rest all reviewed."""
    rng = np.random.default_rng(seed)
    conf = np.where(
        rng.random(2000) < 0.6, rng.uniform(0.96, 1.0, 2000), rng.uniform(0.6, 1.0, 2000)
    )
    wrong = rng.random(2000) < np.where(conf >= 0.8, 0.002, 0.05)
    later = np.arange(2000) >= 400
    audited = rng.random(2000) < 0.1
    keep = ~later | (conf < 0.96) | audited
    weight = np.where(later & (conf >= 0.96), 10.0, 1.0)
    return conf[keep], wrong[keep], weight[keep], _above(conf)


def test_a_lane_opened_high_is_lowered_from_its_reviews() -> None:
    grid = threshold_grid(0.6)
    for seed in range(3):
        conf, wrong, by_rate, above = _stream(seed)
        pooled = stratum_weights(EDGES, above, conf, by_rate)
        per_rate = certify_from_review_stream(conf, wrong, by_rate, grid=grid)
        per_stratum = certify_from_review_stream(conf, wrong, pooled, grid=grid)
        assert per_stratum.threshold is not None and per_stratum.threshold <= 0.85
        assert per_rate.threshold is None or per_rate.threshold > per_stratum.threshold + 0.05
        kish = pooled.sum() ** 2 / (pooled**2).sum()
        assert kish > 1.5 * by_rate.sum() ** 2 / (by_rate**2).sum()
