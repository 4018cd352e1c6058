"""The certified auto threshold: a valid bound, a closed lane without evidence, OOS-aware."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from triaged.routing import (
    LaneBound,
    RoutingEvidence,
    certify_auto_threshold,
    clustered_share_upper,
    cp_lower,
    cp_upper,
    lane_bound_at,
    threshold_grid,
)
from triaged.routing_live import (
    certify_from_reviews,
    certify_with_live_out_of_scope,
    weighted_error_bound,
)

# a calibrated model: P(right | conf) = conf; in-scope confidence skewed high, simulated
# out-of-scope confidence low but with a tail into the auto range
IN_A, IN_B = 10.0, 1.0
OOS_A, OOS_B = 2.0, 4.0


def draw(rng: np.random.Generator, n_in: int, n_oos: int) -> RoutingEvidence:
    conf = rng.beta(IN_A, IN_B, n_in)
    return RoutingEvidence(conf, rng.random(n_in) < conf, rng.beta(OOS_A, OOS_B, n_oos))


def true_error(t: float, pi: float, big: RoutingEvidence) -> float:
    """The lane's error at t on a very large sample of the same traffic."""
    above = big.conf_in >= t
    e_in = float((above & ~big.correct_in).mean())
    a_in = float(above.mean())
    a_oos = float((big.conf_oos >= t).mean()) if big.n_oos else 0.0
    return ((1 - pi) * e_in + pi * a_oos) / ((1 - pi) * a_in + pi * a_oos)


def test_clopper_pearson_bounds() -> None:
    assert cp_upper(0, 0, 0.05) == 1.0 and cp_lower(0, 10, 0.05) == 0.0
    # zero errors in n: the one-sided upper bound is 1 - delta ** (1 / n)
    assert cp_upper(0, 150, 0.05) == pytest.approx(1 - 0.05 ** (1 / 150))
    assert cp_lower(5, 100, 0.05) < 0.05 < cp_upper(5, 100, 0.05)


def test_grid_is_descending_and_stops_at_review() -> None:
    grid = threshold_grid(0.6)
    assert grid[0] == 0.999 and grid[-1] == 0.6
    assert all(a > b for a, b in itertools.pairwise(grid))


@pytest.mark.parametrize("pi", [0.0, 0.2])
def test_bound_is_valid_over_many_draws(pi: float) -> None:
    """The realised error at the certified threshold exceeds the target in at most
    ~(1 - level) of the draws (here the bound is conservative: far fewer)."""
    rng = np.random.default_rng(0)
    big = draw(rng, 400_000, 400_000)
    target, level, runs = 0.05, 0.9, 100
    violations = opened = 0
    for _ in range(runs):
        bound = certify_auto_threshold(
            draw(rng, 3000, 600),
            target=target,
            confidence_level=level,
            expected_out_of_scope=pi,
            review_threshold=0.5,
        )
        if bound.threshold is None:
            continue
        opened += 1
        assert bound.upper_bound is not None and bound.upper_bound <= target
        assert bound.reason.startswith("certified")
        violations += true_error(bound.threshold, pi, big) > target
    assert opened >= 0.8 * runs  # the bound is not vacuous on this much evidence
    assert violations <= (1 - level) * runs
    # and not far from the oracle: the lowest grid threshold whose true error meets target
    oracle = min(t for t in threshold_grid(0.5) if true_error(t, pi, big) <= target)
    typical = certify_auto_threshold(
        draw(rng, 3000, 600),
        target=target,
        confidence_level=level,
        expected_out_of_scope=pi,
        review_threshold=0.5,
    )
    assert typical.threshold is not None and typical.threshold - oracle < 0.12


def test_too_little_evidence_closes_the_lane_and_says_why() -> None:
    rng = np.random.default_rng(1)
    bound = certify_auto_threshold(draw(rng, 60, 30))
    assert bound.threshold is None and bound.upper_bound is None
    assert bound.reason.startswith("closed") and "need >=" in bound.reason
    empty = certify_auto_threshold(RoutingEvidence.empty())
    assert empty.threshold is None and "no held-out evidence" in empty.reason


def test_no_out_of_scope_evidence_closes_the_lane_when_oos_is_expected() -> None:
    rng = np.random.default_rng(2)
    ev = draw(rng, 3000, 0)
    closed = certify_auto_threshold(ev, target=0.05, expected_out_of_scope=0.2)
    assert closed.threshold is None and "out-of-scope" in closed.reason
    assert certify_auto_threshold(ev, target=0.05, expected_out_of_scope=0.0).open


def test_a_lane_closed_by_few_held_out_labels_says_so() -> None:
    """Plenty of right in-scope evidence, but simulated unknown inputs from 4 held-out labels:
    the reason names the out-of-scope bound (more examples of the same labels would not
    help), not a count of in-scope items; an in-scope shortfall still asks for items."""
    rng = np.random.default_rng(7)
    conf_in = rng.uniform(0.9999, 1.0, 3600)
    ev = RoutingEvidence(
        conf_in, np.ones(3600, bool), rng.uniform(0.0, 0.5, 3600), np.repeat(np.arange(4), 900)
    )
    assert certify_auto_threshold(ev, expected_out_of_scope=0.0).open
    closed = certify_auto_threshold(ev, expected_out_of_scope=0.2)
    assert closed.threshold is None
    assert "4 held-out label groups" in closed.reason and "need >=" not in closed.reason
    assert "bound the in-scope error at" in closed.reason
    assert "expected_out_of_scope" in closed.reason
    few = certify_auto_threshold(draw(rng, 60, 30))
    assert few.threshold is None and "need >=" in few.reason


def test_out_of_scope_share_raises_the_threshold() -> None:
    rng = np.random.default_rng(3)
    ev = draw(rng, 4000, 1000)
    thresholds = [
        certify_auto_threshold(ev, target=0.05, expected_out_of_scope=pi).threshold
        for pi in (0.0, 0.2, 0.4)
    ]
    assert all(t is not None for t in thresholds)
    t0, t2, t4 = (float(t) for t in thresholds if t is not None)
    assert t0 <= t2 <= t4 and t4 > t0


def test_without_out_of_scope_one_bound_spends_the_whole_risk() -> None:
    """With no out-of-scope traffic the lane's error is the in-scope error above the
    threshold alone: its one Clopper-Pearson bound takes all of ``1 - confidence_level``
    (it took half, the other half spent on a share that drops out), at certification and
    at a manual threshold alike; with out-of-scope traffic three bounds share it."""
    rng = np.random.default_rng(6)
    ev = draw(rng, 3000, 600)
    bound = certify_auto_threshold(
        ev, target=0.05, confidence_level=0.9, expected_out_of_scope=0.0, review_threshold=0.5
    )
    assert bound.threshold is not None and bound.upper_bound is not None
    assert bound.upper_bound == pytest.approx(cp_upper(bound.errors, bound.n, 0.1))
    at = lane_bound_at(ev, bound.threshold, confidence_level=0.9, expected_out_of_scope=0.0)
    assert at.upper_bound == pytest.approx(cp_upper(bound.errors, bound.n, 0.1))
    shared = lane_bound_at(ev, bound.threshold, confidence_level=0.9, expected_out_of_scope=0.2)
    assert shared.upper_bound is not None
    assert shared.upper_bound > cp_upper(bound.errors, bound.n, 0.1 / 3)


def test_review_threshold_floors_the_auto_threshold() -> None:
    rng = np.random.default_rng(4)
    ev = draw(rng, 4000, 1000)
    bound = certify_auto_threshold(ev, target=0.3, expected_out_of_scope=0.0, review_threshold=0.8)
    assert bound.threshold is not None and bound.threshold >= 0.8


def test_bad_parameters_raise() -> None:
    ev = RoutingEvidence.empty()
    for kwargs in ({"target": 0.0}, {"confidence_level": 1.0}, {"expected_out_of_scope": 1.0}):
        with pytest.raises(ValueError):
            certify_auto_threshold(ev, **kwargs)  # type: ignore[arg-type]


def test_lane_bound_round_trips() -> None:
    rng = np.random.default_rng(5)
    bound = certify_auto_threshold(draw(rng, 3000, 800), target=0.05)
    assert LaneBound.from_dict(bound.to_dict()) == bound


def test_weighted_bound_uses_the_effective_sample() -> None:
    wrong = np.array([False] * 95 + [True] * 5)
    flat = weighted_error_bound(wrong, np.ones(100), 0.025)
    assert flat.effective_n == pytest.approx(100) and flat.estimate == pytest.approx(0.05)
    assert flat.upper == pytest.approx(cp_upper(5, 100, 0.025))
    # unequal weights: same estimate when errors are spread evenly, wider interval
    spread = np.isin(np.arange(100) % 20, (0, 1))  # 10 errors, half on each weight
    w = np.where(np.arange(100) % 2 == 0, 1.0, 50.0)
    even = weighted_error_bound(spread, np.ones(100), 0.025)
    uneven = weighted_error_bound(spread, w, 0.025)
    assert uneven.estimate == pytest.approx(even.estimate)
    assert uneven.effective_n < 60 and uneven.upper > even.upper
    assert weighted_error_bound([], [], 0.05).estimate is None


def test_live_certification_from_weighted_reviews() -> None:
    rng = np.random.default_rng(6)
    conf = rng.beta(IN_A, IN_B, 20_000)
    wrong = rng.random(conf.size) >= conf
    bound = certify_from_reviews(conf, wrong, np.ones(conf.size), target=0.05)
    big = draw(rng, 400_000, 0)
    assert bound.threshold is not None and true_error(bound.threshold, 0.0, big) <= 0.05
    few = certify_from_reviews(conf[:40], wrong[:40], np.ones(40), target=0.05)
    assert few.threshold is None and few.reason.startswith("closed")


def test_bounds_above_every_threshold_match_the_direct_computation() -> None:
    from triaged.routing_live import _weighted_bounds_above

    rng = np.random.default_rng(7)
    conf = rng.random(500)
    wrong = rng.random(500) < 0.1
    w = rng.choice([1.0, 10.0, 50.0], 500)
    grid = threshold_grid(0.3)
    for t, got in zip(grid, _weighted_bounds_above(conf, wrong, w, grid, 0.05), strict=True):
        m = conf >= t
        want = weighted_error_bound(wrong[m], w[m], 0.05)
        assert (got.n, got.errors) == (want.n, want.errors)
        assert got.effective_n == pytest.approx(want.effective_n)
        assert got.upper == pytest.approx(want.upper) and got.lower == pytest.approx(want.lower)
        assert (got.estimate is None) == (want.estimate is None)


def test_live_out_of_scope_share_lowers_the_threshold_only_when_bounded_below() -> None:
    rng = np.random.default_rng(11)
    ev = draw(rng, 4000, 1000)
    expected = certify_auto_threshold(ev, target=0.05, expected_out_of_scope=0.3)
    # 2,000 reviewed decisions, none out of scope: the share is bounded near 0.003
    clean = certify_with_live_out_of_scope(
        ev, np.zeros(2000, bool), np.ones(2000), target=0.05, expected_out_of_scope=0.3
    )
    assert clean is not None
    bound, share = clean
    assert share.upper == pytest.approx(cp_upper(0, 2000, 0.025))
    assert bound.threshold is not None and expected.threshold is not None
    assert bound.threshold < expected.threshold
    assert "live out-of-scope share" in bound.reason
    # the same, certified directly at that share and the split level
    direct = certify_auto_threshold(
        ev, target=0.05, confidence_level=0.975, expected_out_of_scope=share.upper
    )
    assert bound.threshold == direct.threshold
    # as much out-of-scope traffic as expected, or too few reviews: nothing learned
    flags = rng.random(2000) < 0.3
    assert (
        certify_with_live_out_of_scope(ev, flags, np.ones(2000), expected_out_of_scope=0.3) is None
    )
    assert certify_with_live_out_of_scope(ev, np.zeros(5, bool), np.ones(5)) is None
    # importance weights count: 40 audits (weight 50) hold all the out-of-scope items
    flags = np.concatenate([np.zeros(1000, bool), np.ones(40, bool)])
    weights = np.concatenate([np.ones(1000), np.full(40, 50.0)])
    assert certify_with_live_out_of_scope(ev, flags, weights, expected_out_of_scope=0.3) is None


def test_clustered_share_counts_labels_not_items() -> None:
    delta = 0.05
    # 20 labels x 50 items, no hit: the bound counts the 20 labels, not the 1,000 items
    cluster = np.repeat(np.arange(20), 50)
    k, up = clustered_share_upper(np.zeros(1000, bool), cluster, delta)
    assert k == 0 and up == pytest.approx(cp_upper(0, 20, delta))
    assert up > cp_upper(0, 1000, delta) * 10
    # hits spread evenly over many labels: no design effect, the plain item bound
    many = np.repeat(np.arange(200), 5)
    spread = np.zeros(1000, bool)
    spread[::50] = True  # one hit in each of 20 labels
    assert clustered_share_upper(spread, many, delta)[1] == pytest.approx(
        cp_upper(20, 1000, delta), rel=1e-3
    )
    # the same 20 hits in 4 labels: wider (those labels may be some of many such)
    lumped = np.zeros(1000, bool)
    lumped[:20] = True
    assert clustered_share_upper(lumped, many, delta)[1] > 1.5 * cp_upper(20, 1000, delta)
    # every row its own cluster: exactly Clopper-Pearson on items
    assert clustered_share_upper(lumped, np.arange(1000), delta)[1] == pytest.approx(
        cp_upper(20, 1000, delta), rel=1e-3
    )


def test_a_hit_never_lowers_the_clustered_bound() -> None:
    # 20 labels x 50 items: with no hit the bound counts 20 labels; one or two hits, each
    # in another label, must not bring it down to an item-level bound over 1,000 rows
    # (before the floor, one hit gave ~0.005 where none gave 0.14)
    delta = 0.05
    cluster = np.repeat(np.arange(20), 50)
    none = clustered_share_upper(np.zeros(1000, bool), cluster, delta)[1]
    previous = none
    for k in (1, 2, 5, 20, 100):
        hit = np.zeros(1000, bool)
        hit[:: 1000 // k] = True
        up = clustered_share_upper(hit, cluster, delta)[1]
        assert up >= none - 1e-12
        assert up >= previous - 1e-12  # more hits, spread alike: never a lower bound
        previous = up
    assert clustered_share_upper(np.ones(1000, bool), cluster, delta)[1] == 1.0


def test_evidence_clusters_round_trip_and_default_to_rows() -> None:
    ev = RoutingEvidence(np.ones(3), np.ones(3, bool), np.array([0.1, 0.9, 0.95]), [7, 7, 8])
    back = RoutingEvidence.from_arrays(ev.to_arrays())
    assert back.oos_cluster.tolist() == [7, 7, 8] and back.n_oos_clusters == 2
    old = {k: v for k, v in ev.to_arrays().items() if not k.endswith("oos_cluster")}
    assert RoutingEvidence.from_arrays(old).oos_cluster.tolist() == [0, 1, 2]
    with pytest.raises(ValueError):
        RoutingEvidence(np.ones(3), np.ones(3, bool), np.ones(3), [1, 2])


def test_learned_share_threshold_is_raised_until_live_reviews_agree() -> None:
    from triaged.services.routing_learning import certify_from_live_share

    rng = np.random.default_rng(12)
    ev = draw(rng, 4000, 1000)
    clean = np.zeros(2000, bool)
    grid = threshold_grid(0.6)
    plain = certify_from_live_share(
        ev,
        clean,
        np.ones(2000),
        target=0.05,
        confidence_level=0.95,
        expected_out_of_scope=0.3,
        review_threshold=0.6,
        grid=grid,
    )
    assert plain is not None and plain.threshold is not None
    # live reviews: 10% wrong below 0.97, none above: the threshold rises to 0.97
    conf = rng.uniform(0.6, 1.0, 2000)
    wrong = (conf < 0.97) & (rng.random(2000) < 0.10)
    checked = certify_from_live_share(
        ev,
        clean,
        np.ones(2000),
        target=0.05,
        confidence_level=0.95,
        expected_out_of_scope=0.3,
        review_threshold=0.6,
        grid=grid,
        confidence=conf,
        wrong=wrong,
    )
    assert checked is not None and checked.threshold is not None
    assert checked.threshold >= plain.threshold
    assert "checked against" in checked.reason
    above = conf >= checked.threshold
    assert wrong[above].mean() <= 0.05
    # every reviewed decision wrong: no threshold passes
    assert (
        certify_from_live_share(
            ev,
            clean,
            np.ones(2000),
            target=0.05,
            confidence_level=0.95,
            expected_out_of_scope=0.3,
            review_threshold=0.6,
            grid=grid,
            confidence=conf,
            wrong=np.ones(2000, bool),
        )
        is None
    )
