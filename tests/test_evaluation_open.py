"""Open-intent evaluation (ADB protocol), auto-lane figures and multi-seed reports."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef
from typer.testing import CliRunner

from tests.helpers import slice_dataset
from triaged.cli import app
from triaged.errors import InvalidInput
from triaged.evaluation import (
    aggregate_runs,
    evaluate,
    known_labels_for_seed,
    open_expected_out_of_scope,
    open_set_metrics,
    parse_seeds,
    run_eval,
)
from triaged.taxonomy import OOS_LABEL, Taxonomy, read_jsonl

LABELS, TRAIN, TEST, OOS_TEST = 8, 10, 10, 12


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    """8 CLINC150 labels x 10 train / 10 test items, plus the dataset's own oos items."""
    return slice_dataset(
        datasets_dir / "clinc150",
        tmp_path_factory.mktemp("open") / "clinc8",
        labels=LABELS,
        train_per_label=TRAIN,
        test_per_label=TEST,
        oos_train=6,
        oos_test=OOS_TEST,
    )


def test_open_expected_out_of_scope_is_the_unknown_label_share() -> None:
    assert open_expected_out_of_scope(25, 100) == pytest.approx(0.75)
    assert open_expected_out_of_scope(100, 100) == 0.0
    assert open_expected_out_of_scope(1, 100) == 0.95  # the bound needs pi < 1
    assert open_expected_out_of_scope(0, 0) == 0.2


def test_known_labels_are_drawn_per_seed() -> None:
    labels = [f"l{i}" for i in range(20)]
    a = known_labels_for_seed(labels, 0.25, 0)
    assert a == known_labels_for_seed(labels, 0.25, 0)
    assert len(a) == 5 and set(a) <= set(labels)
    assert a == [lb for lb in labels if lb in set(a)]  # in the dataset's order
    draws = {tuple(known_labels_for_seed(labels, 0.25, s)) for s in range(6)}
    assert len(draws) > 1
    assert len(known_labels_for_seed(labels, 0.01, 3)) == 2  # at least two known labels
    assert known_labels_for_seed(labels, 1.0, 3) == labels
    assert OOS_LABEL not in known_labels_for_seed([*labels, OOS_LABEL], 1.0, 0)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(InvalidInput):
            known_labels_for_seed(labels, bad, 0)


def test_open_set_metrics_match_sklearn_on_a_hand_built_case() -> None:
    # 3 known labels (0, 1, 2) and open (-1); a held item predicts open whatever its top label
    truth = np.array([0, 0, 1, 1, 2, 2, -1, -1, -1, -1])
    top = np.array([0, 1, 1, 1, 2, 0, 0, 1, 2, 2])
    held = np.array([False, False, False, True, False, False, True, True, False, True])
    got = open_set_metrics(truth, top, held)
    pred = np.array([0, 1, 1, -1, 2, 0, -1, -1, 2, -1])
    per_class = f1_score(truth, pred, labels=[-1, 0, 1, 2], average=None)
    assert got["f1_open_macro"] == pytest.approx(f1_score(truth, pred, average="macro"))
    assert got["open_f1"] == pytest.approx(per_class[0])
    assert got["known_f1"] == pytest.approx(per_class[1:].mean())
    assert got["accuracy_open"] == pytest.approx(accuracy_score(truth, pred))
    assert got["mcc_hold_as_oos"] == pytest.approx(matthews_corrcoef(truth == -1, held))
    # by hand: open has 3 of 4 caught, 1 false open (truth 1) -> P = R = 3/4
    assert got["open_f1"] == pytest.approx(0.75)
    assert got["accuracy_open"] == pytest.approx(6 / 10)


def test_mcc_is_undefined_when_every_item_is_open_and_held() -> None:
    # a retrain's held-out reviews may all be out-of-scope items the model held: one class on
    # both sides, so no correlation exists (scikit-learn warns and answers 0)
    got = open_set_metrics(np.array([-1, -1, -1]), np.array([0, 1, 0]), np.ones(3, dtype=bool))
    assert math.isnan(got["mcc_hold_as_oos"])
    assert got["open_f1"] == pytest.approx(1.0) and got["accuracy_open"] == pytest.approx(1.0)
    # one side constant, the other not: defined, no correlation
    mixed = open_set_metrics(
        np.array([-1, -1, -1]), np.array([0, 1, 0]), np.array([True, False, True])
    )
    assert mixed["mcc_hold_as_oos"] == pytest.approx(0.0)


def test_open_intent_protocol_on_a_slice(tiny: Path) -> None:
    rep = run_eval(tiny, known_ratio=0.5, seed=3)
    known = rep["known_labels"]
    all_labels = Taxonomy.from_dataset_dir(tiny, split="none").label_names
    assert known == known_labels_for_seed(all_labels, 0.5, 3)
    assert rep["n_known_labels"] == 4 == len(known)
    open_labels = set(all_labels) - set(known)
    assert open_labels and not open_labels & set(known)
    test = list(read_jsonl(tiny / "test.jsonl"))
    # the dataset's own oos items are left out; every test item of an unknown label is open
    assert sum(e.label == OOS_LABEL for e in test) == OOS_TEST
    assert rep["n_test"] == LABELS * TEST
    assert rep["n_oos"] == sum(e.label in open_labels for e in test) == 4 * TEST
    assert rep["n_train"] == 4 * TRAIN and rep["n_train_oos"] == 0
    assert rep["protocol"] == "open-intent"
    # the operator's expectation follows the protocol: half the labels unknown
    assert rep["expected_out_of_scope"] == pytest.approx(0.5)
    given = run_eval(tiny, known_ratio=0.5, seed=3, expected_out_of_scope=0.1)
    assert given["expected_out_of_scope"] == 0.1
    assert run_eval(tiny, seed=3)["expected_out_of_scope"] == 0.2  # closed set: the default
    for key in ("open_f1", "known_f1", "f1_open_macro", "accuracy_open", "mcc_hold_as_oos"):
        assert 0.0 <= rep[key] <= 1.0 or key == "mcc_hold_as_oos"
    held = rep["oos_hold_rate"] * rep["n_oos"] + rep["in_scope_hold_rate"] * rep["n_in_scope"]
    assert held == pytest.approx(rep["buckets"]["hold"]["count"])
    other = run_eval(tiny, known_ratio=0.5, seed=4, shots=3)
    assert other["n_train"] == 4 * 3
    assert other["known_labels"] == known_labels_for_seed(all_labels, 0.5, 4)


def test_hold_counts_as_open_and_auto_error_counts_oos_as_wrong(tiny: Path) -> None:
    from triaged.classifier import Classifier

    base = Taxonomy.from_dataset_dir(tiny)  # with the 6 oos train examples
    clf = Classifier.from_taxonomy(base).fit()
    test = list(read_jsonl(tiny / "test.jsonl"))
    texts, labels = [e.text for e in test], [e.label for e in test]
    everything_auto = {"auto_threshold": 0.0, "review_threshold": 0.0}
    rep = evaluate(clf, texts, labels, routing=everything_auto)
    n_in = LABELS * TEST
    assert rep["auto_share"] == 1.0 and rep["n_oos"] == OOS_TEST
    assert rep["auto_error_all"] == pytest.approx(1 - rep["accuracy"] * n_in / (n_in + OOS_TEST))
    assert rep["open_f1"] == 0.0 and rep["oos_hold_rate"] == 0.0  # nothing held: no open
    everything_held = {"auto_threshold": None, "review_threshold": 1.01}
    rep = evaluate(clf, texts, labels, routing=everything_held)
    assert rep["auto_share"] == 0.0 and rep["auto_error_all"] == 0.0 and rep["auto_count"] == 0
    assert rep["oos_hold_rate"] == 1.0 and rep["accuracy_open"] == pytest.approx(
        OOS_TEST / (n_in + OOS_TEST)
    )
    assert rep["known_f1"] == 0.0


def test_parse_seeds() -> None:
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3") == [3]
    assert parse_seeds("0,2,5-6") == [0, 2, 5, 6]
    for bad in ("", "a-b", "4-1", "-1", "0-5000"):
        with pytest.raises(InvalidInput):
            parse_seeds(bad)


def test_aggregate_runs_mean_and_std() -> None:
    runs = [
        {"seed": 0, "accuracy": 0.8, "n_test": 10, "buckets": {"auto": {"share": 0.5}}},
        {"seed": 1, "accuracy": 0.9, "n_test": 10, "buckets": {"auto": {"share": 0.7}}},
        {"seed": 2, "accuracy": 1.0, "n_test": 10, "buckets": {"auto": {"share": 0.6}}},
    ]
    agg = aggregate_runs(runs)
    assert agg["accuracy"] == pytest.approx(0.9)
    assert agg["std"]["accuracy"] == pytest.approx(np.std([0.8, 0.9, 1.0], ddof=1))
    assert agg["buckets"]["auto"]["share"] == pytest.approx(0.6)
    assert agg["n_test"] == 10 and agg["seeds"] == [0, 1, 2] and len(agg["runs"]) == 3


def test_cli_eval_known_ratio_seeds_json(tiny: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "eval",
            str(tiny),
            "--known-ratio",
            "0.5",
            "--seeds",
            "0-1",
            "--shots",
            "5",
            "--auto-error-target",
            "0.05",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["seeds"] == [0, 1] and len(rep["runs"]) == 2
    assert rep["auto_error_target"] == 0.05 and rep["protocol"] == "open-intent"
    runs = rep["runs"]
    assert runs[0]["known_labels"] != runs[1]["known_labels"]
    for key in ("accuracy_open", "f1_open_macro", "open_f1", "known_f1", "auto_share"):
        values = [r[key] for r in runs]
        assert rep[key] == pytest.approx(np.mean(values))
        assert rep["std"][key] == pytest.approx(np.std(values, ddof=1))
    assert {"auto_error_all", "auto_threshold", "auto_threshold_source", "auto_lane_open"} <= set(
        rep
    )
    bad = CliRunner().invoke(app, ["eval", str(tiny), "--known-ratio", "2", "--json"])
    assert bad.exit_code == 2 and "invalid_input" in bad.output


def test_eval_routes_with_the_certified_threshold(tiny: Path) -> None:
    from triaged.classifier import Classifier
    from triaged.evaluation import certified_routing
    from triaged.routing import certify_auto_threshold

    clf = Classifier.from_taxonomy(Taxonomy.from_dataset_dir(tiny)).fit()
    test = list(read_jsonl(tiny / "test.jsonl"))
    texts, labels = [e.text for e in test], [e.label for e in test]
    for target, pi in ((0.02, 0.2), (0.2, 0.0)):
        lanes = certified_routing(clf, auto_error_target=target, expected_out_of_scope=pi)
        bound = certify_auto_threshold(
            clf.routing_evidence(), target=target, expected_out_of_scope=pi
        )
        assert lanes["auto_threshold"] == bound.threshold
        assert lanes["auto_lane_open"] is (bound.threshold is not None)
        assert lanes["auto_threshold_source"] == "certified"
        rep = evaluate(clf, texts, labels, routing=lanes)
        _, conf = clf.predict_vectors(clf.encoder.embed(texts, batch_size=1), texts)
        expected = 0.0 if bound.threshold is None else float((conf >= bound.threshold).mean())
        assert rep["auto_share"] == pytest.approx(expected)
        assert rep["auto_threshold"] == bound.threshold
    # a generous target on this small slice opens the lane; the default one may not
    assert certified_routing(clf, auto_error_target=0.2, expected_out_of_scope=0.0)[
        "auto_lane_open"
    ]
    with pytest.raises(InvalidInput):
        certified_routing(clf, auto_error_target=0.0)


def test_cli_eval_table_shows_mean_and_std(tiny: Path) -> None:
    res = CliRunner().invoke(
        app, ["eval", str(tiny), "--known-ratio", "0.5", "--seeds", "0,1", "--shots", "4"]
    )
    assert res.exit_code == 0, res.output
    assert "f1_open_macro" in res.output and "±" in res.output
    assert "auto lane (" in res.output and "['" not in res.output  # text, not a list
