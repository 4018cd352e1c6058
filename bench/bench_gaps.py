"""Gap discovery on every shared dataset (issue 13): remove labels, classify, mine the log.

    python -m bench.bench_gaps                         # 6 datasets x seeds 0-2, markdown
    python -m bench.bench_gaps --datasets atis snips --seeds 0
    python -m bench.bench_gaps --grid default          # one setting only
    python -m bench.bench_gaps --timing                # 5,000 decisions, real encoder
    python -m bench.bench_gaps --update-readme         # also write README.md (bench:gaps)

For each dataset and seed, a random 10-15% of the labels (at least one; only labels with
at least ``MIN_TEST`` test texts, so that a removed label can leave a cluster of 5) are
removed from the taxonomy; a classifier is fitted on the rest of ``train.jsonl`` (out-of-
scope examples included), the whole test split is classified and bucketed by the auto
threshold the service certifies for the model (:func:`bench.bench_insights.classify_routed`,
as ``POST /v1/classify`` routes), and :func:`triaged.insights.compute_insights` mines the
decisions.  Scored per run:

* **recovered**: a removed label is recovered when the gap cluster holding most of its
  texts has purity >= 0.8 and at least 5 members;
* **clusters per removed label**: gap clusters whose majority is that label;
* **false gap clusters**: gap clusters whose majority is a label the taxonomy still has;
* **name quality**: share of recovered clusters whose proposed name shares a content
  word (stemmed) with the removed label's name or description;
* **unclustered share**: the share of gap candidates left in no cluster;
* the insights time (candidate and example embeddings come from the bench cache).

The classified decisions are cached in ``bench/.cache/gaps`` (a second run re-runs only
insights; delete the folder after an engine change).  Parameters (``--grid``) are chosen
leave-one-dataset-out: for each dataset, the reported grid point is chosen on the *other*
datasets (:func:`lodo`: the point meeting the acceptance's per-dataset bars, recovery >= 70%
and fewer false gap clusters than removed labels, on the most other datasets, then the best
mean recovery there).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import DATASETS, ROOT, CachedEncoder, update_readme, write_results
from bench.bench_insights import classify_routed, records_from_results
from bench.embed_cache import ALL
from triaged.classifier import Classifier
from triaged.insights import DecisionRecord, InsightsConfig, compute_insights
from triaged.insights.keywords import stop_words
from triaged.taxonomy import OOS_LABEL, Taxonomy, read_jsonl

PURITY, MIN_SIZE, MIN_TEST = 0.8, 5, 10
CACHE = ROOT / "bench" / ".cache" / "gaps"

#: Insights settings tried (leave-one-dataset-out picks one per dataset).
GRID: dict[str, dict[str, Any]] = {
    "default": {},
    "no term gaps": {"term_alpha": None},
    "no familiar vouching": {"vouch_familiar": None},
    "familiar-0.5": {"vouch_familiar": 0.5},
    "familiar-0.25": {"vouch_familiar": 0.25},
    "keep vouched members": {"shed_vouched": False},
    "previous default": {"inside_quantile": None, "vouch_cover": None},
    "scale inside": {"inside_quantile": None},
    "no vouch cover": {"vouch_cover": None},
    "vouch-cover-0.1": {"vouch_cover": 0.1},
    "explained-q0.25": {"explained_quantile": 0.25},
    "explained-q0.5": {"explained_quantile": 0.5},
    "no vouching": {"vouch_share": None},
    "before (issue 13)": {
        "explained_quantile": None,
        "merge": False,
        "reference_budget": 0,
        "min_report_size": 1,
        "vouch_share": None,
        "inside_quantile": None,
    },
}
#: The issue's per-dataset bar on recovery, used by :func:`lodo` to choose settings.
BAR_RECOVERY = 0.7
#: Earlier defaults, shown for reference in the grid table; never chosen by LODO.
REFERENCE = ("before (issue 13)",)


def removed_labels(dataset: str, seed: int) -> list[str]:
    root = DATASETS / dataset
    names = Taxonomy.from_dataset_dir(root, split="none").label_names
    counts = Counter(e.label for e in read_jsonl(root / "test.jsonl"))
    eligible = sorted(n for n in names if counts[n] >= MIN_TEST)
    rng = random.Random(f"{dataset}-{seed}")
    share = 0.10 + 0.05 * rng.random()
    k = max(1, round(share * len(names)))
    return sorted(rng.sample(eligible, min(k, len(eligible))))


def classified(dataset: str, seed: int) -> dict[str, Any]:
    """The run's decisions (cached): taxonomy minus the removed labels, test classified."""
    path = CACHE / f"{dataset}-{seed}.json"
    if path.exists():
        return dict(json.loads(path.read_text(encoding="utf-8")))
    root = DATASETS / dataset
    removed = removed_labels(dataset, seed)
    base = Taxonomy.from_dataset_dir(root)
    tax = Taxonomy(
        name=f"{dataset}-gaps",
        labels=tuple(lb for lb in base.labels if lb.name not in removed),
        out_of_scope=base.out_of_scope,
    )
    enc = CachedEncoder([dataset])
    started = time.perf_counter()
    clf = Classifier.from_taxonomy(tax, encoder=enc).fit()  # type: ignore[arg-type]
    fit_s = time.perf_counter() - started
    test = list(read_jsonl(root / "test.jsonl"))
    texts = [e.text for e in test]
    results, auto = classify_routed(clf, texts)
    records = records_from_results(results, texts)
    out = {
        "dataset": dataset,
        "seed": seed,
        "removed": removed,
        "labels": [lb.to_dict() for lb in base.labels],
        "auto_threshold": auto,
        "fit_s": round(fit_s, 1),
        "truth": [e.label for e in test],
        "records": [
            {
                "text": r.text,
                "label": r.label,
                "confidence": r.confidence,
                "bucket": r.bucket,
                "alternatives": [list(a) for a in r.alternatives],
                "id": r.id,
                "prediction_set": r.prediction_set,
            }
            for r in records
        ],
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out), encoding="utf-8")
    return out


_WORD = re.compile(r"[a-z]+")


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Stemmed content words of a label name or description (``card_arrival``, ``PlayMusic``)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").lower()
    return {_stem(w) for w in _WORD.findall(spaced) if w not in stop_words() and len(w) > 2}


def score(run: dict[str, Any], cfg: InsightsConfig, enc: CachedEncoder) -> dict[str, Any]:
    """Insights over the run's decisions, scored against the removed labels."""
    removed = run["removed"]
    truth = run["truth"]
    root = DATASETS / run["dataset"]
    base = Taxonomy.from_dataset_dir(root)
    tax = Taxonomy(
        name=f"{run['dataset']}-gaps",
        labels=tuple(lb for lb in base.labels if lb.name not in removed),
    )
    records = [DecisionRecord.from_mapping(r) for r in run["records"]]
    started = time.perf_counter()
    report = compute_insights(records, tax, encoder=enc, config=cfg).to_dict()  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    clusters = report["gap_clusters"]
    majority = []
    for c in clusters:
        label, k = Counter(truth[int(d)] for d in c["decision_ids"]).most_common(1)[0]
        majority.append((label, k / c["size"]))
    descriptions = {lb["name"]: lb.get("description", "") for lb in run["labels"]}
    rows = []
    for intent in removed:
        best: tuple[dict[str, Any], int] | None = None
        for c in clusters:
            k = sum(1 for d in c["decision_ids"] if truth[int(d)] == intent)
            if k and (best is None or k > best[1]):
                best = (c, k)
        row: dict[str, Any] = {
            "intent": intent,
            "test": sum(1 for t in truth if t == intent),
            "candidates": sum(
                1
                for r, t in zip(records, truth, strict=True)
                if t == intent and r.bucket in cfg.gap_buckets
            ),
            "clusters": sum(1 for lb, _ in majority if lb == intent),
            "found": False,
        }
        if best is not None:
            c, k = best
            words = content_words(intent) | content_words(descriptions.get(intent, ""))
            row.update(
                size=c["size"],
                purity=round(k / c["size"], 3),
                name=c["proposed_label"],
                name_ok=bool(content_words(c["proposed_label"]) & words),
            )
            row["found"] = k / c["size"] >= PURITY and c["size"] >= MIN_SIZE
        rows.append(row)
    kept = set(tax.label_names)
    found = [r for r in rows if r["found"]]
    return {
        "dataset": run["dataset"],
        "seed": run["seed"],
        "removed": len(removed),
        "recovered": len(found),
        "recovered_share": len(found) / len(removed),
        "clusters_per_removed": float(np.mean([r["clusters"] for r in rows])),
        "false_clusters": sum(1 for lb, _ in majority if lb in kept),
        "oos_clusters": sum(1 for lb, _ in majority if lb == OOS_LABEL),
        "gap_clusters": len(clusters),
        "candidates": report["summary"]["gap_candidates"],
        "unclustered_share": report["summary"]["gap_noise_share"],
        "name_quality": (sum(r["name_ok"] for r in found) / len(found)) if found else None,
        "insights_s": round(elapsed, 2),
        "decisions": len(records),
        "rows": rows,
    }


def _per_dataset(runs: list[dict[str, Any]], datasets: list[str]) -> dict[str, tuple[float, ...]]:
    """Per dataset with runs: (mean recovery, mean false gap clusters per run, mean removed
    labels per run, mean false gap clusters per removed label) over its seeds."""
    out: dict[str, tuple[float, ...]] = {}
    for ds in datasets:
        rs = [r for r in runs if r["dataset"] == ds]
        if rs:
            out[ds] = (
                float(np.mean([r["recovered_share"] for r in rs])),
                float(np.mean([r["false_clusters"] for r in rs])),
                float(np.mean([r["removed"] for r in rs])),
                float(np.mean([r["false_clusters"] / r["removed"] for r in rs])),
            )
    return out


def lodo(results: dict[str, list[dict[str, Any]]], datasets: list[str]) -> dict[str, str]:
    """For each dataset, a grid point chosen on the *other* datasets, by the acceptance's
    own per-dataset bars (recovery >= ``BAR_RECOVERY``, fewer false gap clusters than
    removed labels): the point that meets both on the most other datasets, then the best
    mean recovery there, then the fewest false gap clusters per removed label there.
    The ``REFERENCE`` settings are not candidates (when only they were run, they are)."""
    choice = {}
    names = [n for n in results if n not in REFERENCE] or list(results)
    for held in datasets:
        others = [d for d in datasets if d != held]
        stats = {n: _per_dataset(results[n], others) for n in names}

        def key(
            n: str, stats: dict[str, dict[str, tuple[float, ...]]] = stats
        ) -> tuple[float, ...]:
            per = stats[n].values()
            meets = sum(1 for rec, f, rm, _ in per if rec >= BAR_RECOVERY - 1e-9 and f < rm)
            recs = [v[0] for v in per] or [0.0]
            per_removed = [v[3] for v in per] or [0.0]
            return (-meets, -round(float(np.mean(recs)), 6), float(np.mean(per_removed)))

        choice[held] = min(names, key=key)
    return choice


def markdown(runs: list[dict[str, Any]], choice: dict[str, str], command: str) -> str:
    lines = [
        "| dataset | params (LODO) | removed / run | recovered | clusters per removed "
        "| false gap clusters | unclustered share | name quality | insights s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    per: list[float] = []
    for ds in choice:
        rs = [r for r in runs if r["dataset"] == ds]
        if not rs:
            continue
        rec = float(np.mean([r["recovered_share"] for r in rs]))
        per.append(rec)
        names = [r["name_quality"] for r in rs if r["name_quality"] is not None]
        lines.append(
            f"| {ds} | {choice[ds]} | {np.mean([r['removed'] for r in rs]):.1f} "
            f"| {100 * rec:.0f}% ({sum(r['recovered'] for r in rs)}/"
            f"{sum(r['removed'] for r in rs)}) "
            f"| {np.mean([r['clusters_per_removed'] for r in rs]):.2f} "
            f"| {np.mean([r['false_clusters'] for r in rs]):.1f} "
            f"| {np.mean([r['unclustered_share'] for r in rs]):.2f} "
            f"| {'–' if not names else f'{100 * np.mean(names):.0f}%'} "
            f"| {np.mean([r['insights_s'] for r in rs]):.1f} |"
        )
    lines += [
        "",
        f"Mean recovery over datasets: **{100 * np.mean(per):.0f}%** (min "
        f"{100 * min(per):.0f}%). Seeds: "
        f"{sorted({r['seed'] for r in runs})}.",
        "",
        f"_{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, `{command}`_",
    ]
    return "\n".join(lines)


def grid_markdown(results: dict[str, list[dict[str, Any]]], datasets: list[str]) -> str:
    """Recovery (and false gap clusters) of every grid point per dataset."""
    lines = [
        "| settings | " + " | ".join(datasets) + " | mean |",
        "| --- |" + " --- |" * (len(datasets) + 1),
    ]
    for name, runs in results.items():
        cells, per = [], []
        for ds in datasets:
            rs = [r for r in runs if r["dataset"] == ds]
            rec = float(np.mean([r["recovered_share"] for r in rs]))
            per.append(rec)
            cells.append(f"{100 * rec:.0f}% / {np.mean([r['false_clusters'] for r in rs]):.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {100 * np.mean(per):.0f}% |")
    return "\n".join(lines)


def timing(dataset: str, seed: int) -> dict[str, Any]:
    """Insights on the run's decisions with the real encoder, as ``triaged insights`` runs
    them: the service hands over the active model's stored example vectors (the taxonomy's
    examples are not embedded again; here the cached vectors of the train split stand in for
    them), so only the gap candidates are embedded.  The same call without them (every
    sampled example embedded too) runs in the same process for the ratio."""
    from triaged.encoders import get_encoder

    run = classified(dataset, seed)
    base = Taxonomy.from_dataset_dir(DATASETS / dataset)
    tax = Taxonomy(
        name="timing", labels=tuple(lb for lb in base.labels if lb.name not in run["removed"])
    )
    records = [DecisionRecord.from_mapping(r) for r in run["records"]][:5000]
    examples = [e.text for e in tax.examples()]
    known = dict(zip(examples, CachedEncoder([dataset]).embed(examples), strict=True))
    enc = get_encoder()
    enc.embed(["warm up"])
    out: dict[str, Any] = {"dataset": dataset, "decisions": len(records)}
    for name, kwargs in (("service", {"known_vectors": known}), ("examples_embedded", {})):
        started = time.perf_counter()
        report = compute_insights(records, tax, encoder=enc, **kwargs).to_dict()  # type: ignore[arg-type]
        out[f"seconds_{name}"] = round(time.perf_counter() - started, 2)
        out[f"timings_{name}"] = report["timings"]
    out["candidates"] = report["summary"]["gap_candidates"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="*", default=list(ALL))
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--grid", nargs="*", default=list(GRID))
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--update-readme",
        action="store_true",
        help="write the tables into README.md (between the bench markers)",
    )
    parser.add_argument(
        "--timing", action="store_true", help="only: insights on 5,000 CLINC150 decisions"
    )
    args = parser.parse_args()
    if args.timing:
        print(json.dumps(timing("clinc150", 0)))
        return
    runs_in = [classified(ds, s) for ds in args.datasets for s in args.seeds]
    enc = CachedEncoder(args.datasets)
    results: dict[str, list[dict[str, Any]]] = {}
    for name in args.grid:
        cfg = InsightsConfig(**GRID[name])
        results[name] = []
        for run in runs_in:
            res = score(run, cfg, enc)
            print(
                json.dumps({k: v for k, v in res.items() if k != "rows"} | {"grid": name}),
                flush=True,
            )
            results[name].append(res)
    choice = lodo(results, args.datasets)
    chosen = [r for ds in args.datasets for r in results[choice[ds]] if r["dataset"] == ds]
    write_results("bench_gaps", {"choice": choice, "results": results})
    cmd = "python -m bench.bench_gaps"
    if args.datasets != list(ALL):
        cmd += " --datasets " + " ".join(args.datasets)
    if args.seeds != [0, 1, 2]:
        cmd += " --seeds " + " ".join(map(str, args.seeds))
    if args.json:
        print(json.dumps(chosen, indent=1, default=str))
    body = "\n\n".join(
        [
            markdown(chosen, choice, cmd),
            "Recovered share / false gap clusters per run, every setting tried:",
            grid_markdown(results, args.datasets),
        ]
    )
    print(body)
    if args.update_readme:
        update_readme("gaps", body)


if __name__ == "__main__":
    Path(CACHE).mkdir(parents=True, exist_ok=True)
    main()
