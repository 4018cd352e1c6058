"""Prediction sets (split-conformal, issue 13): empirical coverage and set size per dataset.

    python -m bench.bench_sets                      # every shared dataset, markdown table
    python -m bench.bench_sets clinc150 atis        # some datasets
    python -m bench.bench_sets --json               # machine-readable results
    python -m bench.bench_sets --update-readme      # also write README.md (bench:sets)

For each shared dataset a classifier is fitted on ``train.jsonl`` (its out-of-scope
examples included, as ``triaged train`` does), the test split's in-scope texts are
classified through :meth:`Classifier.classify_batch` (embeddings from the bench cache,
``python -m bench.embed_cache``), and the sets at ``--alpha`` are scored:

* coverage: share of in-scope test texts whose true label is in their set (target
  ``1 - alpha``; acceptance: 0.88-0.94 at alpha 0.1);
* mean and median set size, the share of singleton sets and of empty sets (confident
  inputs whose randomized score exceeds the cut: see :mod:`triaged.models.conformal`);
* singletons vs the auto lane (the auto threshold the service certifies for the model,
  :func:`triaged.evaluation.certified_routing`): the share of auto-lane decisions whose
  set is a singleton, and the share of singletons that the auto lane takes;
* coverage of the out-of-scope texts is not defined (no right label); their mean set
  size is shown where the dataset has them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np

from bench._common import DATASETS, CachedEncoder, update_readme, write_results
from bench.embed_cache import ALL
from triaged.classifier import Classifier
from triaged.evaluation import certified_routing
from triaged.models.conformal import DEFAULT_ALPHA
from triaged.taxonomy import OOS_LABEL, Taxonomy, read_jsonl


def run(dataset: str, alpha: float) -> dict[str, Any]:
    root = DATASETS / dataset
    tax = Taxonomy.from_dataset_dir(root)
    enc = CachedEncoder([dataset])
    started = time.perf_counter()
    clf = Classifier.from_taxonomy(tax, encoder=enc).fit()  # type: ignore[arg-type]
    fit_s = time.perf_counter() - started
    test = list(read_jsonl(root / "test.jsonl"))
    texts = [e.text for e in test]
    truth = [e.label for e in test]
    # the sets exactly as POST /v1/classify returns them (Result.prediction_set)
    if alpha != DEFAULT_ALPHA:
        raise SystemExit("the classify path returns sets at the default alpha only")
    results = clf.classify_batch(texts)
    sets = [r.prediction_set for r in results]
    if any(s is None for s in sets):
        raise SystemExit(f"{dataset}: the model has no conformal calibration")
    sizes = np.array([len(s or ()) for s in sets])
    auto = certified_routing(clf)["auto_threshold"]
    inscope = [i for i, t in enumerate(truth) if t != OOS_LABEL]
    covered = [truth[i] in (sets[i] or ()) for i in inscope]
    in_sizes = sizes[inscope]
    single = in_sizes == 1
    in_auto = np.array(
        [auto is not None and results[i].confidence >= auto for i in inscope], dtype=bool
    )
    oos = [i for i, t in enumerate(truth) if t == OOS_LABEL]
    q = clf.engine._conformal.threshold(alpha)
    return {
        "dataset": dataset,
        "alpha": alpha,
        "labels": len(clf.taxonomy.label_names),
        "calibration_n": clf.engine._conformal.n,
        "threshold": q,
        "test_in_scope": len(inscope),
        "coverage": round(float(np.mean(covered)), 4),
        "mean_size": round(float(in_sizes.mean()), 3),
        "median_size": float(np.median(in_sizes)),
        "max_size": int(in_sizes.max()),
        "singleton_share": round(float(single.mean()), 4),
        "empty_share": round(float((in_sizes == 0).mean()), 4),
        "singleton_accuracy": round(
            float(np.mean([c for c, s in zip(covered, single, strict=True) if s])), 4
        )
        if single.any()
        else None,
        "auto_threshold": auto,
        "auto_share": round(float(in_auto.mean()), 4),
        "auto_singleton_share": round(float(single[in_auto].mean()), 4) if in_auto.any() else None,
        "singletons_in_auto": round(float(in_auto[single].mean()), 4) if single.any() else None,
        "oos_mean_size": round(float(sizes[oos].mean()), 3) if oos else None,
        "fit_s": round(fit_s, 1),
    }


def markdown(rows: list[dict[str, Any]], alpha: float, command: str) -> str:
    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    lines = [
        f"**Prediction sets** (split-conformal, alpha {alpha}: target coverage "
        f"{1 - alpha:.2f}; in-scope test texts; sets from the engine's out-of-fold "
        "scores; auto lane: the threshold the service certifies for the model)",
        "",
        "| dataset | labels | test (in-scope) | coverage | mean size | median | max "
        "| singletons | empty | singleton acc. | auto share | auto with singleton set "
        "| singletons in auto | OOS mean size |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        oos = "–" if r["oos_mean_size"] is None else f"{r['oos_mean_size']:.2f}"
        lines.append(
            f"| {r['dataset']} | {r['labels']} | {r['test_in_scope']} | {r['coverage']:.3f} "
            f"| {r['mean_size']:.2f} | {r['median_size']:.0f} | {r['max_size']} "
            f"| {pct(r['singleton_share'])} | {pct(r['empty_share'])} "
            f"| {pct(r['singleton_accuracy'])} "
            f"| {pct(r['auto_share'])} | {pct(r['auto_singleton_share'])} "
            f"| {pct(r['singletons_in_auto'])} "
            f"| {oos} |"
        )
    cov = [r["coverage"] for r in rows]
    lines += [
        "",
        f"Coverage {min(cov):.3f}-{max(cov):.3f} (mean {np.mean(cov):.3f}); mean set size "
        f"{np.mean([r['mean_size'] for r in rows]):.2f}.",
        "",
        f"_{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, `{command}`_",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*", default=list(ALL))
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="write the tables into README.md (between the bench markers)",
    )
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        row = run(name, args.alpha)
        print(json.dumps(row), flush=True)
        rows.append(row)
    write_results("bench_sets", rows)
    cmd = "python -m bench.bench_sets" + (
        f" {' '.join(args.datasets)}" if args.datasets != list(ALL) else ""
    )
    if args.alpha != DEFAULT_ALPHA:
        cmd += f" --alpha {args.alpha}"
    body = markdown(rows, args.alpha, cmd)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(body)
    if args.update_readme:
        update_readme("sets", body)


if __name__ == "__main__":
    main()
