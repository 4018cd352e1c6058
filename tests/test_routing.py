from __future__ import annotations

import random

import pytest

from triaged.routing import Bucket, RoutingPolicy
from triaged.taxonomy import Thresholds


@pytest.mark.parametrize(
    ("confidence", "bucket"),
    [
        (1.0, Bucket.AUTO),
        (0.85, Bucket.AUTO),  # inclusive lower bound
        (0.8499999, Bucket.REVIEW),
        (0.60, Bucket.REVIEW),
        (0.5999999, Bucket.HOLD),
        (0.0, Bucket.HOLD),
    ],
)
def test_default_boundaries(confidence: float, bucket: Bucket) -> None:
    assert RoutingPolicy().route(confidence) is bucket


def test_custom_thresholds() -> None:
    policy = RoutingPolicy(Thresholds(auto=0.95, review=0.95))
    assert policy.route(0.95) is Bucket.AUTO
    assert policy.route(0.94) is Bucket.HOLD


def test_audit_sampling_rate() -> None:
    policy = RoutingPolicy(audit_rate=0.1)
    rng = random.Random(1)
    draws = [policy.should_audit(Bucket.AUTO, rng) for _ in range(20000)]
    assert 0.09 < sum(draws) / len(draws) < 0.11
    assert not policy.should_audit(Bucket.HOLD, rng)
    assert not RoutingPolicy(audit_rate=0).should_audit(Bucket.AUTO, rng)


def test_threshold_for_target_error() -> None:
    # 100 items at 0.99 (all right), 100 at 0.7 (80% right), 100 at 0.4 (50% right)
    conf = [0.99] * 100 + [0.7] * 100 + [0.4] * 100
    correct = [True] * 100 + [True] * 80 + [False] * 20 + [True] * 50 + [False] * 50
    assert RoutingPolicy.threshold_for_target_error(conf, correct, 0.05) == 0.99
    assert RoutingPolicy.threshold_for_target_error(conf, correct, 0.10) == 0.7
    assert RoutingPolicy.threshold_for_target_error(conf, correct, 0.30) == 0.4
    assert RoutingPolicy.threshold_for_target_error(conf, [False] * 300, 0.05) is None
    policy = RoutingPolicy.from_target_error(conf, correct, auto_error=0.05, review_error=0.3)
    assert policy.thresholds == Thresholds(auto=0.99, review=0.4)


def test_an_alert_says_which_way_the_lane_moved() -> None:
    from triaged.services.routing_policy.model import lane_change

    assert lane_change(0.9, 0.95) == "raised"
    assert lane_change(0.95, 0.9) == "lowered"
    assert lane_change(0.9, None) == "closed"
    assert lane_change(None, 0.97) == "opened"
    assert lane_change(0.9, 0.9) == lane_change(None, None) == "kept"
