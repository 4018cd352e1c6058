"""A bulk job must fit the monthly quota left at submission (else 429, nothing stored), and
a job that ends failed or cancelled keeps its results, not the rows it never classified
(what online requests may use while a job runs: tests/jobs/test_job_quota_reserve.py).
Until 6 December a 400,000-row upload on a free workspace with nothing left was accepted
and stored whole, failed seconds later, and kept all its rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.jobs.test_bulk_api import _jsonl, _url, _wait_done
from tests.servicekit import BACKENDS, TINY_TAXONOMY, Stack, make_stack
from triaged.service import Service
from triaged.services import jobs_bulk
from triaged.services.jobs_run import run_bulk_job
from triaged.storage.jobs import bulk_job_rows, bulk_jobs

JSONL = {"Content-Type": "application/x-ndjson"}


@contextmanager
def _free(backend: str, tmp_path: Path) -> Iterator[tuple[Stack, str, Service]]:
    """A stack on ``backend``, a free workspace's admin key and its trained ``support``."""
    with _url(backend, tmp_path) as url:
        stack = make_stack(backend, url)
        try:
            key = stack.tenant("free").key
            principal = stack.service.authenticate(key)
            stack.service.create_taxonomy(principal, {**TINY_TAXONOMY, "name": "support"})
            yield stack, key, stack.service
        finally:
            stack.service.close()


def _stored(svc: Service) -> tuple[int, int]:
    """(jobs, job rows) in the database (one workspace per database here)."""
    with svc.db.read() as conn:
        jobs = conn.execute(select(func.count()).select_from(bulk_jobs)).scalar_one()
        rows = conn.execute(select(func.count()).select_from(bulk_job_rows)).scalar_one()
    return int(jobs), int(rows)


def _queued_job(svc: Service, key: str, n: int) -> str:
    """A job of ``n`` rows, queued, that nothing runs yet (its enqueue does nothing)."""
    job = jobs_bulk.create(
        svc.db,
        svc.authenticate(key),
        "support",
        io.BytesIO(_jsonl(n)),
        "jsonl",
        jobs_bulk.BulkOptions(),
        jobs_bulk.Limits(10_000, 8, 65_536),
        lambda conn, job_id: None,
    )
    return str(job["id"])


async def _classify(c: Any, n: int) -> None:
    r = await c.post("/v1/classify/batch", json={"taxonomy": "support", "texts": ["hi"] * n})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_job_over_the_quota_left_is_refused_and_nothing_is_stored(
    backend: str, tmp_path: Path
) -> None:
    with _free(backend, tmp_path) as (stack, key, svc):

        async def run() -> None:
            async with stack.client(key) as c:
                await _classify(c, 30)  # 70 left
                r = await c.post("/v1/jobs?taxonomy=support", content=_jsonl(150), headers=JSONL)
                assert r.status_code == 429, r.text
                err = r.json()["error"]
                assert err["code"] == "quota_exceeded" and int(r.headers["Retry-After"]) >= 1
                assert err["details"]["rows"] == 150 and err["details"]["left"] == 70
                assert _stored(svc) == (0, 0)  # counted before a row was stored
                assert (await c.get("/v1/jobs")).json()["data"] == []
                assert (await c.get("/v1/usage")).json()["used"] == 30
                # a job that fits is taken and runs whole
                r = await c.post("/v1/jobs?taxonomy=support", content=_jsonl(70), headers=JSONL)
                assert r.status_code == 202, r.text
                job = await _wait_done(c, r.json()["id"])
                assert job["state"] == "done" and job["done"] == 70
                r = await c.post("/v1/jobs?taxonomy=support", content=_jsonl(1), headers=JSONL)
                assert r.status_code == 429 and r.json()["error"]["details"]["left"] == 0

        asyncio.run(run())


@pytest.mark.parametrize("backend", BACKENDS)
def test_rows_waiting_in_unfinished_jobs_are_not_left(backend: str, tmp_path: Path) -> None:
    """Two jobs submitted together cannot each take the whole quota left."""
    with _free(backend, tmp_path) as (stack, key, svc):
        _queued_job(svc, key, 60)

        async def run() -> None:
            async with stack.client(key) as c:
                r = await c.post("/v1/jobs?taxonomy=support", content=_jsonl(50), headers=JSONL)
                assert r.status_code == 429, r.text
                details = r.json()["error"]["details"]
                assert details["left"] == 40 and details["waiting"] == 60
                assert details["rows"] == 50

        asyncio.run(run())
        assert _stored(svc) == (1, 60)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_job_keeps_its_results_and_drops_its_unclassified_rows(
    backend: str, tmp_path: Path
) -> None:
    """A job of 100 rows accepted without the quota check (as on another plan, before the
    workspace moved to free) after 40 texts were classified: it does 60, fails on the
    exhausted quota, and only the 60 rows with a result stay (readable).  (A job accepted
    on its plan holds its rows: tests/jobs/test_job_quota_reserve.py.)"""
    with _free(backend, tmp_path) as (stack, key, svc):

        async def classify() -> None:
            async with stack.client(key) as c:
                await _classify(c, 40)

        asyncio.run(classify())
        job_id = _queued_job(svc, key, 100)
        assert run_bulk_job(svc, job_id) == "failed"

        async def read() -> tuple[dict[str, Any], list[str]]:
            async with stack.client(key) as c:
                job = (await c.get(f"/v1/jobs/{job_id}")).json()
                results = (await c.get(f"/v1/jobs/{job_id}/results")).text.splitlines()
                return job, results

        job, results = asyncio.run(read())
        assert job["state"] == "failed" and job["error"]["code"] == "quota_exceeded"
        assert job["done"] == 60 and job["total"] == 100
        assert len(results) == 60
        assert _stored(svc) == (1, 60)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cancelled_job_drops_its_unclassified_rows(backend: str, tmp_path: Path) -> None:
    with _free(backend, tmp_path) as (stack, key, svc):
        job_id = _queued_job(svc, key, 40)
        assert _stored(svc) == (1, 40)

        async def run() -> dict[str, Any]:
            async with stack.client(key) as c:
                r = await c.post(f"/v1/jobs/{job_id}/cancel")
                assert r.status_code == 200, r.text
                assert (await c.get(f"/v1/jobs/{job_id}/results")).text == ""
                return dict((await c.get(f"/v1/jobs/{job_id}")).json())

        job = asyncio.run(run())
        assert job["state"] == "cancelled" and job["total"] == 40 and job["done"] == 0
        assert _stored(svc) == (1, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jobs_submitted_at_once_are_checked_one_after_the_other(
    backend: str, tmp_path: Path
) -> None:
    """Four 40-row jobs at once on a free workspace (100 a month): two fit, two are
    refused (the check read the quota before any job was stored: all four passed)."""
    from concurrent.futures import ThreadPoolExecutor

    from triaged.errors import QuotaExceeded

    with _free(backend, tmp_path) as (_, key, svc):
        principal = svc.authenticate(key)

        def submit(_: int) -> str:
            try:
                body = io.BytesIO(_jsonl(40))
                svc.submit_job(principal, "support", body, "jsonl", jobs_bulk.BulkOptions())
            except QuotaExceeded:
                return "refused"
            return "taken"

        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = sorted(pool.map(submit, range(4)))
        assert outcomes == ["refused", "refused", "taken", "taken"], outcomes
        svc.wait_for_jobs(timeout=300)
        assert _stored(svc)[0] == 2
