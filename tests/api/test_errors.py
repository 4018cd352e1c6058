"""Every failure has the shape {"error": {"code", "message", "details"}} with the right status."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.servicekit import Stack, Tenant

pytestmark = pytest.mark.anyio


def assert_error(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == r.headers["request-id"]  # the same id, both places
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


async def test_400_bad_json_and_invalid_taxonomy(stack: Stack, tenant: Tenant):
    async with stack.client(tenant.key) as c:
        r = await c.post(
            "/v1/classify", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert_error(r, 400, "invalid_input")
        dup = {"name": "dup", "labels": [{"name": "a"}, {"name": "a"}]}
        err = assert_error(await c.post("/v1/taxonomies", json=dup), 400, "invalid_taxonomy")
        assert "duplicate" in err["message"]


async def test_401_missing_unknown_and_revoked_keys(stack: Stack, tenant: Tenant):
    async with stack.client() as anon:
        r = await anon.get("/v1/usage")
        assert_error(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"] == "Bearer"
    async with stack.client("tri_not_a_key") as c:
        assert_error(await c.get("/v1/usage"), 401, "unauthenticated")
    async with stack.client(tenant.key) as admin:
        created = (await admin.post("/v1/keys", json={"role": "client", "name": "ci"})).json()
        async with stack.client(created["key"]) as c:
            assert (await c.get("/v1/usage")).status_code == 200
            revoked = await admin.delete(f"/v1/keys/{created['id']}")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"]
            assert_error(await c.get("/v1/usage"), 401, "unauthenticated")


async def test_403_roles(stack: Stack, tenant: Tenant, taxonomy_body):
    client_key = stack.key(tenant, "client")
    reviewer_key = stack.key(tenant, "reviewer")
    async with stack.client(tenant.key) as admin:
        assert (await admin.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
    async with stack.client(client_key) as c:
        err = assert_error(
            await c.post("/v1/taxonomies", json={**taxonomy_body, "name": "x"}), 403, "forbidden"
        )
        assert err["details"]["role"] == "client"
        assert_error(await c.get("/v1/keys"), 403, "forbidden")
        ok = await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})
        assert ok.status_code == 200
        assert (await c.get(f"/v1/decisions/{ok.json()['id']}")).status_code == 200
    async with stack.client(reviewer_key) as r:
        assert_error(
            await r.post("/v1/classify", json={"taxonomy": "support", "text": "x"}),
            403,
            "forbidden",
        )
        assert (await r.get("/v1/decisions")).status_code == 200


async def test_404_unknown_things_and_routes_and_405(stack: Stack, tenant: Tenant):
    async with stack.client(tenant.key) as c:
        assert_error(await c.get("/v1/decisions/dec_nope"), 404, "not_found")
        assert_error(await c.get("/v1/taxonomies/nope"), 404, "not_found")
        assert_error(
            await c.post("/v1/classify", json={"taxonomy": "nope", "text": "x"}), 404, "not_found"
        )
        for name in ("sup\u0000port", "sup\ud800port"):  # refused before any lookup
            raw = json.dumps({"taxonomy": name, "text": "x"})  # \\u escapes: a lone surrogate too
            r = await c.post(
                "/v1/classify", content=raw, headers={"Content-Type": "application/json"}
            )
            assert_error(r, 422, "validation_error")
        assert_error(await c.get("/v1/no-such-route"), 404, "not_found")
        assert_error(await c.delete("/v1/usage"), 405, "method_not_allowed")
    async with stack.client("trm_not-a-key") as c:  # the key is judged before the taxonomy
        body = {"taxonomy": "nope", "text": "x"}
        assert_error(await c.post("/v1/classify", json=body), 401, "unauthenticated")


async def test_409_conflicts(stack: Stack, tenant: Tenant, taxonomy_body):
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
        assert_error(await c.post("/v1/taxonomies", json=taxonomy_body), 409, "conflict")
        assert (await c.post("/v1/taxonomies/support/archive")).status_code == 200
        err = assert_error(
            await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund"}),
            409,
            "conflict",
        )
        assert "archived" in err["message"]


async def test_413_body_and_text_limits_before_any_work(
    stack: Stack, tenant: Tenant, taxonomy_body
):
    service = stack.variant(max_body_bytes=2048, max_text_chars=100)
    app = __import__("triaged.api", fromlist=["create_app"]).create_app(service=service)
    try:
        async with stack.client(tenant.key, app=app) as c:
            assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
            big = await c.post("/v1/classify", json={"taxonomy": "support", "text": "a" * 5000})
            err = assert_error(big, 413, "payload_too_large")
            assert err["details"]["limit_bytes"] == 2048

            async def chunks():
                for _ in range(10):
                    yield b" " * 500

            chunked = await c.post(
                "/v1/classify", content=chunks(), headers={"content-type": "application/json"}
            )
            assert_error(chunked, 413, "payload_too_large")

            long = await c.post("/v1/classify", json={"taxonomy": "support", "text": "b" * 101})
            err = assert_error(long, 413, "payload_too_large")
            assert err["details"]["limit"] == 100
            usage = (await c.get("/v1/usage")).json()
            assert usage["used"] == 0  # nothing was counted
            assert (await c.get("/v1/decisions")).json()["data"] == []
    finally:
        service.close()


async def test_422_validation_and_batch_size(stack: Stack, tenant: Tenant, taxonomy_body):
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
        err = assert_error(
            await c.post("/v1/classify", json={"text": "no taxonomy"}), 422, "validation_error"
        )
        assert err["details"]["errors"][0]["field"] == "taxonomy"
        too_many = await c.post(
            "/v1/classify/batch", json={"taxonomy": "support", "texts": ["x"] * 101}
        )
        err = assert_error(too_many, 422, "validation_error")
        assert err["details"]["limit"] == 100
        blank = assert_error(
            await c.post("/v1/classify", json={"taxonomy": "support", "text": "  "}),
            422,
            "validation_error",
        )
        # a single classify's errors name its fields, a batch's the item
        assert blank["message"] == "the text is empty" and blank["details"]["field"] == "text"
        body = {"taxonomy": "support", "text": "refund", "metadata": {"a": float("inf")}}
        r = await c.post(
            "/v1/classify",
            content=json.dumps(body).replace("Infinity", "1e999"),
            headers={"content-type": "application/json"},
        )
        assert assert_error(r, 422, "validation_error")["details"]["field"] == "metadata.a", r.text
        batch = {"taxonomy": "support", "texts": ["refund", "  "]}
        err = assert_error(await c.post("/v1/classify/batch", json=batch), 422, "validation_error")
        assert err["message"] == "text 1 is empty" and err["details"]["index"] == 1
        assert_error(await c.get("/v1/decisions", params={"limit": 0}), 422, "validation_error")
        # JSON sent under another media type: 415 saying so (was 422 "body: Input should be a
        # valid dictionary"), and so without any Content-Type
        raw = json.dumps({"taxonomy": "support", "text": "refund"})
        for media in ("text/plain", "application/x-www-form-urlencoded"):
            r = await c.post("/v1/classify", content=raw, headers={"content-type": media})
            assert assert_error(r, 415, "unsupported_media_type")["details"] == {
                "content_type": media
            }
        r = await c.post("/v1/classify", content=raw)
        assert "content-type" not in r.request.headers
        assert assert_error(r, 415, "unsupported_media_type")["details"] == {
            "content_type": "no Content-Type"
        }
        assert (await c.get("/v1/usage")).json()["used"] == 0


async def test_429_shape_names_limit_usage_and_reset(stack: Stack, taxonomy_body):
    tenant = stack.tenant("tiny")
    async with stack.client(tenant.key) as c:
        await c.post("/v1/taxonomies", json=taxonomy_body)
        codes = []
        for _ in range(5):
            r = await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})
            codes.append(r.status_code)
        assert 429 in codes
        r = await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund"})
        err = assert_error(r, 429, "rate_limited")
        assert {"limit", "used", "quota", "reset", "plan"} <= set(err["details"])
        assert int(r.headers["retry-after"]) >= 1


async def test_a_time_with_no_utc_reading_is_a_422_on_both_databases(
    stack: Stack, tenant: Tenant, taxonomy_body: dict[str, Any]
) -> None:
    """``0001-01-01T00:00+14:00`` is before year 1 in UTC: SQLite answered 200 and
    PostgreSQL 422; every list that takes a time now refuses it the same way."""
    bad = "0001-01-01T00:00:00+14:00"
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
        name = taxonomy_body["name"]
        paths = [
            "/v1/decisions",
            f"/v1/taxonomies/{name}/insights",
            "/v1/metrics/buckets",
            "/v1/metrics/drift/alerts",
            "/v1/review/items",
            f"/v1/taxonomies/{name}/what-if",
        ]
        for path in paths:
            r = await c.get(path, params={"since": bad})
            assert r.status_code == 422, (path, r.text)
            error = r.json()["error"]
            assert error["code"] == "validation_error" and "UTC" in error["message"], error
            ok = await c.get(path, params={"since": "2020-01-01T00:00:00+14:00"})
            assert ok.status_code == 200, (path, ok.text)


async def test_413_for_an_oversize_job_upload_with_or_without_its_length(
    stack: Stack, tenant: Tenant, taxonomy_body
):
    """A bulk upload over ``max_job_upload_bytes`` is refused whether or not the client
    says its length first (streamed, it is refused once the count passes the limit); the
    details name the limit the same way both times (they said ``limit`` for a streamed one
    and ``limit_bytes`` otherwise), and no job is left behind."""
    service = stack.variant(max_job_upload_bytes=4096)
    app = __import__("triaged.api", fromlist=["create_app"]).create_app(service=service)
    line = json.dumps({"text": "I was charged twice for my subscription"}) + "\n"
    body = (line * 200).encode()  # about 10 KB
    try:
        async with stack.client(tenant.key, app=app) as c:
            assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
            said = await c.post(
                "/v1/jobs?taxonomy=support",
                content=body,
                headers={"Content-Type": "application/x-ndjson"},
            )
            err = assert_error(said, 413, "payload_too_large")
            assert err["details"]["limit_bytes"] == 4096
            assert err["details"]["got_bytes"] == len(body)

            async def chunks():
                for i in range(0, len(body), 1000):
                    yield body[i : i + 1000]

            streamed = await c.post(
                "/v1/jobs?taxonomy=support",
                content=chunks(),
                headers={"Content-Type": "application/x-ndjson"},
            )
            err = assert_error(streamed, 413, "payload_too_large")
            assert err["details"]["limit_bytes"] == 4096
            assert (await c.get("/v1/jobs")).json()["data"] == []
            assert (await c.get("/v1/usage")).json()["used"] == 0
    finally:
        service.close()
