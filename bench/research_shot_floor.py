"""Why ten examples per label leave an ECE near 0.03: the sampling floor of the calibration data.

    python -m bench.research_shot_floor                 # six shared sets, draws 0-4
    python -m bench.research_shot_floor --sets snips,atis --seeds 0-9
    python -m bench.research_shot_floor --config '{"sim_oos_prior": 0}'   # engine options

With ten examples per label the calibrator learns how often the model is right from the
out-of-fold predictions of those examples alone: ``n = 10 x labels`` rows.  Their accuracy
is a binomial estimate of the model's, with standard error ``sqrt(p (1 - p) / n)``, and the
calibrator can be no closer on average than that estimate is: a taxonomy whose draw of ten
examples happens to be easy (out-of-fold accuracy above the model's on new inputs) is
over-confident by about the difference, and the reverse.  For each draw this prints, on each
set's dev split (``val.jsonl``, or a stratified fifth of train without one; never test):
accuracy, mean confidence, ECE, the out-of-fold accuracy minus the dev accuracy, and the
floor ``sqrt(2 / pi) * sqrt(p (1 - p) / n)`` (the mean absolute error of a binomial
estimate) that the mean confidence gap cannot beat on average.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np

from bench.embed_cache import ALL, embeddings, label_vectors
from triaged.calibration import expected_calibration_error
from triaged.evaluation import sample_per_label
from triaged.models import Engine
from triaged.taxonomy import OOS_LABEL, Example

SHOTS = 10


def _dev(dataset: str) -> tuple[list[str], list[str], np.ndarray, list[int]]:
    """Dev texts, labels, vectors, and the train rows it leaves for training."""
    texts, labels, X = embeddings(dataset, "train")
    vt, vl, vX = embeddings(dataset, "val")
    if len(vt):
        return vt, vl, vX, list(range(len(texts)))
    rng = np.random.default_rng(0)
    arr = np.array(labels)
    dev: set[int] = set()
    for lb in sorted(set(labels)):
        idx = np.flatnonzero(arr == lb)
        dev.update(rng.choice(idx, max(1, len(idx) // 5), replace=False).tolist())
    rows = sorted(dev)
    rest = [i for i in range(len(texts)) if i not in dev]
    return [texts[i] for i in rows], [labels[i] for i in rows], X[rows], rest


def run(dataset: str, seed: int, config: dict[str, Any] | None = None) -> dict[str, float]:
    names, V = label_vectors(dataset)
    index = {n: i for i, n in enumerate(names)}
    texts, labels, X = embeddings(dataset, "train")
    dev_t, dev_l, dev_X, rest = _dev(dataset)
    usable = [i for i in rest if labels[i] != OOS_LABEL]
    pool = [Example(texts[i], labels[i]) for i in usable]
    where = {id(e): i for e, i in zip(pool, usable, strict=True)}
    rows = sorted(where[id(e)] for e in sample_per_label(pool, SHOTS, seed))
    eng = Engine(**(config or {})).fit(
        X[rows],
        np.array([index[labels[i]] for i in rows], np.int64),
        label_vectors=V,
        texts=[texts[i] for i in rows],
    )
    keep = [i for i, lb in enumerate(dev_l) if lb in index]
    pred = eng.predict(dev_X[keep], [dev_t[i] for i in keep])
    right = pred.top == np.array([index[dev_l[i]] for i in keep])
    cv = float(eng.report()["cv_accuracy"])
    n = len(rows)
    return {
        "acc": float(right.mean()),
        "conf": float(pred.confidence.mean()),
        "ece": float(expected_calibration_error(pred.confidence, right)),
        "cv_minus_dev": cv - float(right.mean()),
        "floor": math.sqrt(2 / math.pi) * math.sqrt(max(cv * (1 - cv), 1e-9) / n),
        "n": float(n),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(ALL))
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--config", default="{}", help="engine options as JSON")
    args = parser.parse_args(argv)
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    print(
        "| dataset | rows (n) | dev accuracy | mean confidence | ECE | |conf - acc| "
        "| |out-of-fold - dev acc| | binomial floor |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for ds in args.sets.split(","):
        config = json.loads(args.config)
        r = [run(ds, s, config) for s in seeds]

        def mean(key: str, rs: list[dict[str, float]] = r) -> float:
            return float(np.mean([x[key] for x in rs]))

        gap = float(np.mean([abs(x["conf"] - x["acc"]) for x in r]))
        cv_gap = float(np.mean([abs(x["cv_minus_dev"]) for x in r]))
        print(
            f"| {ds} | {mean('n'):.0f} | {mean('acc'):.3f} | {mean('conf'):.3f} "
            f"| {mean('ece'):.3f} | {gap:.3f} | {cv_gap:.3f} | {mean('floor'):.3f} |",
            flush=True,
        )
    print(f"\n{SHOTS} examples per label, draws {args.seeds} (means); dev splits only.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
