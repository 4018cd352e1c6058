"""The learning loop at scale: held share and error against the number of reviews (CLINC150).

    python -m bench.bench_review [--labels 150] [--initial 0] [--chunks 6] [--chunk-per-label 10]
                                 [--fresh-per-label 10] [--retrain-after 300] [--seed 0]
                                 [--chart docs/review_curve.png] [--json] [--update-readme]

A real service on a fresh SQLite file, driven through the HTTP API (ASGI, in
process).  The taxonomy starts with ``--initial`` examples per label (0: zero-shot,
from label names and descriptions).  Texts of CLINC150's training split arrive in
chunks and are classified through ``POST /v1/classify/batch``; routing queues the
held and flagged ones plus a 2% audit sample of the automatic ones; a scripted
reviewer claims and resolves every queued item with the true label.  The
service retrains on its own every ``--retrain-after`` reviews (the automatic
trigger, checked again at each chunk's end).  After each chunk the active model
is measured on a fixed fresh slice of the test split: the share held for a
human, the in-scope error, the error of the automatic lane and ECE.  Writes a
PNG chart and prints a markdown table (or JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from bench._common import DATASETS, ROOT, update_readme
from triaged.api import create_app
from triaged.evaluation import evaluate
from triaged.service import Service
from triaged.settings import Settings
from triaged.storage import upgrade
from triaged.taxonomy import read_jsonl


def load(
    args: argparse.Namespace,
) -> tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, str]]]:
    root = DATASETS / "clinc150"
    rng = random.Random(args.seed)
    labels = [lb for lb in json.loads((root / "labels.json").read_text()) if lb["name"] != "oos"]
    labels = sorted(rng.sample(labels, min(args.labels, len(labels))), key=lambda lb: lb["name"])
    names = {lb["name"] for lb in labels}
    train: dict[str, list[str]] = defaultdict(list)
    for ex in read_jsonl(root / "train.jsonl"):
        if ex.label in names:
            train[ex.label].append(ex.text)
    test: dict[str, list[str]] = defaultdict(list)
    for ex in read_jsonl(root / "test.jsonl"):
        if ex.label in names:
            test[ex.label].append(ex.text)
    need = args.chunks * args.chunk_per_label
    body: dict[str, Any] = {"name": "clinc150", "labels": []}
    stream: list[tuple[str, str]] = []
    fresh: list[tuple[str, str]] = []
    for lb in labels:
        texts = train[lb["name"]][:]
        rng.shuffle(texts)
        body["labels"].append(
            {
                "name": lb["name"],
                "description": lb["description"],
                "examples": texts[: args.initial],
            }
        )
        stream += [(t, lb["name"]) for t in texts[args.initial : args.initial + need]]
        held_out = test[lb["name"]][:]
        rng.shuffle(held_out)
        fresh += [(t, lb["name"]) for t in held_out[: args.fresh_per_label]]
    rng.shuffle(stream)
    return body, stream, fresh


def measure(service: Service, principal: Any, fresh: list[tuple[str, str]]) -> dict[str, Any]:
    clf = service.classifier(principal, "clinc150")
    # route as the service does now: its current routing policy (certified, versioned)
    policy = service.routing(principal, "clinc150")
    routing = {"auto_threshold": policy["auto"], "review_threshold": policy["review"]}
    r = evaluate(clf, [t for t, _ in fresh], [lb for _, lb in fresh], routing=routing)
    auto = r["buckets"]["auto"]
    return {
        "model_version": clf.model_version,
        "policy_version": policy["version"],
        "auto_threshold": policy["auto"],
        "policy_source": policy["source"],
        "held": r["buckets"]["hold"]["share"],
        "review": r["buckets"]["review"]["share"],
        "auto": auto["share"],
        "error": 1.0 - r["accuracy"],
        "auto_error": None if auto["accuracy"] is None else 1.0 - auto["accuracy"],
        "ece": r["ece"],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    body, stream, fresh = load(args)
    tmp = Path(tempfile.mkdtemp(prefix="triaged-bench-review-"))
    url = f"sqlite:///{tmp / 'triaged.db'}"
    upgrade(url)
    settings = Settings(
        database_url=url,
        data_dir=tmp,
        bootstrap_admin=False,
        migrate_on_start=False,
        review_retrain_after=args.retrain_after,
        review_audit_rate=args.audit_rate,
    )
    service = Service(settings, review_rng=random.Random(args.seed))
    app = create_app(service=service)
    admin_key = service.create_key("bench", "admin", create_plan="unlimited").key
    reviewer_key = service.create_key("bench", "reviewer").key
    principal = service.authenticate(str(admin_key))

    def client(key: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {key}"},
            timeout=600,
        )

    admin, reviewer = client(admin_key), client(reviewer_key)
    points: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        r = await admin.post("/v1/taxonomies", json=body)
        r.raise_for_status()
        service.wait_for_jobs()
        reviews = 0
        points.append({"chunk": 0, "texts": 0, "reviews": 0, **measure(service, principal, fresh)})
        log(points[-1])
        size = len(stream) // args.chunks
        for chunk in range(args.chunks):
            part = stream[chunk * size : (chunk + 1) * size]
            truth: dict[str, str] = {}
            for i in range(0, len(part), 100):
                batch = part[i : i + 100]
                r = await admin.post(
                    "/v1/classify/batch",
                    json={"taxonomy": "clinc150", "texts": [t for t, _ in batch]},
                )
                r.raise_for_status()
                for (_, label), res in zip(batch, r.json()["results"], strict=True):
                    truth[res["id"]] = label
            while True:
                r = await reviewer.post("/v1/review/claim", json={"limit": 100})
                r.raise_for_status()
                items = r.json()["items"]
                if not items:
                    break
                for item in items:
                    true = truth[item["decision_id"]]
                    action = (
                        {"action": "confirm"}
                        if item["label"] == true
                        else {"action": "correct", "label": true}
                    )
                    res = await reviewer.post(f"/v1/review/items/{item['id']}/resolve", json=action)
                    res.raise_for_status()
                    reviews += 1
            # the automatic trigger, checked once more now that the chunk is reviewed
            service.review.wait()
            record = service.taxonomy_record(principal, "clinc150")
            if service.review.maybe_retrain(record.workspace_id, record.id, record.name):
                service.review.wait()
            point = {
                "chunk": chunk + 1,
                "texts": (chunk + 1) * size,
                "reviews": reviews,
                **measure(service, principal, fresh),
            }
            points.append(point)
            log(point)
        versions = (await reviewer.get("/v1/taxonomies/clinc150/models")).json()
    finally:
        await admin.aclose()
        await reviewer.aclose()
        service.close()
    return {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "n_labels": len(body["labels"]),
        "n_stream": len(stream),
        "n_fresh": len(fresh),
        "seconds": round(time.perf_counter() - started, 1),
        "points": points,
        "versions": [
            {
                k: v.get(k)
                for k in ("id", "trigger", "n_examples", "n_review_examples", "evaluation")
            }
            for v in versions["data"]
        ],
    }


def log(point: dict[str, Any]) -> None:
    print(
        f"chunk {point['chunk']}: reviews={point['reviews']} held={point['held']:.3f} "
        f"error={point['error']:.3f} ece={point['ece']:.4f}",
        file=sys.stderr,
        flush=True,
    )


def chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = result["points"]
    x = [p["reviews"] for p in pts]
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
    ax.plot(x, [100 * p["held"] for p in pts], "o-", label="held for a human (%)")
    ax.plot(x, [100 * p["error"] for p in pts], "s-", label="in-scope error (%)")
    ax.plot(x, [100 * p["ece"] for p in pts], "^-", label="ECE (×100)")
    ax.axhline(3.0, color="grey", lw=0.8, ls=":", label="ECE 0.03")
    ax.set_xlabel("reviews resolved (scripted reviewer, true labels)")
    ax.set_ylabel("percent of the fresh test slice")
    ax.set_title(
        f"CLINC150, {result['n_labels']} labels, start with {result['config']['initial']} "
        f"examples per label; fresh slice of {result['n_fresh']}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def table(result: dict[str, Any]) -> str:
    rows = [
        "| texts classified | reviews | held | review | auto | in-scope error "
        "| auto-lane error | ECE | auto threshold (policy version) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in result["points"]:
        auto_err = "-" if p["auto_error"] is None else f"{100 * p['auto_error']:.1f}%"
        thr = "closed" if p["auto_threshold"] is None else f"{p['auto_threshold']:.3f}"
        rows.append(
            f"| {p['texts']} | {p['reviews']} | {100 * p['held']:.1f}% | {100 * p['review']:.1f}% "
            f"| {100 * p['auto']:.1f}% | {100 * p['error']:.1f}% | {auto_err} | {p['ece']:.3f} "
            f"| {thr} (v{p['policy_version']}) |"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, default=150)
    ap.add_argument("--initial", type=int, default=0, help="examples per label at the start")
    ap.add_argument("--chunks", type=int, default=6)
    ap.add_argument(
        "--chunk-per-label", type=int, default=10, help="stream texts per label per chunk"
    )
    ap.add_argument("--fresh-per-label", type=int, default=10)
    ap.add_argument("--retrain-after", type=int, default=300)
    ap.add_argument("--audit-rate", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chart", type=Path, default=ROOT / "docs" / "review_curve.png")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    result = asyncio.run(run(args))
    chart(result, args.chart)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(table(result))
    if args.update_readme:
        cmd = "python -m bench.bench_review --update-readme"
        rel = args.chart.resolve().relative_to(ROOT)
        update_readme(
            "review",
            f"![held share and error against reviews]({rel.as_posix()})\n\n"
            f"{table(result)}\n\n"
            f"{result['n_labels']} labels, {result['n_stream']} stream texts in "
            f"{args.chunks} chunks, fresh slice of {result['n_fresh']} test texts, "
            f"audit rate {args.audit_rate:.0%}, automatic retrain every {args.retrain_after} "
            "reviews; buckets as the service routes them at that point (its current routing "
            "policy: auto threshold certified per model version, error <= 0.02 at 95%, or "
            "closed); "
            f"{result['seconds']:.0f} s on this machine.  Reproduce: `{cmd}`",
        )


if __name__ == "__main__":
    main()
