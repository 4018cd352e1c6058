"""The low-severity findings: overflowing parameters, CSV with bare CR, review stats scope,
the last admin key, insights markdown and the declared error responses."""

from __future__ import annotations

from typing import Any

import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique
from triaged.insights.render import to_markdown

pytestmark = pytest.mark.anyio

STATUSES = {"400", "401", "403", "404", "409", "413", "422", "429"}


async def _taxonomy(c: Any, **extra: Any) -> str:
    name = unique("low")
    r = await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name, **extra})
    assert r.status_code == 201, r.text
    return name


async def test_huge_numbers_are_422_not_500(stack: Stack, tenant: Tenant) -> None:
    async with stack.client(tenant.key) as c:
        name = await _taxonomy(c)
        for params in ({"recent_hours": 1e300}, {"baseline_hours": 1e20}, {"min_volume": 2**70}):
            assert (await c.get("/v1/metrics/drift", params=params)).status_code == 422
            assert (await c.post("/v1/metrics/drift/check", params=params)).status_code == 422
        for version in (2**63, 2**64 + 5, 0):
            r = await c.get(f"/v1/taxonomies/{name}/versions/{version}")
            assert r.status_code == 422, r.text
        assert (await c.get(f"/v1/taxonomies/{name}/versions/1")).status_code == 200


async def test_csv_upload_with_bare_carriage_returns(stack: Stack, tenant: Tenant) -> None:
    async with stack.client(tenant.key) as c:
        name = await _taxonomy(c)
        mac = b"text,label\rrefund my card please,billing\rthe page is blank,bug\r"
        r = await c.post(
            f"/v1/taxonomies/{name}/examples", files={"file": ("ex.csv", mac, "text/csv")}
        )
        assert r.status_code == 200, r.text
        assert r.json()["n_examples"] == 9 + 2
        broken = b'text,label\n"never closed,billing\n'
        r = await c.post(
            f"/v1/taxonomies/{name}/examples", files={"file": ("ex.csv", broken, "text/csv")}
        )
        assert 400 <= r.status_code < 500, r.text


async def test_review_stats_of_an_unknown_taxonomy_is_404_and_reviewers_are_filtered(
    stack: Stack, tenant: Tenant
) -> None:
    everything_queued = {"thresholds": {"auto": 1.0, "review": 0.0}}
    async with stack.client(tenant.key) as c:
        first = await _taxonomy(c, **everything_queued)
        second = await _taxonomy(c, **everything_queued)
        for name in (first, second):
            r = await c.post("/v1/classify", json={"taxonomy": name, "text": "charged twice"})
            assert r.status_code == 200, r.text
            r = await c.post("/v1/review/claim", json={"taxonomy": name})
            [item] = r.json()["items"]
            r = await c.post(f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"})
            assert r.status_code == 200, r.text
        r = await c.get("/v1/review/stats", params={"taxonomy": unique("nope")})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert (
            await c.get("/v1/review/lane-error", params={"taxonomy": "nope"})
        ).status_code == 404
        every = (await c.get("/v1/review/stats")).json()["reviewers"]
        one = (await c.get("/v1/review/stats", params={"taxonomy": first})).json()["reviewers"]
        assert sum(r["decisions"] for r in every) == 2
        assert sum(r["decisions"] for r in one) == 1


async def test_the_last_admin_key_cannot_be_revoked(stack: Stack) -> None:
    tenant = stack.tenant()
    async with stack.client(tenant.key) as c:
        me = stack.service.authenticate(tenant.key).key_id
        r = await c.delete(f"/v1/keys/{me}")
        assert r.status_code == 409 and r.json()["error"]["details"]["reason"] == "last_admin_key"
        other = (await c.post("/v1/keys", json={"role": "admin"})).json()
        assert (await c.delete(f"/v1/keys/{other['id']}")).status_code == 200
        assert (await c.delete(f"/v1/keys/{me}")).status_code == 409
        other = (await c.post("/v1/keys", json={"role": "admin"})).json()
        assert (await c.delete(f"/v1/keys/{me}")).status_code == 200
    async with stack.client(other["key"]) as c:
        assert (await c.get("/v1/keys")).status_code == 200


def test_insights_markdown_escapes_html() -> None:
    evil = '<img src=x onerror="alert(1)">'
    report = {
        "taxonomy": "support",
        "summary": {"decisions": 3, "held": 1, "held_share": 0.3, "gap_candidates": 1},
        "gap_clusters": [
            {
                "id": 1,
                "proposed_label": "<script>x</script>",
                "size": 3,
                "share_of_held": 0.5,
                "between": [evil],
                "keywords": ["<b>"],
                "examples": [f"{evil} | [click](javascript:alert(1))"],
            }
        ],
        "overlaps": [],
        "labels": [
            {
                "label": evil,
                "volume": 1,
                "mean_confidence": 0.5,
                "held_share": 0.1,
                "review_share": 0.1,
                "correction_rate": 0.0,
                "ece": 0.1,
            }
        ],
    }
    md = to_markdown(report)
    assert "<img" not in md and "<script" not in md and "<b>" not in md
    assert "&lt;img" in md and "\\[click\\]" in md


async def test_openapi_declares_the_real_error_responses(stack: Stack) -> None:
    async with stack.client() as c:
        spec = (await c.get("/openapi.json")).json()
    error = spec["components"]["schemas"]["ErrorOut"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details", "request_id"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    operations = [
        (path, method, op)
        for path, ops in spec["paths"].items()
        if path.startswith("/v1/")
        for method, op in ops.items()
    ]
    assert len(operations) > 40
    for path, method, op in operations:
        assert set(op["responses"]) >= STATUSES, (method, path)
        schema = op["responses"]["422"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path)


async def test_what_the_fuzzer_found_is_4xx(stack: Stack, tenant: Tenant) -> None:
    """scripts/fuzz_api.py findings: an hourly series over centuries (minutes of work), a
    subnormal error target (OverflowError), dates at the edge of the calendar."""
    async with stack.client(tenant.key) as c:
        name = await _taxonomy(c)
        params = {"interval": "hour", "since": "0318-03-08T02:42:38+10:23", "until": "0800-04-17"}
        r = await c.get("/v1/metrics/buckets", params=params)
        assert r.status_code == 422 and r.json()["error"]["details"]["limit"] == 10_000
        r = await c.get("/v1/metrics/buckets", params={"interval": "day", "since": "2026-01-01"})
        assert r.status_code == 200
        # until alone counts from the first decision (it filled hours to the year 9999 until
        # the process ran out of memory)
        r = await c.post("/v1/classify", json={"taxonomy": name, "text": "refund please"})
        assert r.status_code == 200, r.text
        far = {"interval": "hour", "until": "9999-12-31T00:00:00Z"}
        r = await c.get("/v1/metrics/buckets", params=far)
        assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "until", r.text
        r = await c.get("/v1/metrics/buckets", params={**far, "interval": "week"})
        assert r.status_code == 422, r.text
        r = await c.put(f"/v1/taxonomies/{name}/routing", json={"auto_error_target": 5e-324})
        assert r.status_code == 422, r.text
        for path in ("/v1/decisions", "/v1/metrics/buckets", "/v1/metrics/drift/alerts"):
            r = await c.get(path, params={"since": "0001-01-01T00:00:00+10:00"})
            assert r.status_code in {200, 422}, (path, r.text)
