"""GET /metrics: the Prometheus exposition agrees with the decision log and the queues."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servicekit import Stack, Tenant, unique
from triaged.api import create_app

pytestmark = pytest.mark.anyio


async def test_metrics_count_decisions_latency_and_queues(
    stack: Stack, tenant: Tenant, taxonomy_body
) -> None:
    name = unique("prom")
    body = {**taxonomy_body, "name": name}
    texts = ["I was charged twice", "the app crashes", "reset my password", "hmm", "what?"]
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=body)).status_code == 201
        r = await c.post("/v1/classify/batch", json={"taxonomy": name, "texts": texts})
        assert r.status_code == 200, r.text
        buckets = Counter(x["bucket"] for x in r.json()["results"])
    scraper = create_app(service=stack.variant(metrics_token="scrape-token"))
    async with stack.client(app=scraper) as c:
        r = await c.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    ws = stack.service.authenticate(tenant.key).workspace_id
    got = Counter(
        {
            s.labels["bucket"]: int(s.value)
            for s in families["triaged_decisions"].samples
            if s.name == "triaged_decisions_total"
            and s.labels["taxonomy"] == name
            and s.labels["workspace"] == ws
        }
    )
    assert got == buckets
    hist = {
        (s.name, s.labels.get("le")): s.value
        for s in families["triaged_classify_latency_seconds"].samples
        if s.labels.get("taxonomy") == name
    }
    assert hist[("triaged_classify_latency_seconds_count", None)] == len(texts)
    assert hist[("triaged_classify_latency_seconds_bucket", "+Inf")] == len(texts)
    assert hist[("triaged_classify_latency_seconds_sum", None)] > 0
    depth = {s.labels["queue"]: s.value for s in families["triaged_review_queue_depth"].samples}
    assert set(depth) >= {"hold", "review", "audit"}
    assert depth["hold"] >= buckets["hold"]
    assert "triaged_webhook_delivery_failures" in families


async def test_metrics_token_guards_the_exposition(stack: Stack) -> None:
    guarded = create_app(service=stack.variant(metrics_token="s3cret-token"))
    async with stack.client(app=guarded) as c:
        r = await c.get("/metrics")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        r = await c.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = await c.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert r.status_code == 200 and "triaged_decisions" in r.text


async def test_released_items_stay_in_the_queue_depth(
    stack: Stack, tenant: Tenant, taxonomy_body
) -> None:
    """An item a reviewer hands back is open again: the depth gauge counts it, as
    /v1/review/stats does (until 5 December a released item left the gauge)."""
    name = unique("prom")
    body = {**taxonomy_body, "name": name, "thresholds": {"auto": 0.999, "review": 0.998}}
    scraper = create_app(service=stack.variant(metrics_token="scrape-token"))

    async def hold_depth() -> float:
        async with stack.client(app=scraper) as c:
            r = await c.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
        families = {f.name: f for f in text_string_to_metric_families(r.text)}
        samples = families["triaged_review_queue_depth"].samples
        return next(s.value for s in samples if s.labels["queue"] == "hold")

    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=body)).status_code == 201
        texts = ["I was charged twice", "the app crashes", "reset my password"]
        r = await c.post("/v1/classify/batch", json={"taxonomy": name, "texts": texts})
        assert {x["bucket"] for x in r.json()["results"]} == {"hold"}
        before = await hold_depth()
        claimed = (await c.post("/v1/review/claim", json={"limit": 2, "taxonomy": name})).json()
        assert len(claimed["items"]) == 2
        for item in claimed["items"]:
            r = await c.post(f"/v1/review/items/{item['id']}/release")
            assert r.status_code == 200, r.text
        assert await hold_depth() == before
