"""What a classify request writes, read back: its decisions, a review item with its
``created`` event for each one a person must see, and its count; on PostgreSQL all of it
in one statement (one row, or many, per table), on SQLite one insert per table."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.servicekit import Stack, Tenant
from triaged.storage.review import review_events, review_items
from triaged.storage.tables import decisions

pytestmark = pytest.mark.anyio

TEXTS = [
    "I was charged twice \U0001f4b3 für\tdas Abo\n\u200b — ok?",  # emoji, tab, newline, ZWSP
    "the app crashes on start",
    "change my email please",
    "refund my order",
    "error 500",
]


def _stored(stack: Stack, ids: list[str]) -> tuple[dict[str, Any], list[Any], list[Any]]:
    with stack.service.db.read() as conn:
        rows = {r.id: r for r in conn.execute(select(decisions).where(decisions.c.id.in_(ids)))}
        items = list(conn.execute(select(review_items).where(review_items.c.decision_id.in_(ids))))
        events = list(
            conn.execute(select(review_events).where(review_events.c.decision_id.in_(ids)))
        )
    return rows, items, events


@pytest.mark.parametrize(
    ("routing", "queued"),
    [({"auto": 0.999, "review": 0.0}, "review"), ({"auto": 0.0, "review": 0.0}, None)],
)
async def test_decisions_items_and_events_read_back_for_one_and_many_rows(
    stack: Stack, tenant: Tenant, taxonomy_body: dict[str, Any], routing: dict, queued: Any
) -> None:
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
        r = await c.put("/v1/taxonomies/support/routing", json=routing)
        assert r.status_code == 200, r.text
        used = 0
        for n in (1, 2, 5):
            texts: list[Any] = [
                {"text": t, "external_id": f"e{i}", "metadata": {"n": i, "tag": "ü—€\U0001f600\n"}}
                if i % 2
                else t
                for i, t in enumerate(TEXTS[:n])
            ]
            r = await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": texts})
            assert r.status_code == 200, r.text
            answers = r.json()["results"]
            used += n
            ids = [a["id"] for a in answers]
            rows, items, events = _stored(stack, ids)
            assert set(rows) == set(ids)
            for a in answers:  # the stored decision, as the API shows it
                got = (await c.get(f"/v1/decisions/{a['id']}")).json()
                assert got["created_at"] == a["created_at"] and got["text"]
            for i, a in enumerate(answers):
                row = rows[a["id"]]
                assert (row.label, row.bucket) == (a["label"], a["bucket"])
                assert row.confidence == a["confidence"]  # the same float, not a rounding
                stored = [{k: x[k] for k in ("label", "confidence")} for x in row.alternatives]
                assert stored == a["alternatives"]
                assert row.metadata == (texts[i]["metadata"] if i % 2 else None)
                assert row.external_id == (f"e{i}" if i % 2 else None)
                assert row.text == (texts[i]["text"] if i % 2 else texts[i])  # unaltered
                assert row.policy_version == a["policy_version"]
            by_decision = {it.decision_id: it for it in items}
            assert len(by_decision) == len(items)  # one item per decision at most
            if queued is None:  # all auto: only the audit sample is queued
                assert all(it.queue == "audit" for it in items)
            else:
                assert [a["bucket"] for a in answers] == [queued] * n
                assert set(by_decision) == set(ids)
                assert {it.queue for it in items} == {queued}
                assert {it.status for it in items} == {"pending"}
            assert sorted(e.item_id for e in events) == sorted(it.id for it in items)
            assert all(e.event == "created" and e.actor is None for e in events)
            assert all(e.details == {"queue": by_decision[e.decision_id].queue} for e in events)
        usage = (await c.get("/v1/usage")).json()
        assert usage["used"] == used


async def test_a_refused_request_writes_nothing(stack: Stack, taxonomy_body: dict[str, Any]):
    tenant = stack.tenant("tiny")  # 3 requests a minute
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
        r = await c.put("/v1/taxonomies/support/routing", json={"auto": 0.999, "review": 0.0})
        assert r.status_code == 200, r.text
        body = {"taxonomy": "support", "texts": TEXTS[:2]}
        assert (await c.post("/v1/classify/batch", json=body)).status_code == 200
        with stack.service.db.read() as conn:
            before = (
                len(list(conn.execute(select(decisions.c.id)))),
                len(list(conn.execute(select(review_items.c.id)))),
            )
        refused = await c.post("/v1/classify/batch", json=body)  # 4 of 3 this minute
        assert refused.status_code == 429, refused.text
        with stack.service.db.read() as conn:
            after = (
                len(list(conn.execute(select(decisions.c.id)))),
                len(list(conn.execute(select(review_items.c.id)))),
            )
        assert after == before
        assert (await c.get("/v1/usage")).json()["used"] == 2
