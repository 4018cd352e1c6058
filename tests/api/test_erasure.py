"""Erasing decisions (``POST /v1/decisions/erase``) through the ASGI app on SQLite and
PostgreSQL: the text and metadata leave every table that held a copy (read back by a scan
of the whole database), what the figures rest on stays, an unanswered review item is
withdrawn, bad requests are refused and write nothing; and the retention erases old
decisions by itself."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, select, update
from typer.testing import CliRunner

from tests.servicekit import Stack, Tenant
from triaged.cli import app as cli
from triaged.client.results import Decision, Erased
from triaged.services import jobs_tasks
from triaged.services.ids import utcnow
from triaged.storage.tables import decisions
from triaged.storage.webhooks import webhook_events

pytestmark = pytest.mark.anyio


def _rows_holding(stack: Stack, marker: str) -> list[str]:
    """``table: row`` of every row of every table of the database that holds ``marker``."""
    found: list[str] = []
    meta = MetaData()
    with stack.service.db.engine.connect() as conn:
        meta.reflect(bind=conn)
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                if marker in repr(tuple(row)):
                    found.append(f"{table.name}: {tuple(row)!r}"[:300])
    return found


def _ticket(marker: str) -> str:
    """The external id of the person's tickets: kept on erasure, so not the marker."""
    return "ticket-" + marker[::-1]


def _key(marker: str) -> str:
    return "k-" + marker[::-1]


async def _setup(stack: Stack, tenant: Tenant, taxonomy_body: dict[str, Any], marker: str) -> Any:
    """Three decisions about one person (two sent with one external id), all queued for
    review; one answered with a note naming them."""
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
        routing = {"auto": 0.9999, "review": 0.5}  # everything is queued for a person
        assert (await c.put("/v1/taxonomies/support/routing", json=routing)).status_code == 200
        texts = [
            {
                "text": f"{marker} was charged twice for one order",
                "external_id": _ticket(marker),
                "metadata": {"email": f"{marker}@example.com"},
            },
            {
                "text": f"The app crashes when {marker} logs in",
                "external_id": _ticket(marker),
                "metadata": {"email": f"{marker}@example.com"},
            },
            {"text": f"Please change the account email of {marker}"},
            {"text": "Where do I find my invoices?"},  # someone else's
        ]
        r = await c.post(
            "/v1/classify/batch",
            json={"taxonomy": "support", "texts": texts},
            headers={"Idempotency-Key": _key(marker)},
        )
        assert r.status_code == 200, r.text
        ids = [res["id"] for res in r.json()["results"]]
        claimed = (await c.post("/v1/review/claim", json={"limit": 10})).json()["items"]
        assert {i["decision_id"] for i in claimed} == set(ids)
        first = next(i for i in claimed if i["decision_id"] == ids[0])
        r = await c.post(
            f"/v1/review/items/{first['id']}/resolve",
            json={  # a correction: a decision.corrected event carries the metadata
                "action": "correct",
                "label": "bug" if first["label"] != "bug" else "billing",
                "note": f"{marker} is a VIP",
            },
        )
        assert r.status_code == 200, r.text
        open_item = next(i for i in claimed if i["decision_id"] == ids[1])
        return ids, first, open_item, texts


async def test_erasure_leaves_no_copy_and_keeps_the_figures(
    stack: Stack, tenant: Tenant, taxonomy_body: dict[str, Any]
) -> None:
    marker = f"zq{uuid.uuid4().hex[:12]}"
    ids, first, open_item, texts = await _setup(stack, tenant, taxonomy_body, marker)
    assert _rows_holding(stack, marker), "the test put the marker nowhere"
    async with stack.client(tenant.key) as c:
        before = (await c.get(f"/v1/decisions/{ids[0]}")).json()
        assert before["redacted_at"] is None and marker in before["text"]
        r = await c.post(
            "/v1/decisions/erase", json={"ids": [ids[2]], "external_ids": [_ticket(marker)]}
        )
        assert r.status_code == 200, r.text
        out = Erased.from_dict(r.json())
        assert out.erased == 3 and sorted(out.decisions) == sorted(ids[:3])

        assert _rows_holding(stack, marker) == []
        for i in ids[:3]:
            got = Decision.from_dict((await c.get(f"/v1/decisions/{i}")).json())
            assert got.text == "" and got.metadata is None and got.redacted_at is not None
        after = (await c.get(f"/v1/decisions/{ids[0]}")).json()
        for field in ("label", "confidence", "bucket", "final_label", "external_id"):
            assert after[field] == before[field], field
        # someone else's decision is untouched
        other = (await c.get(f"/v1/decisions/{ids[3]}")).json()
        assert other["text"] == texts[3]["text"] and other["redacted_at"] is None
        # the answered review stays (its outcome counts), without its note or text
        item = (await c.get(f"/v1/review/items/{first['id']}")).json()
        assert item["text"] == "" and item["note"] is None and item["redacted_at"]
        assert item["final_label"] == after["final_label"]
        # the unanswered one is withdrawn: nobody can review an empty text; the workflow
        # hears that no resolution will come
        r = await c.get(f"/v1/review/items/{open_item['id']}")
        assert r.status_code == 404, r.text
        with stack.service.db.read() as conn:
            sent = [
                p["data"]
                for p in conn.execute(
                    select(webhook_events.c.payload).where(
                        webhook_events.c.type == "decision.withdrawn"
                    )
                ).scalars()
                if p["data"]["decision_id"] in ids
            ]
        assert sorted(d["decision_id"] for d in sent) == sorted([ids[1], ids[2]])
        assert {d["reason"] for d in sent} == {"erased"}
        assert {d["external_id"] for d in sent} == {_ticket(marker), None}
        # a retry of the classify call replays its answer, without the metadata
        r = await c.post(
            "/v1/classify/batch",
            json={"taxonomy": "support", "texts": texts},
            headers={"Idempotency-Key": _key(marker)},
        )
        assert r.status_code == 200, r.text
        assert [res["metadata"] for res in r.json()["results"][:2]] == [None, None]
        # the reviewed-examples list (what retraining learns from) leaves it out
        r = await c.get("/v1/taxonomies/support/reviewed-examples")
        assert r.status_code == 200, r.text
        assert all(e["decision_id"] != ids[0] for e in r.json()["data"])
        # erasing again is harmless
        r = await c.post("/v1/decisions/erase", json={"ids": ids[:3]})
        assert r.status_code == 200 and r.json()["erased"] == 0, r.text


async def test_bad_erasures_are_refused_and_write_nothing(
    stack: Stack, tenant: Tenant, taxonomy_body: dict[str, Any]
) -> None:
    marker = f"zq{uuid.uuid4().hex[:12]}"
    ids, _, _, _ = await _setup(stack, tenant, taxonomy_body, marker)
    held = len(_rows_holding(stack, marker))
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/decisions/erase", json={"ids": [ids[0], "dec_nope"]})
        assert r.status_code == 404, r.text
        assert r.json()["error"]["details"]["missing"] == ["dec_nope"]
        r = await c.post("/v1/decisions/erase", json={})
        assert r.status_code == 422, r.text
        r = await c.post("/v1/decisions/erase", json={"ids": [f"d{i}" for i in range(1001)]})
        assert r.status_code == 422, r.text
    for role in ("reviewer", "client"):
        async with stack.client(stack.key(tenant, role)) as c:
            r = await c.post("/v1/decisions/erase", json={"ids": [ids[0]]})
            assert r.status_code == 403, r.text
    # another workspace's admin cannot reach them
    async with stack.client(stack.tenant().key) as c:
        r = await c.post("/v1/decisions/erase", json={"ids": [ids[0]]})
        assert r.status_code == 404, r.text
        r = await c.post("/v1/decisions/erase", json={"external_ids": [_ticket(marker)]})
        assert r.status_code == 200 and r.json() == {"erased": 0, "decisions": []}, r.text
    assert len(_rows_holding(stack, marker)) == held


async def test_the_retention_erases_old_decisions(
    stack: Stack, tenant: Tenant, taxonomy_body: dict[str, Any]
) -> None:
    marker = f"zq{uuid.uuid4().hex[:12]}"
    ids, _, open_item, _ = await _setup(stack, tenant, taxonomy_body, marker)
    with stack.service.db.write() as conn:  # three of them were made 40 days ago
        conn.execute(
            update(decisions)
            .where(decisions.c.id.in_([ids[0], ids[1], ids[3]]))
            .values(created_at=utcnow() - timedelta(days=40))
        )
    keep = stack.variant(decision_retention_days=0)
    try:
        jobs_tasks.housekeeping(keep)  # retention off: nothing erased
    finally:
        keep.close()
    with stack.service.db.read() as conn:
        rows = conn.execute(select(decisions.c.redacted_at).where(decisions.c.id.in_(ids)))
        assert all(r.redacted_at is None for r in rows)
    service = stack.variant(decision_retention_days=30)
    try:
        jobs_tasks.housekeeping(service)
    finally:
        service.close()
    async with stack.client(tenant.key) as c:
        got = [(await c.get(f"/v1/decisions/{i}")).json() for i in ids]
    # the first answered, the second waiting for a person (left until answered), the
    # third recent, the fourth old and answered by nobody yet either
    assert [g["redacted_at"] is not None for g in got] == [True, False, False, False]
    assert got[0]["text"] == "" and marker in got[1]["text"] and marker in got[2]["text"]
    async with stack.client(tenant.key) as c:
        r = await c.post(f"/v1/review/items/{open_item['id']}/resolve", json={"action": "confirm"})
        assert r.status_code == 200, r.text
    service = stack.variant(decision_retention_days=30)
    try:
        assert jobs_tasks.housekeeping(service) >= 1
    finally:
        service.close()
    async with stack.client(tenant.key) as c:
        assert (await c.get(f"/v1/decisions/{ids[1]}")).json()["text"] == ""


async def test_a_bulk_job_keeps_no_copy_of_its_texts(
    stack: Stack, tenant: Tenant, taxonomy_body: dict[str, Any]
) -> None:
    """A classified row of a bulk job keeps its result, not its text or metadata (it kept
    them, out of the erasure's reach, as long as the job was kept)."""
    marker = f"zq{uuid.uuid4().hex[:12]}"
    rows = [
        {
            "text": f"{marker} was charged twice #{i}",
            "external_id": _ticket(marker),
            "metadata": {"email": f"{marker}@example.com"},
        }
        for i in range(3)
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    async with stack.client(tenant.key) as c:
        assert (await c.post("/v1/taxonomies", json=taxonomy_body)).status_code == 201
        r = await c.post(
            "/v1/jobs?taxonomy=support",
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 202, r.text
        job = r.json()
        for _ in range(600):
            job = (await c.get(f"/v1/jobs/{job['id']}")).json()
            if job["state"] in ("done", "failed", "cancelled"):
                break
            await asyncio.sleep(0.1)
        assert job["state"] == "done", job
        holding = _rows_holding(stack, marker)
        assert holding and all(h.startswith("decisions:") for h in holding), holding
        r = await c.post("/v1/decisions/erase", json={"external_ids": [_ticket(marker)]})
        assert r.status_code == 200 and r.json()["erased"] == 3, r.text
        assert _rows_holding(stack, marker) == []
        # the job's results are whole
        r = await c.get(f"/v1/jobs/{job['id']}/results")
        assert r.status_code == 200, r.text
        results = [json.loads(line) for line in r.text.splitlines() if line]
        assert [res["row"] for res in results] == [0, 1, 2]
        assert all(res["label"] for res in results)


async def test_the_operator_command_erases_as_the_api_does(
    stack: Stack, tenant: Tenant, taxonomy_body: dict[str, Any]
) -> None:
    """``triaged workspaces erase NAME --external-id X --id Y`` on the server's database:
    the same erasure, with its errors (an unknown id, an unknown workspace) said and
    nothing erased."""
    marker = f"zq{uuid.uuid4().hex[:12]}"
    ids, _, _, _ = await _setup(stack, tenant, taxonomy_body, marker)
    url = stack.url
    base = ["workspaces", "erase", tenant.workspace, "--database-url", url]
    res = CliRunner().invoke(cli, [*base, "--id", "dec_nope", "--id", ids[2], "--json"])
    assert res.exit_code != 0 and "dec_nope" in res.output, res.output
    res = CliRunner().invoke(
        cli, ["workspaces", "erase", "no-such-ws", "--id", ids[2], "--database-url", url]
    )
    assert res.exit_code != 0 and "no workspace" in res.output, res.output
    assert len(_rows_holding(stack, marker)) > 0
    res = CliRunner().invoke(
        cli, [*base, "--external-id", _ticket(marker), "--id", ids[2], "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["workspace"] == tenant.workspace and out["erased"] == 3
    assert _rows_holding(stack, marker) == []
    res = CliRunner().invoke(cli, [*base, "--id", ids[0]])
    assert res.exit_code == 0 and "erased 0 decision(s)" in res.output, res.output
