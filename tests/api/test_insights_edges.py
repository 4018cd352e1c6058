"""Insights and drift at their edges, through the ASGI app on a real database: a taxonomy
without examples, a cluster of one very long word, a gap whose label was then created,
and drift asked of every taxonomy at once."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.servicekit import Stack, Tenant, unique
from triaged.api import create_app
from triaged.services.drift_checks import drift_config
from triaged.services.ids import new_id
from triaged.storage.tables import decisions
from triaged.taxonomy import read_jsonl

pytestmark = pytest.mark.anyio

KEPT = ("alarm", "weather", "balance", "book_flight", "recipe", "gas")
HELD_OUT = "tire_change"


async def _classify(c: Any, name: str, texts: list[str]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(texts), 100):
        r = await c.post(
            "/v1/classify/batch", json={"taxonomy": name, "texts": texts[start : start + 100]}
        )
        assert r.status_code == 200, r.text
        ids += [x["id"] for x in r.json()["results"]]
    return ids


LONG_WORD = "a" * 3000
TEXTS = [LONG_WORD] * 8 + ["Wird es morgen in München regnen? ☔"] * 8
TEXTS += ["Spiel bitte Beethoven 🎹", "日本語のテキストです", "Спой песню"] * 3


async def test_insights_of_a_taxonomy_without_examples(stack: Stack, tenant: Tenant) -> None:
    """Zero-shot taxonomies (labels and descriptions only) answered 500 once a gap cluster
    formed: there was no labelled example to compare it with."""
    name = unique("zero")
    body = {
        "name": name,
        "labels": [
            {"name": "wetter", "description": "Wetter, Regen, Sonne"},
            {"name": "musik", "description": "Musik abspielen"},
        ],
    }
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json=body)
        assert r.status_code == 201, r.text
        ids = await _classify(c, name, TEXTS)
        r = await c.get(f"/v1/taxonomies/{name}/insights")
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["summary"]["decisions"] == len(TEXTS)
        clustered = {i for g in data["gap_clusters"] for i in g["decision_ids"]}
        assert set(ids[:8]) <= clustered
        assert all(0 < len(g["proposed_label"]) <= 100 for g in data["gap_clusters"])


async def test_a_cluster_of_one_long_word_proposes_a_name_a_label_can_have(
    stack: Stack, tenant: Tenant, taxonomy_body
) -> None:
    """A cluster of one very long word proposed that word, thousands of characters, as
    the label name; no label may have it, so the one-click action failed.  (Its summary
    also said "-0.0%" unclustered.)"""
    name = unique("long")
    body = {**taxonomy_body, "name": name, "thresholds": {"auto": 1.0, "review": 0.6}}
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json=body)
        assert r.status_code == 201, r.text
        ids = await _classify(c, name, TEXTS)
        r = await c.get(f"/v1/taxonomies/{name}/insights")
        assert r.status_code == 200, r.text
        gaps, summary = r.json()["gap_clusters"], r.json()["summary"]
        # every candidate clustered or explained: nothing left, not "-0.0%" left
        for key in ("unclustered_share", "gap_noise_share"):
            assert 0 <= summary[key] <= 1 and str(summary[key])[0] != "-", summary
        cluster = next(g for g in gaps if set(ids[:8]) & set(g["decision_ids"]))
        proposed = cluster["proposed_label"]
        assert 0 < len(proposed) <= 100
        # what the dashboard's one-click action sends: the cluster's texts as examples
        labels = [{"name": lb["name"]} for lb in taxonomy_body["labels"]]
        labels.append({"name": proposed, "examples": [LONG_WORD]})
        r = await c.patch(f"/v1/taxonomies/{name}", json={"labels": labels})
        assert r.status_code == 200, r.text
        assert proposed in [lb["name"] for lb in r.json()["labels"]]


async def test_a_gap_whose_label_was_created_is_not_proposed_again(
    stack: Stack, tenant: Tenant, datasets_dir
) -> None:
    """Reviewers mark a missing intent's inputs ``new_category`` "tire_change"; the gap
    cluster proposes that name; the label is created from it.  The inputs have a label
    now: no gap cluster proposes ``tire_change_2`` for them."""
    groups: dict[str, list[str]] = {}
    for split in ("train", "test"):
        for ex in read_jsonl(datasets_dir / "clinc150" / f"{split}.jsonl"):
            groups.setdefault(f"{split}:{ex.label}", []).append(ex.text)
    name = unique("created")
    labels = [
        {"name": n, "description": n.replace("_", " "), "examples": groups[f"train:{n}"][:15]}
        for n in KEPT
    ]
    missing = groups[f"test:{HELD_OUT}"]
    texts = missing + [t for n in KEPT for t in groups[f"test:{n}"][:10]]
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json={"name": name, "labels": labels})
        assert r.status_code == 201, r.text
        ids = await _classify(c, name, texts)
        missing_ids = set(ids[: len(missing)])
        flagged: set[str] = set()
        while True:
            r = await c.post("/v1/review/claim", json={"taxonomy": name, "limit": 100})
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            if not items:
                break
            for item in items:
                if item["decision_id"] in missing_ids:
                    answer = {"action": "new_category", "new_label": "tire change"}
                    flagged.add(item["decision_id"])
                else:
                    answer = {"action": "confirm"}
                r = await c.post(f"/v1/review/items/{item['id']}/resolve", json=answer)
                assert r.status_code == 200, r.text
        assert len(flagged) >= 15
        r = await c.get(f"/v1/taxonomies/{name}/insights")
        assert r.status_code == 200, r.text
        before = [g for g in r.json()["gap_clusters"] if flagged & set(g["decision_ids"])]
        assert [g["proposed_label"] for g in before] == ["tire_change"]
        labels.append({"name": "tire_change", "description": "", "examples": before[0]["examples"]})
        r = await c.patch(f"/v1/taxonomies/{name}", json={"labels": labels})
        assert r.status_code == 200, r.text
        r = await c.get(f"/v1/taxonomies/{name}/insights")
        assert r.status_code == 200, r.text
        after = r.json()["gap_clusters"]
        assert not [g["proposed_label"] for g in after if flagged & set(g["decision_ids"])]
        assert not [g for g in after if g["proposed_label"].startswith("tire_change")]


def _rows(
    workspace_id: str, record: Any, start: datetime, hours: float, n: int, hold: float, seed: int
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": new_id("dec"),
            "workspace_id": workspace_id,
            "taxonomy_id": record.id,
            "taxonomy": record.name,
            "taxonomy_version": 1,
            "model_version": "m",
            "text": "t",
            "label": "billing",
            "confidence": 0.5,
            "bucket": "hold" if rng.random() < hold else "review",
            "alternatives": [],
            "scores": {},
            "latency_ms": 1.0,
            "created_at": start + timedelta(seconds=rng.random() * hours * 3600),
        }
        for _ in range(n)
    ]


async def test_drift_of_every_taxonomy_tests_each_on_its_own(
    stack: Stack, tenant: Tenant, taxonomy_body
) -> None:
    """``GET /v1/metrics/drift`` without ``taxonomy`` pooled every taxonomy's decisions: a
    busy steady taxonomy hid another's held share tripling, while the check that records
    and sends alerts (``POST .../drift/check``, same parameters) found it."""
    now = datetime.now(UTC).replace(microsecond=0)
    shifted, steady = unique("shifted"), unique("steady")
    async with stack.client(tenant.key) as c:
        for name in (shifted, steady):
            r = await c.post("/v1/taxonomies", json={**taxonomy_body, "name": name})
            assert r.status_code == 201, r.text
        principal = stack.service.authenticate(tenant.key)
        a = stack.service.taxonomy_record(principal, shifted)
        b = stack.service.taxonomy_record(principal, steady)
        ws, week_ago, day_ago = principal.workspace_id, now - timedelta(days=8), now - timedelta(1)
        rows = _rows(ws, a, week_ago, 24 * 7, 2000, 0.10, 1)
        rows += _rows(ws, a, day_ago, 23.9, 600, 0.30, 2)
        rows += _rows(ws, b, week_ago, 24 * 7, 2000, 0.05, 3)
        rows += _rows(ws, b, day_ago, 23.9, 6000, 0.05, 4)
        with stack.service.db.write() as conn:
            conn.execute(decisions.insert(), rows)
        r = await c.get("/v1/metrics/drift")
        assert r.status_code == 200, r.text
        every = r.json()
        assert every["taxonomy"] is None
        found = sorted((x["taxonomy"], x["bucket"], x["direction"]) for x in every["alerts"])
        assert found == [(shifted, "hold", "up"), (shifted, "review", "down")]
        one = (await c.get("/v1/metrics/drift", params={"taxonomy": shifted})).json()
        assert sorted((x["taxonomy"], x["bucket"]) for x in one["alerts"]) == [
            (shifted, "hold"),
            (shifted, "review"),
        ]
        r = await c.post("/v1/metrics/drift/check")
        assert r.status_code == 200, r.text
        recorded = sorted((x["taxonomy"], x["bucket"], x["direction"]) for x in r.json()["alerts"])
        assert recorded == found
    # the server's TRIAGED_DRIFT_* are the defaults (the automatic check had no settings); a
    # request's own parameters still win
    strict = stack.variant(drift_min_change=0.5)
    try:
        async with stack.client(tenant.key, app=create_app(service=strict)) as c:
            assert (await c.get("/v1/metrics/drift")).json()["alerts"] == []
            loose = await c.get("/v1/metrics/drift", params={"min_change": 0.02})
            assert len(loose.json()["alerts"]) == 2
        dashboard_cfg = drift_config(strict.settings)
        assert dashboard_cfg.min_change == 0.5 and dashboard_cfg.recent == timedelta(days=1)
    finally:
        strict.close()


async def test_an_until_before_the_default_window_is_a_400_like_the_buckets(
    stack: Stack, tenant: Tenant
) -> None:
    """``until`` alone, earlier than the default 30-day window's start, answered 200 with an
    empty report, where /v1/metrics/buckets answers 400 for the same window."""
    name = unique("win")
    body = {"name": name, "labels": [{"name": "a", "description": "x"}, {"name": "b"}]}
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=body)).status_code == 201
        r = await c.get(f"/v1/taxonomies/{name}/insights", params={"until": "2020-01-01T00:00Z"})
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_input" and "pass since" in error["message"]
        r = await c.get(
            f"/v1/taxonomies/{name}/insights",
            params={"since": "2019-12-01T00:00Z", "until": "2020-01-01T00:00Z"},
        )
        assert r.status_code == 200, r.text
