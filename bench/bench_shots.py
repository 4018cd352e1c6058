"""Few examples per label: accuracy and calibration with 2, 3 and 5 examples of every label
of the six shared datasets, next to the two peer baselines on the same items.

    python -m bench.bench_shots                  # six datasets, 2/3/5 per label, seeds 0-4
    python -m bench.bench_shots --update-readme  # also write the table into README.md
    python -m bench.bench_shots --datasets snips --shots 2 --seeds 0-1

A team that names its categories and gives each two or three examples is the most common
start.  Each run is ``triaged eval DATASET --shots K --seed S`` (the same draw as the
baselines': ``bench.bench_baselines``), every label of the dataset, scored on its whole test
split.  Results go to ``bench/results/shots.json``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

from bench._common import DATASETS, CachedEncoder, run_parallel, update_readme, write_results

ALL = ("atis", "banking77", "clinc150", "dbpedia14", "snips", "stackoverflow")
SHOTS = (2, 3, 5)


def _task(dataset: str, shots: int, seed: int) -> dict[str, Any]:
    from bench.bench_baselines import _split, lr_temperature, tfidf_svc
    from triaged.evaluation import run_eval

    rep = run_eval(DATASETS / dataset, shots=shots, seed=seed, encoder=CachedEncoder([dataset]))
    data = _split(dataset, shots, seed)
    return {
        "dataset": dataset,
        "shots": shots,
        "seed": seed,
        "accuracy": rep["accuracy"],
        "ece": rep["ece"],
        "mean_confidence_in_scope": rep["mean_confidence_in_scope"],
        "tfidf_svc": tfidf_svc(data),
        "lr_temp": lr_temperature(data, seed),
    }


def summarize(rows: list[dict[str, Any]], datasets: list[str], shots: list[int]) -> str:
    lines = [
        "| dataset | examples per label | accuracy | ECE | max ECE | mean confidence "
        "| TF-IDF+SVC acc | LR+T acc | LR+T ECE |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ok = better = n = 0
    for dataset in datasets:
        for k in shots:
            got = [r for r in rows if r["dataset"] == dataset and r["shots"] == k]
            if not got:
                continue

            def mean(key: str, sub: str | None = None, got: list[dict[str, Any]] = got) -> float:
                return statistics.fmean(r[key][sub] if sub else r[key] for r in got)

            ece, lr_ece = mean("ece"), mean("lr_temp", "ece")
            n += 1
            ok += int(ece <= 0.05)
            better += int(ece <= lr_ece)
            lines.append(
                f"| {dataset} | {k} | {mean('accuracy'):.3f} | {ece:.3f} "
                f"| {max(r['ece'] for r in got):.3f} | {mean('mean_confidence_in_scope'):.3f} "
                f"| {mean('tfidf_svc', 'accuracy'):.3f} | {mean('lr_temp', 'accuracy'):.3f} "
                f"| {lr_ece:.3f} |"
            )
    return "\n".join(lines) + (
        f"\n\ntriaged's mean ECE is at most 0.05 in {ok} of {n} rows and at most the "
        f"calibrated baseline's (LR+T) in {better} of {n}."
    )


def main() -> None:
    from triaged.evaluation import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=list(ALL), choices=ALL)
    ap.add_argument("--shots", default=",".join(str(k) for k in SHOTS))
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    shots = [int(k) for k in args.shots.split(",")]
    tasks = [(d, k, s) for d in args.datasets for k in shots for s in parse_seeds(args.seeds)]
    started = time.perf_counter()
    rows = run_parallel(_task, tasks, jobs=args.jobs, label="bench_shots")
    wall = time.perf_counter() - started
    table = summarize(rows, args.datasets, shots)
    note = (
        f"\n\nMean over seeds {args.seeds} (each draws its own examples); max ECE: the worst "
        "seed. Every label of the dataset, its whole test split (in-scope items; 15 "
        "equal-width bins). Baselines on the same examples: TF-IDF word 1-2 + char 2-5 "
        "grams with a LinearSVC, logistic regression on the bundled encoder with one "
        "temperature fitted on out-of-fold logits. Measured on "
        f"{platform.machine()} with 2 shared cores in {wall / 60:.1f} min. Reproduce: "
        "`python -m bench.bench_shots --update-readme`."
    )
    print(table + note)
    write_results("shots", {"wall_seconds": wall, "rows": rows})
    if args.update_readme:
        update_readme("shots", table + note)


if __name__ == "__main__":
    main()
