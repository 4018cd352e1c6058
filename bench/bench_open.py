"""Open-intent benchmark (ADB protocol) next to ADB's published figures.

    python -m bench.bench_open                   # 3 datasets x known ratios 0.25, 0.5, 0.75
    python -m bench.bench_open --update-readme   # also write the table into README.md
    python -m bench.bench_open --datasets banking77 --ratios 0.25 --seeds 0 --jobs 2

Protocol (Zhang, Xu & Lin, "Deep Open Intent Classification with Adaptive Decision
Boundary", AAAI 2021), as ``triaged eval DATASET --known-ratio R --seeds 0-4`` runs it: per
seed a random share R of the labels is known; the model is trained on their train items
only; the dataset's own ``oos`` items are left out; every test item of another label is
open, and a decision routed ``hold`` predicts open.  Accuracy and macro-F1 run over the
known labels + open (ADB's "Accuracy" and "F1"); routing uses the auto threshold certified
from the model's held-out evidence (target 0.02 at 95%; out-of-scope expected: the share of
labels left unknown, as ``triaged eval --known-ratio`` does).
Texts are embedded once (``bench/.cache/emb``) and looked up by a caching encoder.
All figures of every run go to ``bench/results/open.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

from bench._common import (
    DATASETS,
    RESULTS,
    CachedEncoder,
    add_routing_args,
    routing_flags,
    routing_options,
    run_parallel,
    update_readme,
    write_results,
)

ALL = ("banking77", "clinc150", "stackoverflow")
RATIOS = (0.25, 0.5, 0.75)
NAMES = {
    "atis": "ATIS",
    "banking77": "Banking77",
    "clinc150": "CLINC150",
    "dbpedia14": "DBpedia-14",
    "snips": "SNIPS",
    "stackoverflow": "StackOverflow",
}

#: ADB (BERT-base fine-tuned), Table 2 of the paper: (accuracy, macro-F1) in %, known+open.
ADB: dict[tuple[str, float], tuple[float, float]] = {
    ("banking77", 0.25): (78.85, 71.62),
    ("banking77", 0.5): (78.86, 80.90),
    ("banking77", 0.75): (81.08, 85.96),
    ("clinc150", 0.25): (87.59, 77.19),
    ("clinc150", 0.5): (86.54, 85.05),
    ("clinc150", 0.75): (86.32, 88.53),
    ("stackoverflow", 0.25): (86.72, 80.83),
    ("stackoverflow", 0.5): (86.40, 85.83),
    ("stackoverflow", 0.75): (82.78, 85.99),
}


def open_task(
    dataset: str, ratio: float, seed: int, shots: int | None, routing: dict[str, float]
) -> dict[str, Any]:
    from triaged.evaluation import run_eval

    started = time.perf_counter()
    rep = run_eval(
        DATASETS / dataset,
        known_ratio=ratio,
        seed=seed,
        shots=shots,
        encoder=CachedEncoder([dataset]),
        **routing,
    )
    rep.pop("reliability", None)
    rep["wall_seconds"] = time.perf_counter() - started
    return rep


def _pct(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "–"
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def summarize(
    runs: list[dict[str, Any]], datasets: list[str], ratios: list[float]
) -> tuple[str, dict[str, Any]]:
    from triaged.evaluation import aggregate_runs

    lines = [
        "| dataset | known | open share of test | accuracy | macro-F1 | open F1 | known F1 "
        "| expected OOS | hold threshold | auto share | auto_error_all (wrong/auto) | ADB acc "
        "| ADB F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cells: dict[str, Any] = {}
    at_least = within3 = compared = 0
    err_ok = err_cells = 0
    for dataset in datasets:
        for ratio in ratios:
            mine = [r for r in runs if r["dataset"] == dataset and r["known_ratio"] == ratio]
            if not mine:
                continue
            agg = aggregate_runs(mine)
            sd = agg["std"] if len(mine) > 1 else {}
            adb = ADB.get((dataset, ratio))
            acc, f1 = 100 * agg["accuracy_open"], 100 * agg["f1_open_macro"]
            if adb:
                compared += 1
                at_least += int(acc >= adb[0] and f1 >= adb[1])
                within3 += int(acc >= adb[0] - 3 and f1 >= adb[1] - 3)
            # pooled over the seeds: wrong auto decisions / auto decisions (a seed whose lane
            # stayed closed adds none of either)
            wrong = sum(int(r.get("auto_wrong", 0)) for r in mine)
            n_auto = sum(int(r.get("auto_count", 0)) for r in mine)
            err = wrong / n_auto if n_auto else 0.0
            opened = sum(int(r.get("auto_count", 0)) > 0 for r in mine)
            lanes = f" ({wrong}/{n_auto}; lane open {opened}/{len(mine)} seeds)"
            err_cells += 1
            limit = 0.03 if ratio >= 0.75 else 0.05
            err_ok += int(err <= limit)  # closed lane: no auto errors at all
            adb_cells = f"{adb[0]:.2f} | {adb[1]:.2f}" if adb else "– | –"
            cells[f"{dataset}@{ratio}"] = {k: v for k, v in agg.items() if k != "runs"}
            lines.append(
                f"| {NAMES.get(dataset, dataset)} | {int(ratio * 100)}% "
                f"| {100 * agg['n_oos'] / agg['n_test']:.0f} "
                f"| {_pct(agg['accuracy_open'], sd.get('accuracy_open'))} "
                f"| {_pct(agg['f1_open_macro'], sd.get('f1_open_macro'))} "
                f"| {_pct(agg['open_f1'], sd.get('open_f1'))} "
                f"| {_pct(agg['known_f1'], sd.get('known_f1'))} "
                f"| {100 * agg['expected_out_of_scope']:.0f} "
                f"| {agg['review_threshold']:.3f} "
                f"| {_pct(agg['auto_share'], sd.get('auto_share'))} "
                f"| {100 * err:.2f}{lanes} "
                f"| {adb_cells} |"
            )
    summary = (
        f"Accuracy and macro-F1 at least ADB's in {at_least} of {compared} cells, within 3 "
        f"points of both in {within3} of {compared}; auto_error_all within its target (0.03 at "
        f"75% known, 0.05 at 25% and 50%; a closed auto lane makes no auto error) in {err_ok} of "
        f"{err_cells}."
    )
    return "\n".join(lines) + "\n\n" + summary, cells


def _routing_text(routing: dict[str, float]) -> str:
    target = routing.get("auto_error_target", 0.02)
    level = routing.get("confidence_level", 0.95)
    pi = routing.get("expected_out_of_scope")
    expected = (
        "the share of labels left unknown expected out of scope"
        if pi is None
        else f"{pi:.0%} out-of-scope expected"
    )
    return f"target {target:g} at {level:.0%}, {expected}"


def main() -> None:
    from triaged.evaluation import parse_seeds

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=list(ALL), choices=list(NAMES))
    parser.add_argument("--ratios", nargs="+", type=float, default=list(RATIOS))
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 (mean ± std over them)")
    parser.add_argument("--shots", type=int, default=None, help="K train items per known label")
    parser.add_argument("--jobs", type=int, default=1, help="processes (the box has 2 cores)")
    add_routing_args(parser)
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument(
        "--from-results",
        action="store_true",
        help="re-render the table from bench/results/open.json instead of running",
    )
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    routing = routing_options(args)
    tasks = [
        (d, r, s, args.shots, routing) for d in args.datasets for r in args.ratios for s in seeds
    ]
    if args.from_results:
        saved = json.loads((RESULTS / "open.json").read_text(encoding="utf-8"))
        runs, wall = saved["runs"], float(saved["wall_seconds"])
    else:
        started = time.perf_counter()
        runs = run_parallel(open_task, tasks, jobs=args.jobs, label="bench_open")
        wall = time.perf_counter() - started
    table, cells = summarize(runs, args.datasets, args.ratios)
    cmd = "python -m bench.bench_open --update-readme"
    if args.seeds != "0-4":
        cmd += f" --seeds {args.seeds}"
    if args.shots:
        cmd += f" --shots {args.shots}"
    cmd += routing_flags(args)
    note = (
        f"\n\nMean ± standard deviation over seeds {args.seeds} (the known labels are drawn "
        "per seed), in %. accuracy and macro-F1 over the known labels + open, a held decision "
        "predicting open (ADB's protocol and metrics); open F1 and known F1: F1 of the open "
        "class and macro-F1 over the known labels; hold threshold (mean over the seeds): "
        "chosen by the service from the model's held-out evidence to make the most act-or-hold "
        "decisions right for the expected out-of-scope share (`triaged.routing_hold`; never "
        "below 0.60); auto share: share of all test decisions "
        "routed to auto, with the auto threshold certified from the model's held-out evidence "
        f"({_routing_text(routing)}: an operator whose taxonomy covers a quarter of the "
        "intents expects most traffic to fit none); auto_error_all: wrong auto decisions / "
        "auto decisions pooled over the seeds, open items counted as wrong (0 when the lane "
        "stayed closed: a closed lane makes no auto error). ADB "
        "columns: BERT-base fine-tuned, as published (AAAI 2021). "
        f"Measured on {platform.machine()} with 2 shared cores in {wall / 60:.1f} min. "
        f"Reproduce: `{cmd}`."
    )
    print(table + note)
    if args.from_results:
        if args.update_readme:
            update_readme("open", table + note)
        return
    path = write_results(
        "open",
        {"wall_seconds": wall, "tasks": [list(t) for t in tasks], "cells": cells, "runs": runs},
    )
    print(f"\n{len(runs)} runs in {wall:.0f}s; all figures in {path}")
    if args.update_readme:
        update_readme("open", table + note)


if __name__ == "__main__":
    main()
