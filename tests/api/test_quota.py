"""Exact quota counting under concurrency, and the per-minute rate limit."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from tests.servicekit import Stack

pytestmark = pytest.mark.anyio


async def test_300_concurrent_requests_on_a_free_key_give_exactly_100_ok(
    stack: Stack, taxonomy_body
):
    tenant = stack.tenant("free")
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json=taxonomy_body)
        assert r.status_code == 201, r.text
        client_key = stack.key(tenant, "client")
        async with stack.client(client_key) as cc:
            responses = await asyncio.gather(
                *[
                    cc.post(
                        "/v1/classify", json={"taxonomy": "support", "text": f"refund order {i}"}
                    )
                    for i in range(300)
                ]
            )
        codes = Counter(r.status_code for r in responses)
        assert codes == {200: 100, 429: 200}, codes
        refused = next(r for r in responses if r.status_code == 429)
        err = refused.json()["error"]
        assert err["code"] == "quota_exceeded"
        assert err["details"]["limit"] == "monthly_quota"
        assert err["details"]["quota"] == 100 and err["details"]["used"] == 100
        assert "reset" in err["details"]
        assert int(refused.headers["Retry-After"]) >= 1
        usage = (await c.get("/v1/usage")).json()
        assert usage["used"] == 100 and usage["remaining"] == 0
        page = (await c.get("/v1/decisions", params={"limit": 500})).json()
        assert len(page["data"]) == 100  # refused requests left no decision


async def test_batch_over_the_remaining_quota_is_refused_whole(stack: Stack, taxonomy_body):
    tenant = stack.tenant("free")
    async with stack.client(tenant.key) as c:
        await c.post("/v1/taxonomies", json=taxonomy_body)
        for _ in range(9):
            r = await c.post(
                "/v1/classify/batch", json={"taxonomy": "support", "texts": ["refund"] * 11}
            )
            assert r.status_code == 200, r.text
        r = await c.post(
            "/v1/classify/batch", json={"taxonomy": "support", "texts": ["refund"] * 2}
        )
        assert r.status_code == 429
        assert r.json()["error"]["details"]["requested"] == 2
        assert (await c.get("/v1/usage")).json()["used"] == 99
        assert (
            await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})
        ).status_code == 200


async def test_per_minute_rate_limit(stack: Stack, taxonomy_body):
    for _attempt in range(2):  # a minute boundary in the middle would reset the window: retry once
        tenant = stack.tenant("tiny")  # 3 a minute
        async with stack.client(tenant.key) as c:
            await c.post("/v1/taxonomies", json=taxonomy_body)
            minute = int(time.time() // 60)
            codes = [
                (
                    await c.post("/v1/classify", json={"taxonomy": "support", "text": "hi"})
                ).status_code
                for _ in range(4)
            ]
            r = await c.post("/v1/classify", json={"taxonomy": "support", "text": "hi"})
            if int(time.time() // 60) != minute:
                continue
        assert codes == [200, 200, 200, 429]
        assert r.status_code == 429
        err = r.json()["error"]
        assert err["code"] == "rate_limited" and err["details"]["limit"] == "per_minute"
        assert err["details"]["quota"] == 3 and err["details"]["used"] == 3
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        return
    pytest.fail("two minute boundaries in a row")


async def test_a_batch_larger_than_a_limit_itself_is_422_not_a_retryable_429(
    stack: Stack, taxonomy_body
):
    """Four texts at once on a plan of 3 a minute: no wait lets them through, so the answer
    says to send fewer (a 429 with Retry-After had the SDK retry it for minutes); nothing is
    counted, and a batch within the limit still goes."""
    tenant = stack.tenant("tiny")  # 3 a minute
    async with stack.client(tenant.key) as c:
        await c.post("/v1/taxonomies", json=taxonomy_body)
        r = await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": ["hi"] * 4})
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert err["code"] == "validation_error" and "retry-after" not in r.headers
        assert err["details"] == {
            "field": "texts",
            "limit": "per_minute",
            "plan": "tiny",
            "quota": 3,
            "got": 4,
        }
        assert (await c.get("/v1/usage")).json()["used"] == 0
        r = await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": ["hi"] * 3})
        assert r.status_code == 200, r.text
