"""``POST /v1/taxonomies/{name}/evaluate`` with given examples classifies each text: it
counts against the plan's monthly quota and per-minute rate like a classified text, and a
request gives at most ``TRIAGED_MAX_EVALUATE_EXAMPLES``.  Until 8 December it counted
nothing: a free workspace with its quota used up read labels and confidences through it
(20,000 texts in one request, usage still 100 of 100)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.servicekit import Stack
from triaged.api import create_app

pytestmark = pytest.mark.anyio

URL = "/v1/taxonomies/support/evaluate"


def _given(n: int) -> dict[str, Any]:
    labels = ("billing", "bug", "account")
    return {"examples": [{"text": f"refund order {i}", "label": labels[i % 3]} for i in range(n)]}


async def test_given_examples_count_against_the_monthly_quota(stack: Stack, taxonomy_body):
    tenant = stack.tenant("free")  # 100 a month, 120 a minute
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
        r = await c.post(URL, json=_given(5))
        assert r.status_code == 200, r.text
        assert r.json()["n_test"] == 5
        assert (await c.get("/v1/usage")).json()["used"] == 5
        r = await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": ["hi"] * 93})
        assert r.status_code == 200, r.text
        # 2 left, 3 given: refused whole, as a batch classify is, and nothing counted
        r = await c.post(URL, json=_given(3))
        assert r.status_code == 429, r.text
        err = r.json()["error"]
        assert err["code"] == "quota_exceeded" and int(r.headers["Retry-After"]) >= 1
        assert err["details"]["limit"] == "monthly_quota"
        assert err["details"]["used"] == 98 and err["details"]["requested"] == 3
        assert (await c.get("/v1/usage")).json()["used"] == 98
        assert (await c.post(URL, json=_given(2))).status_code == 200
        usage = (await c.get("/v1/usage")).json()
        assert usage["used"] == 100 and usage["remaining"] == 0
        # exhausted: classify and evaluate answer alike, no label or confidence leaks
        r = await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
        r = await c.post(URL, json=_given(1))
        assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
        assert "accuracy" not in r.text
        # the held-out split classifies none of the caller's texts: not counted
        r = await c.post(URL, json={})
        assert r.status_code == 200 and r.json()["evaluation"] == "holdout"
        assert (await c.get("/v1/usage")).json()["used"] == 100


async def test_given_examples_count_on_the_usage_page(stack: Stack, taxonomy_body):
    """No decision row counts them: they go to the usage ledger, per day and per key."""
    tenant = stack.tenant("free")
    async with stack.client(tenant.key) as c:
        await c.post("/v1/taxonomies", json=taxonomy_body)
        assert (await c.post(URL, json=_given(4))).status_code == 200
    principal = stack.service.authenticate(tenant.key)
    report = stack.service.usage_report(principal)
    assert sum(d["requests"] for d in report["per_day"]) == 4
    assert [k["requests"] for k in report["per_key"]] == [4]


async def test_given_examples_are_paced_by_the_per_minute_rate(stack: Stack, taxonomy_body):
    for _attempt in range(2):  # a minute boundary in the middle resets the window: retry once
        tenant = stack.tenant("tiny")  # 3 a minute
        async with stack.client(tenant.key) as c:
            await c.post("/v1/taxonomies", json=taxonomy_body)
            minute = int(time.time() // 60)
            first = await c.post(URL, json=_given(2))
            second = await c.post(URL, json=_given(2))
            if int(time.time() // 60) != minute:
                continue
            assert first.status_code == 200, first.text
            assert second.status_code == 429, second.text
            err = second.json()["error"]
            assert err["code"] == "rate_limited" and err["details"]["limit"] == "per_minute"
            assert (await c.get("/v1/usage")).json()["used"] == 2
            # more than the plan allows in a minute at all: 422, send fewer (as classify)
            r = await c.post(URL, json=_given(4))
            assert r.status_code == 422 and r.json()["error"]["details"]["quota"] == 3
            return
    pytest.fail("two minute boundaries in a row")


async def test_given_examples_per_request_are_capped(stack: Stack, tenant, taxonomy_body):
    small = create_app(service=stack.variant(max_evaluate_examples=3))
    async with stack.client(tenant.key, app=small) as c:
        await c.post("/v1/taxonomies", json=taxonomy_body)
        r = await c.post(URL, json=_given(4))
        assert r.status_code == 413, r.text
        err = r.json()["error"]
        assert err["code"] == "payload_too_large"
        assert err["details"] == {"field": "examples", "limit": 3, "got": 4}
        assert (await c.get("/v1/usage")).json()["used"] == 0
        assert (await c.post(URL, json=_given(3))).status_code == 200
        assert (await c.get("/v1/usage")).json()["used"] == 3
