"""Classify, the decision log, usage and idempotency through the ASGI app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.servicekit import Stack, Tenant, unique

pytestmark = pytest.mark.anyio


async def _create(client, body) -> dict:
    r = await client.post("/v1/taxonomies", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_taxonomy_then_classify_logs_a_decision(
    stack: Stack, tenant: Tenant, taxonomy_body
):
    async with stack.client(tenant.key) as c:
        created = await _create(c, taxonomy_body)
        assert created["name"] == "support" and created["version"] == 1
        assert created["ready"] is True and created["model"]["status"] == "ready"

        r = await c.post(
            "/v1/classify",
            json={
                "taxonomy": "support",
                "text": "I was charged twice for one order",
                "external_id": "t-1",
                "metadata": {"channel": "email"},
            },
        )
        assert r.status_code == 200, r.text
        res = r.json()
        assert {
            "id",
            "label",
            "confidence",
            "bucket",
            "alternatives",
            "taxonomy_version",
            "model_version",
            "latency_ms",
        } <= set(res)
        assert res["label"] == "billing"
        assert 0.0 <= res["confidence"] <= 1.0 and res["bucket"] in {"auto", "review", "hold"}
        assert all({"label", "confidence"} <= set(a) for a in res["alternatives"])

        got = (await c.get(f"/v1/decisions/{res['id']}")).json()
        assert got["text"] == "I was charged twice for one order"
        assert got["label"] == res["label"] and got["external_id"] == "t-1"
        assert got["metadata"] == {"channel": "email"}
        assert got["model_version"] == created["model"]["model_version"]
        assert got["final_label"] is None and got["key_id"]


async def test_zero_shot_taxonomy_classifies(stack: Stack, tenant: Tenant):
    async with stack.client(tenant.key) as c:
        await _create(
            c,
            {
                "name": "zs",
                "labels": [
                    {"name": "billing", "description": "Invoices, charges and refunds"},
                    {"name": "bug", "description": "Crashes and errors in the app"},
                ],
            },
        )
        r = await c.post(
            "/v1/classify", json={"taxonomy": "zs", "text": "The app crashes on start"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["label"] == "bug"


async def test_batch_keeps_input_order_and_counts_each_text(
    stack: Stack, tenant: Tenant, taxonomy_body
):
    texts = [
        "Refund my payment please",
        "The app shows an error on login",
        {"text": "How do I change my email?", "external_id": "e-3"},
    ]
    async with stack.client(tenant.key) as c:
        await _create(c, taxonomy_body)
        r = await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": texts})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["label"] for x in results] == ["billing", "bug", "account"]
        assert results[2]["external_id"] == "e-3"
        assert len({x["id"] for x in results}) == 3
        assert (await c.get("/v1/usage")).json()["used"] == 3


async def test_decisions_list_filters_and_cursor_pagination(
    stack: Stack, tenant: Tenant, taxonomy_body
):
    async with stack.client(tenant.key) as c:
        await _create(c, taxonomy_body)
        texts = ["I was charged twice"] * 3 + ["The app crashes all the time"] * 4
        ids = [
            x["id"]
            for x in (
                await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": texts})
            ).json()["results"]
        ]
        seen, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await c.get("/v1/decisions", params=params)).json()
            seen += [d["id"] for d in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
        assert seen == sorted(seen, reverse=True)  # newest first

        bugs = (await c.get("/v1/decisions", params={"label": "bug"})).json()["data"]
        assert len(bugs) == 4 and {d["label"] for d in bugs} == {"bug"}
        # an unknown taxonomy is a 404, as the metrics answer (it was an empty page, which
        # reads the same as a taxonomy with no traffic)
        by_tax = await c.get("/v1/decisions", params={"taxonomy": "nope"})
        assert by_tax.status_code == 404 and by_tax.json()["error"]["code"] == "not_found"
        buckets = {d["bucket"] for d in (await c.get("/v1/decisions")).json()["data"]}
        for b in buckets:
            got = (await c.get("/v1/decisions", params={"bucket": b})).json()["data"]
            assert got and {d["bucket"] for d in got} == {b}
        future = (await c.get("/v1/decisions", params={"since": "2999-01-01T00:00:00Z"})).json()
        assert future["data"] == []
        past = (await c.get("/v1/decisions", params={"until": "2999-01-01T00:00:00Z"})).json()
        assert len(past["data"]) == 7
        # offsets are honoured: "now + 1h" written as a -05:00 time still means the future
        soon = (datetime.now(UTC) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5)))
        ahead = (await c.get("/v1/decisions", params={"since": soon.isoformat()})).json()
        assert ahead["data"] == []
        before = (await c.get("/v1/decisions", params={"until": soon.isoformat()})).json()
        assert len(before["data"]) == 7


async def test_idempotency_key_returns_the_first_result_and_counts_once(
    stack: Stack, taxonomy_body
):
    tenant = stack.tenant("free")
    async with stack.client(tenant.key) as c:
        await _create(c, taxonomy_body)
        body = {"taxonomy": "support", "text": "I want a refund"}
        headers = {"Idempotency-Key": "order-42"}
        first = await c.post("/v1/classify", json=body, headers=headers)
        second = await c.post("/v1/classify", json=body, headers=headers)
        assert first.status_code == second.status_code == 200
        assert second.json() == first.json()
        assert second.headers.get("idempotent-replayed") == "true"
        assert (await c.get("/v1/usage")).json()["used"] == 1
        listed = (await c.get("/v1/decisions")).json()["data"]
        assert [d["id"] for d in listed] == [first.json()["id"]]

        other = await c.post(
            "/v1/classify", json={**body, "text": "something else"}, headers=headers
        )
        assert other.status_code == 409
        # its own code (it shared "conflict" with a taxonomy name already taken)
        assert other.json()["error"]["code"] == "idempotency_key_reused"


async def test_usage_reports_plan_limit_and_reset(stack: Stack, taxonomy_body):
    tenant = stack.tenant("free")
    async with stack.client(tenant.key) as c:
        await _create(c, taxonomy_body)
        await c.post("/v1/classify", json={"taxonomy": "support", "text": "refund please"})
        u = (await c.get("/v1/usage")).json()
        assert u["plan"] == "free" and u["limit"] == 100 and u["used"] == 1 and u["remaining"] == 99
        assert u["per_minute"]["limit"] == 120
        assert u["reset"].endswith("+00:00") and u["reset"][8:10] == "01"


async def test_expired_idempotency_keys_are_pruned(stack: Stack, taxonomy_body):
    """The housekeeper deletes keys past their TTL; a retry after that is a new request."""
    from sqlalchemy import update

    from triaged.services.housekeeping import Housekeeper
    from triaged.storage.tables import idempotency_keys

    tenant = stack.tenant("unlimited")
    async with stack.client(tenant.key) as c:
        await _create(c, taxonomy_body)
        body = {"taxonomy": "support", "text": "I want a refund"}
        old_key, new_key = unique("old"), unique("new")
        first = await c.post("/v1/classify", json=body, headers={"Idempotency-Key": old_key})
        await c.post("/v1/classify", json=body, headers={"Idempotency-Key": new_key})
        with stack.service.db.write() as conn:  # age one key past a 24 h TTL
            conn.execute(
                update(idempotency_keys)
                .where(idempotency_keys.c.key == old_key)
                .values(created_at=datetime.now(UTC) - timedelta(hours=25))
            )
        keeper = Housekeeper(stack.service.db, timedelta(hours=24))
        assert keeper.run_once() >= 1
        with stack.service.db.read() as conn:
            kept = set(conn.execute(select(idempotency_keys.c.key)).scalars())
        assert old_key not in kept and new_key in kept
        again = await c.post("/v1/classify", json=body, headers={"Idempotency-Key": old_key})
        assert again.status_code == 200 and again.json()["id"] != first.json()["id"]
        replay = await c.post("/v1/classify", json=body, headers={"Idempotency-Key": new_key})
        assert replay.headers.get("idempotent-replayed") == "true"


@pytest.mark.parametrize("name", ["nope", "sup\x00port"])
def test_service_classify_by_key_judges_the_key_then_the_taxonomy(
    stack: Stack, tenant: Tenant, name: str
):
    """The key and the taxonomy are read in one statement; errors keep their order."""
    from triaged.errors import NotFound, Unauthenticated
    from triaged.service import ClassifyItem

    items = [ClassifyItem("where is my refund")]
    with pytest.raises(Unauthenticated):
        stack.service.classify("trm_not-a-key", name, items)
    with pytest.raises(NotFound):
        stack.service.classify(tenant.key, name, items)
