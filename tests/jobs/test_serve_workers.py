"""The embedded default with several API processes (`triaged serve --workers 2`: SQLite,
jobs inside the API processes): a bulk job is run by exactly one process at a time.

uvicorn's supervisor replaces a SIGKILLed worker process.  Killing the process that does
not run the job must not start a second run of it (the replacement finds the job's runner
alive: its heartbeat is fresh, its process alive); killing the one that runs it hands the
job over once, to one process (the runner's process is known to be gone from this
machine).  The job is sized to several minutes of work, so that it is still running
whatever the box's speed, and cancelled once the new run has gone on past the kill: the
rows done before and after the take-over are in input order, with one decision per row
and each row counted once; ``attempts`` counts the runs: 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, free_port, make_settings
from triaged.service import Service
from triaged.services.jobs_bulk import decision_id
from triaged.storage import upgrade

pytestmark = pytest.mark.slow

STALLED_S = 3.0


@contextmanager
def serve_workers(url: str, port: int, log: Path, workers: int) -> Iterator[int]:
    """N API processes under uvicorn's supervisor, as `triaged serve --workers N` runs them
    (the app factory, migrations done once before), in a session of their own (killed as a
    group on exit).  uvicorn's worker health check is given 60 s instead of its 5: on a
    loaded two-core box a worker that is still importing the ML stack misses it and is
    killed, again and again."""
    env = {
        **os.environ,
        "TRIAGED_DATABASE_URL": url,
        "TRIAGED_MIGRATE_ON_START": "false",
        "TRIAGED_BOOTSTRAP_ADMIN": "false",
        "TRIAGED_LOG_LEVEL": "warning",
        "TRIAGED_JOB_STALLED_SECONDS": str(STALLED_S),
    }
    cmd = [sys.executable, "-m", "uvicorn", "triaged.api:create_app", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    cmd += ["--timeout-worker-healthcheck", "60", "--no-access-log"]
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait("the server", lambda: _healthy(port) and len(_workers(proc.pid)) == workers, log)
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _workers(parent: int) -> set[int]:
    """uvicorn's worker processes: the children of ``parent`` spawned by multiprocessing."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.add(int(entry.name))
    return found


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _idle(pid: int, window_s: float = 2.0) -> bool:
    """Whether ``pid`` used under 5% of a core over the last ``window_s`` (after a busy start)."""
    before = _cpu_ticks(pid)
    time.sleep(window_s)
    return _cpu_ticks(pid) - before < 0.05 * 100 * window_s  # 100 ticks a second


def _stopped(job: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """The job's state once it is cancelled and its row count has stopped moving."""
    first: dict[str, Any] = job()
    if first["state"] != "cancelled":
        return None
    time.sleep(2.0)
    second: dict[str, Any] = job()
    return second if second["done"] == first["done"] else None


def _wait(what: str, check: Any, log: Path, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def test_a_bulk_job_is_run_once_under_serve_workers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    key = svc.create_key("acme", "admin", create_plan="unlimited").key
    svc.create_taxonomy(svc.authenticate(key or ""), {**TINY_TAXONOMY, "name": "support"})
    svc.close()
    auth = {"Authorization": f"Bearer {key}"}
    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"

    def post(n: int, prefix: str) -> str:
        body = "".join(
            json.dumps({"text": f"I was charged twice ({i})", "external_id": f"{prefix}{i}"}) + "\n"
            for i in range(n)
        )
        r = httpx.post(
            f"{base}/v1/jobs?taxonomy=support&format=jsonl", content=body, headers=auth, timeout=120
        )
        assert r.status_code == 202, r.text
        out: str = r.json()["id"]
        return out

    def state_of(job_id: str) -> dict[str, Any]:
        out: dict[str, Any] = httpx.get(f"{base}/v1/jobs/{job_id}", headers=auth, timeout=60).json()
        return out

    def job() -> dict[str, Any]:
        return state_of(job_id)

    with serve_workers(url, port, log, workers=2) as parent:
        # the job must outlast the steps below (a replacement process's start, a stall
        # period) on this box, fast or loaded: a probe job measures the rows per second
        probe_n = 1_000
        probe = post(probe_n, "p")
        _wait("the probe to start", lambda: state_of(probe)["done"] >= probe_n // 5, log)
        t0, done0 = time.monotonic(), state_of(probe)["done"]
        _wait("the probe", lambda: state_of(probe)["state"] == "done", log)
        rate = (probe_n - done0) / max(1e-3, time.monotonic() - t0)
        # minutes of work (the probe may have run on a busier box than the job will): the
        # job is cancelled once the take-over is seen, so its length costs no test time
        n = int(min(200_000, max(40_000, 300 * rate)))
        job_id = post(n, "r")
        _wait("the job to run", lambda: job()["done"] >= 500, log)
        # the process running the job is the one burning CPU
        pids = _workers(parent)
        before = {pid: _cpu_ticks(pid) for pid in pids}
        time.sleep(1.5)
        used = {pid: _cpu_ticks(pid) - before[pid] for pid in pids}
        runner = max(used, key=lambda p: used[p])
        [idle] = pids - {runner}
        assert job()["attempts"] == 1  # one run (a process starting late does not run it too)
        assert used[runner] > 3 * used[idle] + 10, used

        # kill the idle process: its replacement must not run the job a second time
        os.kill(idle, signal.SIGKILL)
        _wait("the idle process replaced", lambda: len(_workers(parent) - {runner}) == 1, log)
        replacement = _wait("its replacement", lambda: _workers(parent) - pids, log)
        [new] = replacement
        # its start (imports, app startup, the take-over check) done, it idles: it runs no job
        _wait("the replacement to start and idle", lambda: _idle(new), log)
        time.sleep(STALLED_S + 2)  # the runner's heartbeat stays fresh: nobody takes over
        assert _idle(new)
        state = job()
        assert state["attempts"] == 1 and state["state"] == "running", state

        # kill the runner: one process (of the replacement and the runner's own
        # replacement) takes the job over once its heartbeat is stale, and goes on
        done_before = state["done"]
        os.kill(runner, signal.SIGKILL)
        _wait("the runner replaced", lambda: len(_workers(parent) - replacement) == 1, log)
        taken = _wait(
            "the job taken over and going on",
            lambda: (j := job())["attempts"] == 2 and j["done"] > done_before + 200 and j,
            log,
        )
        assert taken["state"] == "running", taken
        r = httpx.post(f"{base}/v1/jobs/{job_id}/cancel", headers=auth, timeout=60)
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
        final = _wait("the run to stop after its chunk in flight", lambda: _stopped(job), log)
        assert final["attempts"] == 2, final
        done = final["done"]
        assert done_before < done < n
        rows = [
            json.loads(x)
            for x in httpx.get(
                f"{base}/v1/jobs/{job_id}/results", headers=auth, timeout=60
            ).text.splitlines()
        ]
        usage = httpx.get(f"{base}/v1/usage", headers=auth, timeout=60).json()
    assert [r["row"] for r in rows] == list(range(done))
    assert [r["external_id"] for r in rows] == [f"r{i}" for i in range(done)]
    ids = [r["id"] for r in rows]
    assert ids == [decision_id(job_id, i) for i in range(done)] and len(set(ids)) == done
    assert usage["used"] == probe_n + done  # each row counted once
