from __future__ import annotations

import numpy as np
import pytest

from triaged.calibration import (
    TemperatureScaler,
    calibrated_nll,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
)


def test_ece_perfectly_calibrated_is_zero() -> None:
    conf = [0.8] * 10
    correct = [1] * 8 + [0] * 2
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0)


def test_ece_known_value() -> None:
    # bin (0.8667, 0.9333]: 4 items conf 0.9, 2 right -> |0.5-0.9| = 0.4, weight 4/6
    # bin (0.2667, 0.3333]: 2 items conf 0.3, both wrong -> |0 - 0.3| = 0.3, weight 2/6
    conf = [0.9, 0.9, 0.9, 0.9, 0.3, 0.3]
    correct = [1, 1, 0, 0, 0, 0]
    assert expected_calibration_error(conf, correct) == pytest.approx(4 / 6 * 0.4 + 2 / 6 * 0.3)


def test_ece_uses_15_equal_width_bins_and_edges() -> None:
    bins = reliability_bins([0.0, 1.0, 1 / 15, 1 / 15 + 1e-9], [1, 1, 0, 1])
    assert len(bins) == 15
    assert bins[0].count == 2  # 0.0 and exactly 1/15 fall in the first bin
    assert bins[1].count == 1
    assert bins[-1].count == 1
    assert expected_calibration_error([], []) == 0.0


def test_nll() -> None:
    probs = np.array([[0.5, 0.5], [0.25, 0.75]])
    assert negative_log_likelihood(probs, [0, 1]) == pytest.approx(
        -(np.log(0.5) + np.log(0.75)) / 2
    )


def test_calibrated_nll_reads_the_reported_confidences() -> None:
    """The top label at its calibrated confidence; another label at its share of what the
    confidence leaves, as a result's runner-ups report it (the raw probabilities scored a
    model that said 0.5 as if it said 0.89)."""
    probs = np.array([[0.888, 0.112]])
    assert calibrated_nll(probs, [0.5], [0]) == pytest.approx(-np.log(0.5))
    # scaled by min(0.5 / 0.888, 0.5 / 0.112): what the result reports for it
    assert calibrated_nll(probs, [0.5], [1]) == pytest.approx(-np.log(0.112 * 0.5 / 0.888))
    three = np.array([[0.6, 0.3, 0.1]])
    # conf 0.9: the rest (0.1) split 3:1 -> 0.075 and 0.025
    assert calibrated_nll(three, [0.9], [1]) == pytest.approx(-np.log(0.075))
    assert calibrated_nll(three, [0.9], [2]) == pytest.approx(-np.log(0.025))
    # conf 0.3 below the model's 0.6: runner-ups scaled by 0.5, never above the top
    assert calibrated_nll(three, [0.3], [1]) == pytest.approx(-np.log(0.15))
    assert calibrated_nll(np.zeros((0, 2)), [], []) == 0.0


def test_temperature_scaling_recovers_overconfidence() -> None:
    rng = np.random.default_rng(0)
    n, k = 4000, 5
    true_logits = rng.normal(size=(n, k)) * 2.0
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in p])
    scaler = TemperatureScaler().fit(true_logits * 3.0, y)  # 3x over-confident logits
    assert scaler.temperature_ == pytest.approx(3.0, rel=0.15)
    calibrated = scaler.transform(true_logits * 3.0)
    conf = calibrated.max(1)
    correct = calibrated.argmax(1) == y
    raw = true_logits * 3.0
    raw_p = np.exp(raw - raw.max(1, keepdims=True))
    raw_p /= raw_p.sum(1, keepdims=True)
    assert expected_calibration_error(conf, correct) < expected_calibration_error(
        raw_p.max(1), correct
    )
    assert expected_calibration_error(conf, correct) < 0.03


def test_one_class_calibrator_is_the_jeffreys_constant() -> None:
    """Every held-out row right: the calibrator can learn no signal and serves
    (n + a) / (n + 2a), a = 0.5 by default (20 rows: 20.5 / 21, not Laplace's 21 / 22)."""
    from triaged.models.calibrator import ONE_CLASS_PRIOR, CorrectnessCalibrator

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(20, 4))
    cal = CorrectnessCalibrator.fit(feats, np.ones(20, dtype=bool))
    assert ONE_CLASS_PRIOR == 0.5
    np.testing.assert_allclose(cal.predict(rng.normal(size=(5, 4))), 20.5 / 21)
    wrong = CorrectnessCalibrator.fit(feats, np.zeros(20, dtype=bool), one_class_prior=1.0)
    np.testing.assert_allclose(wrong.predict(feats[:3]), 1.0 / 22)
    # two classes: a fitted model, whose confidence follows the signal
    two = CorrectnessCalibrator.fit(feats, feats[:, 0] > 0)
    assert two.predict(np.array([[3.0, 0, 0, 0]]))[0] > two.predict(np.array([[-3.0, 0, 0, 0]]))[0]


def test_one_class_corner_rule_keeps_the_signals_ordering() -> None:
    """Every held-out row right, with the corner rule: confidence falls toward the least
    sure corner (each feature at its least sure observed value, by its sense), monotone in
    every feature in the direction its sense says, and stays high among the rows."""
    from triaged.models.calibrator import CorrectnessCalibrator, OneClassRule

    rng = np.random.default_rng(1)
    feats = rng.normal(size=(20, 3))
    senses = (1.0, 1.0, -1.0)  # the third is a distance: larger is less sure
    rule = OneClassRule(prior=0.5, corner_weight=1.0, senses=senses)
    cal = CorrectnessCalibrator.fit(feats, np.ones(20, dtype=bool), one_class=rule)
    corner = np.array([[feats[:, 0].min(), feats[:, 1].min(), feats[:, 2].max()]])
    best = np.array([[feats[:, 0].max(), feats[:, 1].max(), feats[:, 2].min()]])
    assert cal.predict(corner)[0] < 0.5 < cal.predict(best)[0]
    assert np.all(np.sign(cal.coef) == np.array(senses))
    assert cal.predict(feats).mean() > 0.9
    # a heavier pseudo-error lowers confidence at the corner
    heavy = CorrectnessCalibrator.fit(
        feats, np.ones(20, dtype=bool), one_class=OneClassRule(0.5, 4.0, senses)
    )
    assert heavy.predict(corner)[0] < cal.predict(corner)[0]
    # weight 0 (or no senses) is the constant; a mixed fit ignores the rule
    flat = CorrectnessCalibrator.fit(
        feats, np.ones(20, dtype=bool), one_class=OneClassRule(0.5, 0.0, senses)
    )
    np.testing.assert_allclose(flat.predict(corner), 20.5 / 21)
    mixed = feats[:, 0] > -1.0
    np.testing.assert_allclose(
        CorrectnessCalibrator.fit(feats, mixed, one_class=rule).coef,
        CorrectnessCalibrator.fit(feats, mixed).coef,
    )
    with pytest.raises(ValueError, match="2 feature senses for 3 features"):
        CorrectnessCalibrator.fit(
            feats, np.ones(20, dtype=bool), one_class=OneClassRule(0.5, 1.0, (1.0, 1.0))
        )


def test_calibrator_reads_inputs_beyond_its_data_at_the_edge_of_it() -> None:
    """A logistic calibrator says nothing about signals outside the rows it was fitted on:
    such an input reads as the nearest point of their range, in every feature; the range
    survives saving, and arrays saved without it load without clipping."""
    from triaged.models.calibrator import CorrectnessCalibrator

    rng = np.random.default_rng(3)
    feats = rng.normal(size=(200, 3))
    right = feats[:, 0] + 0.5 * rng.normal(size=200) > 0
    cal = CorrectnessCalibrator.fit(feats, right)
    assert cal.lower is not None and cal.upper is not None
    np.testing.assert_allclose(cal.lower, feats.min(axis=0))
    np.testing.assert_allclose(cal.upper, feats.max(axis=0))
    far = np.array([[40.0, -40.0, 40.0], [-40.0, 40.0, -40.0]])
    edge = np.array(
        [[cal.upper[0], cal.lower[1], cal.upper[2]], [cal.lower[0], cal.upper[1], cal.lower[2]]]
    )
    np.testing.assert_allclose(cal.predict(far), cal.predict(edge))
    inside = feats[:5]
    unclipped = CorrectnessCalibrator(cal.mean, cal.scale, cal.coef, cal.intercept)
    np.testing.assert_allclose(cal.predict(inside), unclipped.predict(inside))
    assert not np.allclose(unclipped.predict(far), cal.predict(far))

    arrays = cal.to_arrays("cal_")
    np.testing.assert_allclose(
        CorrectnessCalibrator.from_arrays(arrays, "cal_").predict(far), cal.predict(far)
    )
    older = {k: v for k, v in arrays.items() if not k.endswith(("lower", "upper"))}
    np.testing.assert_allclose(
        CorrectnessCalibrator.from_arrays(older, "cal_").predict(far), unclipped.predict(far)
    )
    # weight-0 rows are not part of the fit, nor of its range
    weights = np.ones(200)
    weights[feats[:, 0].argmax()] = 0.0
    partial = CorrectnessCalibrator.fit(feats, right, sample_weight=weights)
    assert partial.upper is not None and partial.upper[0] < feats[:, 0].max()
