"""Evaluation on labelled data: accuracy, macro-F1, ECE, NLL, buckets and out-of-scope figures.

``run_eval`` is what ``triaged eval DATASET_DIR`` runs: it trains on ``train.jsonl``
(all of it or K examples per label), calibrates inside ``fit`` without touching
``test.jsonl``, then scores ``test.jsonl``.  Test items labelled ``oos`` are
out-of-scope: caught when routed to ``hold``.

Routing follows the policy the service would apply to the trained model: the auto
threshold certified from the model's held-out routing evidence
(:func:`triaged.routing.certify_auto_threshold`) for an auto-lane error target, a
confidence level and an expected out-of-scope share (``auto_threshold_source``:
``"certified"``; None = auto lane closed), and the hold threshold chosen from the same
evidence for that share, never below the taxonomy's review threshold
(``review_threshold_source``: ``"evidence"``).

With ``known_ratio`` the run follows the open-intent protocol of ADB (Zhang, Xu & Lin,
"Deep Open Intent Classification with Adaptive Decision Boundary", AAAI 2021): a random
share of the dataset's labels (drawn with the seed; at least 2) is known, the taxonomy is
restricted to them and trained on their train items only, the dataset's own ``oos``
items are left out, and every test item of another label is "open"; a decision routed
``hold`` predicts open.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, matthews_corrcoef, roc_auc_score

from triaged.calibration import (
    calibrated_nll,
    expected_calibration_error,
    reliability_bins,
)
from triaged.classifier import Classifier
from triaged.encoders import Encoder
from triaged.errors import DatasetError, InvalidInput
from triaged.routing import (
    DEFAULT_AUTO_ERROR_TARGET,
    DEFAULT_CONFIDENCE_LEVEL,
    DEFAULT_EXPECTED_OUT_OF_SCOPE,
    Bucket,
    certify_auto_threshold,
)
from triaged.routing_hold import evidence_hold_threshold
from triaged.taxonomy import OOS_LABEL, Example, Taxonomy, label_index, read_jsonl

__all__ = [
    "DEFAULT_AUTO_ERROR_TARGET",
    "DEFAULT_CONFIDENCE_LEVEL",
    "DEFAULT_EXPECTED_OOS",
    "aggregate_runs",
    "certified_routing",
    "check_known_ratio",
    "check_routing_options",
    "evaluate",
    "json_ready",
    "known_labels_for_seed",
    "open_expected_out_of_scope",
    "open_set_metrics",
    "parse_seeds",
    "run_eval",
    "run_eval_seeds",
    "sample_per_label",
]

DEFAULT_EXPECTED_OOS = DEFAULT_EXPECTED_OUT_OF_SCOPE


def certified_routing(
    clf: Classifier,
    *,
    auto_error_target: float = DEFAULT_AUTO_ERROR_TARGET,
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL,
    expected_out_of_scope: float = DEFAULT_EXPECTED_OOS,
) -> dict[str, Any]:
    """The routing the service would apply to ``clf``: the hold (review) threshold chosen
    from the model's routing evidence, never below the taxonomy's review threshold
    (:func:`triaged.routing_hold.evidence_hold_threshold`), and the auto threshold
    certified from the same evidence (:func:`triaged.routing.certify_auto_threshold`).
    ``auto_threshold`` is None when the auto lane is closed (``auto_lane_reason`` says
    why)."""
    check_routing_options(auto_error_target, confidence_level, expected_out_of_scope)
    evidence = clf.routing_evidence()
    hold = evidence_hold_threshold(
        evidence,
        expected_out_of_scope=expected_out_of_scope,
        floor=float(clf.taxonomy.thresholds.review),
    )
    review = hold.threshold
    bound = certify_auto_threshold(
        evidence,
        target=auto_error_target,
        confidence_level=confidence_level,
        expected_out_of_scope=expected_out_of_scope,
        review_threshold=review,
    )
    threshold = None if bound.threshold is None else float(bound.threshold)
    return {
        "auto_threshold": threshold,
        "review_threshold": review if threshold is None else min(review, threshold),
        "auto_threshold_source": "certified",
        "review_threshold_source": "evidence",
        "review_reason": hold.reason,
        "auto_lane_open": threshold is not None,
        "auto_lane_reason": bound.reason,
        "auto_bound": {
            "upper": bound.upper_bound,
            "estimate": bound.estimate,
            "n": bound.n,
            "errors": bound.errors,
            "evidence_in": evidence.n_in,
            "evidence_oos": evidence.n_oos,
        },
    }


def check_routing_options(target: float, level: float, expected_oos: float) -> None:
    for name, value, low_open in (
        ("auto_error_target", target, True),
        ("confidence_level", level, True),
        ("expected_out_of_scope", expected_oos, False),
    ):
        bad = math.isnan(value) or value >= 1.0 or value < 0.0 or (low_open and value == 0.0)
        if bad:
            interval = "(0, 1)" if low_open else "[0, 1)"
            raise InvalidInput(
                f"{name} must be in {interval}, got {value}", details={"field": name}
            )


def _route(conf: np.ndarray, auto: float | None, review: float) -> np.ndarray:
    buckets = np.full(conf.shape, Bucket.HOLD.value, dtype=object)
    buckets[conf >= review] = Bucket.REVIEW.value
    if auto is not None:
        buckets[conf >= auto] = Bucket.AUTO.value
    return buckets


def open_set_metrics(
    truth: Sequence[int] | np.ndarray,
    top: Sequence[int] | np.ndarray,
    held: Sequence[bool] | np.ndarray,
) -> dict[str, float]:
    """Figures of a known-labels + open classifier, as ADB reports them.

    ``truth``: the true label index of each item, -1 for out-of-scope ("open");
    ``top``: the predicted label index; ``held``: whether the item was routed to
    ``hold``, which predicts open.  Macro averages run over the classes present in
    the truth or the predictions (ADB's confusion matrix), open included.
    """
    y = np.asarray(truth, dtype=np.int64)
    held_ = np.asarray(held, dtype=bool)
    pred = np.where(held_, -1, np.asarray(top, dtype=np.int64))
    classes = sorted(set(y.tolist()) | set(pred.tolist()))
    per_class = f1_score(y, pred, labels=classes, average=None, zero_division=0)
    known = [f for c, f in zip(classes, per_class, strict=True) if c != -1]
    is_open = y == -1
    return {
        "accuracy_open": float((pred == y).mean()) if y.size else math.nan,
        "f1_open_macro": float(np.mean(per_class)),
        "known_f1": float(np.mean(known)) if known else math.nan,
        "open_f1": float(per_class[classes.index(-1)]) if -1 in classes else 0.0,
        # binary out-of-scope detection, hold = predicted out-of-scope; undefined (nan)
        # when truth and prediction are both one class (every item open and held)
        "mcc_hold_as_oos": float(matthews_corrcoef(is_open, held_))
        if len(set(is_open.tolist()) | set(held_.tolist())) > 1
        else math.nan,
    }


def evaluate(
    clf: Classifier,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    progress: bool = False,
    routing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score ``clf`` on labelled ``texts``; labels ``oos`` mark out-of-scope items.

    ``routing`` (from :func:`certified_routing`) decides the buckets; by default the
    routing certified with the default target, confidence level and expected OOS share.
    """
    if len(texts) != len(labels):
        raise DatasetError("texts and labels differ in length")
    names = clf.taxonomy.label_names
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({lb for lb in labels if lb != OOS_LABEL and lb not in index})
    if unknown:
        raise DatasetError(
            f"test labels not in the taxonomy: {unknown[:5]}", details={"labels": unknown[:20]}
        )
    lanes = dict(routing) if routing is not None else certified_routing(clf)
    started = time.perf_counter()
    X = clf.encoder.embed(texts, batch_size=1, progress=progress)  # as classify() does
    probs, conf = clf.predict_vectors(X, texts)
    elapsed = time.perf_counter() - started
    top = probs.argmax(axis=1)
    is_oos = np.asarray([lb == OOS_LABEL for lb in labels], dtype=bool)
    truth = np.asarray([index.get(lb, -1) for lb in labels])
    correct = (top == truth) & ~is_oos
    buckets = _route(conf, lanes["auto_threshold"], float(lanes["review_threshold"]))
    ins = ~is_oos
    n = len(texts)
    report: dict[str, Any] = {
        "n_test": n,
        "n_in_scope": int(ins.sum()),
        "n_oos": int(is_oos.sum()),
        "mode": clf.mode,
        **_quality(truth, top, probs, conf, correct, ins),
        **lanes,
        **_lane_figures(buckets, correct, is_oos),
        "classify_texts_per_second": n / elapsed if elapsed > 0 else None,
        "reliability": [
            {
                "lower": b.lower,
                "upper": b.upper,
                "count": b.count,
                "confidence": b.mean_confidence,
                "accuracy": b.accuracy,
            }
            for b in reliability_bins(conf, correct)
        ],
    }
    held = buckets == Bucket.HOLD.value
    # in-scope items held for a person before any action (the price of holding inputs that
    # fit no label), and of them those whose top label was right
    report["in_scope_hold_rate"] = float(held[ins].mean()) if ins.any() else None
    report["right_hold_rate"] = float((held & correct)[ins].mean()) if ins.any() else None
    if is_oos.any():
        report["oos_hold_rate"] = float(held[is_oos].mean())
        report["oos_auroc"] = float(roc_auc_score(is_oos, -conf)) if ins.any() else None
        report.update(open_set_metrics(truth, top, held))
    return report


def _quality(
    truth: np.ndarray,
    top: np.ndarray,
    probs: np.ndarray,
    conf: np.ndarray,
    correct: np.ndarray,
    ins: np.ndarray,
) -> dict[str, Any]:
    """Accuracy, macro-F1, ECE and NLL over the in-scope items (``ece_all`` also counts
    every out-of-scope item as wrong, so it depends on how much OOS the test set holds).

    Macro-F1 averages over the labels that occur in the in-scope truth or predictions: a
    label the test items never name and the model never predicts has no F1 (counting it
    as 0 would score a perfect run on a one-label subset 1 / the number of labels), as in
    :func:`open_set_metrics`."""
    some = bool(ins.any())
    occurring = sorted(set(truth[ins].tolist()) | set(top[ins].tolist()))
    return {
        "accuracy": float(correct[ins].mean()) if some else None,
        # (no F1 over no item: scikit-learn 1.9 refuses empty inputs, and a retrain whose
        # held-out reviews were all out of scope failed on it)
        "macro_f1": float(
            f1_score(truth[ins], top[ins], labels=occurring, average="macro", zero_division=0)
        )
        if some
        else None,
        "ece": expected_calibration_error(conf[ins], correct[ins]) if some else None,
        "ece_all": expected_calibration_error(conf, correct),
        "nll": calibrated_nll(probs[ins], conf[ins], truth[ins]) if some else None,
        "mean_confidence": float(conf.mean()) if len(conf) else None,
        # ... over the in-scope items, to read against accuracy (what ECE's sign hides)
        "mean_confidence_in_scope": float(conf[ins].mean()) if some else None,
    }


def _lane_figures(buckets: np.ndarray, correct: np.ndarray, is_oos: np.ndarray) -> dict[str, Any]:
    """Auto share and error (out-of-scope counted as wrong) and each bucket's share."""
    n = len(buckets)
    auto = buckets == Bucket.AUTO.value
    per_bucket = {}
    for bucket in Bucket:
        sel = buckets == bucket.value
        in_sel = sel & ~is_oos
        per_bucket[bucket.value] = {
            "share": float(sel.mean()) if n else 0.0,
            "count": int(sel.sum()),
            "accuracy": float(correct[in_sel].mean()) if in_sel.any() else None,
        }
    return {
        "auto_share": float(auto.mean()) if n else 0.0,
        # share of auto decisions that are wrong, every out-of-scope item counted as wrong;
        # 0.0 when the lane made no decision (a closed lane makes no auto error:
        # ``auto_count`` says how many decisions the figure rests on)
        "auto_error_all": float(1.0 - correct[auto].mean()) if auto.any() else 0.0,
        "auto_count": int(auto.sum()),
        "auto_wrong": int((auto & ~correct).sum()),
        "auto_oos_count": int((auto & is_oos).sum()),
        "buckets": per_bucket,
    }


def sample_per_label(examples: Sequence[Example], k: int, seed: int) -> list[Example]:
    """K examples per label (all of them where a label has fewer), reproducible by ``seed``;
    K below 1 is refused (it would train on nothing)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput(f"shots must be at least 1, got {k}", details={"field": "shots"})
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[ex.label].append(ex)
    rng = random.Random(seed)
    picked: list[Example] = []
    for label in sorted(groups):
        items = groups[label]
        picked.extend(items if len(items) <= k else rng.sample(items, k))
    return picked


#: Highest expected out-of-scope share the protocol derives (the bound needs pi < 1).
_MAX_OPEN_EXPECTATION = 0.95


def open_expected_out_of_scope(n_known: int, n_labels: int) -> float:
    """The out-of-scope share an operator expects when the taxonomy holds ``n_known`` of the
    ``n_labels`` intents their traffic has, each intent as frequent as another: the share
    of intents left out (at most 0.95).  The protocol's own parameter, not a test figure."""
    if n_labels <= 0:
        return DEFAULT_EXPECTED_OOS
    return float(min(_MAX_OPEN_EXPECTATION, max(0.0, 1.0 - n_known / n_labels)))


def check_known_ratio(ratio: float) -> None:
    """Refuse a known ratio outside (0, 1] (NaN included)."""
    if not 0.0 < ratio <= 1.0 or math.isnan(ratio):
        msg = f"known ratio must be in (0, 1], got {ratio}"
        raise InvalidInput(msg, details={"field": "known_ratio"})


def known_labels_for_seed(labels: Sequence[str], ratio: float, seed: int) -> list[str]:
    """The known labels of the open-intent protocol: ``round(ratio * n)`` of ``labels``
    (at least 2), drawn at random with ``seed``, in the dataset's order."""
    check_known_ratio(ratio)
    pool = [lb for lb in labels if lb != OOS_LABEL]
    if len(pool) < 2:
        raise DatasetError(
            "the open-intent protocol needs at least 2 labels", details={"labels": len(pool)}
        )
    n_known = min(len(pool), max(2, round(ratio * len(pool))))
    chosen = set(random.Random(seed).sample(sorted(pool), n_known))
    return [lb for lb in pool if lb in chosen]


def _read_dataset(
    root: Path, zero_shot: bool, open_protocol: bool = False
) -> tuple[Taxonomy, list[Example], list[Example]]:
    """The dataset folder's taxonomy, train items (none when zero-shot) and test items.

    Without ``labels.json`` the labels are the training split's: a test item of a label it
    never uses is out of scope (under ``open_protocol``: open, its label kept, where ``oos``
    left it out as the dataset's own oos); with ``labels.json`` an error in the data."""
    base = Taxonomy.from_dataset_dir(root, split="__none__")
    all_labels, index = set(base.label_names) | {OOS_LABEL}, label_index(root)
    test_file = root / "test.jsonl"
    if not test_file.exists():
        raise DatasetError(f"{test_file}: missing test split", details={"file": str(test_file)})
    train: list[Example] = []
    if not zero_shot:
        train_file = root / "train.jsonl"
        if not train_file.exists():
            raise DatasetError(
                f"{train_file}: missing train split", details={"file": str(train_file)}
            )
        train = list(read_jsonl(train_file, known=all_labels, index=index))
    if (root / "labels.json").exists():
        test = list(read_jsonl(test_file, known=all_labels, index=index))
    else:
        test = [
            e if e.label in all_labels or open_protocol else Example(e.text, OOS_LABEL)
            for e in read_jsonl(test_file)
        ]
    if not test:  # an evaluation of nothing reported n_test 0 and ECE 0.0, exit 0
        raise DatasetError(
            f"{test_file}: no test items to evaluate on", details={"file": str(test_file)}
        )
    return base, train, test


def _open_protocol(
    base: Taxonomy, train: list[Example], test: list[Example], ratio: float, seed: int
) -> tuple[Taxonomy, list[Example], list[Example], dict[str, Any]]:
    """The taxonomy restricted to the known labels drawn for ``seed``, their train items,
    and the test items with every other label's marked open (the dataset's own ``oos``
    items left out)."""
    known = known_labels_for_seed(base.label_names, ratio, seed)
    keep = set(known)
    n_labels = sum(lb != OOS_LABEL for lb in base.label_names)
    base = replace(base, labels=tuple(lb for lb in base.labels if lb.name in keep))
    train = [e for e in train if e.label in keep]  # also drops the dataset's own oos
    test = [
        e if e.label in keep else Example(e.text, OOS_LABEL) for e in test if e.label != OOS_LABEL
    ]
    info = {
        "known_ratio": ratio,
        "n_labels": n_labels,
        "n_known_labels": len(known),
        "known_labels": known,
    }
    return base, train, test, info


def _check_run_options(shots: int | None, zero_shot: bool, known_ratio: float | None) -> None:
    if shots is not None and shots < 1:
        raise InvalidInput(f"shots must be at least 1, got {shots}", details={"field": "shots"})
    if shots is not None and zero_shot:
        msg = "shots and zero_shot exclude each other (zero-shot trains on no example)"
        raise InvalidInput(msg, details={"field": "shots"})
    if known_ratio is not None:
        check_known_ratio(known_ratio)


def _check_trained(root: Path, train: Sequence[Example], open_protocol: bool) -> None:
    """Refuse to train on no item (it was scored zero-shot, exit 0, as a trained run)."""
    if not any(e.label != OOS_LABEL for e in train):
        known = " of the known labels" if open_protocol else ""
        raise DatasetError(
            f"{root / 'train.jsonl'}: no training items{known} to train on (pass --zero-shot "
            "to score the label names and descriptions alone)",
            details={"file": str(root / "train.jsonl")},
        )


def run_eval(
    dataset_dir: str | Path,
    *,
    shots: int | None = None,
    zero_shot: bool = False,
    seed: int = 0,
    known_ratio: float | None = None,
    progress: bool = False,
    limit_test: int | None = None,
    encoder: Encoder | None = None,
    auto_error_target: float = DEFAULT_AUTO_ERROR_TARGET,
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL,
    expected_out_of_scope: float | None = None,
) -> dict[str, Any]:
    """Train on ``train.jsonl``, evaluate on ``test.jsonl`` of a shared-format dataset folder.

    ``known_ratio`` runs the open-intent protocol (see the module docstring); ``encoder``
    replaces the bundled one (benchmarks pass a cached one).  ``expected_out_of_scope``
    defaults to the service's default (0.2), and in the open-intent protocol to the share of
    the dataset's labels left unknown (:func:`open_expected_out_of_scope`): an operator who
    knows the taxonomy covers a quarter of the intents expects most traffic to fit none.
    """
    if expected_out_of_scope is not None:
        check_routing_options(auto_error_target, confidence_level, expected_out_of_scope)
    _check_run_options(shots, zero_shot, known_ratio)
    root = Path(dataset_dir)
    base, train, test = _read_dataset(root, zero_shot, open_protocol=known_ratio is not None)
    open_info: dict[str, Any] = {}
    if known_ratio is not None:
        base, train, test, open_info = _open_protocol(base, train, test, known_ratio, seed)
        if expected_out_of_scope is None:
            expected_out_of_scope = open_expected_out_of_scope(
                open_info["n_known_labels"], open_info["n_labels"]
            )
    if not zero_shot:
        _check_trained(root, train, known_ratio is not None)
    if shots is not None and train:
        train = sample_per_label(train, shots, seed)
    if limit_test is not None:
        test = test[:limit_test]
    if expected_out_of_scope is None:
        expected_out_of_scope = DEFAULT_EXPECTED_OOS
    check_routing_options(auto_error_target, confidence_level, expected_out_of_scope)
    tax = base.with_examples(train)
    clf = Classifier.from_taxonomy(tax, encoder=encoder)
    started = time.perf_counter()
    clf.fit(progress=progress)
    train_seconds = time.perf_counter() - started
    lanes = certified_routing(
        clf,
        auto_error_target=auto_error_target,
        confidence_level=confidence_level,
        expected_out_of_scope=expected_out_of_scope,
    )
    report = evaluate(
        clf, [e.text for e in test], [e.label for e in test], progress=progress, routing=lanes
    )
    report.update(
        dataset=root.name,
        protocol="open-intent" if known_ratio is not None else "closed",
        shots=shots,
        zero_shot=zero_shot,
        seed=seed,
        auto_error_target=auto_error_target,
        confidence_level=confidence_level,
        expected_out_of_scope=expected_out_of_scope,
        **open_info,
        n_train=tax.n_examples,
        n_train_oos=len(tax.out_of_scope),
        train_seconds=train_seconds,
        model_version=clf.model_version,
        engine=clf.engine.report(),
    )
    return report


def parse_seeds(spec: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"3"`` -> [3]; ``"0,2,5-6"`` -> [0, 2, 5, 6]."""
    seeds: list[int] = []
    try:
        for part in spec.split(","):
            lo, sep, hi = part.strip().partition("-")
            a = int(lo)
            b = int(hi) if sep else a
            if b < a:
                raise ValueError(spec)
            seeds.extend(range(a, b + 1))
    except ValueError:
        raise InvalidInput(
            f"seeds must look like 0-4 or 0,2,5, got {spec!r}", details={"field": "seeds"}
        ) from None
    if len(seeds) > 1000:
        raise InvalidInput(f"at most 1000 seeds, got {len(seeds)}", details={"field": "seeds"})
    if not seeds or min(seeds) < 0:
        raise InvalidInput(f"seeds must be non-negative, got {spec!r}", details={"field": "seeds"})
    return list(dict.fromkeys(seeds))


def json_ready(value: Any) -> Any:
    """``value`` (a report) with every NaN or infinite float as None: an undefined figure
    is null in JSON, where ``NaN`` is no value (strict parsers refuse the document)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _aggregate(values: list[Any]) -> tuple[Any, Any]:
    """(mean, std) of one field over runs: numbers -> mean and sample std over the
    runs that have a value; dicts recursively; anything else kept when equal."""
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    if all(_is_number(v) for v in present) and all(v == present[0] for v in present):
        return present[0], 0.0  # a setting or count shared by every run keeps its type
    if all(_is_number(v) for v in present):
        arr = np.asarray(present, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            return None, None
        return float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else 0.0
    if all(isinstance(v, Mapping) for v in present):
        mean: dict[str, Any] = {}
        std: dict[str, Any] = {}
        for key in dict.fromkeys(k for v in present for k in v):
            m, s = _aggregate([v.get(key) for v in present])
            mean[key] = m
            if s is not None:
                std[key] = s
        return mean, (std or None)
    first = present[0]
    return (first if all(v == first for v in present) else present), None


def aggregate_runs(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One report for several seeds: every figure is the mean over the runs, ``std`` holds
    the standard deviations, ``runs`` the per-seed reports."""
    if not runs:
        raise InvalidInput("no runs to aggregate")
    skip = {"reliability", "known_labels", "model_version", "seed", "engine"}
    keys = list(dict.fromkeys(k for r in runs for k in r if k not in skip))
    mean: dict[str, Any] = {}
    std: dict[str, Any] = {}
    for key in keys:
        m, s = _aggregate([r.get(key) for r in runs])
        mean[key] = m
        if s is not None:
            std[key] = s
    mean["seeds"] = [r.get("seed") for r in runs]
    mean["n_runs"] = len(runs)
    mean["std"] = std
    mean["runs"] = [{k: v for k, v in r.items() if k != "reliability"} for r in runs]
    return mean


def run_eval_seeds(dataset_dir: str | Path, seeds: Sequence[int], **options: Any) -> dict[str, Any]:
    """``run_eval`` once per seed, aggregated by :func:`aggregate_runs`."""
    return aggregate_runs([run_eval(dataset_dir, seed=s, **options) for s in seeds])
