"""Partially labelled taxonomies: accuracy and calibration when only some labels have examples.

    python -m bench.bench_partial                  # markdown table
    python -m bench.bench_partial --update-readme  # also write it into README.md
    python -m bench.bench_partial --only snips --json

For each dataset, every label keeps its name + description, and 10 train examples per
label are given for 0%, 15%, 50% or 100% of the labels (at least one label when the share
is above 0).  The 15% and 50% rows average 3 random label subsets (seeds 0-2); 0% and 100%
have one.  The engine is fitted on those examples' embeddings and scored on test.jsonl:
accuracy, mean confidence and ECE over in-scope test items; the share and accuracy of
in-scope items with confidence >= 0.85 (a fixed cut-off, a property of confidence only; the
worst subset is shown); and the auto threshold the service would certify from the fit's
routing evidence (``triaged.routing.certify_auto_threshold`` with its defaults: error <= 0.02
at 95%, 20% expected out-of-scope), with the share of in-scope test items in that lane.

Embeddings come from the bundled encoder and are cached under ``bench/.cache/embeddings``
(git-ignored; shared with ``scripts/fit_zeroshot_constants.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

from bench._common import DATASETS, ROOT, update_readme
from triaged.calibration import expected_calibration_error
from triaged.encoders import get_encoder
from triaged.models import Engine
from triaged.routing import certify_auto_threshold
from triaged.taxonomy import OOS_LABEL, Taxonomy, Thresholds, read_jsonl

CACHE = ROOT / "bench" / ".cache" / "embeddings"
NAMES = ("snips", "banking77", "clinc150")
FRACTIONS = (0.0, 0.15, 0.5, 1.0)
SEEDS = (0, 1, 2)
PER_LABEL = 10
FIXED_AUTO = 0.85  # the service's pre-policy auto threshold, kept as a fixed confidence cut-off


def embed(key: str, texts: Sequence[str]) -> np.ndarray:
    """Embeddings of ``texts`` (one ``embed`` call, so batching is reproducible), cached."""
    enc = get_encoder()
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"{enc.name}-{key}-{digest}.npy"
    if path.exists():
        cached: np.ndarray = np.load(path)
        return cached
    X = enc.embed(list(texts), progress=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, X)
    tmp.replace(path)
    return X


def load(root: Path, split: str, index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rows = list(read_jsonl(root / f"{split}.jsonl"))
    y = np.array([-1 if r.label == OOS_LABEL else index[r.label] for r in rows], dtype=np.int64)
    texts = [r.text for r in rows]
    return embed(f"{root.name}-{split}", texts), y, texts


def run(name: str, frac: float, seed: int, data: dict[str, Any]) -> dict[str, Any]:
    V, Xtr, ytr, Xte, yte = (data[k] for k in ("V", "Xtr", "ytr", "Xte", "yte"))
    Ttr, Tte = data["Ttr"], data["Tte"]
    n_labels = len(V)
    rng = np.random.default_rng(seed)
    k = max(1, round(frac * n_labels)) if frac > 0 else 0
    labelled = np.sort(rng.permutation(n_labels)[:k])
    idx: list[int] = []
    for c in labelled:
        rows = np.flatnonzero(ytr == c)
        rng.shuffle(rows)
        idx += rows[:PER_LABEL].tolist()
    keep = np.array(sorted(idx), dtype=np.int64)
    # texts too, as Classifier.fit passes them: the lexical channel is part of the engine
    eng = Engine().fit(Xtr[keep], ytr[keep], label_vectors=V, texts=[Ttr[i] for i in keep])
    pred = eng.predict(Xte, Tte)
    m = yte >= 0  # in-scope test items
    conf, ok = pred.confidence[m], (pred.top == yte)[m]
    auto = conf >= FIXED_AUTO
    cert = certify_auto_threshold(
        eng.routing_evidence(), review_threshold=Thresholds().review
    ).threshold
    return {
        "dataset": name,
        "fraction": frac,
        "labels_with_examples": int(k),
        "n_labels": int(n_labels),
        "seed": seed,
        "accuracy": float(ok.mean()),
        "mean_confidence": float(conf.mean()),
        "ece": float(expected_calibration_error(conf, ok)),
        "auto_share": float(auto.mean()),
        "auto_accuracy": float(ok[auto].mean()) if auto.any() else None,
        "certified_auto": None if cert is None else float(cert),
        "certified_share": 0.0 if cert is None else float((conf >= cert).mean()),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | labels with examples | accuracy | mean confidence | ECE "
        f"| share ≥ {FIXED_AUTO} | its accuracy (worst) | certified auto threshold "
        "| certified lane share |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["fraction"]), []).append(r)
    for (name, frac), grp in groups.items():

        def mean(key: str, grp: list[dict[str, Any]] = grp) -> str:
            return f"{np.mean([g[key] for g in grp]):.3f}"

        autos = [g["auto_accuracy"] for g in grp if g["auto_accuracy"] is not None]
        worst = f"{min(autos):.3f}" if autos else "–"
        certs = ", ".join(
            "closed" if g["certified_auto"] is None else f"{g['certified_auto']:.3f}" for g in grp
        )
        k = grp[0]["labels_with_examples"]
        runs = f", {len(grp)} subsets" if len(grp) > 1 else ""
        lines.append(
            f"| {name} | {frac:.0%} ({k}/{grp[0]['n_labels']}{runs}) | {mean('accuracy')} "
            f"| {mean('mean_confidence')} | {mean('ece')} | {mean('auto_share')} | {worst} "
            f"| {certs} | {mean('certified_share')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--only", action="append", help="dataset name(s) to run")
    parser.add_argument("--json", action="store_true", help="print one JSON line per run")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    names = [n for n in NAMES if not args.only or n in args.only]
    data: dict[str, dict[str, Any]] = {}
    for name in names:
        root = DATASETS / name
        tax = Taxonomy.from_dataset_dir(root, split="none")
        index = {n: i for i, n in enumerate(tax.label_names)}
        V = embed(f"{name}-labels", [lb.prompt for lb in tax.labels])
        Xtr, ytr, Ttr = load(root, "train", index)
        Xte, yte, Tte = load(root, "test", index)
        data[name] = {
            "V": V,
            "Xtr": Xtr,
            "ytr": ytr,
            "Xte": Xte,
            "yte": yte,
            "Ttr": Ttr,
            "Tte": Tte,
        }
    runs = [
        (name, frac, seed)
        for name in names
        for frac in FRACTIONS
        for seed in (SEEDS if 0 < frac < 1 else SEEDS[:1])
    ]
    rows = []
    for name, frac, seed in track(runs, description="fitting", transient=True):
        rows.append(run(name, frac, seed, data[name]))
        if args.json:
            print(json.dumps(rows[-1]))
    note = (
        f"\n\n{PER_LABEL} train examples for each label with examples; every label keeps its "
        "description. Accuracy, mean confidence and ECE (15 equal-width bins) over in-scope "
        "test items, averaged over the label subsets. "
        f'"share ≥ {FIXED_AUTO}" is a fixed confidence cut-off (the service\'s auto threshold '
        "before routing policies), a property of confidence, not the service's lane; its "
        "accuracy is the worst over the subsets. The service now routes by the auto threshold "
        "it certifies from the fit's held-out evidence (error ≤ 0.02 at 95%, 20% expected "
        'out-of-scope; listed per subset, closed = no auto lane); "certified lane share" is '
        "the share of in-scope test items at or above it (0 when closed), averaged. Engine fitted "
        "on embeddings and texts (lexical channel on). Measured on "
        f"{platform.machine()}. Reproduce: `python -m bench.bench_partial --update-readme`."
    )
    out = table(rows) + note
    if not args.json:
        print(out)
    if args.update_readme:
        update_readme("partial", out)


if __name__ == "__main__":
    main()
