"""The hold threshold chosen from the evidence (:mod:`triaged.routing_hold`)."""

from __future__ import annotations

import numpy as np
import pytest

from triaged.routing import RoutingEvidence, RoutingPolicy
from triaged.routing_hold import evidence_hold_threshold


def _evidence(seed: int = 0, n: int = 4000) -> RoutingEvidence:
    """In-scope confidences right with probability equal to the confidence (calibrated),
    mostly high; out-of-scope confidences spread lower, in 20 label clusters."""
    rng = np.random.default_rng(seed)
    conf_in = rng.beta(8, 1.5, n)
    right = rng.random(n) < conf_in
    conf_oos = rng.beta(3, 3, n // 2)
    return RoutingEvidence(conf_in, right, conf_oos, np.arange(n // 2) % 20)


def _best_by_brute_force(ev: RoutingEvidence, pi: float, floor: float) -> float:
    grid = [floor] + [k / 200 for k in range(0, 200) if k / 200 > floor and k / 200 <= 0.995]
    values = [
        (1 - pi) * float(((ev.conf_in >= h) & ev.correct_in).mean())
        + pi * float((ev.conf_oos < h).mean())
        for h in grid
    ]
    return grid[int(np.argmax(values))]


@pytest.mark.parametrize("pi", [0.05, 0.2, 0.5, 0.8])
def test_it_maximises_the_right_act_or_hold_decisions(pi: float) -> None:
    ev = _evidence()
    choice = evidence_hold_threshold(ev, expected_out_of_scope=pi, floor=0.3)
    assert choice.threshold == pytest.approx(_best_by_brute_force(ev, pi, 0.3))
    assert choice.expected_right is not None and choice.at_floor_right is not None
    assert choice.expected_right >= choice.at_floor_right
    assert "from the evidence" in choice.reason


def test_more_out_of_scope_traffic_never_lowers_it() -> None:
    ev = _evidence(1)
    hs = [
        evidence_hold_threshold(ev, expected_out_of_scope=pi, floor=0.3).threshold
        for pi in (0.0, 0.1, 0.2, 0.4, 0.6, 0.9)
    ]
    assert hs == sorted(hs) and hs[-1] > hs[0]


def test_floor_ceiling_and_missing_evidence() -> None:
    ev = _evidence(2)
    free = evidence_hold_threshold(ev, expected_out_of_scope=0.2, floor=0.3).threshold
    assert free > 0.3
    high_floor = evidence_hold_threshold(ev, expected_out_of_scope=0.2, floor=free + 0.1)
    assert high_floor.threshold == pytest.approx(free + 0.1)  # never below the floor
    capped = evidence_hold_threshold(ev, expected_out_of_scope=0.9, floor=0.3, ceiling=0.5)
    assert 0.3 <= capped.threshold <= 0.5
    for empty, pi in ((RoutingEvidence.empty(), 0.2), (ev, 0.0)):
        at_floor = evidence_hold_threshold(empty, expected_out_of_scope=pi, floor=0.6)
        assert at_floor.threshold == 0.6 and at_floor.expected_right is None
        assert "the floor" in at_floor.reason
    in_only = RoutingEvidence(ev.conf_in, ev.correct_in, np.zeros(0))
    assert evidence_hold_threshold(in_only, expected_out_of_scope=0.2, floor=0.6).threshold == 0.6


def test_certified_policy_holds_by_the_evidence_unless_told_not_to() -> None:
    ev = _evidence(3)
    chosen = evidence_hold_threshold(ev, expected_out_of_scope=0.5, floor=0.6).threshold
    assert chosen > 0.6
    policy, _ = RoutingPolicy.certified(ev, review_threshold=0.6, expected_out_of_scope=0.5)
    assert policy.thresholds.review == pytest.approx(min(chosen, policy.thresholds.auto))
    fixed, _ = RoutingPolicy.certified(
        ev, review_threshold=0.6, expected_out_of_scope=0.5, hold_from_evidence=False
    )
    assert fixed.thresholds.review == 0.6
