"""Closed-set accuracy, calibration and auto-lane figures of the engine on the shared datasets,
next to two peer baselines run in the same process (``bench.bench_baselines``).

    python -m bench.bench_engine                  # six datasets, full / 10-shot / zero-shot
    python -m bench.bench_engine --update-readme  # also write the table into README.md
    python -m bench.bench_engine --datasets snips --modes 10-shot --seeds 0-2 --jobs 2

Each triaged row is one ``triaged eval`` run (train on train.jsonl: all, 10 per label or
none; calibrate without test.jsonl; evaluate on test.jsonl; route with the auto threshold
certified from the model's held-out evidence, as the service would).  Texts are embedded
once, in ``bench/.cache/emb`` (``bench.embed_cache``), and looked up by a caching encoder.
Results (every figure of every run) go to ``bench/results/engine.json``.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

from bench._common import (
    DATASETS,
    CachedEncoder,
    add_routing_args,
    routing_flags,
    routing_options,
    run_parallel,
    update_readme,
    write_results,
)

ALL = ("atis", "banking77", "clinc150", "dbpedia14", "snips", "stackoverflow")
MODES = {"full": None, "10-shot": 10, "zero-shot": 0}


def engine_task(
    dataset: str, mode: str, seed: int, routing: dict[str, float] | None = None
) -> dict[str, Any]:
    from triaged.evaluation import run_eval

    shots = MODES[mode]
    started = time.perf_counter()
    rep = run_eval(
        DATASETS / dataset,
        shots=shots or None,
        zero_shot=shots == 0,
        seed=seed,
        encoder=CachedEncoder([dataset]),
        **(routing or {}),
    )
    rep.pop("reliability", None)
    rep["wall_seconds"] = time.perf_counter() - started
    return {"kind": "triaged", "dataset": dataset, "mode": mode, "seed": seed, "report": rep}


def baseline_task(dataset: str, mode: str, seed: int) -> dict[str, Any]:
    from bench.bench_baselines import run_baselines

    started = time.perf_counter()
    row = run_baselines(dataset, mode, seed)
    row["wall_seconds"] = time.perf_counter() - started
    return {"kind": "baselines", "dataset": dataset, "mode": mode, "seed": seed, "report": row}


def _task(
    kind: str, dataset: str, mode: str, seed: int, routing: dict[str, float]
) -> dict[str, Any]:
    if kind == "triaged":
        return engine_task(dataset, mode, seed, routing)
    return baseline_task(dataset, mode, seed)


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cell(mean: float | None, std: float | None, digits: int = 3) -> str:
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std else "")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(results: list[dict[str, Any]], datasets: list[str], modes: list[str]) -> str:
    from triaged.evaluation import aggregate_runs

    lines = [
        "| dataset | mode | accuracy | macro-F1 | ECE | auto threshold | auto share "
        "| auto_error_all | hold threshold | in-scope held | OOS held | TF-IDF+SVC acc "
        "| LR+T acc | LR+T ECE | train s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    beats = ece_ok = compared = 0
    sources: set[str] = set()
    for dataset in datasets:
        for mode in modes:
            ours = [r["report"] for r in results if r["kind"] == "triaged"]
            ours = [r for r in ours if r["dataset"] == dataset and _mode(r) == mode]
            base = [
                r["report"]
                for r in results
                if r["kind"] == "baselines" and r["dataset"] == dataset and r["mode"] == mode
            ]
            if not ours:
                continue
            agg = aggregate_runs(ours)
            sd = agg["std"]
            sources.add(str(agg.get("auto_threshold_source")))
            svc = [b["tfidf_svc"]["accuracy"] for b in base]
            lr = [b["lr_temp"]["accuracy"] for b in base]
            lr_ece = [b["lr_temp"]["ece"] for b in base]
            if base:
                compared += 1
                beats += int(agg["accuracy"] >= max(_mean(svc), _mean(lr)))
                ece_ok += int(agg["ece"] is not None and agg["ece"] <= 0.03)
            lines.append(
                f"| {dataset} | {mode} | {_cell(agg['accuracy'], sd.get('accuracy'))} "
                f"| {_cell(agg['macro_f1'], sd.get('macro_f1'))} "
                f"| {_cell(agg['ece'], sd.get('ece'))} "
                f"| {fmt(agg.get('auto_threshold'), 2)} "
                f"| {_cell(agg['auto_share'], sd.get('auto_share'), 2)} "
                f"| {_cell(agg.get('auto_error_all'), sd.get('auto_error_all'))} "
                f"| {fmt(agg.get('review_threshold'), 3)} "
                f"| {fmt(agg.get('in_scope_hold_rate'))} "
                f"| {fmt(agg.get('oos_hold_rate'))} "
                f"| {fmt(_mean(svc))} | {fmt(_mean(lr))} | {fmt(_mean(lr_ece))} "
                f"| {fmt(agg['train_seconds'], 1)} |"
            )
    clinc = [
        r["report"]
        for r in results
        if r["kind"] == "triaged" and r["dataset"] == "clinc150" and r["mode"] == "full"
    ]
    notes = [
        f"triaged's accuracy is at least both baselines' in {beats} of {compared} rows and its "
        f"ECE is at most 0.03 in {ece_ok} of {compared}."
    ]
    if clinc:
        c = aggregate_runs(clinc)
        notes.append(
            f"CLINC150 full, its 1,000 out-of-scope test items included: auto share "
            f"{c['auto_share']:.3f}, auto_error_all {fmt(c.get('auto_error_all'))} "
            f"({fmt(c.get('auto_oos_count'), 0)} out-of-scope items in auto), "
            f"ECE counting every out-of-scope item as wrong {fmt(c.get('ece_all'))}."
        )
    if sources != {"certified"}:
        notes.append(
            f"Auto threshold source: {', '.join(sorted(sources))} (taxonomy = the fixed 0.85 "
            "threshold, used where no routing evidence could be certified from)."
        )
    return "\n".join(lines) + "\n\n" + " ".join(notes)


def _mode(rep: dict[str, Any]) -> str:
    if rep.get("zero_shot"):
        return "zero-shot"
    return "full" if rep.get("shots") is None else f"{rep['shots']}-shot"


def main() -> None:
    from triaged.evaluation import parse_seeds

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=list(ALL), choices=ALL)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--seeds", default="0", help="seeds of the 10-shot draws, e.g. 0-4")
    parser.add_argument("--jobs", type=int, default=1, help="processes (the box has 2 cores)")
    parser.add_argument("--no-baselines", action="store_true")
    add_routing_args(parser)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    routing = routing_options(args)
    tasks: list[tuple[str, str, str, int, dict[str, float]]] = []
    for dataset in args.datasets:
        for mode in args.modes:
            # full and zero-shot runs draw nothing: one run whatever the seeds
            for seed in seeds if mode == "10-shot" else seeds[:1]:
                tasks.append(("triaged", dataset, mode, seed, routing))
                if mode != "zero-shot" and not args.no_baselines:
                    tasks.append(("baselines", dataset, mode, seed, routing))
    started = time.perf_counter()
    results = run_parallel(_task, tasks, jobs=args.jobs, label="bench_engine")
    wall = time.perf_counter() - started
    table = summarize(results, args.datasets, args.modes)
    seeds_txt = args.seeds if len(seeds) > 1 else str(seeds[0])
    cmd = "python -m bench.bench_engine --update-readme"
    if len(seeds) > 1:
        cmd += f" --seeds {args.seeds}"
    cmd += routing_flags(args)
    target = routing.get("auto_error_target", 0.02)
    level = routing.get("confidence_level", 0.95)
    pi = routing.get("expected_out_of_scope", 0.2)
    note = (
        f"\n\nMeasured on {platform.machine()} with 2 shared cores, 10-shot seed(s) "
        f"{seeds_txt}{' (mean ± std)' if len(seeds) > 1 else ''}; the whole run took "
        f"{wall / 60:.1f} min. Accuracy, macro-F1 and ECE (15 equal-width bins) over in-scope "
        "test items. auto threshold: the lowest one whose upper confidence bound on the auto "
        f"lane's error (target {target:g} at {level:.0%}, {pi:.0%} out-of-scope expected) the "
        "model's held-out "
        "evidence certifies (the out-of-scope share above it bounded by held-out label, so a "
        "taxonomy of few labels needs reviews to open its lane); – = auto lane closed. "
        "auto_error_all: share of auto decisions that are wrong, out-of-scope items counted "
        "as wrong (0 with a closed lane). hold threshold: chosen from the same evidence to "
        f"make the most act-or-hold decisions right with {pi:.0%} of traffic expected out of "
        "scope (never below the taxonomy's 0.60); in-scope held: share of in-scope test "
        "items held for a person before any action. OOS held: share of out-of-scope "
        "test items routed to hold. Baselines (`bench/bench_baselines.py`, same run, same "
        "training items, no oos examples): TF-IDF word 1-2 + char 2-5 grams with a LinearSVC; "
        "logistic regression on the bundled encoder's embeddings with one temperature fitted "
        f"on out-of-fold training logits. Reproduce: `{cmd}`."
    )
    print(table + note)
    path = write_results(
        "engine", {"wall_seconds": wall, "tasks": [list(t) for t in tasks], "results": results}
    )
    print(f"\n{len(results)} runs in {wall:.0f}s; all figures in {path}")
    if args.update_readme:
        update_readme("engine", table + note)


if __name__ == "__main__":
    main()
