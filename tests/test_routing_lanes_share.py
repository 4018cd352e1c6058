"""The out-of-scope share bounded from the reviewed lanes (routing_live.reviewed_lanes_share):
valid over many simulated streams, and far tighter than the importance-weighted share once
the auto lane is open and audited at a few percent."""

from __future__ import annotations

import numpy as np
import pytest

from triaged.routing import RoutingEvidence, certify_auto_threshold, cp_upper
from triaged.routing_live import (
    LaneRows,
    certify_with_live_out_of_scope,
    reviewed_lanes_share,
    weighted_error_bound,
)

# unknown inputs: confidence Beta(2, 4) (a tail into the auto range); known ones Beta(10, 1)
OOS_A, OOS_B = 2.0, 4.0
IN_A, IN_B = 10.0, 1.0


def fields(rows: LaneRows) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return rows.out_of_scope, rows.auto, rows.weight, rows.routed_auto


def evidence(rng: np.random.Generator, n_in: int = 3000, n_oos: int = 1500) -> RoutingEvidence:
    conf = rng.beta(IN_A, IN_B, n_in)
    # 30 held-out labels of 50 items each: the clustered bound counts labels
    cluster = np.repeat(np.arange(n_oos // 50), 50)
    return RoutingEvidence(conf, rng.random(n_in) < conf, rng.beta(OOS_A, OOS_B, n_oos), cluster)


def stream(
    rng: np.random.Generator, n: int, pi: float, t: float, audit: float
) -> tuple[LaneRows, np.ndarray, np.ndarray]:
    """``n`` decisions routed at auto threshold ``t`` (every review/hold one reviewed, auto
    ones audited at ``audit``): the reviewed rows as LaneRows, and the flags and weights
    of the same rows for the importance-weighted share."""
    unknown = rng.random(n) < pi
    conf = np.where(unknown, rng.beta(OOS_A, OOS_B, n), rng.beta(IN_A, IN_B, n))
    auto = conf >= t
    kept = ~auto | (rng.random(n) < audit)
    weight = np.where(auto, 1.0 / audit, 1.0)[kept]
    rows = LaneRows(unknown[kept], auto[kept], weight, np.full(int(kept.sum()), t))
    return rows, unknown[kept], weight


def test_bound_covers_the_true_share_over_many_streams() -> None:
    """At delta 0.05 the bound falls below the true share in at most ~5% of streams."""
    rng = np.random.default_rng(3)
    delta, misses, runs = 0.05, 0, 400
    for i in range(runs):
        pi = (0.01, 0.05, 0.2)[i % 3]
        ev = evidence(rng)
        rows, _, _ = stream(rng, 3000, pi, t=0.5, audit=0.1)
        got = reviewed_lanes_share(
            ev, rows.out_of_scope, rows.auto, rows.weight, rows.routed_auto, delta
        )
        assert got is not None
        misses += got.upper < pi
    assert misses / runs <= delta + 0.02


def test_with_the_lane_open_it_is_tighter_than_the_weighted_share() -> None:
    rng = np.random.default_rng(5)
    ev = evidence(rng)
    rows, flags, weights = stream(rng, 2000, 0.0, t=0.9, audit=0.1)
    lanes = reviewed_lanes_share(
        ev, rows.out_of_scope, rows.auto, rows.weight, rows.routed_auto, 0.01
    )
    kish = weighted_error_bound(flags, weights, 0.01)
    assert lanes is not None and lanes.errors == 0
    # every audited auto decision stands for 10 certain zeros, not one uncertain row
    assert lanes.effective_n == pytest.approx(2000, rel=0.1)
    assert kish.effective_n < 0.5 * lanes.effective_n
    assert lanes.upper < 0.6 * kish.upper


def test_closed_lane_spends_all_the_risk_on_the_share() -> None:
    n = 800
    rows = LaneRows(np.zeros(n, bool), np.zeros(n, bool), np.ones(n), np.full(n, np.inf))
    ev = evidence(np.random.default_rng(1))
    got = reviewed_lanes_share(ev, *fields(rows), delta=0.01)
    assert got is not None and got.upper == pytest.approx(cp_upper(0, n, 0.01))


def test_no_bound_without_oos_evidence_a_weak_one_when_unknowns_clear_the_lane() -> None:
    rng = np.random.default_rng(2)
    n = 500
    rows = LaneRows(np.zeros(n, bool), np.zeros(n, bool), np.ones(n), np.full(n, 0.1))
    no_oos = RoutingEvidence(rng.beta(IN_A, IN_B, 500), np.ones(500, bool), np.zeros(0))
    assert reviewed_lanes_share(no_oos, *fields(rows), delta=0.05) is None
    # at 0.1 almost every simulated unknown input is above the threshold: the clean lanes
    # say little (an unknown input would rarely have landed in them)
    weak = reviewed_lanes_share(evidence(rng), *fields(rows), delta=0.05)
    assert weak is not None and weak.upper > 10 * cp_upper(0, n, 0.05)


def test_unknown_inputs_in_the_reviewed_lanes_keep_the_bound_up() -> None:
    rng = np.random.default_rng(8)
    ev = evidence(rng)
    rows, _, _ = stream(rng, 3000, 0.3, t=0.9, audit=0.1)
    got = reviewed_lanes_share(ev, *fields(rows), delta=0.05)
    assert got is not None and got.upper > 0.3


def test_live_recertification_uses_the_lower_of_the_two_shares() -> None:
    """With the lane open and clean traffic, the lanes' bound certifies a lower threshold
    than the weighted share alone; each spends half the share's risk."""
    rng = np.random.default_rng(13)
    ev = evidence(rng, 6000, 1500)
    rows, flags, weights = stream(rng, 3000, 0.0, t=0.95, audit=0.1)
    plain = certify_with_live_out_of_scope(
        ev, flags, weights, target=0.05, expected_out_of_scope=0.2
    )
    both = certify_with_live_out_of_scope(
        ev, flags, weights, target=0.05, expected_out_of_scope=0.2, lanes=rows
    )
    assert plain is not None and both is not None
    assert both[1].upper < plain[1].upper
    assert "reviewed lanes" in both[0].reason
    assert both[0].threshold is not None and plain[0].threshold is not None
    assert both[0].threshold <= plain[0].threshold
    direct = certify_auto_threshold(
        ev, target=0.05, confidence_level=0.975, expected_out_of_scope=both[1].upper
    )
    assert both[0].threshold == direct.threshold
    # with every row routed by a closed lane the lanes add nothing: the plain result
    closed = LaneRows(rows.out_of_scope, rows.auto, rows.weight, np.full(rows.weight.size, np.inf))
    same = certify_with_live_out_of_scope(
        ev, flags, weights, target=0.05, expected_out_of_scope=0.2, lanes=closed
    )
    assert same is not None and same[1].upper == plain[1].upper
