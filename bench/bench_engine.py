"""Accuracy, calibration and out-of-scope figures of the engine on the shared datasets.

    python -m bench.bench_engine                 # all datasets and modes, markdown table
    python -m bench.bench_engine --update-readme # also write the table into README.md
    python -m bench.bench_engine --only banking77 --json

Each row is one `triaged eval` run: train on train.jsonl (all, K per label, or
none = zero-shot), calibrate without test.jsonl, evaluate on test.jsonl.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from rich.progress import track

from bench._common import DATASETS, update_readme
from triaged.evaluation import run_eval

RUNS: list[tuple[str, str, int | None]] = [
    ("banking77", "full", None),
    ("banking77", "10-shot", 10),
    ("banking77", "zero-shot", 0),
    ("clinc150", "full", None),
    ("clinc150", "10-shot", 10),
    ("clinc150", "zero-shot", 0),
    ("snips", "full", None),
    ("snips", "10-shot", 10),
    ("snips", "zero-shot", 0),
]


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--only", action="append", help="dataset name(s) to run")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = [r for r in RUNS if not args.only or r[0] in args.only]
    rows = []
    for name, mode, shots in track(runs, description="evaluating", transient=True):
        started = time.perf_counter()
        rep = run_eval(DATASETS / name, shots=shots or None, zero_shot=shots == 0, seed=args.seed)
        rep["wall_seconds"] = time.perf_counter() - started
        rep["mode_label"] = mode
        rep.pop("reliability", None)
        rows.append(rep)
        if args.json:
            print(json.dumps(rep))
    header = (
        "| dataset | mode | accuracy | macro-F1 | ECE | auto share / acc | review share / acc "
        "| hold share | OOS held | in-scope held | OOS AUROC | train s | texts/s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for r in rows:
        b = r["buckets"]
        lines.append(
            f"| {r['dataset']} | {r['mode_label']} | {fmt(r['accuracy'])} | {fmt(r['macro_f1'])} "
            f"| {fmt(r['ece'])} | {fmt(b['auto']['share'], 2)} / {fmt(b['auto']['accuracy'])} "
            f"| {fmt(b['review']['share'], 2)} / {fmt(b['review']['accuracy'])} "
            f"| {fmt(b['hold']['share'], 2)} | {fmt(r.get('oos_hold_rate'))} "
            f"| {fmt(r.get('in_scope_hold_rate'))} | {fmt(r.get('oos_auroc'))} "
            f"| {fmt(r['train_seconds'], 1)} | {fmt(r['classify_texts_per_second'], 0)} |"
        )
    table = "\n".join(lines)
    clinc_all = ", ".join(
        fmt(r["ece_all"]) for r in rows if r["dataset"] == "clinc150" and r["mode_label"] == "full"
    )
    note = (
        f"\n\nMeasured on {platform.machine()} with 2 cores, seed {args.seed}. "
        "ECE uses 15 equal-width bins over in-scope test items"
        + (
            f" (counting every out-of-scope item as wrong, CLINC150 full: {clinc_all})"
            if clinc_all
            else ""
        )
        + ". OOS held = share of out-of-scope test items routed to hold. texts/s = classify one "
        "text at a time, encoder included, on a machine shared with other jobs. "
        "Reproduce: `python -m bench.bench_engine --update-readme`."
    )
    if not args.json:
        print(table + note)
    if args.update_readme:
        update_readme("engine", table + note)


if __name__ == "__main__":
    main()
