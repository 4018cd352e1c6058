"""Fit the engine's global constants leave-one-dataset-out over the six shared sets.

    python scripts/fit_engine_constants.py            # grid on dev data, LODO table on test
    python scripts/fit_engine_constants.py --quick    # smaller dev subsample (smoke run)

Run from the repository root (it reads cached embeddings via ``bench.embed_cache``).

Constants fitted (everything else in ``DEFAULT_CONFIG`` is structural, not tuned):

* ``sim_oos_prior``: calibrator weight of the simulated out-of-scope rows (label
  hold-out), as a share of all calibrator weight;
* ``lexical_model``: the lexical channel's fit, one-vs-rest linear SVM (``svm``) or
  Complement Naive Bayes (``cnb``, smoothing ``lexical_alpha`` 1.0, the channel before
  4 December).

Selection uses **dev data only**: each dataset's ``val.jsonl`` (Banking77 has none: a
seeded, stratified 20% of its train split stands in, and its models are fitted on the
other 80%).  For each dataset and grid point, three fits on train data (full train
subsampled to ``--max-train`` items, 10 examples per label, and the open-intent protocol
with 75% of the labels known, seed 0) are scored on dev data, and the objective is

    J = mean over {full, 10-shot} of (ECE + (1 - accuracy))
        + (1 - open-intent accuracy over known + open, a held decision predicting open)
        + open-intent auto_error_all + 0.05 * (1 - open-intent auto share)

(every term an error rate; the open-intent accuracy measures how well low confidence
holds inputs of unknown labels, which the auto-lane terms alone do not once the
label-clustered bound keeps most lanes closed; the last term keeps "close the lane" from
being free).
Choice: calibration first, then automation: among grid points whose mean dev ECE (full
and 10-shot) is at most 0.03, the one with the highest mean dev auto share (full and
open-intent), ties broken by the lowest mean J.  The auto
threshold is ``routing.certify_auto_threshold`` on the engine's own routing evidence
(target 0.02, level 0.95, expected out-of-scope 0.2), over routing's threshold grid from
0.99 down (``GRID_TOP``).

Leave-one-dataset-out: for each dataset X, the grid point with the lowest mean J over the
other five is chosen, and X's **test** figures under it are reported (full train, and 10
per label).  The shipped constants are the grid point with the lowest mean J over all six.
Test splits are read only to report, never to choose.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import update_readme  # noqa: E402
from bench.embed_cache import ALL, embeddings, label_vectors  # noqa: E402

from triaged.calibration import expected_calibration_error  # noqa: E402
from triaged.evaluation import known_labels_for_seed, sample_per_label  # noqa: E402
from triaged.models import Engine  # noqa: E402
from triaged.routing import certify_auto_threshold, threshold_grid  # noqa: E402
from triaged.taxonomy import OOS_LABEL, Example  # noqa: E402

GRID: dict[str, list[Any]] = {
    "sim_oos_prior": [0.0, 0.02, 0.05],
    "lexical_model": ["cnb", "svm"],
}
LANE = {"target": 0.02, "confidence_level": 0.95, "expected_out_of_scope": 0.2}
#: Learn-then-Test grid: routing's default grid from 0.99 down (its top, 0.999 and 0.995,
#: has so little in-scope support that the fixed sequence tends to stop there and close
#: the lane before reaching thresholds that certify; see the report).
GRID_TOP = 0.99
#: The default review threshold: below it a decision is held (predicts open).
REVIEW = 0.60
CLOSED_LANE_COST = 0.05
ECE_LIMIT = 0.03


class Split:
    def __init__(self, texts: list[str], labels: list[str], X: np.ndarray) -> None:
        self.texts, self.labels, self.X = texts, labels, X

    def take(self, rows: np.ndarray) -> Split:
        return Split([self.texts[i] for i in rows], [self.labels[i] for i in rows], self.X[rows])


def splits(ds: str) -> tuple[Split, Split, Split]:
    """(train, dev, test); dev is val.jsonl, or a stratified 20% of train without one."""
    train = Split(*embeddings(ds, "train"))
    test = Split(*embeddings(ds, "test"))
    val = Split(*embeddings(ds, "val"))
    if len(val.texts):
        return train, val, test
    rng = np.random.default_rng(0)
    dev_rows: list[int] = []
    labels = np.array(train.labels)
    for lb in sorted(set(train.labels)):
        idx = np.flatnonzero(labels == lb)
        dev_rows.extend(rng.choice(idx, max(1, len(idx) // 5), replace=False).tolist())
    dev = np.zeros(len(labels), bool)
    dev[dev_rows] = True
    return train.take(np.flatnonzero(~dev)), train.take(np.flatnonzero(dev)), test


def subsample(split: Split, max_n: int | None, seed: int = 0) -> Split:
    if max_n is None or len(split.texts) <= max_n:
        return split
    rows = np.sort(np.random.default_rng(seed).choice(len(split.texts), max_n, replace=False))
    return split.take(rows)


def shots(split: Split, k: int, seed: int = 0) -> Split:
    exs = [Example(t, lb) for t, lb in zip(split.texts, split.labels, strict=True)]
    exs = [e for e in exs if e.label != OOS_LABEL]
    picked = {id(e) for e in sample_per_label(exs, k, seed)}
    rows = [i for i, lb in enumerate(split.labels) if lb != OOS_LABEL]
    keep = [r for r, e in zip(rows, exs, strict=True) if id(e) in picked]
    return split.take(np.array(keep, dtype=np.int64))


def fit_and_score(
    cfg: dict[str, Any], names: list[str], V: np.ndarray, train: Split, test: Split
) -> dict[str, Any]:
    """Fit on ``train`` (its ``oos`` items as out-of-scope examples) over the labels
    ``names``; score ``test`` (items of other labels and ``oos`` count as wrong)."""
    index = {n: i for i, n in enumerate(names)}
    rows = np.array([i for i, lb in enumerate(train.labels) if lb in index], np.int64)
    oos = np.array([i for i, lb in enumerate(train.labels) if lb == OOS_LABEL], np.int64)
    started = time.perf_counter()
    eng = Engine(**cfg).fit(
        train.X[rows],
        np.array([index[train.labels[i]] for i in rows], np.int64),
        label_vectors=V,
        texts=[train.texts[i] for i in rows],
        oos_X=train.X[oos] if len(oos) else None,
        oos_texts=[train.texts[i] for i in oos],
    )
    fit_s = time.perf_counter() - started
    pred = eng.predict(test.X, test.texts)
    truth = np.array([index.get(lb, -1) for lb in test.labels])
    ins = truth >= 0
    correct = pred.top == truth
    bound = certify_auto_threshold(
        eng.routing_evidence(),
        grid=[t for t in threshold_grid(0.6) if t <= GRID_TOP],
        **LANE,  # type: ignore[arg-type]
    )
    auto = (
        pred.confidence >= bound.threshold
        if bound.threshold is not None
        else np.zeros(len(truth), bool)
    )
    # ADB's accuracy over known + open: a held decision (below review) predicts open
    held = pred.confidence < REVIEW
    acc_open = float(np.where(ins, ~held & correct, held).mean())
    return {
        "acc": float(correct[ins].mean()),
        "acc_open": acc_open,
        "ece": float(expected_calibration_error(pred.confidence[ins], correct[ins])),
        "auto": bound.threshold,
        "auto_share": float(auto.mean()),
        "auto_error_all": float(1.0 - correct[auto].mean()) if auto.any() else None,
        "fit_s": round(fit_s, 1),
    }


def dev_objective(ds: str, cfg: dict[str, Any], max_train: int | None) -> dict[str, Any]:
    names, V = label_vectors(ds)
    train, dev, _ = splits(ds)
    full = fit_and_score(cfg, names, V, subsample(train, max_train), dev)
    ten = fit_and_score(cfg, names, V, shots(train, 10), dev)
    known = known_labels_for_seed(names, 0.75, 0)
    Vk = V[[names.index(n) for n in known]]
    in_known = [i for i, lb in enumerate(train.labels) if lb in set(known)]
    dev_open = dev.take(
        np.array([i for i, lb in enumerate(dev.labels) if lb != OOS_LABEL], np.int64)
    )
    opened = fit_and_score(
        cfg, known, Vk, subsample(train.take(np.array(in_known)), max_train), dev_open
    )
    J = (
        np.mean([full["ece"] + 1 - full["acc"], ten["ece"] + 1 - ten["acc"]])
        + (1.0 - opened["acc_open"])
        + (opened["auto_error_all"] or 0.0)
        + CLOSED_LANE_COST * (1.0 - opened["auto_share"])
    )
    return {"J": float(J), "full": full, "ten": ten, "open": opened}


def lodo_table(
    rows: list[dict[str, Any]], chosen: dict[str, dict[str, Any]], shipped: dict[str, Any]
) -> str:
    """The README table: each dataset's test figures under the constants fitted without it."""

    def f(v: float | None, d: int = 3) -> str:
        return "–" if v is None else f"{v:.{d}f}"

    lines = [
        "| dataset | mode | constants fitted without it | ECE | accuracy | auto threshold "
        "| auto share | auto_error_all | in-sample ECE / auto_error_all |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lo, ins = r["lodo"], r["in_sample"]
        cfg = chosen[r["dataset"]]
        lines.append(
            f"| {r['dataset']} | {r['mode']} | "
            + ", ".join(f"{k}={v}" for k, v in cfg.items())
            + f" | {f(lo['ece'])} | {f(lo['acc'])} | {f(lo['auto'], 3)} "
            f"| {f(lo['auto_share'], 2)} | {f(lo['auto_error_all'])} "
            f"| {f(ins['ece'])} / {f(ins['auto_error_all'])} |"
        )
    n_ok = sum(1 for r in rows if r["lodo"]["ece"] is not None and r["lodo"]["ece"] <= 0.04)
    lines += [
        "",
        f"Shipped constants (fitted on all six): {json.dumps(shipped, sort_keys=True)}. "
        f"Leave-one-dataset-out ECE <= 0.04 in {n_ok} of {len(rows)} rows. – : auto lane closed "
        "(no threshold certified for target 0.02 at 95% with 20% out-of-scope expected; this "
        "script's threshold grid starts at 0.99, the service's at 0.999, so the engine table "
        "above, measured as the service routes, can show a lane closed that is open here). "
        "Constants are chosen on each other dataset's train/val data only (calibration first: "
        "mean dev ECE <= 0.03, then the most automation); test splits are only reported. "
        "Reproduce: `python scripts/fit_engine_constants.py --update-readme` (about 20 min on 2 "
        "cores; `--from-json` re-renders bench/results/engine_lodo.json).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-train", type=int, default=3000, help="dev-grid train subsample")
    ap.add_argument("--quick", action="store_true", help="--max-train 1500, for a smoke run")
    ap.add_argument("--datasets", default=",".join(ALL))
    ap.add_argument(
        "--grid",
        type=json.loads,
        default=None,
        help="JSON grid replacing GRID, e.g. '{\"sim_oos_prior\": [0.0, 0.02]}'",
    )
    ap.add_argument(
        "--reuse-dev",
        action="store_true",
        help="take the dev grid from --out (an earlier run) and only redo the test figures",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "engine_lodo.json")
    ap.add_argument("--update-readme", action="store_true", help="write the table into README")
    ap.add_argument(
        "--from-json", action="store_true", help="only render the table of an earlier --out"
    )
    args = ap.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.out.read_text())
        body = lodo_table(saved["test"], saved["chosen"], saved["shipped"])
        print(body)
        if args.update_readme:
            update_readme("lodo", body)
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    max_train = 1500 if args.quick else args.max_train
    datasets = args.datasets.split(",")
    grid = args.grid or GRID
    keys = list(grid)
    points = [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*grid.values())]
    dev: dict[str, dict[str, dict[str, Any]]] = {}
    if args.reuse_dev:
        dev = json.loads(args.out.read_text())["dev"]
    for ds in datasets:
        if ds in dev:
            continue
        dev[ds] = {}
        for p in points:
            tag = json.dumps(p, sort_keys=True)
            dev[ds][tag] = dev_objective(ds, p, max_train)
            print(f"dev {ds} {tag} J={dev[ds][tag]['J']:.4f}", file=sys.stderr, flush=True)

    def best(using: list[str]) -> dict[str, Any]:
        """Calibration first: among grid points whose mean dev ECE (full and 10-shot)
        is at most ECE_LIMIT, the one with the most automation (mean dev auto share,
        full and open-intent); ties (and no point within the limit) by J."""
        tags = list(dev[using[0]])

        def mean(t: str, f: Any) -> float:
            return float(np.mean([f(dev[d][t]) for d in using]))

        J = {t: mean(t, lambda r: r["J"]) for t in tags}
        ece = {t: mean(t, lambda r: (r["full"]["ece"] + r["ten"]["ece"]) / 2) for t in tags}
        share = {
            t: mean(t, lambda r: (r["full"]["auto_share"] + r["open"]["auto_share"]) / 2)
            for t in tags
        }
        ok = [t for t in tags if ece[t] <= ECE_LIMIT] or tags
        tag: dict[str, Any] = json.loads(min(ok, key=lambda t: (-round(share[t], 3), J[t])))
        return tag

    shipped = best(datasets)
    chosen = {ds: best([d for d in datasets if d != ds]) for ds in datasets}
    test_cache: dict[tuple[str, str, str], dict[str, Any]] = {}

    def test_figures(ds: str, cfg: dict[str, Any], mode: str) -> dict[str, Any]:
        key = (ds, json.dumps(cfg, sort_keys=True), mode)
        if key not in test_cache:
            names, V = label_vectors(ds)
            train = Split(*embeddings(ds, "train"))
            test = Split(*embeddings(ds, "test"))
            tr = train if mode == "full" else shots(train, 10)
            test_cache[key] = fit_and_score(cfg, names, V, tr, test)
        return test_cache[key]

    rows = []
    for ds in datasets:
        for mode in ("full", "10-shot"):
            lodo = test_figures(ds, chosen[ds], mode)
            ins = test_figures(ds, shipped, mode)
            rows.append({"dataset": ds, "mode": mode, "lodo": lodo, "in_sample": ins})
    print(f"shipped constants (all six): {json.dumps(shipped)}")
    for tag in dev[datasets[0]]:
        rs = [dev[d][tag] for d in datasets]
        print(
            f"dev {tag}: J {np.mean([r['J'] for r in rs]):.4f}, ECE full "
            f"{np.mean([r['full']['ece'] for r in rs]):.4f} 10-shot "
            f"{np.mean([r['ten']['ece'] for r in rs]):.4f}, auto share full "
            f"{np.mean([r['full']['auto_share'] for r in rs]):.3f} open "
            f"{np.mean([r['open']['auto_share'] for r in rs]):.3f}"
        )
    print()
    body = lodo_table(rows, chosen, shipped)
    print(body)
    if args.update_readme:
        update_readme("lodo", body)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"grid": grid, "shipped": shipped, "chosen": chosen, "dev": dev, "test": rows}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
