"""Engine research harness on cached embeddings (no re-embedding, no service).

    python -m bench.research_engine closed  [--datasets a,b] [--shots 10] [--set k=v ...]
    python -m bench.research_engine open    [--datasets a,b] [--ratios 0.25,0.75] [--seeds 0-1]

``closed``: train on train.jsonl (all of it, or ``--shots`` per label, seed 0), score
test.jsonl: accuracy and ECE (15 bins) over in-scope items, the certified auto threshold
(``routing.certify_auto_threshold``: target 0.02, level 0.95, expected out-of-scope 0.2)
from the engine's own routing evidence, auto share and ``auto_error_all`` (out-of-scope
test items counted as wrong).  ``open``: the ADB open-intent protocol as ``triaged eval
--known-ratio`` runs it (known labels drawn with ``known_labels_for_seed``; the dataset's
own ``oos`` items are left out; a held decision predicts open).

The engine is fitted on exactly the vectors ``Classifier.fit`` would give it (the cache
embeds train splits in batches, test splits one text per call, as classify does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from bench.embed_cache import ALL, embeddings, label_vectors
from triaged.calibration import expected_calibration_error
from triaged.evaluation import known_labels_for_seed, open_set_metrics, sample_per_label
from triaged.models import Engine
from triaged.routing import RoutingEvidence, certify_auto_threshold, threshold_grid
from triaged.taxonomy import OOS_LABEL, Example

REVIEW = 0.6


def _load(ds: str, split: str) -> tuple[list[str], list[str], np.ndarray]:
    return embeddings(ds, split)


def _shots(texts: list[str], labels: list[str], k: int, seed: int) -> np.ndarray:
    """Row indices of ``sample_per_label`` (the eval's K-shot draw) among in-scope rows."""
    exs = [Example(t, lb) for t, lb in zip(texts, labels, strict=True) if lb != OOS_LABEL]
    picked = {id(e) for e in sample_per_label(exs, k, seed)}
    rows = [i for i, lb in enumerate(labels) if lb != OOS_LABEL]
    return np.array([r for r, e in zip(rows, exs, strict=True) if id(e) in picked], np.int64)


GRID_TOP = float(os.environ.get("GRID_TOP", "0.99"))


def lane(evidence: RoutingEvidence, pi: float = 0.2) -> float | None:
    """Certified auto threshold over routing's grid from ``GRID_TOP`` down."""
    return certify_auto_threshold(
        evidence,
        target=0.02,
        confidence_level=0.95,
        expected_out_of_scope=pi,
        grid=[t for t in threshold_grid(0.6) if t <= GRID_TOP],
    ).threshold


def closed(ds: str, shots: int | None, cfg: dict[str, Any], split: str = "test") -> dict[str, Any]:
    names, V = label_vectors(ds)
    index = {n: i for i, n in enumerate(names)}
    texts, labels, X = _load(ds, "train")
    rows = (
        np.array([i for i, lb in enumerate(labels) if lb != OOS_LABEL], np.int64)
        if shots is None
        else _shots(texts, labels, shots, 0)
    )
    oos_rows = [i for i, lb in enumerate(labels) if lb == OOS_LABEL] if shots is None else []
    y = np.array([index[labels[i]] for i in rows], np.int64)
    started = time.perf_counter()
    eng = Engine(**cfg).fit(
        X[rows],
        y,
        label_vectors=V,
        texts=[texts[i] for i in rows],
        oos_X=X[oos_rows] if oos_rows else None,
        oos_texts=[texts[i] for i in oos_rows],
    )
    fit_s = time.perf_counter() - started
    tt, lt, Xt = _load(ds, split)
    pred = eng.predict(Xt, tt)
    truth = np.array([index.get(lb, -1) for lb in lt])
    ins = truth >= 0
    correct = (pred.top == truth) & ins
    thr = lane(eng.routing_evidence())
    auto = pred.confidence >= thr if thr is not None else np.zeros(len(lt), bool)
    return {
        "dataset": ds,
        "shots": shots or "full",
        "acc": float(correct[ins].mean()),
        "ece": expected_calibration_error(pred.confidence[ins], correct[ins]),
        "auto": thr,
        "auto_share": float(auto.mean()),
        "auto_error_all": float(1 - correct[auto].mean()) if auto.any() else None,
        "fit_s": round(fit_s, 1),
        "lex_w": eng.report().get("lexical_weight"),
    }


def open_intent(
    ds: str, ratio: float, seed: int, cfg: dict[str, Any], pi: float | None = None
) -> dict[str, Any]:
    """One open-intent run; ``pi``: expected out-of-scope share for the lane (0.2 when
    None; pass ``1 - ratio`` for an operator who knows the traffic's open share)."""
    names, V = label_vectors(ds)
    known = known_labels_for_seed(names, ratio, seed)
    kidx = {n: i for i, n in enumerate(known)}
    Vk = V[[names.index(n) for n in known]]
    texts, labels, X = _load(ds, "train")
    rows = np.array([i for i, lb in enumerate(labels) if lb in kidx], np.int64)
    y = np.array([kidx[labels[i]] for i in rows], np.int64)
    eng = Engine(**cfg).fit(X[rows], y, label_vectors=Vk, texts=[texts[i] for i in rows])
    tt, lt, Xt = _load(ds, "test")
    keep = np.array([lb != OOS_LABEL for lb in lt])
    tt = [t for t, k in zip(tt, keep, strict=True) if k]
    lt = [lb for lb, k in zip(lt, keep, strict=True) if k]
    Xt = Xt[keep]
    pred = eng.predict(Xt, tt)
    truth = np.array([kidx.get(lb, -1) for lb in lt])
    held = pred.confidence < REVIEW
    thr = lane(eng.routing_evidence(), 0.2 if pi is None else pi)
    auto = pred.confidence >= thr if thr is not None else np.zeros(len(lt), bool)
    correct = pred.top == truth
    m = open_set_metrics(truth, pred.top, held)
    ins = truth >= 0
    return {
        "dataset": ds,
        "ratio": ratio,
        "seed": seed,
        "acc": m["accuracy_open"],
        "f1": m["f1_open_macro"],
        "ece_known": expected_calibration_error(pred.confidence[ins], correct[ins]),
        "auto": thr,
        "auto_share": float(auto.mean()),
        "auto_error_all": float(1 - correct[auto].mean()) if auto.any() else None,
    }


def _parse_set(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = json.loads(value)
    return out


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["closed", "open"])
    ap.add_argument("--datasets", default=",".join(ALL))
    ap.add_argument("--shots", default="10,full")
    ap.add_argument("--ratios", default="0.25,0.5,0.75")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--pi-open-share", action="store_true", help="open: pi = 1 - ratio")
    args = ap.parse_args(argv)
    cfg = _parse_set(args.set)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    datasets = args.datasets.split(",")
    if args.what == "closed":
        for ds in datasets:
            for s in args.shots.split(","):
                r = closed(ds, None if s == "full" else int(s), cfg)
                print(json.dumps(r), flush=True)
    else:
        a, _, b = args.seeds.partition("-")
        seeds = range(int(a), int(b or a) + 1)
        for ds in datasets:
            for ratio in map(float, args.ratios.split(",")):
                pi = 1.0 - ratio if args.pi_open_share else None
                rs = [open_intent(ds, ratio, s, cfg, pi) for s in seeds]
                for r in rs:
                    print(json.dumps(r), file=sys.stderr, flush=True)
                mean = {
                    k: float(np.nanmean([r[k] if r[k] is not None else np.nan for r in rs]))
                    for k in ("acc", "f1", "ece_known", "auto_share", "auto_error_all")
                }
                # auto_error_all: mean over the seeds whose lane opened
                opened = sum(r["auto"] is not None for r in rs)
                print(
                    json.dumps({"dataset": ds, "ratio": ratio, **mean, "lanes_open": opened}),
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
