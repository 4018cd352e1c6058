"""Fit what the correctness calibrator does when every held-out row is right, leave-one-dataset-out.

    python scripts/fit_one_class_prior.py               # six datasets, 12 draws per size
    python scripts/fit_one_class_prior.py --draws 4     # quicker

Run from the repository root (it reads cached embeddings via ``bench.embed_cache``).

When every held-out row of a taxonomy is right (ten examples of two distinct labels often
are), the calibrator cannot learn which signals predict an error.  Two rules
(``calibrator.OneClassRule``): the constant ``(n + a) / (n + 2a)`` for ``n`` held-out rows
(``one_class_prior`` = ``a``), or one pseudo-error of weight ``w`` at the least sure corner
of the held-out rows (``one_class_corner`` = ``w``), which keeps the signals' ordering.

Per dataset, ``--draws`` seeded draws of two labels (labels with at least 20 dev items), at
ten and at 200 training examples per label, scored on the two labels' dev items
(``val.jsonl``; Banking77's seeded 20% of train, as ``fit_engine_constants.py``); only draws
whose held-out rows were all right count (the rules differ nowhere else).  Each candidate
is scored by its mean dev ECE.  Leave-one-dataset-out: for each dataset X, the corner
weight whose *worst* mean dev ECE over the other five is lowest (one that wins on easy
pairs and loses on hard ones is not chosen), and X's figures under it.  The constant is
reported beside but is not a candidate: it gives every input one confidence, so no
threshold separates anything and an input unlike every example is as sure as a copy of
one (its AUROC below is 0.5 by construction).  Also reported, not chosen by: the share of
dev items of *other* labels (inputs that fit neither) held below 0.60 (and of right
answers), the AUROC of
confidence between right answers and those items, and the ECE over traffic of which 20%
are such items.  Test splits are not read.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench.embed_cache import ALL, label_vectors  # noqa: E402
from fit_engine_constants import Split, shots, splits  # noqa: E402

from triaged.calibration import expected_calibration_error  # noqa: E402
from triaged.models import Engine  # noqa: E402

#: Candidates: ("prior", a) is the constant, ("corner", w) the pseudo-error.
GRID: tuple[tuple[str, float], ...] = (
    ("prior", 0.5),
    ("corner", 0.1),
    ("corner", 0.25),
    ("corner", 0.5),
    ("corner", 1.0),
    ("corner", 2.0),
)
SIZES = (10, 200)
MIN_DEV = 20
MAX_UNKNOWN = 300
HOLD_BELOW = 0.60
EXPECTED_OOS = 0.2  # the default expected_out_of_scope of a taxonomy


def _config(candidate: tuple[str, float]) -> dict[str, float]:
    kind, value = candidate
    if kind == "prior":
        return {"one_class_prior": value, "one_class_corner": 0.0}
    return {"one_class_corner": value}


def _auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a right answer is surer than an unknown input), ties counting one half."""
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _traffic_ece(conf: np.ndarray, right: np.ndarray, unknown: np.ndarray) -> float:
    """ECE (15 bins) over traffic of which EXPECTED_OOS fits no label: the unknown inputs
    (never right) weigh that share, the in-scope items the rest."""
    c = np.concatenate([conf, unknown])
    ok = np.concatenate([right, np.zeros(len(unknown), bool)]).astype(float)
    w = np.concatenate(
        [
            np.full(len(conf), (1 - EXPECTED_OOS) / len(conf)),
            np.full(len(unknown), EXPECTED_OOS / len(unknown)),
        ]
    )
    bins = np.minimum((c * 15).astype(int), 14)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += abs(
            float(np.average(ok[m], weights=w[m])) - float(np.average(c[m], weights=w[m]))
        ) * float(w[m].sum())
    return total


def _draw(
    data: tuple[Split, Split, list[str], np.ndarray], pool: list[str], seed: int, size: int
) -> dict[str, dict[str, float]] | None:
    """Each candidate's dev figures on one draw (None: some held-out row was wrong)."""
    train, dev, names, V = data
    keep = sorted(random.Random(seed).sample(pool, 2))
    index = {n: i for i, n in enumerate(keep)}
    tr = shots(
        train.take(np.array([i for i, lb in enumerate(train.labels) if lb in index])), size, seed
    )
    inside = np.array([i for i, lb in enumerate(dev.labels) if lb in index])
    outside = np.array([i for i, lb in enumerate(dev.labels) if lb not in index and lb != "oos"])
    rng = np.random.default_rng(seed)
    outside = np.sort(rng.choice(outside, min(MAX_UNKNOWN, len(outside)), replace=False))
    dv, unknown = dev.take(inside), dev.take(outside)
    truth = np.array([index[lb] for lb in dv.labels])
    out: dict[str, dict[str, float]] = {}
    for candidate in GRID:
        eng = Engine(**_config(candidate)).fit(
            tr.X,
            np.array([index[lb] for lb in tr.labels]),
            label_vectors=V[[names.index(n) for n in keep]],
            texts=tr.texts,
        )
        evidence = eng.routing_evidence()
        if evidence.n_in == 0 or not evidence.correct_in.all():
            return None
        pred = eng.predict(dv.X, dv.texts)
        right = pred.top == truth
        unk = eng.predict(unknown.X, unknown.texts).confidence
        out[f"{candidate[0]}={candidate[1]:g}"] = {
            "ece": float(expected_calibration_error(pred.confidence, right)),
            "traffic_ece": _traffic_ece(pred.confidence, right, unk),
            "accuracy": float(right.mean()),
            "mean_confidence": float(pred.confidence.mean()),
            "unknown_held": float((unk < HOLD_BELOW).mean()),
            "right_held": float((pred.confidence[right] < HOLD_BELOW).mean()),
            "auroc_unknown": _auroc(pred.confidence[right], unk),
        }
    return out


def dataset_draws(ds: str, draws: int) -> list[dict[str, dict[str, float]]]:
    train, dev, _ = splits(ds)
    names, V = label_vectors(ds)
    count: dict[str, int] = {}
    for lb in dev.labels:
        count[lb] = count.get(lb, 0) + 1
    pool = sorted(n for n in names if count.get(n, 0) >= MIN_DEV)
    rows = []
    for size in SIZES:
        for seed in range(draws):
            got = _draw((train, dev, list(names), V), pool, seed, size)
            if got is not None:
                rows.append(got)
        print(f"{ds}: {size} per label done", file=sys.stderr, flush=True)
    return rows


def _mean(rows: list[dict[str, dict[str, float]]], key: str, stat: str) -> float:
    return float(np.nanmean([r[key][stat] for r in rows]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=12)
    args = parser.parse_args(argv)
    per_ds = {ds: dataset_draws(ds, args.draws) for ds in ALL}
    per_ds = {ds: rows for ds, rows in per_ds.items() if rows}
    keys = [f"{k}={v:g}" for k, v in GRID]
    table: dict[str, Any] = {
        ds: {k: {s: _mean(rows, k, s) for s in rows[0][k]} for k in keys}
        for ds, rows in per_ds.items()
    }
    report: dict[str, Any] = {"grid": keys, "draws": {d: len(r) for d, r in per_ds.items()}}
    report["dev"], report["lodo"] = table, {}
    for stat in ("ece", "traffic_ece", "unknown_held", "right_held", "auroc_unknown"):
        print(f"\n{stat}\n{'dataset':<11} {'n':>3} " + " ".join(f"{k:>11}" for k in keys))
        for ds, row in table.items():
            cells = " ".join(f"{row[k][stat]:>11.4f}" for k in keys)
            print(f"{ds:<11} {len(per_ds[ds]):>3} {cells}")
    # The constant is reported, not a candidate: one confidence for every input cannot
    # route (no threshold separates anything) nor hold an input unlike every example.
    ordered = [k for k in keys if k.startswith("corner=")]
    for ds in table:
        others = [d for d in table if d != ds]
        best = min(ordered, key=lambda k: max(table[d][k]["ece"] for d in others))
        report["lodo"][ds] = {"choice": best, **table[ds][best], "constant": table[ds][keys[0]]}
        print(
            f"without {ds:<13} {best}: its dev ECE {table[ds][best]['ece']:.4f} "
            f"(constant {table[ds][keys[0]]['ece']:.4f}), unknown held "
            f"{table[ds][best]['unknown_held']:.3f}"
        )
    report["shipped"] = min(ordered, key=lambda k: max(table[d][k]["ece"] for d in table))
    print(f"all six: {report['shipped']}")
    out = ROOT / "bench" / "results" / "one_class_prior.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
