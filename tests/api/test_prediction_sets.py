"""Prediction sets (issue 13) through the ASGI app: the classify response, the logged
alternatives the review screen reads, and the SDK's typed result."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.servicekit import Stack, Tenant
from triaged.client.results import Classification
from triaged.storage.tables import decisions

pytestmark = pytest.mark.anyio


async def test_classify_returns_a_prediction_set(stack: Stack, tenant: Tenant, taxonomy_body):
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", json=taxonomy_body)
        assert r.status_code == 201, r.text
        labels = {lb["name"] for lb in taxonomy_body["labels"]}
        # a lane open only at 0.9999: the decisions are queued for review (read back below)
        routing = {"auto": 0.9999, "review": 0.5}
        assert (await c.put("/v1/taxonomies/support/routing", json=routing)).status_code == 200
        texts = ["I was charged twice for one order", "The app crashes when I log in", "hello?"]
        r = await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": texts})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
    for res in results:
        pset = res["prediction_set"]
        assert isinstance(pset, list) and set(pset) <= labels
        ranked = [res["label"], *(a["label"] for a in res["alternatives"])]
        # a set is a prefix of the ranking, and every member is shown as an alternative
        assert pset == ranked[: len(pset)]
        sdk = Classification.from_dict(res)
        assert sdk.prediction_set == pset
    # the stored alternatives flag the set's runner-ups (the review screen shows them)
    ids = [res["id"] for res in results]
    with stack.service.db.read() as conn:
        rows = {
            row.id: row.alternatives
            for row in conn.execute(select(decisions).where(decisions.c.id.in_(ids)))
        }
    for res in results:
        flagged = [a["label"] for a in rows[res["id"]] if a["in_set"]]
        assert flagged == res["prediction_set"][1:]
    # the review items list shows the flags as the single item does (it dropped them)
    async with stack.client(tenant.key) as c:
        listed = (await c.get("/v1/review/items", params={"taxonomy": "support"})).json()["data"]
        assert listed, "some decision was queued for review"
        for item in listed:
            one = (await c.get(f"/v1/review/items/{item['id']}")).json()
            assert item["alternatives"] == one["alternatives"]
            # as logged, each with its name now (the same: nothing was renamed)
            logged = [{**a, "label_now": a["label"]} for a in rows[item["decision_id"]]]
            assert item["alternatives"] == logged


async def test_zero_shot_model_gives_no_set(stack: Stack, tenant: Tenant):
    async with stack.client(tenant.key) as c:
        body = {
            "name": "zs",
            "labels": [
                {"name": "billing", "description": "Invoices, charges and refunds"},
                {"name": "bug", "description": "Crashes and errors in the app"},
            ],
        }
        assert (await c.post("/v1/taxonomies", json=body)).status_code == 201
        r = await c.post("/v1/classify", json={"taxonomy": "zs", "text": "The app crashes"})
        assert r.status_code == 200, r.text
        assert r.json()["prediction_set"] is None
        got = (await c.get(f"/v1/decisions/{r.json()['id']}")).json()
        assert got["prediction_set"] is None  # not stored: only the answer carries it
