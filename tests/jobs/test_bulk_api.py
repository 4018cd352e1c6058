"""Bulk jobs over the API, in-process runner: upload, progress, results in order, cancel,
quota counted once per text, decisions logged with ids derived from (job, row)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.servicekit import BACKENDS, TINY_TAXONOMY, Stack, Tenant, backend_url, make_stack
from triaged.service import Service
from triaged.services.jobs_bulk import decision_id
from triaged.storage.tables import decisions

TEXTS = [
    "I was charged twice for my subscription",
    "the app crashes whenever I press save",
    "how can I change the email on my profile",
    "refund please, the invoice is wrong",
    "error 500 after login",
]


def _url(backend: str, tmp_path: Path) -> AbstractContextManager[str]:
    return backend_url(backend, tmp_path, "jobs.db")


def _support_stack(tmp_path: Path, plan: str = "unlimited") -> tuple[Stack, Tenant, Service]:
    """A SQLite stack, a tenant on ``plan`` and its ``support`` taxonomy (trained inline)."""
    stack = make_stack("sqlite", f"sqlite:///{tmp_path / 'jobs.db'}")
    tenant = stack.tenant(plan)
    stack.service.create_taxonomy(
        stack.service.authenticate(tenant.key), {**TINY_TAXONOMY, "name": "support"}
    )
    return stack, tenant, stack.service


def _jsonl(n: int) -> bytes:
    rows = [{"text": f"{TEXTS[i % len(TEXTS)]} #{i}", "external_id": f"t{i}"} for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


async def _wait_done(client: Any, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_jsonl_job_runs_in_order_counts_once_and_logs(backend: str, tmp_path: Path) -> None:
    with _url(backend, tmp_path) as url:
        stack = make_stack(backend, url)
        tenant = stack.tenant()
        svc = stack.service
        principal = svc.authenticate(tenant.key)
        svc.create_taxonomy(principal, {**TINY_TAXONOMY, "name": "support"})
        n = 600  # three chunks

        async def run() -> tuple[dict[str, Any], list[dict[str, Any]], str]:
            async with stack.client(tenant.key) as c:
                r = await c.post(
                    "/v1/jobs?taxonomy=support",
                    content=_jsonl(n),
                    headers={"Content-Type": "application/x-ndjson"},
                )
                assert r.status_code == 202, r.text
                job = r.json()
                assert job["total"] == n and job["state"] in ("queued", "running", "done")
                done = await _wait_done(c, job["id"])
                res = await c.get(f"/v1/jobs/{job['id']}/results")
                rows = [json.loads(line) for line in res.text.splitlines()]
                csv_text = (await c.get(f"/v1/jobs/{job['id']}/results?format=csv")).text
                return done, rows, csv_text

        try:
            done, rows, csv_text = asyncio.run(run())
            assert done["state"] == "done" and done["done"] == n
            assert [r["row"] for r in rows] == list(range(n))
            assert [r["external_id"] for r in rows] == [f"t{i}" for i in range(n)]
            assert [r["id"] for r in rows] == [decision_id(done["id"], i) for i in range(n)]
            parsed = list(csv.DictReader(io.StringIO(csv_text)))
            assert [p["id"] for p in parsed] == [r["id"] for r in rows]
            assert svc.usage(principal)["used"] == n  # each text counted once
            with svc.db.read() as conn:
                logged = conn.execute(
                    select(func.count())
                    .select_from(decisions)
                    .where(decisions.c.workspace_id == principal.workspace_id)
                ).scalar_one()
            assert logged == n
        finally:
            svc.close()


def test_csv_job_with_columns_and_no_logging(tmp_path: Path) -> None:
    stack, tenant, svc = _support_stack(tmp_path)
    principal = svc.authenticate(tenant.key)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["ticket", "body", "team"])
    for i, t in enumerate(TEXTS):
        w.writerow([f"k{i}", t, "emea"])

    async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with stack.client(tenant.key) as c:
            r = await c.post(
                "/v1/jobs?taxonomy=support&text_field=body&id_field=ticket"
                "&metadata_fields=team&log=false",
                files={"file": ("tickets.csv", buf.getvalue().encode(), "text/csv")},
            )
            assert r.status_code == 202, r.text
            # id_field=null is "no id", as documented (it was read as a column "null": 422)
            none = await c.post(
                "/v1/jobs?taxonomy=support&text_field=body&id_field=null&log=false",
                files={"file": ("tickets.csv", buf.getvalue().encode(), "text/csv")},
            )
            assert none.status_code == 202, none.text
            unnamed = await _wait_done(c, none.json()["id"])
            res = await c.get(f"/v1/jobs/{unnamed['id']}/results")
            assert {json.loads(x)["external_id"] for x in res.text.splitlines()} == {None}
            done = await _wait_done(c, r.json()["id"])
            res = await c.get(f"/v1/jobs/{done['id']}/results")
            return done, [json.loads(x) for x in res.text.splitlines()]

    try:
        done, rows = asyncio.run(run())
        assert done["state"] == "done" and done["log"] is False
        assert [r["external_id"] for r in rows] == [f"k{i}" for i in range(len(TEXTS))]
        assert rows[0]["label"] == "billing"
        assert {r["id"] for r in rows} == {None}  # nothing logged: no decision to point at
        with svc.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(decisions)).scalar_one() == 0
        assert svc.usage(principal)["used"] == 2 * len(TEXTS)  # counted even when not logged
    finally:
        svc.close()


def test_bad_row_refuses_the_upload_with_its_line(tmp_path: Path) -> None:
    stack, tenant, svc = _support_stack(tmp_path)
    body = b'{"text": "fine"}\n{"text": ""}\n'
    # metadata that is not an object was dropped silently (a 202, the decision's null)
    bad_meta = b'{"text": "fine"}\n{"text": "ok", "metadata": "str"}\n'

    # Infinity is no id: it was stored as the external id "inf" (and NaN as "nan": NaN is
    # a missing number, no id, as `triaged batch` reads it)
    not_json = b'{"text": "fine", "external_id": NaN}\n{"text": "inf", "external_id": Infinity}\n'

    async def run() -> Any:
        async with stack.client(tenant.key) as c:
            r = await c.post("/v1/jobs?taxonomy=support&format=jsonl", content=body)
            meta = await c.post("/v1/jobs?taxonomy=support&format=jsonl", content=bad_meta)
            nan = await c.post("/v1/jobs?taxonomy=support&format=jsonl", content=not_json)
            listed = (await c.get("/v1/jobs")).json()
            missing = await c.get("/v1/jobs/job_nope/results")
            return r, meta, nan, listed, missing

    try:
        r, meta, nan, listed, missing = asyncio.run(run())
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"]["line"] == 2
        assert meta.status_code == 422, meta.text
        assert meta.json()["error"]["details"] == {"line": 2, "field": "metadata"}
        assert nan.status_code == 422 and nan.json()["error"]["details"]["line"] == 2, nan.text
        assert "must be a string or a number, not infinity" in nan.json()["error"]["message"]
        assert listed["data"] == []  # no partial job
        assert missing.status_code == 404
    finally:
        svc.close()


def test_a_nan_external_id_is_no_id_as_batch_reads_it(tmp_path: Path) -> None:
    """NaN (Python writes it for a missing number) was stored as the external id "nan";
    `triaged batch` reads it as no id, and so does a job now."""
    stack, tenant, svc = _support_stack(tmp_path)
    body = b'{"text": "refund please", "external_id": NaN}\n{"text": "x", "external_id": 7}\n'

    async def run() -> list[Any]:
        async with stack.client(tenant.key) as c:
            r = await c.post("/v1/jobs?taxonomy=support&format=jsonl", content=body)
            assert r.status_code == 202, r.text
            done = await _wait_done(c, r.json()["id"])
            res = await c.get(f"/v1/jobs/{done['id']}/results")
            return [json.loads(x)["external_id"] for x in res.text.splitlines()]

    try:
        assert asyncio.run(run()) == [None, "7"]
    finally:
        svc.close()


def test_a_jsonl_row_without_the_named_id_field_is_refused(tmp_path: Path) -> None:
    """JSONL has no header to check: with ``id_field`` named, a row without that field is
    refused with its line (a misspelt name dropped every id), null stays "no id"; the
    default ``external_id`` may be left out."""
    stack, tenant, svc = _support_stack(tmp_path)
    body = b'{"text": "refund please", "ticket": "t1"}\n{"text": "app crash", "tiket": "t2"}\n'
    nulls = b'{"text": "refund please", "ticket": "t1"}\n{"text": "app crash", "ticket": null}\n'
    plain = b'{"text": "refund please", "external_id": "t1"}\n{"text": "app crash"}\n'

    async def run() -> Any:
        async with stack.client(tenant.key) as c:
            url = "/v1/jobs?taxonomy=support&format=jsonl"
            bad = await c.post(url + "&id_field=ticket", content=body)
            listed = (await c.get("/v1/jobs")).json()
            ok = [await c.post(url + "&id_field=ticket", content=nulls)]
            ok.append(await c.post(url, content=plain))
            results = []
            for r in ok:
                assert r.status_code == 202, r.text
                done = await _wait_done(c, r.json()["id"])
                res = await c.get(f"/v1/jobs/{done['id']}/results")
                results.append([json.loads(x)["external_id"] for x in res.text.splitlines()])
            return bad, listed, results

    try:
        bad, listed, results = asyncio.run(run())
        assert bad.status_code == 422, bad.text
        error = bad.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"] == {"line": 2, "field": "id_field", "reason": "missing_field"}
        assert "'ticket'" in error["message"]
        assert listed["data"] == []  # no partial job
        assert results == [["t1", None], ["t1", None]]
    finally:
        svc.close()


def test_cancel_stops_the_job_and_counts_only_rows_done(tmp_path: Path) -> None:
    stack, tenant, svc = _support_stack(tmp_path)
    principal = svc.authenticate(tenant.key)
    n = 3000

    async def run() -> tuple[dict[str, Any], list[str]]:
        async with stack.client(tenant.key) as c:
            r = await c.post(
                "/v1/jobs?taxonomy=support",
                content=_jsonl(n),
                headers={"Content-Type": "application/x-ndjson"},
            )
            job_id = r.json()["id"]
            cancelled = (await c.post(f"/v1/jobs/{job_id}/cancel")).json()
            assert cancelled["state"] == "cancelled"
            again = await c.post(f"/v1/jobs/{job_id}/cancel")  # idempotent
            assert again.status_code == 200
            svc.jobs.wait(timeout=120)  # the runner stops after its chunk in flight
            final = (await c.get(f"/v1/jobs/{job_id}")).json()
            res = await c.get(f"/v1/jobs/{job_id}/results")
            return final, res.text.splitlines()

    try:
        final, lines = asyncio.run(run())
        assert final["state"] == "cancelled" and final["done"] < n
        assert len(lines) == final["done"] == svc.usage(principal)["used"]
    finally:
        svc.close()


def test_a_job_uses_the_quota_left_and_stops_on_an_archived_taxonomy(
    tmp_path: Path,
) -> None:
    """Free plan (100 a month) with 30 used: a job of 150 rows is refused at submission
    (429, until 8 December it did 70 and failed, keeping its 150 rows; a job that runs out
    meanwhile: tests/jobs/test_job_quota.py), one of 70 runs whole.  A job on an archived
    taxonomy is refused (409) as /v1/classify is; one archived while it runs fails at its
    next chunk with the same 409 (jobs_run._run)."""
    stack, tenant, svc = _support_stack(tmp_path, "free")
    principal = svc.authenticate(tenant.key)

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        async with stack.client(tenant.key) as c:
            texts = [f"refund {i}" for i in range(30)]
            r = await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": texts})
            assert r.status_code == 200, r.text
            r = await c.post(
                "/v1/jobs?taxonomy=support",
                content=_jsonl(150),
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
            r = await c.post(
                "/v1/jobs?taxonomy=support",
                content=_jsonl(70),
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert r.status_code == 202, r.text
            quota_job = await _wait_done(c, r.json()["id"])
            await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": "gone"})
            await c.post("/v1/taxonomies/gone/archive")
            r = await c.post(
                "/v1/jobs?taxonomy=gone",
                content=_jsonl(3),
                headers={"Content-Type": "application/x-ndjson"},
            )
            return quota_job, {"status": r.status_code, "code": r.json()["error"]["code"]}

    try:
        quota_job, archived = asyncio.run(run())
        assert quota_job["state"] == "done" and quota_job["done"] == 70, quota_job
        assert svc.usage(principal)["used"] == 100
        assert archived == {"status": 409, "code": "conflict"}  # refused at submission
    finally:
        svc.close()


def test_a_deleted_job_reads_as_gone(tmp_path: Path) -> None:
    """A run whose job was deleted with its workspace ends quietly (it raised NoResultFound,
    logged as a traceback, when a workspace was deleted while its job ran)."""
    from triaged.storage import job_repo

    stack = make_stack("sqlite", f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        with stack.service.db.read() as conn:
            assert job_repo.job_state(conn, "job_deleted") == ("gone", 0)
    finally:
        stack.service.close()


def test_an_upload_of_an_unknown_media_type_is_415(tmp_path: Path) -> None:
    """Examples as XML answered 400 invalid_dataset and a job with no Content-Type 422,
    while the README promised 415 unsupported_media_type."""
    stack, tenant, svc = _support_stack(tmp_path)

    async def run() -> list[Any]:
        async with stack.client(tenant.key) as c:
            xml = {"Content-Type": "application/xml"}
            return [
                await c.post("/v1/taxonomies/support/examples", content=b"<x/>", headers=xml),
                await c.post("/v1/jobs?taxonomy=support", content=b"<x/>", headers=xml),
                await c.post("/v1/jobs?taxonomy=support", content=b'{"text": "hi"}\n'),
            ]

    try:
        for r in asyncio.run(run()):
            assert r.status_code == 415, r.text
            assert r.json()["error"]["code"] == "unsupported_media_type"
    finally:
        svc.close()
