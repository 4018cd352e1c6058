"""Few-label taxonomies: accuracy and calibration with 2, 3 and 5 labels, next to the two
peer baselines on the same items.

    python -m bench.bench_few                     # six datasets, 2/3/5 labels, seeds 0-4
    python -m bench.bench_few --update-readme     # also write the table into README.md
    python -m bench.bench_few --datasets snips --sizes 2 --seeds 0-1 --jobs 2

A team's first taxonomy often has two or three labels (urgent or not; billing, technical,
other).  Each run draws ``k`` labels of a shared dataset (seeded; labels with at least 20
test items), trains on their train items (all of them, or 10 per label) and scores their
test items: triaged through ``Classifier.fit`` as the service trains, TF-IDF + LinearSVC
and logistic regression + temperature on the bundled encoder (``bench.bench_baselines``)
on the same items.  Results go to ``bench/results/few.json``.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from dataclasses import replace
from typing import Any

from bench._common import DATASETS, CachedEncoder, run_parallel, update_readme, write_results

ALL = ("atis", "banking77", "clinc150", "dbpedia14", "snips", "stackoverflow")
SIZES = (2, 3, 5)
MODES = {"full": None, "10-shot": 10}
MIN_TEST = 20  # a drawn label has at least this many test items
UNSEEN = 300  # test items of labels not drawn, sampled: inputs that fit no label
OOS = "oos"


def _draw(dataset: str, k: int, seed: int) -> tuple[Any, list[Any], list[Any], list[Any]]:
    from triaged.evaluation import _read_dataset

    base, train, test = _read_dataset(DATASETS / dataset, False)
    count: dict[str, int] = {}
    for ex in test:
        count[ex.label] = count.get(ex.label, 0) + 1
    pool = sorted(n for n in base.label_names if count.get(n, 0) >= MIN_TEST)
    keep = set(random.Random(seed).sample(pool, k))
    tax = replace(base, labels=tuple(lb for lb in base.labels if lb.name in keep))
    others = [e for e in test if e.label not in keep and e.label != OOS]
    unseen = random.Random(seed).sample(others, min(UNSEEN, len(others)))
    return (
        tax,
        [e for e in train if e.label in keep],
        [e for e in test if e.label in keep],
        unseen,
    )


def few_task(dataset: str, k: int, mode: str, seed: int) -> dict[str, Any]:
    import numpy as np

    from bench.bench_baselines import lr_temperature, tfidf_svc
    from triaged.classifier import Classifier
    from triaged.evaluation import certified_routing, evaluate, sample_per_label

    started = time.perf_counter()
    tax, train, test, unseen = _draw(dataset, k, seed)
    shots = MODES[mode]
    if shots is not None:
        train = sample_per_label(train, shots, seed)
    encoder = CachedEncoder([dataset])
    clf = Classifier.from_taxonomy(tax.with_examples(train), encoder=encoder)
    clf.fit()
    rep = evaluate(
        clf, [e.text for e in test], [e.label for e in test], routing=certified_routing(clf)
    )
    # inputs that fit no drawn label, routed as the service would: the share held for a
    # person (confidence under the review threshold), beside that of right answers
    held = evaluate(
        clf, [e.text for e in unseen], [OOS] * len(unseen), routing=certified_routing(clf)
    )["buckets"]["hold"]["share"]
    names = tax.label_names
    # the baselines see the vectors triaged saw: train as fit embeds, test one text per call
    data = {
        "train_texts": [e.text for e in train],
        "train_X": encoder.embed([e.text for e in train]),
        "train_y": np.asarray([names.index(e.label) for e in train]),
        "test_texts": [e.text for e in test],
        "test_X": encoder.embed([e.text for e in test], batch_size=1),
        "test_y": np.asarray([names.index(e.label) for e in test]),
        "n_labels": len(names),
    }
    return {
        "dataset": dataset,
        "k": k,
        "mode": mode,
        "seed": seed,
        "labels": names,
        "n_train": len(train),
        "n_test": len(test),
        "triaged": {
            "accuracy": rep["accuracy"],
            "ece": rep["ece"],
            "mean_confidence": rep["mean_confidence"],
            "hold_share": rep["buckets"]["hold"]["share"],
            "unseen_held": held,
        },
        "tfidf_svc": tfidf_svc(data),
        "lr_temp": lr_temperature(data, seed),
        "seconds": time.perf_counter() - started,
    }


def _mean(rows: list[dict[str, Any]], *path: str) -> float:
    values = []
    for row in rows:
        v: Any = row
        for key in path:
            v = v[key]
        values.append(float(v))
    return statistics.fmean(values)


def render(results: list[dict[str, Any]], seeds: list[int], minutes: float) -> str:
    lines = [
        "| dataset | labels | mode | accuracy | ECE | max ECE | mean confidence "
        "| held: in-scope | held: unseen "
        "| TF-IDF+SVC acc | LR+T acc | LR+T ECE |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["dataset"], r["k"], r["mode"]), []).append(r)
    n_rows = n_acc = n_ece = 0
    for (ds, k, mode), rows in sorted(groups.items()):
        acc = _mean(rows, "triaged", "accuracy")
        ece = _mean(rows, "triaged", "ece")
        svc = _mean(rows, "tfidf_svc", "accuracy")
        lrt = _mean(rows, "lr_temp", "accuracy")
        n_rows += 1
        n_acc += acc >= max(svc, lrt) - 0.005
        n_ece += ece <= 0.03
        lines.append(
            f"| {ds} | {k} | {mode} | {acc:.3f} | {ece:.3f} "
            f"| {max(r['triaged']['ece'] for r in rows):.3f} "
            f"| {_mean(rows, 'triaged', 'mean_confidence'):.3f} "
            f"| {_mean(rows, 'triaged', 'hold_share'):.3f} "
            f"| {_mean(rows, 'triaged', 'unseen_held'):.3f} | {svc:.3f} | {lrt:.3f} "
            f"| {_mean(rows, 'lr_temp', 'ece'):.3f} |"
        )
    lines += [
        "",
        f"triaged's accuracy is within half a point of the better baseline or above it in "
        f"{n_acc} of {n_rows} rows; its mean ECE is at most 0.03 in {n_ece} of {n_rows}.",
        "",
        f"Mean over seeds {seeds[0]}-{seeds[-1]} (each seed draws its own labels, among those "
        f"with at least {MIN_TEST} test items); max ECE: the worst seed. ECE (15 equal-width "
        "bins) over the drawn labels' test items: a few hundred items per row, so a perfectly "
        "calibrated model shows 0.01-0.02 by chance. Held: the share routed `hold` "
        "(confidence under the default review threshold 0.60) of the drawn labels' test "
        f"items, and of up to {UNSEEN} test items of the dataset's other labels (inputs that "
        "fit no drawn label; no out-of-scope examples are given). Baselines on the same items "
        "(no out-of-scope examples). Measured on "
        f"{platform.machine()} with 2 shared cores in {minutes:.1f} min. Reproduce: "
        "`python -m bench.bench_few --update-readme`.",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default=",".join(ALL))
    ap.add_argument("--sizes", default=",".join(str(k) for k in SIZES))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    tasks = [
        (ds, int(k), mode, seed)
        for ds in args.datasets.split(",")
        for k in args.sizes.split(",")
        for mode in args.modes.split(",")
        for seed in seeds
    ]
    started = time.perf_counter()
    results = run_parallel(few_task, tasks, jobs=args.jobs, label="few-label runs")
    minutes = (time.perf_counter() - started) / 60
    write_results("few", results)
    body = render(results, seeds, minutes)
    print(body)
    if args.update_readme:
        update_readme("few", body)


if __name__ == "__main__":
    main()
