"""A `triaged worker` whose PostgreSQL went away (connection refused) and is then told to stop
(SIGTERM): procrastinate's shutdown records the end of each job in flight and unregisters the
worker through its connection pool, and each of those waited 30 s for a connection the pool
could not make, so the worker took ~30 s to exit (~60 s with a job in flight) and then
exited 1 with a traceback.  It now exits within seconds: 0 when the signal came first, 2
with its one line when it noticed the loss first; a bulk job it held is retried by the next
worker's stalled-job sweep and ends complete.

The server is a private one (``tests.private_pg``): stopping it leaves the shared one up."""

from __future__ import annotations

import io
import json
import signal
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.jobs.test_processes import TEXTS, _wait, worker_process
from tests.private_pg import private_postgres
from tests.servicekit import TINY_TAXONOMY, make_settings
from triaged.service import Service
from triaged.services.jobs_bulk import BulkOptions
from triaged.storage import upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

#: a generous bound (behaviour, not a benchmark): it took ~30 s, and ~60 s with a job
STOPS_WITHIN_S = 15.0


def _worker(url: str, log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """A worker process with the queue settings of tests/jobs/test_processes.py, logging at
    info, no example taxonomy to train, and a small pool."""
    extra = {
        "TRIAGED_BOOTSTRAP_ADMIN": "false",
        "TRIAGED_DB_POOL_SIZE": "2",
        "TRIAGED_DB_MAX_OVERFLOW": "4",
    }
    return worker_process(url, log, log_level="info", extra_env=extra)


def _stops_soon(proc: subprocess.Popen[bytes], log: Path) -> str:
    """SIGTERM ``proc`` and require it gone within :data:`STOPS_WITHIN_S`, cleanly: exit 0
    (the signal), or 2 with the worker's one line (it saw the loss first); never an
    uncaught error."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOPS_WITHIN_S)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"the worker still ran {STOPS_WITHIN_S} s after SIGTERM:\n{log.read_text()[-4000:]}"
        )
    out = log.read_text()
    assert proc.returncode in (0, 2), (proc.returncode, out[-4000:])
    if proc.returncode == 2:
        assert "error (unavailable): the worker stopped without being asked to" in out
    last = [line for line in out.splitlines() if line.strip()][-1]
    assert "Exception" not in last and "Error:" not in last, out[-4000:]
    return out


def test_an_idle_worker_without_its_database_stops_at_once(tmp_path: Path) -> None:
    with private_postgres() as pg:
        upgrade(pg.url)
        log = tmp_path / "worker.log"
        with _worker(pg.url, log) as proc:
            _wait("the worker", lambda: "Starting worker on queues" in log.read_text(), log=log)
            pg.stop()  # connection refused from now on
            _stops_soon(proc, log)


def test_a_worker_running_a_bulk_job_without_its_database_stops_and_the_job_ends(
    tmp_path: Path,
) -> None:
    n = 3000
    body = "".join(
        json.dumps({"text": f"{TEXTS[i % len(TEXTS)]} ({i})"}) + "\n" for i in range(n)
    ).encode()
    with private_postgres() as pg:
        upgrade(pg.url)
        svc = Service(make_settings(pg.url, migrate_on_start=False, job_queue="postgres"))
        try:
            key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
            admin = svc.authenticate(key)
            first = tmp_path / "worker1.log"
            with _worker(pg.url, first) as proc:
                svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "support"})
                _wait("the model", lambda: svc.get_taxonomy(admin, "support")["model"], log=first)
                job = svc.submit_job(admin, "support", io.BytesIO(body), "jsonl", BulkOptions())
                _wait("progress", lambda: svc.job(admin, job["id"])["done"] > 0, log=first)
                pg.stop()
                _stops_soon(proc, first)
            pg.start()
            svc.db.engine.dispose()  # its connections went with the server
            second = tmp_path / "worker2.log"
            with _worker(pg.url, second):
                # the job's queue row still names the first worker: the sweep retries it
                _wait(
                    "the job to end",
                    lambda: svc.job(admin, job["id"])["state"] == "done",
                    timeout=180,
                    log=second,
                )
            ended = svc.job(admin, job["id"])
            assert ended["done"] == n, ended
            rows = list(svc.job_results(admin, job["id"]))
            assert [r["row"] for r in rows] == list(range(n))
        finally:
            svc.close()


def test_a_worker_training_without_its_database_leaves_the_training(
    tmp_path: Path, datasets_dir: Path
) -> None:
    """A training computes for minutes before it stores its model: procrastinate waited for
    it and Python joined its thread at exit, so the worker stopped when the training ended.
    The worker now leaves it (it can store nothing; its retry trains again)."""
    labels: dict[str, list[str]] = {}
    for line in (datasets_dir / "banking77" / "train.jsonl").read_text().splitlines():
        row = json.loads(line)
        labels.setdefault(row["label"], []).append(row["text"])
    taxonomy = {
        "name": "banking",
        "labels": [
            {"name": name, "description": name.replace("_", " "), "examples": texts}
            for name, texts in labels.items()
        ],
    }
    with private_postgres() as pg:
        upgrade(pg.url)
        svc = Service(make_settings(pg.url, migrate_on_start=False, job_queue="postgres"))
        try:
            key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
            log = tmp_path / "worker.log"
            with _worker(pg.url, log) as proc:
                made = svc.create_taxonomy(svc.authenticate(key), taxonomy)
                beat = text("SELECT heartbeat_at FROM models WHERE id = :id")

                def training() -> bool:  # its first heartbeat: it has its data, it computes
                    with svc.db.engine.connect() as conn:
                        params = {"id": made["training"]["id"]}
                        return conn.execute(beat, params).scalar() is not None

                _wait("the training to compute", training, log=log)
                pg.stop()
                out = _stops_soon(proc, log)
            assert "leaving 1 job(s) that still run without the database" in out, out[-3000:]
        finally:
            svc.close()
