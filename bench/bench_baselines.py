"""Peer baselines for the closed-set benchmark (run by ``bench.bench_engine`` in the same run).

    python -m bench.bench_baselines                       # all six datasets, full and 10-shot
    python -m bench.bench_baselines --datasets snips --modes 10-shot --seeds 0-2

* ``tfidf_svc``: TF-IDF word 1-2-grams + char 2-5-grams (``char_wb``, sublinear tf) and a
  LinearSVC (C=1), on the raw texts.  Accuracy and macro-F1 (no probabilities).
* ``lr_temp``: multinomial logistic regression (C=1) on the bundled encoder's embeddings,
  with one temperature fitted on out-of-fold logits of the *training* items (stratified
  5-fold; items whose label is missing from a fold's training are left out of the fit):
  no validation or test item is used.
  Accuracy, macro-F1 and ECE (15 equal-width bins, as ``triaged eval``).

Both train on the same items as ``triaged eval``: all of train.jsonl, or the same K per
label (``triaged.evaluation.sample_per_label`` with the same seed), without ``oos``
examples; both score the in-scope test items.  No constant here was tuned: library
defaults and C=1.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from typing import Any

import numpy as np

from bench._common import write_results

ALL = ("atis", "banking77", "clinc150", "dbpedia14", "snips", "stackoverflow")
MODES = {"full": None, "10-shot": 10}


def _split(dataset: str, shots: int | None, seed: int) -> dict[str, Any]:
    from bench.embed_cache import embeddings
    from triaged.evaluation import sample_per_label
    from triaged.taxonomy import OOS_LABEL, Example

    tr_texts, tr_labels, tr_X = embeddings(dataset, "train")
    te_texts, te_labels, te_X = embeddings(dataset, "test")
    rows = list(range(len(tr_texts)))
    if shots is not None:
        # the same draw as `triaged eval --shots K --seed S` (oos included in the draw)
        by_text = [Example(tr_texts[i], tr_labels[i]) for i in rows]
        chosen = sample_per_label(by_text, shots, seed)
        want: dict[tuple[str, str], int] = {}
        for ex in chosen:
            want[(ex.text, ex.label)] = want.get((ex.text, ex.label), 0) + 1
        rows = []
        for i in range(len(tr_texts)):
            key = (tr_texts[i], tr_labels[i])
            if want.get(key, 0) > 0:
                want[key] -= 1
                rows.append(i)
    rows = [i for i in rows if tr_labels[i] != OOS_LABEL]
    test = [i for i in range(len(te_texts)) if te_labels[i] != OOS_LABEL]
    names = sorted({tr_labels[i] for i in rows})
    index = {n: k for k, n in enumerate(names)}
    return {
        "train_texts": [tr_texts[i] for i in rows],
        "train_X": tr_X[rows],
        "train_y": np.asarray([index[tr_labels[i]] for i in rows]),
        "test_texts": [te_texts[i] for i in test],
        "test_X": te_X[test],
        "test_y": np.asarray([index.get(te_labels[i], -1) for i in test]),
        "n_labels": len(names),
    }


def tfidf_svc(data: dict[str, Any]) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    started = time.perf_counter()
    model = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
        LinearSVC(C=1.0),
    )
    model.fit(data["train_texts"], data["train_y"])
    pred = model.predict(data["test_texts"])
    y = data["test_y"]
    return {
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "seconds": time.perf_counter() - started,
    }


def _lr(C: float = 1.0) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=1000)


def lr_temperature(data: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    from triaged.calibration import TemperatureScaler, expected_calibration_error

    started = time.perf_counter()
    X, y = data["train_X"], data["train_y"]
    # five folds, or as many as the best-stocked label has examples (two or three per label)
    folds = int(min(5, np.bincount(y).max()))
    oof = np.full((len(y), data["n_labels"]), -1e4)  # labels a fold never saw
    seen = np.zeros(len(y), dtype=bool)  # held-out items whose label the fold trained on
    with warnings.catch_warnings():  # labels with fewer than 5 items (ATIS): fine here
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y))
    for fit_idx, held in splits:
        model = _lr().fit(X[fit_idx], y[fit_idx])
        # log-probabilities: the logits up to a per-row constant (which temperature scaling
        # ignores), and two columns for a two-label taxonomy, where decision_function has one
        oof[held[:, None], model.classes_[None, :]] = model.predict_log_proba(X[held])
        seen[held] = np.isin(y[held], model.classes_)
    scaler = TemperatureScaler().fit(oof[seen], y[seen])
    temperature = float(scaler.temperature_)
    model = _lr().fit(X, y)
    logits = model.predict_log_proba(data["test_X"]) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    top = model.classes_[probs.argmax(axis=1)]
    conf = probs.max(axis=1)
    yt = data["test_y"]
    correct = top == yt
    return {
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(yt, top, average="macro")),
        "ece": float(expected_calibration_error(conf, correct)),
        "temperature": temperature,
        "folds": folds,
        "seconds": time.perf_counter() - started,
    }


def run_baselines(dataset: str, mode: str, seed: int = 0) -> dict[str, Any]:
    """Both baselines on one dataset and mode; one JSON-able row."""
    data = _split(dataset, MODES[mode], seed)
    return {
        "dataset": dataset,
        "mode": mode,
        "seed": seed,
        "n_train": len(data["train_y"]),
        "n_test": len(data["test_y"]),
        "tfidf_svc": tfidf_svc(data),
        "lr_temp": lr_temperature(data, seed),
    }


def main() -> None:
    from triaged.evaluation import parse_seeds

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=list(ALL), choices=ALL)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--seeds", default="0", help="e.g. 0-4 (10-shot draws)")
    args = parser.parse_args()
    rows = []
    for dataset in args.datasets:
        for mode in args.modes:
            for seed in parse_seeds(args.seeds) if mode != "full" else [0]:
                row = run_baselines(dataset, mode, seed)
                rows.append(row)
                print(json.dumps(row), flush=True)
    write_results("baselines", rows)


if __name__ == "__main__":
    main()
