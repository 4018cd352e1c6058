"""Insights and health metrics through the ASGI app, on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.servicekit import Stack, Tenant, unique
from triaged.drift import floor_time
from triaged.services.ids import new_id
from triaged.storage.tables import decisions
from triaged.taxonomy import read_jsonl

pytestmark = pytest.mark.anyio

KEPT = ("alarm", "weather", "balance", "book_flight", "recipe", "gas")
HELD_OUT = "tire_change"


def _clinc(datasets_dir, split: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for ex in read_jsonl(datasets_dir / "clinc150" / f"{split}.jsonl"):
        groups.setdefault(ex.label, []).append(ex.text)
    return groups


async def test_insights_route_finds_the_missing_category(
    stack: Stack, tenant: Tenant, datasets_dir
) -> None:
    train, test = _clinc(datasets_dir, "train"), _clinc(datasets_dir, "test")
    name = unique("clinc")
    body = {
        "name": name,
        "labels": [
            {"name": n, "description": n.replace("_", " "), "examples": train[n][:15]} for n in KEPT
        ],
    }
    texts = test[HELD_OUT] + [t for n in KEPT for t in test[n][:10]] + test["oos"][:40]
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json=body)
        assert r.status_code == 201, r.text
        ids: list[str] = []
        for start in range(0, len(texts), 100):
            r = await c.post(
                "/v1/classify/batch", json={"taxonomy": name, "texts": texts[start : start + 100]}
            )
            assert r.status_code == 200, r.text
            ids += [x["id"] for x in r.json()["results"]]
        r = await c.get(f"/v1/taxonomies/{name}/insights")
        assert r.status_code == 200, r.text
        data = r.json()
        assert {"gap_clusters", "overlaps", "labels"} <= set(data)
        assert [h["label"] for h in data["labels"]] == list(KEPT)
        assert sum(h["volume"] for h in data["labels"]) == len(texts)
        missing_ids = set(ids[: len(test[HELD_OUT])])
        best = max(
            data["gap_clusters"],
            key=lambda c: len(missing_ids & set(c["decision_ids"])),
            default=None,
        )
        assert best is not None and len(missing_ids & set(best["decision_ids"])) >= 5
        assert len(missing_ids & set(best["decision_ids"])) / best["size"] >= 0.8
        assert "tire" in best["proposed_label"]
        assert {"size", "proposed_label", "keywords", "between", "examples"} <= set(best)
        for o in data["overlaps"]:
            assert {"labels", "score", "evidence", "action"} <= set(o)
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        r = await c.get(f"/v1/taxonomies/{name}/insights", params={"since": future})
        assert r.status_code == 200 and r.json()["gap_clusters"] == []
        assert (await c.get("/v1/taxonomies/nope/insights")).status_code == 404


def _rows(
    workspace_id: str,
    taxonomy_id: str,
    name: str,
    start: datetime,
    hours: float,
    n: int,
    hold_share: float,
    seed: int,
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        bucket = "hold" if rng.random() < hold_share else rng.choice(("auto", "auto", "review"))
        rows.append(
            {
                "id": new_id("dec"),
                "workspace_id": workspace_id,
                "taxonomy_id": taxonomy_id,
                "taxonomy": name,
                "taxonomy_version": 1,
                "model_version": "m",
                "text": "t",
                "external_id": None,
                "metadata": None,
                "label": rng.choice(("billing", "bug")),
                "confidence": 0.5,
                "bucket": bucket,
                "alternatives": [],
                "scores": {},
                "latency_ms": 1.0,
                "key_id": None,
                "created_at": start + timedelta(seconds=rng.random() * hours * 3600),
                "final_label": None,
                "final_source": None,
                "resolved_at": None,
            }
        )
    return rows


async def test_bucket_series_and_drift_from_the_decision_log(
    stack: Stack, tenant: Tenant, taxonomy_body
) -> None:
    name = unique("tax")
    now = datetime.now(UTC).replace(microsecond=0)
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json={**taxonomy_body, "name": name})
        assert r.status_code == 201, r.text
        principal = stack.service.authenticate(tenant.key)
        record = stack.service.taxonomy_record(principal, name)
        base = _rows(
            principal.workspace_id, record.id, name, now - timedelta(days=8), 24 * 7, 2000, 0.10, 1
        )
        recent = _rows(
            principal.workspace_id, record.id, name, now - timedelta(days=1), 23.9, 600, 0.20, 2
        )
        with stack.service.db.write() as conn:
            conn.execute(decisions.insert(), base + recent)
        rows = base + recent
        for interval in ("hour", "day", "week"):
            r = await c.get("/v1/metrics/buckets", params={"taxonomy": name, "interval": interval})
            assert r.status_code == 200, r.text
            series = r.json()["series"]
            direct: dict[str, Counter[str]] = {}
            for row in rows:
                key = floor_time(row["created_at"], interval).isoformat()
                direct.setdefault(key, Counter())[row["bucket"]] += 1
            got = {p["start"]: p for p in series if p["total"]}
            assert set(got) == set(direct)
            for key, cnt in direct.items():
                p = got[key]
                assert (p["auto"], p["review"], p["hold"]) == (
                    cnt["auto"],
                    cnt["review"],
                    cnt["hold"],
                )
                assert p["total"] == sum(cnt.values())
        r = await c.get("/v1/metrics/drift", params={"taxonomy": name})
        assert r.status_code == 200, r.text
        alerts = r.json()["alerts"]
        assert [(a["bucket"], a["direction"]) for a in alerts] == [("hold", "up")]
        assert alerts[0]["recent_total"] == 600
        # recorded and sent: once per recent window, to endpoints subscribed to alert.drift
        hook = await c.post(
            "/v1/webhooks", json={"url": "https://example.invalid/hook", "events": ["alert.drift"]}
        )
        assert hook.status_code in (200, 201), hook.text
        r = await c.post("/v1/metrics/drift/check", params={"taxonomy": name})
        assert r.status_code == 200, r.text
        new = r.json()["alerts"]
        assert [(a["bucket"], a["taxonomy"]) for a in new] == [("hold", name)]
        again = await c.post("/v1/metrics/drift/check", params={"taxonomy": name})
        assert again.json()["alerts"] == []
        stored = (await c.get("/v1/metrics/drift/alerts", params={"taxonomy": name})).json()
        assert [a["event_id"] for a in stored["data"]] == [new[0]["event_id"]]
        page = (await c.get(f"/v1/webhooks/{hook.json()['id']}/deliveries")).json()
        assert len(page["data"]) == 1
        client_key = stack.key(tenant, "client")
        async with stack.client(client_key) as cc:
            assert (await cc.post("/v1/metrics/drift/check")).status_code == 403
        # the baseline compared with itself one week earlier: nothing to report
        r = await c.get(
            "/v1/metrics/drift", params={"taxonomy": name, "recent_hours": 72, "baseline_hours": 96}
        )
        assert r.status_code == 200
        before = r.json()
        assert before["alerts"] == [] or all(a["bucket"] == "hold" for a in before["alerts"])
        r = await c.get("/v1/metrics/buckets", params={"interval": "month"})
        assert r.status_code == 422
        r = await c.get("/v1/metrics/buckets", params={"taxonomy": "nope"})
        assert r.status_code == 404
