"""Acceptance experiments of taxonomy insights, on full datasets through the library Classifier.

    python -m bench.bench_insights                       # all three experiments, markdown
    python -m bench.bench_insights --only gap --seed 0   # one experiment
    python -m bench.bench_insights --json                # machine-readable results
    python -m bench.bench_insights --sweep 0-7           # gap discovery for seeds 0..7 too
    python -m bench.bench_insights --update-readme       # also write the tables into README.md

* **gap**: a CLINC150 taxonomy with 10 intents removed at random (``--seed``), trained
  on the rest of train.jsonl plus its out-of-scope examples; the whole test split
  (removed intents and 1,000 out-of-scope texts included) is classified and insights
  run over the decisions.  A removed intent is *found* when the gap cluster holding
  most of its texts has purity >= 0.8 (share of the cluster's texts from that intent).
  Target: >= 8 of 10.  The same decisions are also clustered with held items only.
* **split**: one CLINC150 intent (chosen by ``--seed``) split at random into two labels
  with near-identical descriptions; target: that pair ranks first among overlaps.
* **banking**: Banking77 trained on train.jsonl, test.jsonl classified, a scripted
  reviewer resolving the held and flagged decisions with the true labels; the top
  overlapping pairs with their evidence, next to how often the test labels confuse them.

The insights time (embedding of the candidates and of the examples sample included)
is measured per run; target < 30 s on 2 cores for the CLINC150 simulation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import DATASETS, update_readme
from triaged.classifier import Classifier, Result
from triaged.evaluation import certified_routing
from triaged.insights import DecisionRecord, InsightsConfig, compute_insights
from triaged.routing import Bucket
from triaged.taxonomy import OOS_LABEL, Example, Label, Taxonomy, read_jsonl

PURITY = 0.8


def records_from_results(
    results: list[Result],
    texts: list[str],
    truth: list[str] | None = None,
    review_buckets: tuple[str, ...] = (),
) -> list[DecisionRecord]:
    """Decision records as the service stores them; optionally a scripted reviewer."""
    out = []
    for i, (res, text) in enumerate(zip(results, texts, strict=True)):
        action = final = None
        if truth is not None and res.bucket.value in review_buckets:
            if truth[i] == OOS_LABEL:
                action = "ambiguous"
            else:
                action = "confirm" if truth[i] == res.label else "correct"
                final = truth[i]
        out.append(
            DecisionRecord(
                text=text,
                label=res.label,
                confidence=res.confidence,
                bucket=res.bucket.value,
                alternatives=tuple((a.label, a.confidence) for a in res.alternatives),
                id=str(i),
                review_action=action,
                final_label=final,
                prediction_set=None if res.prediction_set is None else tuple(res.prediction_set),
            )
        )
    return out


def _fit(tax: Taxonomy) -> tuple[Classifier, float]:
    started = time.perf_counter()
    clf = Classifier.from_taxonomy(tax).fit()
    return clf, time.perf_counter() - started


def classify_routed(clf: Classifier, texts: list[str]) -> tuple[list[Result], float | None]:
    """Results bucketed as the service would route them: by the auto threshold it certifies
    for this model (``certified_routing``: error <= 0.02 at 95%, 20% expected out-of-scope),
    not the library's fixed taxonomy thresholds.  Returns the results and the auto threshold
    (None: the auto lane is closed, nothing is automatic)."""
    lanes = certified_routing(clf)
    auto, review = lanes["auto_threshold"], float(lanes["review_threshold"])

    def bucket(conf: float) -> Bucket:
        if auto is not None and conf >= auto:
            return Bucket.AUTO
        return Bucket.REVIEW if conf >= review else Bucket.HOLD

    results = [
        dataclasses.replace(r, bucket=bucket(r.confidence)) for r in clf.classify_batch(texts)
    ]
    return results, auto


def _lane(auto: float | None) -> str:
    return "auto lane closed" if auto is None else f"certified auto threshold {auto:.3f}"


# --------------------------------------------------------------------------- gap
def run_gap(seed: int) -> dict[str, Any]:
    root = DATASETS / "clinc150"
    base = Taxonomy.from_dataset_dir(root, split="__none__")
    removed = sorted(random.Random(seed).sample(base.label_names, 10))
    train = [e for e in read_jsonl(root / "train.jsonl") if e.label not in removed]
    test = list(read_jsonl(root / "test.jsonl"))
    tax = Taxonomy(
        name="clinc150-gaps", labels=tuple(lb for lb in base.labels if lb.name not in removed)
    ).with_examples(train)
    clf, fit_s = _fit(tax)
    texts = [e.text for e in test]
    truth = [e.label for e in test]
    results, auto = classify_routed(clf, texts)
    records = records_from_results(results, texts)
    runs: dict[str, Any] = {}
    for name, cfg in (
        ("hold+review", InsightsConfig()),
        ("hold only", InsightsConfig(gap_buckets=("hold",))),
    ):
        started, cpu = time.perf_counter(), time.process_time()
        report = compute_insights(records, tax, encoder=clf.encoder, config=cfg)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        data = report.to_dict()
        rows = []
        for intent in removed:
            idx = [i for i, t in enumerate(truth) if t == intent]
            buckets = Counter(records[i].bucket for i in idx)
            best: tuple[dict[str, Any], int] | None = None
            for c in data["gap_clusters"]:
                k = sum(1 for d in c["decision_ids"] if truth[int(d)] == intent)
                if k and (best is None or k > best[1]):
                    best = (c, k)
            row: dict[str, Any] = {
                "intent": intent,
                "hold": buckets["hold"],
                "review": buckets["review"],
                "auto": buckets["auto"],
            }
            if best is not None:
                c, k = best
                row.update(
                    cluster=c["id"],
                    size=c["size"],
                    members=k,
                    purity=round(k / c["size"], 3),
                    proposed_label=c["proposed_label"],
                    keywords=c["keywords"][:4],
                    between=c["between"],
                )
            row["found"] = bool(best and row["purity"] >= PURITY)
            rows.append(row)
        runs[name] = {
            "found": sum(r["found"] for r in rows),
            "rows": rows,
            "insights_s": round(elapsed, 2),
            "insights_cpu_s": round(cpu, 2),
            "gap_clusters": len(data["gap_clusters"]),
            "summary": data["summary"],
            "timings": data["timings"],
        }
    cli = time_cli(tax, results, texts)
    return {
        "experiment": "gap",
        "seed": seed,
        "auto_threshold": auto,
        "removed": removed,
        "fit_s": round(fit_s, 1),
        "test": len(test),
        "runs": runs,
        "cli": cli,
    }


def time_cli(tax: Taxonomy, results: list[Result], texts: list[str]) -> dict[str, Any]:
    """Log the decisions into a fresh SQLite database, then time ``triaged insights``."""
    from triaged.service import Service
    from triaged.services import taxonomies as taxo
    from triaged.services.ids import new_id
    from triaged.settings import Settings
    from triaged.storage.tables import decisions

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'triaged.db'}"
        svc = Service(Settings(database_url=url, bootstrap_admin=False))
        svc.start()
        try:
            ws = svc.create_workspace("bench", "unlimited")
            now = datetime.now(UTC)
            rows = [
                {
                    "id": new_id("dec"),
                    "workspace_id": ws["id"],
                    "taxonomy_id": "",
                    "text": text,
                    "taxonomy": tax.name,
                    "taxonomy_version": 1,
                    "model_version": r.model_version,
                    "external_id": None,
                    "metadata": None,
                    "label": r.label,
                    "confidence": r.confidence,
                    "bucket": r.bucket.value,
                    "alternatives": [
                        {"label": a.label, "confidence": a.confidence} for a in r.alternatives
                    ],
                    "scores": r.scores,
                    "latency_ms": 1.0,
                    "key_id": None,
                    "created_at": now - timedelta(seconds=len(texts) - i),
                    "final_label": None,
                    "final_source": None,
                    "resolved_at": None,
                }
                for i, (r, text) in enumerate(zip(results, texts, strict=True))
            ]
            with svc.db.write() as conn:
                record = taxo.create(conn, ws["id"], tax)
                for row in rows:
                    row["taxonomy_id"] = record.id
                conn.execute(decisions.insert(), rows)
        finally:
            svc.close()
        cmd = [
            sys.executable,
            "-c",
            "from triaged.cli import main; main()",
            "insights",
            tax.name,
            "--format",
            "json",
            "--database-url",
            url,
        ]
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        data = json.loads(proc.stdout)
    return {
        "cli_s": round(wall, 2),
        "decisions": sum(h["volume"] for h in data["labels"]),
        "gap_clusters": len(data["gap_clusters"]),
        "command": " ".join(cmd[3:]),
    }


def gap_markdown(res: dict[str, Any]) -> str:
    main = res["runs"]["hold+review"]
    held_only = res["runs"]["hold only"]
    lines = [
        f"**Gap discovery** (CLINC150, seed {res['seed']}, {_lane(res['auto_threshold'])}, "
        f"removed: {', '.join(res['removed'])}): **{main['found']}/10** removed intents come "
        "back as "
        f"gap clusters with purity >= {PURITY} (target 8); {main['gap_clusters']} gap clusters "
        f"from {main['summary']['gap_candidates']} candidates; insights took "
        f"{main['insights_s']:.1f} s wall, {main['insights_cpu_s']:.1f} s CPU. "
        f"Clustering held items only: {held_only['found']}/10. "
        f"`triaged insights NAME --format json` on these {res['cli']['decisions']} decisions "
        f"in a SQLite file: {res['cli']['cli_s']:.1f} s end to end (process start included).",
        "",
        "| removed intent | test texts held / review / auto | matched cluster | size | purity "
        "| proposed label | keywords | between |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in main["rows"]:
        if "cluster" in r:
            lines.append(
                f"| {r['intent']} | {r['hold']} / {r['review']} / {r['auto']} | #{r['cluster']} "
                f"| {r['size']} | {r['purity']:.2f}{'' if r['found'] else ' ✗'} "
                f"| `{r['proposed_label']}` | {', '.join(r['keywords'])} "
                f"| {', '.join(r['between'])} |"
            )
        else:
            lines.append(
                f"| {r['intent']} | {r['hold']} / {r['review']} / {r['auto']} "
                "| none | – | – | – | – | – |"
            )
    return "\n".join(lines)


def sweep_markdown(runs: list[dict[str, Any]]) -> str:
    found = [r["runs"]["hold+review"]["found"] for r in runs]
    lines = [
        f"**Gap discovery over {len(runs)} random seeds** (10 intents removed each time): "
        f"{sum(found) / len(found):.1f}/10 found on average (min {min(found)}, max {max(found)}; "
        f"{sum(f >= 8 for f in found)} of {len(runs)} seeds reach 8).",
        "",
        "| seed | found (hold+review) | found (hold only) | gap clusters | insights s | missed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        main = r["runs"]["hold+review"]
        missed = ", ".join(row["intent"] for row in main["rows"] if not row["found"])
        lines.append(
            f"| {r['seed']} | {main['found']}/10 | {r['runs']['hold only']['found']}/10 "
            f"| {main['gap_clusters']} | {main['insights_s']:.1f} | {missed} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------- split
def run_split(seed: int) -> dict[str, Any]:
    root = DATASETS / "clinc150"
    base = Taxonomy.from_dataset_dir(root, split="__none__")
    rng = random.Random(seed)
    target = rng.choice(base.label_names)
    readable = target.replace("_", " ")
    a, b = f"{target}_a", f"{target}_b"
    labels: list[Label] = []
    for lb in base.labels:
        if lb.name == target:
            labels += [
                Label(a, f"questions about {readable}"),
                Label(b, f"requests about {readable}"),
            ]
        else:
            labels.append(lb)

    def relabel(ex: Example) -> Example:
        return Example(ex.text, rng.choice((a, b))) if ex.label == target else ex

    train = [relabel(e) for e in read_jsonl(root / "train.jsonl")]
    test = [relabel(e) for e in read_jsonl(root / "test.jsonl")]
    tax = Taxonomy(name="clinc150-split", labels=tuple(labels)).with_examples(train)
    clf, fit_s = _fit(tax)
    texts = [e.text for e in test]
    results, auto = classify_routed(clf, texts)
    records = records_from_results(results, texts)
    started = time.perf_counter()
    report = compute_insights(records, tax, encoder=clf.encoder).to_dict()
    elapsed = time.perf_counter() - started
    pairs = [o["labels"] for o in report["overlaps"]]
    rank = next((i + 1 for i, p in enumerate(pairs) if set(p) == {a, b}), None)
    return {
        "experiment": "split",
        "seed": seed,
        "intent": target,
        "auto_threshold": auto,
        "pair": [a, b],
        "rank": rank,
        "fit_s": round(fit_s, 1),
        "insights_s": round(elapsed, 2),
        "top": report["overlaps"][:5],
    }


def overlap_rows(
    overlaps: list[dict[str, Any]], confusions: Counter[tuple[str, str]] | None
) -> list[str]:
    head = "| # | labels | score | action | close calls | corrections | example cross-NN |"
    sep = "| --- | --- | --- | --- | --- | --- | --- |"
    if confusions is not None:
        head += " test-label confusions |"
        sep += " --- |"
    lines = [head, sep]
    for i, o in enumerate(overlaps, 1):
        ev = o["evidence"]
        pa, pb = o["labels"]
        line = (
            f"| {i} | {pa} / {pb} | {o['score']:.3f} | {o['action']} | {ev['close_calls']} "
            f"| {sum(ev['corrections'].values())} | {ev['example_cross_nn_rate']:.3f} |"
        )
        if confusions is not None:
            line += f" {confusions[(pa, pb)] + confusions[(pb, pa)]} |"
        lines.append(line)
    return lines


def split_markdown(res: dict[str, Any]) -> str:
    lines = [
        f"**Overlap discovery** (CLINC150, intent `{res['intent']}` split at random into "
        f"`{res['pair'][0]}` / `{res['pair'][1]}`, near-identical descriptions, "
        f"{_lane(res['auto_threshold'])}): the pair ranks "
        f"**#{res['rank']}** (target #1); insights took {res['insights_s']:.1f} s.",
        "",
        *overlap_rows(res["top"], None),
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------- banking
def run_banking(top: int = 10) -> dict[str, Any]:
    root = DATASETS / "banking77"
    tax = Taxonomy.from_dataset_dir(root)
    clf, fit_s = _fit(tax)
    test = list(read_jsonl(root / "test.jsonl"))
    texts = [e.text for e in test]
    truth = [e.label for e in test]
    results, auto = classify_routed(clf, texts)
    records = records_from_results(results, texts, truth, review_buckets=("hold", "review"))
    confusions: Counter[tuple[str, str]] = Counter(
        (t, r.label) for t, r in zip(truth, results, strict=True) if t != r.label
    )
    started = time.perf_counter()
    report = compute_insights(records, tax, encoder=clf.encoder).to_dict()
    elapsed = time.perf_counter() - started
    ranked = report["overlaps"][:top]
    for o in ranked:
        pa, pb = o["labels"]
        o["test_confusions"] = confusions[(pa, pb)] + confusions[(pb, pa)]
    worst = [
        f"{a} / {b}"
        for (a, b), _ in Counter(
            {tuple(sorted(k)): confusions[k] + confusions[(k[1], k[0])] for k in confusions}
        ).most_common(5)
    ]
    return {
        "experiment": "banking",
        "auto_threshold": auto,
        "fit_s": round(fit_s, 1),
        "insights_s": round(elapsed, 2),
        "reviewed": report["summary"]["reviewed"],
        "top": ranked,
        "most_confused_by_test_labels": worst,
        "confusions": confusions,
    }


def banking_markdown(res: dict[str, Any]) -> str:
    lines = [
        f"**Banking77 confusable pairs** ({_lane(res['auto_threshold'])}; scripted reviewer "
        f"resolved {res['reviewed']} held and flagged decisions with the true labels; insights "
        f"took {res['insights_s']:.1f} s). "
        "Most confused pairs by the test labels: "
        f"{'; '.join(res['most_confused_by_test_labels'])}.",
        "",
        *overlap_rows(res["top"], res["confusions"]),
        "",
    ]
    for o in res["top"][:2]:
        ev = o["evidence"]
        close = "; ".join(f"“{t}”" for t in ev["examples"][:3])
        lines.append(
            f"- `{o['labels'][0]}` / `{o['labels'][1]}`: {o['rationale']}."
            + (f" Close calls e.g. {close}" if close else "")
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("gap", "split", "banking"), action="append")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sweep",
        type=str,
        default="",
        help="also run gap discovery for these seeds, e.g. 0-7 (summary table)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    todo = args.only or ["gap", "split", "banking"]
    results: list[dict[str, Any]] = []
    parts: list[str] = []
    for name in todo:
        if name == "gap":
            res = run_gap(args.seed)
            parts.append(gap_markdown(res))
        elif name == "split":
            res = run_split(args.seed)
            parts.append(split_markdown(res))
        else:
            res = run_banking()
            parts.append(banking_markdown(res))
        results.append(res)
    if args.sweep:
        lo, _, hi = args.sweep.partition("-")
        seeds = list(range(int(lo), int(hi or lo) + 1))
        done = {r["seed"]: r for r in results if r["experiment"] == "gap"}
        sweep = [done.get(seed) or run_gap(seed) for seed in seeds]
        results.append({"experiment": "sweep", "runs": sweep})
        parts.append(sweep_markdown(sweep))
    env = (
        f"_{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"`python -m bench.bench_insights --seed {args.seed}"
        f"{f' --sweep {args.sweep}' if args.sweep else ''}`_"
    )
    body = "\n\n".join([*parts, env])
    if args.json:
        for r in results:
            r.pop("confusions", None)
        print(json.dumps(results, indent=2, default=str))
    else:
        print(body)
    if args.update_readme:
        update_readme("insights", body)


if __name__ == "__main__":
    main()
