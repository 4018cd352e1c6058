"""A bulk job whose worker died says so: real `triaged serve` and `triaged worker` processes on
the PostgreSQL queue.  The worker is SIGKILLed mid-job and none is left: the job kept
answering ``running`` with an ETA that crept forward; once it has recorded nothing for
longer than ``TRIAGED_JOB_STALLED_SECONDS`` it now answers ``stalled: true``, its last sign
of life and a null ETA (API, ``triaged jobs status``, the SDK's ``Job``).  A new worker
retries it: ``running`` again, not stalled, and it ends complete.

A job the plan's per-minute limit paces is alive while it waits for the next minute: the
worker beats on it (on the queue only a chunk's commit moved its heartbeat), so it is
never shown stalled."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.jobs.test_processes import QUEUE_ENV, TEXTS, _wait
from tests.servicekit import (
    TINY_TAXONOMY,
    free_port,
    make_settings,
    pg_database,
    serve_subprocess,
)
from triaged.client import Client
from triaged.service import Service
from triaged.services.jobs_bulk import BulkOptions
from triaged.storage import upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STALLED_S = "4"
ENV = {**QUEUE_ENV, "TRIAGED_JOB_STALLED_SECONDS": STALLED_S}


def _worker(url: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    full = {**os.environ, **ENV, "TRIAGED_LOG_LEVEL": "info", **(env or {})}
    cmd = [sys.executable, "-m", "triaged.cli", "worker", "--database-url", url]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=full, stdout=fh, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def _body(n: int) -> bytes:
    return "".join(
        json.dumps({"text": f"{TEXTS[i % len(TEXTS)]} ({i})"}) + "\n" for i in range(n)
    ).encode()


def _get(base: str, key: str, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"})
    r.raise_for_status()
    out: dict[str, Any] = r.json()
    return out


def test_a_job_whose_worker_died_says_stalled_until_a_worker_resumes_it(tmp_path: Path) -> None:
    n = 4000
    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False, job_queue="postgres"))
        key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
        admin = svc.authenticate(key)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        workers: list[subprocess.Popen[bytes]] = []
        try:
            with serve_subprocess(url, port, tmp_path / "api.log", env=ENV):
                first = tmp_path / "worker1.log"
                workers.append(_worker(url, first))
                svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "support"})
                _wait("the model", lambda: svc.get_taxonomy(admin, "support")["model"], log=first)
                job = svc.submit_job(admin, "support", io.BytesIO(_body(n)), "jsonl", BulkOptions())
                _wait("progress", lambda: _get(base, key, job["id"])["done"] > 0, log=first)
                live = _get(base, key, job["id"])
                assert live["state"] == "running" and live["stalled"] is False, live
                assert live["stalled_since"] is None
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait(10)

                stalled = _wait(
                    "the job to say it is stalled",
                    lambda: (j := _get(base, key, job["id"]))["stalled"] and j,
                    timeout=60,
                    log=tmp_path / "api.log",
                )
                assert stalled["state"] == "running" and stalled["done"] < n, stalled
                assert stalled["eta_seconds"] is None and stalled["stalled_since"], stalled
                assert stalled["rate"] is not None and stalled["rate"] > 0

                cli = subprocess.run(
                    [sys.executable, "-m", "triaged.cli", "jobs", "status", job["id"]],
                    env={**os.environ, "TRIAGED_URL": base, "TRIAGED_API_KEY": key},
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert cli.returncode == 0, cli.stderr
                shown = json.loads(cli.stdout)
                assert shown["stalled"] is True and shown["eta_seconds"] is None, shown
                assert f"job {job['id']} is stalled" in cli.stderr, cli.stderr

                with Client(base, key) as client:
                    sdk_job = client.job(job["id"])
                assert sdk_job.stalled is True and sdk_job.eta_seconds is None
                assert sdk_job.stalled_since == stalled["stalled_since"]

                second = tmp_path / "worker2.log"
                workers.append(_worker(url, second))
                resumed = _wait(
                    "a new worker to resume it",
                    lambda: not (j := _get(base, key, job["id"]))["stalled"] and j,
                    log=second,
                )
                assert resumed["state"] in ("running", "done"), resumed
                assert resumed["stalled_since"] is None
                done = _wait(
                    "the job to end",
                    lambda: (j := _get(base, key, job["id"]))["state"] == "done" and j,
                    timeout=240,
                    log=second,
                )
                assert done["done"] == n and done["stalled"] is False
        finally:
            for proc in workers:
                _stop(proc)
            svc.close()


def test_a_job_paced_by_the_per_minute_limit_is_not_stalled_while_it_waits(
    tmp_path: Path,
) -> None:
    plans = {"paced": {"monthly_quota": 100000, "per_minute": 40}}
    with pg_database() as url:
        upgrade(url)
        settings = make_settings(url, migrate_on_start=False, job_queue="postgres")
        svc = Service(settings.with_overrides(plans=plans))
        key = svc.create_key("acme", "admin", create_plan="paced").key or ""
        admin = svc.authenticate(key)
        log = tmp_path / "worker.log"
        worker = _worker(url, log, env={"TRIAGED_PLANS": json.dumps(plans)})
        try:
            svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "support"})
            _wait("the model", lambda: svc.get_taxonomy(admin, "support")["model"], log=log)
            # 40 rows a minute (calendar minutes), 50 rows: it runs a chunk of 40, waits for
            # the next minute, runs the last 10.  Submitted early enough in a minute that the
            # chunk is done in it and the wait is longer than the stall setting.
            while time.time() % 60 > 45:
                time.sleep(0.5)
            job = svc.submit_job(admin, "support", io.BytesIO(_body(50)), "jsonl", BulkOptions())
            seen: dict[int, list[float]] = {}  # rows done -> when the view said so
            give_up = time.monotonic() + 300
            while (view := svc.job(admin, job["id"]))["state"] != "done":
                assert view["state"] in ("queued", "running") and not view["stalled"], view
                seen.setdefault(view["done"], []).append(time.monotonic())
                assert worker.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < give_up, (view, log.read_text()[-3000:])
                time.sleep(0.25)
            # the test saw the pace: some wait with no row done was longer than the stall
            # setting (the wait between minutes), and the job was not stalled in it
            longest = max(t[-1] - t[0] for done, t in seen.items() if done > 0)
            assert longest > float(STALLED_S), seen.keys()
        finally:
            _stop(worker)
            svc.close()
