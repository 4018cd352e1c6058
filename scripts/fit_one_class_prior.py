"""Fit the correctness calibrator's one-class pseudo-count leave-one-dataset-out.

    python scripts/fit_one_class_prior.py               # six datasets, 20 draws each
    python scripts/fit_one_class_prior.py --draws 5     # quicker

Run from the repository root (it reads cached embeddings via ``bench.embed_cache``).

When every held-out row of a taxonomy is right (ten examples of two distinct labels often
are), the calibrator cannot learn which signals predict an error and serves a constant,
``(n + a) / (n + 2a)`` for ``n`` held-out rows.  This script measures that constant's dev
ECE for a grid of ``a``: per dataset, ``--draws`` seeded draws of two labels (labels with
at least 20 dev items), ten training examples per label, scored on the two labels' dev
items (``val.jsonl``; Banking77's seeded 20% of train, as ``fit_engine_constants.py``);
only draws whose held-out rows were all right count.  With a constant confidence ECE is
``|constant - accuracy|``.  Leave-one-dataset-out: for each dataset X, the ``a`` whose
*worst* mean dev ECE over the other five is lowest (a value that wins on easy pairs and
loses on hard ones is not chosen), and X's dev ECE under it.  Test splits are not read.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench.embed_cache import ALL, label_vectors  # noqa: E402
from fit_engine_constants import shots, splits  # noqa: E402

from triaged.models import Engine  # noqa: E402

GRID = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
MIN_DEV = 20


def one_class_draws(ds: str, draws: int) -> list[tuple[int, float]]:
    """(held-out rows, dev accuracy) of each draw whose held-out rows were all right."""
    train, dev, _ = splits(ds)
    names, V = label_vectors(ds)
    count: dict[str, int] = {}
    for lb in dev.labels:
        count[lb] = count.get(lb, 0) + 1
    pool = sorted(n for n in names if count.get(n, 0) >= MIN_DEV)
    out: list[tuple[int, float]] = []
    for seed in range(draws):
        keep = sorted(random.Random(seed).sample(pool, 2))
        index = {n: i for i, n in enumerate(keep)}
        tr_rows = np.array([i for i, lb in enumerate(train.labels) if lb in index])
        tr = shots(train.take(tr_rows), 10, seed)
        dv = dev.take(np.array([i for i, lb in enumerate(dev.labels) if lb in index]))
        eng = Engine().fit(
            tr.X,
            np.array([index[lb] for lb in tr.labels]),
            label_vectors=V[[names.index(n) for n in keep]],
            texts=tr.texts,
        )
        evidence = eng.routing_evidence()
        if evidence.n_in == 0 or not evidence.correct_in.all():
            continue
        pred = eng.predict(dv.X, dv.texts)
        truth = np.array([index[lb] for lb in dv.labels])
        out.append((evidence.n_in, float((pred.top == truth).mean())))
    return out


def dev_ece(rows: list[tuple[int, float]], a: float) -> float:
    return float(np.mean([abs((n + a) / (n + 2 * a) - acc) for n, acc in rows]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args(argv)
    per_ds = {ds: one_class_draws(ds, args.draws) for ds in ALL}
    ece = {ds: {a: dev_ece(rows, a) for a in GRID} for ds, rows in per_ds.items() if rows}
    report: dict[str, object] = {"grid": GRID, "dev_ece": ece, "lodo": {}}
    print(f"{'dataset':<14} {'draws':>5} " + " ".join(f"a={a:<5g}" for a in GRID))
    for ds, row in ece.items():
        print(f"{ds:<14} {len(per_ds[ds]):>5} " + " ".join(f"{row[a]:.4f} " for a in GRID))
    for ds in ece:
        others = [d for d in ece if d != ds]
        best = min(GRID, key=lambda a: max(ece[d][a] for d in others))
        report["lodo"][ds] = {"a": best, "dev_ece": ece[ds][best]}  # type: ignore[index]
        print(f"without {ds:<14} a = {best:g}: its dev ECE {ece[ds][best]:.4f}")
    shipped = min(GRID, key=lambda a: max(ece[d][a] for d in ece))
    report["shipped"] = shipped
    print(f"all six: a = {shipped:g}")
    out = ROOT / "bench" / "results" / "one_class_prior.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
