"""The embedded default (SQLite, jobs inside `triaged serve`): a bulk job whose server is
SIGKILLed resumes as soon as the server starts again (the killed run's process is known to
be gone from this machine, so the restart does not wait out TRIAGED_JOB_STALLED_SECONDS,
here an hour): complete, in order, counted once."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, free_port, make_settings, serve_subprocess
from triaged.service import Service
from triaged.services.jobs_bulk import decision_id
from triaged.storage import upgrade

pytestmark = pytest.mark.slow

# the heartbeat rule alone would make the restarted server wait an hour
STALLED = {"TRIAGED_JOB_STALLED_SECONDS": "3600"}


def test_bulk_job_resumes_after_serve_is_killed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    key = svc.create_key("acme", "admin", create_plan="unlimited").key
    svc.create_taxonomy(svc.authenticate(key or ""), {**TINY_TAXONOMY, "name": "support"})
    svc.close()
    auth = {"Authorization": f"Bearer {key}"}
    n = 2500
    body = "".join(json.dumps({"text": f"I was charged twice ({i})"}) + "\n" for i in range(n))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with serve_subprocess(url, port, log, STALLED) as proc:
        r = httpx.post(
            f"{base}/v1/jobs?taxonomy=support&format=jsonl", content=body, headers=auth, timeout=60
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 120
        while (
            done := httpx.get(f"{base}/v1/jobs/{job_id}", headers=auth, timeout=60).json()["done"]
        ) < 500:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        assert done < n
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with serve_subprocess(url, port, log, STALLED):
        deadline = time.monotonic() + 180
        while (job := httpx.get(f"{base}/v1/jobs/{job_id}", headers=auth, timeout=60).json())[
            "state"
        ] != "done":
            assert time.monotonic() < deadline, (job, log.read_text()[-2000:])
            time.sleep(0.1)
        rows = [
            json.loads(x)
            for x in httpx.get(
                f"{base}/v1/jobs/{job_id}/results", headers=auth, timeout=60
            ).text.splitlines()
        ]
        usage = httpx.get(f"{base}/v1/usage", headers=auth, timeout=60).json()
    assert [r["row"] for r in rows] == list(range(n))
    assert [r["id"] for r in rows] == [decision_id(job_id, i) for i in range(n)]
    assert job["done"] == n and job["attempts"] == 2
    assert usage["used"] == n
