"""SIGTERM on a `triaged worker` running a bulk job (PostgreSQL queue): the worker stops
after the chunk in flight instead of running the whole job with its heartbeat stopped
(another worker then found the job stalled and ran it a second time beside it); the rest
of the job goes back in the queue (the job says ``queued`` meanwhile) and the next worker
finishes it: every row once, in order, counted once."""

from __future__ import annotations

import io
import json
import signal
import time
from pathlib import Path

import pytest

from tests.jobs.test_processes import TEXTS, _wait, worker_process
from tests.servicekit import TINY_TAXONOMY, make_settings, pg_database
from triaged.service import Service
from triaged.services.jobs_bulk import BulkOptions, decision_id
from triaged.storage import upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_sigterm_stops_a_bulk_job_after_its_chunk_and_the_next_worker_ends_it(
    tmp_path: Path,
) -> None:
    n = 4000
    body = "".join(
        json.dumps({"text": f"{TEXTS[i % len(TEXTS)]} ({i})"}) + "\n" for i in range(n)
    ).encode()
    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False, job_queue="postgres"))
        try:
            key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
            admin = svc.authenticate(key)
            first_log = tmp_path / "worker1.log"
            with worker_process(url, first_log, log_level="info") as first:
                svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "support"})
                _wait(
                    "the first model",
                    lambda: svc.get_taxonomy(admin, "support")["model"],
                    log=first_log,
                )
                job = svc.submit_job(admin, "support", io.BytesIO(body), "jsonl", BulkOptions())
                _wait(
                    "a quarter", lambda: svc.job(admin, job["id"])["done"] >= n // 4, log=first_log
                )
                first.send_signal(signal.SIGTERM)
                stopping = time.monotonic()
                first.wait(60)
                assert first.returncode == 0, first_log.read_text()[-3000:]
            stopped = svc.job(admin, job["id"])
            log = first_log.read_text()
            # waiting for a worker, and it says so (it said "running", with no progress)
            assert stopped["state"] == "queued" and stopped["done"] < n, (stopped, log[-3000:])
            assert stopped["eta_seconds"] is not None
            assert "queued for the rest" in log, log[-3000:]
            with worker_process(url, tmp_path / "worker2.log") as second:
                done = _wait(
                    "the job to finish",
                    lambda: (j := svc.job(admin, job["id"]))["state"] == "done" and j,
                    log=tmp_path / "worker2.log",
                )
                assert second.poll() is None
            assert done["done"] == n and done["total"] == n
            rows = list(svc.job_results(admin, job["id"]))
            assert [r["row"] for r in rows] == list(range(n))
            assert [r["id"] for r in rows] == [decision_id(job["id"], i) for i in range(n)]
            assert svc.usage(admin)["used"] == n
            assert "its worker stopped" not in log + (tmp_path / "worker2.log").read_text()
            assert time.monotonic() - stopping < 120
        finally:
            svc.close()
