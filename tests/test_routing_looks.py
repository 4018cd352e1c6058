"""Live reviews are a stream: a threshold lowered from them must hold however often the
service looks (after every review), not only for one look at the end."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.stats import beta

from triaged.routing import LaneBound, cp_upper, threshold_grid
from triaged.routing_live import (
    block_failure,
    certify_from_review_stream,
    certify_from_reviews,
    early_failure,
    early_looks,
    first_look,
    mixture_upper,
    mixture_uppers,
    weighted_error_bound,
)

GRID = threshold_grid(0.6)
TARGET, LEVEL = 0.02, 0.95


def test_the_mixture_bound_covers_the_rate_at_every_review_at_once() -> None:
    # streams of a rate exactly at 2%: the time-uniform bound must stay above it at every
    # one of 3,000 reviews in all but the stated share of streams; a Clopper-Pearson bound
    # read after every review at the same risk does not
    rng = np.random.default_rng(11)
    prior = first_look(TARGET, 0.05)
    sizes = np.arange(20, 3001, 20)
    uniform_misses = cp_misses = 0
    n = sizes.astype(np.float64)
    for _ in range(300):
        k = np.cumsum(rng.random(3000) < TARGET)[sizes - 1].astype(np.float64)
        uniform_misses += bool((mixture_uppers(k, n, 0.05, prior) < TARGET).any())
        cp_misses += bool((beta.ppf(0.95, k + 1.0, n - k) < TARGET).any())
    assert uniform_misses <= 0.05 * 300
    assert cp_misses >= 3 * max(uniform_misses, 5)


def test_every_review_counts_at_once() -> None:
    # a clean stream 1.9 times the first look: the fixed looks of before read only its
    # first look (at a sixth of the risk after the first), the time-uniform bound all of it
    first = first_look(TARGET, 0.05)
    n = int(1.9 * first)
    at_look = cp_upper(0.0, float(first), 0.05 / 2)
    assert mixture_upper(0.0, float(n), 0.05, first) < 0.8 * at_look
    assert mixture_upper(0.0, 0.0, 0.05, first) == 1.0
    # the bound never lies below the rate seen, and more errors never lower it
    assert mixture_upper(30.0, 1000.0, 0.05, first) > 0.03
    assert mixture_upper(31.0, 1000.0, 0.05, first) > mixture_upper(30.0, 1000.0, 0.05, first)


Stream = tuple[np.ndarray, np.ndarray, np.ndarray]


def _streams(p_wrong: float, count: int, n: int, seed: int) -> list[Stream]:
    rng = np.random.default_rng(seed)
    out: list[Stream] = []
    for _ in range(count):
        conf = rng.uniform(0.6, 1.0, n)
        out.append((conf, rng.random(n) < p_wrong, np.ones(n)))
    return out


def _ever_certified(stream: Stream, certify: Callable[..., LaneBound], step: int) -> bool:
    conf, wrong, weight = stream
    for n in range(step, conf.size + 1, step):
        bound = certify(
            conf[:n], wrong[:n], weight[:n], target=TARGET, confidence_level=LEVEL, grid=GRID
        )
        if bound.threshold is not None:
            return True
    return False


def test_checking_after_every_review_keeps_the_stated_risk() -> None:
    # every threshold's error is at the target itself: any certified threshold is a false one
    streams = _streams(TARGET, 200, 2000, seed=3)
    naive = sum(_ever_certified(s, certify_from_reviews, 100) for s in streams)
    looked = sum(_ever_certified(s, certify_from_review_stream, 100) for s in streams)
    assert looked <= 0.05 * 200 * 1.4  # at most the risk (room for a seeded draw)
    assert naive >= 3 * max(looked, 5)  # what re-reading every review at full risk gives


def test_a_clean_lane_is_certified_from_the_stream() -> None:
    for conf, wrong, weight in _streams(0.002, 5, 2000, seed=4):
        bound = certify_from_review_stream(
            conf, wrong, weight, target=TARGET, confidence_level=LEVEL, grid=GRID
        )
        assert bound.threshold is not None and bound.threshold < 0.9
        assert "at 95% at threshold" in bound.reason
        assert "[time-uniform bound over 2000 reviewed decisions" in bound.reason


def test_too_few_clean_reviews_keep_the_lane_closed() -> None:
    first = first_look(TARGET, 1 - LEVEL)
    conf = np.full(first * 2 // 3, 0.99)  # clean, but fewer than one look certified with
    bound = certify_from_review_stream(
        conf, np.zeros(conf.size, bool), np.ones(conf.size), target=TARGET, confidence_level=LEVEL
    )
    assert bound.threshold is None
    assert "closed: no threshold certifies" in bound.reason
    with pytest.raises(ValueError):
        certify_from_review_stream(conf, conf < 0, conf, target=1.5)


def test_early_looks_leave_no_long_stretch_before_the_full_check() -> None:
    assert early_looks(200) == [10, 25, 50, 75, 100, 125, 150, 175]
    assert early_looks(40) == [10, 20, 30]


def test_a_clearly_failing_lane_is_caught_between_early_looks() -> None:
    # 180 audits of a lane 8.5% wrong whose first 100 audits held only 6 errors: the old
    # looks (n_min/2, n_min/4, ... = 100, 50, 25, 12) saw no clear failure, and 200 audits
    # (the full check) never came
    wrong = np.zeros(180, bool)
    wrong[[5, 30, 48, 70, 85, 99]] = True
    wrong[[104, 108, 112, 117, 121, 126, 133, 139, 146, 151, 158, 170]] = True
    weight = np.ones(180)
    assert early_failure(wrong, weight, target=0.02, delta=0.05, n_min=200)
    assert not early_failure(wrong[:100], weight[:100], target=0.02, delta=0.05, n_min=200)


def test_early_failure_false_alarms_stay_under_the_risk() -> None:
    rng = np.random.default_rng(5)
    alarms = 0
    for _ in range(400):
        wrong = rng.random(199) < TARGET  # a lane exactly at its target
        alarms += early_failure(wrong, np.ones(199), target=TARGET, delta=0.05, n_min=200)
    assert alarms <= 0.05 * 400


def test_a_change_long_after_the_version_is_caught_by_its_block() -> None:
    # 2,000 audits 0.5% wrong, then 200 audits 10% wrong: the bound over all of them stays
    # under the target while the lane now acts wrongly on one input in ten
    wrong = np.zeros(2200, bool)
    wrong[np.arange(0, 2000, 200)] = True
    wrong[2000 + np.arange(0, 200, 10)] = True
    weight = np.ones(2200)
    assert weighted_error_bound(wrong, weight, 0.05).upper < TARGET
    assert block_failure(wrong, weight, target=TARGET, delta=0.05, block=200)
    assert not block_failure(wrong[:2000], weight[:2000], target=TARGET, delta=0.05, block=200)
    # an incomplete block is not judged yet
    assert not block_failure(wrong[:2150], weight[:2150], target=TARGET, delta=0.05, block=200)


def test_block_false_alarms_stay_under_the_risk() -> None:
    rng = np.random.default_rng(8)
    alarms = 0
    for _ in range(300):
        wrong = rng.random(4000) < TARGET  # twenty blocks of a lane exactly at its target
        alarms += block_failure(wrong, np.ones(4000), target=TARGET, delta=0.05, block=200)
    assert alarms <= 0.05 * 300


def test_the_live_check_judges_blocks_once_the_lane_is_certified() -> None:
    from datetime import UTC, datetime

    from triaged.services.routing_policy.live import LiveStatus, _fails
    from triaged.services.routing_policy.model import LiveConfig, Policy

    policy = Policy("t", 3, 0.9, 0.6, 0.02, TARGET, LEVEL, 0.2, "live", "", {}, datetime.now(UTC))
    wrong = np.zeros(2200, bool)
    wrong[np.arange(0, 2000, 200)] = True
    weight = np.ones(2200)

    def status(bad: np.ndarray) -> LiveStatus:
        wb = weighted_error_bound(bad, weight[: bad.size], 1 - LEVEL)
        return LiveStatus(
            wb.n,
            wb.errors,
            wb.estimate,
            wb.lower,
            wb.upper,
            wb.effective_n,
            bad,
            weight[: bad.size],
        )

    assert not _fails(status(wrong), policy, LiveConfig())
    wrong[2000 + np.arange(0, 200, 10)] = True
    assert _fails(status(wrong), policy, LiveConfig())
