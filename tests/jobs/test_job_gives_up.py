"""A bulk job whose run fails the same way every time ends ``failed`` after
``MAX_RUNS`` runs; it stayed "running" for ever, taken over and failing again."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from tests.jobs.test_bulk_api import _url
from tests.servicekit import BACKENDS, TINY_TAXONOMY, make_stack
from triaged.service import ClassifyItem
from triaged.services import jobs_bulk
from triaged.services.jobs_run import MAX_RUNS, run_bulk_job
from triaged.storage.tables import decisions


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_job_failing_in_every_run_fails_after_max_runs(backend: str, tmp_path: Path) -> None:
    with _url(backend, tmp_path) as url:
        stack = make_stack(backend, url)
        svc = stack.service
        try:
            principal = svc.authenticate(stack.tenant().key)
            svc.create_taxonomy(principal, {**TINY_TAXONOMY, "name": "support"})
            [online], _ = svc.classify(principal, "support", [ClassifyItem("charged twice")])
            s = svc.settings
            limits = jobs_bulk.Limits(s.max_text_chars, s.max_metadata_depth, s.max_metadata_bytes)
            job = jobs_bulk.create(  # stored and queued, not started: the test runs it
                svc.db,
                principal,
                "support",
                io.BytesIO(b"text\nrefund please\nwhere is my parcel\n"),
                "csv",
                jobs_bulk.BulkOptions(),
                limits,
                lambda _conn, _job_id: None,
            )
            # a decision already under the id of the job's first row: its chunk cannot
            # commit, run after run (as two jobs of one millisecond collided until 6 Dec)
            with svc.db.write() as conn:
                row = dict(
                    conn.execute(select(decisions).where(decisions.c.id == online["id"]))
                    .one()
                    ._mapping
                )
                conn.execute(
                    insert(decisions).values({**row, "id": jobs_bulk.decision_id(job["id"], 0)})
                )
            for _ in range(MAX_RUNS - 1):
                with pytest.raises(Exception, match=r"(?i)unique|integrity|duplicate"):
                    run_bulk_job(svc, job["id"])
                assert svc.job(principal, job["id"])["state"] == "running"
            assert run_bulk_job(svc, job["id"]) == "failed"
            out = svc.job(principal, job["id"])
            assert out["state"] == "failed" and out["done"] == 0, out
            assert out["error"]["code"] == "job_error"
            assert out["error"]["details"]["attempts"] == MAX_RUNS
            assert "INSERT" not in out["error"]["message"]  # no SQL in the answer
        finally:
            svc.close()
