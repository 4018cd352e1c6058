"""Evaluation on labelled data: accuracy, macro-F1, ECE, NLL, buckets and out-of-scope figures.

``run_eval`` is what ``triaged eval DATASET_DIR`` runs: it trains on ``train.jsonl``
(all of it or K examples per label), calibrates inside ``fit`` without touching
``test.jsonl``, then scores ``test.jsonl``.  Test items labelled ``oos`` are
out-of-scope: caught when routed to ``hold``.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from triaged.calibration import (
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
)
from triaged.classifier import Classifier
from triaged.errors import DatasetError
from triaged.routing import Bucket
from triaged.taxonomy import OOS_LABEL, Example, Taxonomy, read_jsonl

__all__ = ["evaluate", "run_eval", "sample_per_label"]


def evaluate(
    clf: Classifier, texts: Sequence[str], labels: Sequence[str], *, progress: bool = False
) -> dict[str, Any]:
    """Score ``clf`` on labelled ``texts``; labels ``oos`` mark out-of-scope items."""
    if len(texts) != len(labels):
        raise DatasetError("texts and labels differ in length")
    names = clf.taxonomy.label_names
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({lb for lb in labels if lb != OOS_LABEL and lb not in index})
    if unknown:
        raise DatasetError(
            f"test labels not in the taxonomy: {unknown[:5]}", details={"labels": unknown[:20]}
        )
    started = time.perf_counter()
    X = clf.encoder.embed(texts, batch_size=1, progress=progress)  # as classify() does
    probs, conf = clf.predict_vectors(X, texts)
    elapsed = time.perf_counter() - started
    top = probs.argmax(axis=1)
    is_oos = np.asarray([lb == OOS_LABEL for lb in labels])
    truth = np.asarray([index.get(lb, -1) for lb in labels])
    correct = (top == truth) & ~is_oos
    buckets = np.asarray([clf.policy.route(float(c)).value for c in conf])
    ins = ~is_oos
    n = len(texts)
    report: dict[str, Any] = {
        "n_test": n,
        "n_in_scope": int(ins.sum()),
        "n_oos": int(is_oos.sum()),
        "mode": clf.mode,
        "accuracy": float(correct[ins].mean()) if ins.any() else None,
        "macro_f1": float(
            f1_score(
                truth[ins],
                top[ins],
                labels=list(range(len(names))),
                average="macro",
                zero_division=0,
            )
        )
        if ins.any()
        else None,
        # ECE, like accuracy and NLL, over the in-scope items; ``ece_all`` also counts every
        # out-of-scope item as wrong, so it depends on how much OOS the test set holds
        "ece": expected_calibration_error(conf[ins], correct[ins]) if ins.any() else None,
        "ece_all": expected_calibration_error(conf, correct),
        "nll": negative_log_likelihood(probs[ins], truth[ins]) if ins.any() else None,
        "mean_confidence": float(conf.mean()) if n else None,
        "buckets": {},
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
    for bucket in Bucket:
        sel = buckets == bucket.value
        in_sel = sel & ins
        report["buckets"][bucket.value] = {
            "share": float(sel.mean()) if n else 0.0,
            "count": int(sel.sum()),
            "accuracy": float(correct[in_sel].mean()) if in_sel.any() else None,
        }
    if is_oos.any():
        held = buckets == Bucket.HOLD.value
        report["oos_hold_rate"] = float(held[is_oos].mean())
        report["in_scope_hold_rate"] = float(held[ins].mean()) if ins.any() else None
        report["oos_auroc"] = float(roc_auc_score(is_oos, -conf)) if ins.any() else None
    return report


def sample_per_label(examples: Sequence[Example], k: int, seed: int) -> list[Example]:
    """K examples per label (all of them where a label has fewer), reproducible by ``seed``."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[ex.label].append(ex)
    rng = random.Random(seed)
    picked: list[Example] = []
    for label in sorted(groups):
        items = groups[label]
        picked.extend(items if len(items) <= k else rng.sample(items, k))
    return picked


def run_eval(
    dataset_dir: str | Path,
    *,
    shots: int | None = None,
    zero_shot: bool = False,
    seed: int = 0,
    progress: bool = False,
    limit_test: int | None = None,
) -> dict[str, Any]:
    """Train on ``train.jsonl``, evaluate on ``test.jsonl`` of a shared-format dataset folder."""
    root = Path(dataset_dir)
    base = Taxonomy.from_dataset_dir(root, split="__none__")
    known = set(base.label_names) | {OOS_LABEL}
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
        train = list(read_jsonl(train_file, known=known))
        if shots is not None:
            train = sample_per_label(train, shots, seed)
    test = list(read_jsonl(test_file, known=known))
    if limit_test is not None:
        test = test[:limit_test]
    tax = base.with_examples(train)
    clf = Classifier.from_taxonomy(tax)
    started = time.perf_counter()
    clf.fit(progress=progress)
    train_seconds = time.perf_counter() - started
    report = evaluate(clf, [e.text for e in test], [e.label for e in test], progress=progress)
    report.update(
        dataset=root.name,
        shots=shots,
        zero_shot=zero_shot,
        seed=seed,
        n_train=tax.n_examples,
        n_train_oos=len(tax.out_of_scope),
        train_seconds=train_seconds,
        model_version=clf.model_version,
        engine=clf.engine.report(),
    )
    return report
