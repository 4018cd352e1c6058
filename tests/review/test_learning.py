"""A small learning simulation through the API (CLINC150 slice, fixed seeds).

Start zero-shot (label names and descriptions only), classify a stream of texts through the API,
let a scripted reviewer resolve every queued item (held, flagged and audited)
with the true label, and let the automatic retrain run.  On a fresh slice the
held share and the in-scope error fall, and ECE stays at most 0.03.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.servicekit import Stack, make_settings
from triaged.evaluation import evaluate
from triaged.service import Service
from triaged.storage import upgrade
from triaged.taxonomy import read_jsonl

pytestmark = pytest.mark.anyio

N_LABELS, INITIAL, STREAM, SEED = 20, 0, 20, 0


def clinc_slice(
    datasets_dir: Path,
) -> tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, str]]]:
    root = datasets_dir / "clinc150"
    rng = random.Random(SEED)
    labels = [lb for lb in json.loads((root / "labels.json").read_text()) if lb["name"] != "oos"]
    labels = sorted(rng.sample(labels, N_LABELS), key=lambda lb: lb["name"])
    names = {lb["name"] for lb in labels}
    train: dict[str, list[str]] = defaultdict(list)
    for ex in read_jsonl(root / "train.jsonl"):
        if ex.label in names:
            train[ex.label].append(ex.text)
    # thresholds pinned (a manual routing policy): this simulates today's review loop, where
    # only held, flagged and a 2% audit of auto decisions reach a reviewer; a zero-shot model
    # has no routing evidence, so a certified policy would close the auto lane instead
    body: dict[str, Any] = {
        "name": "clinc",
        "labels": [],
        "thresholds": {"auto": 0.85, "review": 0.6},
    }
    stream: list[tuple[str, str]] = []
    for lb in labels:
        texts = train[lb["name"]][:]
        rng.shuffle(texts)
        body["labels"].append(
            {"name": lb["name"], "description": lb["description"], "examples": texts[:INITIAL]}
        )
        stream += [(t, lb["name"]) for t in texts[INITIAL : INITIAL + STREAM]]
    rng.shuffle(stream)
    fresh = [(ex.text, ex.label) for ex in read_jsonl(root / "test.jsonl") if ex.label in names]
    return body, stream, fresh


def measure(service: Service, principal: Any, fresh: list[tuple[str, str]]) -> dict[str, float]:
    clf = service.classifier(principal, "clinc")
    report = evaluate(clf, [t for t, _ in fresh], [lb for _, lb in fresh])
    return {
        "held": report["buckets"]["hold"]["share"],
        "error": 1.0 - report["accuracy"],
        "ece": report["ece"],
    }


async def test_reviews_make_the_model_better(tmp_path: Path, datasets_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'learn.db'}"
    upgrade(url)
    service = Service(
        make_settings(
            url, migrate_on_start=False, review_retrain_after=1000, review_audit_rate=0.02
        ),
        review_rng=random.Random(SEED),
    )
    stack = Stack("sqlite", url, service)
    tenant = stack.tenant("unlimited")
    body, stream, fresh = clinc_slice(datasets_dir)
    admin = stack.client(tenant.key)
    client = stack.client(stack.key(tenant, "client"))
    reviewer = stack.client(stack.key(tenant, "reviewer"))
    principal = service.authenticate(tenant.key)
    try:
        r = await admin.post("/v1/taxonomies", json=body)
        assert r.status_code == 201, r.text
        before = measure(service, principal, fresh)

        truth: dict[str, str] = {}
        for i in range(0, len(stream), 100):
            chunk = stream[i : i + 100]
            r = await client.post(
                "/v1/classify/batch", json={"taxonomy": "clinc", "texts": [t for t, _ in chunk]}
            )
            assert r.status_code == 200, r.text
            for (_, label), res in zip(chunk, r.json()["results"], strict=True):
                truth[res["id"]] = label

        # the automatic retrain fires once, on the last review (deterministic for the test)
        stats = (await reviewer.get("/v1/review/stats", params={"taxonomy": "clinc"})).json()
        queued = sum(stats["counts"].values())
        assert queued >= 100
        service.settings = service.settings.with_overrides(review_retrain_after=queued)
        reviews = 0
        while items := (await reviewer.post("/v1/review/claim", json={"limit": 20})).json()[
            "items"
        ]:
            for item in items:
                true = truth[item["decision_id"]]
                action = (
                    {"action": "confirm"}
                    if item["label"] == true
                    else {"action": "correct", "label": true}
                )
                r = await reviewer.post(f"/v1/review/items/{item['id']}/resolve", json=action)
                assert r.status_code == 200, r.text
                reviews += 1
        service.review.wait(timeout=300)
        after = measure(service, principal, fresh)
        print(f"reviews={reviews} before={before} after={after}")

        versions = (await reviewer.get("/v1/taxonomies/clinc/models")).json()["data"]
        auto = [v for v in versions if v["trigger"] == "auto"]
        assert auto and auto[0]["status"] == "ready" and auto[0]["active"]
        assert auto[0]["n_review_examples"] > 0
        assert auto[0]["evaluation"]["n_eval"] > 0
        assert 0.0 <= auto[0]["evaluation"]["ece"] <= 1.0
        assert reviews == queued
        assert after["held"] < before["held"]
        assert after["error"] < before["error"]
        assert after["ece"] <= 0.03
    finally:
        for c in (admin, client, reviewer):
            await c.aclose()
        service.close()
