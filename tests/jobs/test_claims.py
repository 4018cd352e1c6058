"""One run of a bulk job at a time (SQLite and PostgreSQL): a run claims the job and gets a
token (its ``attempts``); of processes claiming together one wins; a run that was taken over
writes nothing more; heartbeats keep a run's claim fresh and tell it when it lost it."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.jobs.test_bulk_api import _url
from tests.servicekit import BACKENDS, TINY_TAXONOMY, make_stack
from triaged.services import jobs_bulk
from triaged.services.ids import utcnow
from triaged.services.jobs_run import claim, heartbeat, run_bulk_job, take_over
from triaged.services.runner_id import known_dead, this_runner
from triaged.storage.jobs import bulk_job_rows, bulk_jobs

N = 40


def _job(svc: Any, principal: Any) -> str:
    """A queued job that nothing runs yet (its enqueue does nothing)."""
    body = "".join(json.dumps({"text": f"I was charged twice ({i})"}) + "\n" for i in range(N))
    limits = jobs_bulk.Limits(10_000, 8, 65_536)
    job = jobs_bulk.create(
        svc.db,
        principal,
        "support",
        io.BytesIO(body.encode()),
        "jsonl",
        jobs_bulk.BulkOptions(),
        limits,
        lambda conn, job_id: None,
    )
    return str(job["id"])


def _age(svc: Any, job_id: str, seconds: float) -> None:
    """Make the job's last heartbeat ``seconds`` old (its process died that long ago)."""
    with svc.db.write() as conn:
        conn.execute(
            update(bulk_jobs)
            .where(bulk_jobs.c.id == job_id)
            .values(updated_at=utcnow() - timedelta(seconds=seconds))
        )


def _results(svc: Any, job_id: str) -> int:
    with svc.db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(bulk_job_rows)
                .where(bulk_job_rows.c.job_id == job_id, bulk_job_rows.c.result.is_not(None))
            ).scalar_one()
        )


@contextmanager
def _stack_with_job(backend: str, tmp_path: Path) -> Iterator[tuple[Any, Any, str]]:
    """(service, principal, id of a queued job nothing runs yet) on ``backend``."""
    with _url(backend, tmp_path) as url:
        stack = make_stack(backend, url)
        svc = stack.service
        try:
            principal = svc.authenticate(stack.tenant().key)
            svc.create_taxonomy(principal, {**TINY_TAXONOMY, "name": "support"})
            svc.jobs.wait(120)
            yield svc, principal, _job(svc, principal)
        finally:
            svc.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_claim_wins_and_a_superseded_run_writes_nothing(backend: str, tmp_path: Path) -> None:
    with _stack_with_job(backend, tmp_path) as (svc, principal, job_id):
        # a new job's first run: claimed once
        assert claim(svc.db, job_id, attempts=0) == 1
        assert claim(svc.db, job_id, attempts=0) is None
        # its heartbeat is fresh: nobody takes it over
        stale = utcnow() - timedelta(seconds=30)
        assert claim(svc.db, job_id, stale_before=stale) is None
        assert heartbeat(svc.db, {job_id: 1}) == []

        # its process died a minute ago: eight processes try to take it over at once
        _age(svc, job_id, 60)
        barrier, tokens = threading.Barrier(8), []

        def take() -> None:
            barrier.wait()
            tokens.append(claim(svc.db, job_id, stale_before=utcnow() - timedelta(seconds=30)))

        threads = [threading.Thread(target=take) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(tokens, key=str) == [2] + [None] * 7

        # the first run (token 1) lost its claim: it writes nothing and stops
        assert heartbeat(svc.db, {job_id: 1}) == [job_id]
        assert run_bulk_job(svc, job_id, token=1) == "superseded"
        assert _results(svc, job_id) == 0
        # the run that won finishes the job, each row counted once
        assert run_bulk_job(svc, job_id, token=2, chunk=16) == "done"
        assert _results(svc, job_id) == N
        job = svc.job(principal, job_id)
        assert (job["state"], job["done"], job["attempts"]) == ("done", N, 2)
        assert svc.usage(principal)["used"] == N
        assert heartbeat(svc.db, {job_id: 2}) == [job_id]  # finished: nothing to hold
        assert claim(svc.db, job_id) is None


def _runner(svc: Any, job_id: str, runner: str | None) -> None:
    with svc.db.write() as conn:
        conn.execute(update(bulk_jobs).where(bulk_jobs.c.id == job_id).values(runner=runner))


def _gone_process() -> str:
    """The runner identity of a process of this machine that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    finally:
        proc.kill()
        proc.wait(10)
    host, boot, _pid, _start = this_runner().rsplit("/", 3)
    return f"{host}/{boot}/{proc.pid}/{start}"


def test_runner_identities() -> None:
    me = this_runner()
    host, boot, pid, start = me.rsplit("/", 3)
    assert host == socket.gethostname() and pid == str(os.getpid()) and start.isdigit()
    assert not known_dead(me)
    gone = _gone_process()
    assert known_dead(gone)
    *_, g_pid, g_start = gone.rsplit("/", 3)
    assert known_dead(f"{host}/{boot}/{pid}/{int(start) + 1}")  # this pid, a later process
    assert not known_dead(f"other-host/{boot}/{g_pid}/{g_start}")  # another machine
    assert not known_dead(f"{host}/another-boot/{g_pid}/{g_start}")  # before a reboot
    for junk in (None, "", "x", "a/b/c", f"{host}/{boot}//"):
        assert not known_dead(junk)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dead_runner_of_this_machine_is_taken_over_at_once(backend: str, tmp_path: Path) -> None:
    """No waiting out the stall period when the run's process is known to be gone; a live
    runner, or one of another machine, keeps the job until its heartbeat is stale."""
    with _stack_with_job(backend, tmp_path) as (svc, _principal, job_id):
        assert claim(svc.db, job_id, attempts=0) == 1
        stale = utcnow() - timedelta(seconds=3600)  # nothing is stale for an hour
        assert take_over(svc.db, stale) == []  # its runner (this process) is alive
        _runner(svc, job_id, "another-host/boot/1/1")
        assert take_over(svc.db, stale) == []  # not known to be gone
        _runner(svc, job_id, _gone_process())
        assert take_over(svc.db, stale, mine={job_id}) == []  # a job of its own: never
        # eight processes see the dead runner at once: one takes the job
        barrier, taken = threading.Barrier(8), []

        def take() -> None:
            barrier.wait()
            taken.extend(take_over(svc.db, stale))

        threads = [threading.Thread(target=take) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert taken == [(job_id, 2)]
        with svc.db.read() as conn:
            runner = conn.execute(
                select(bulk_jobs.c.runner).where(bulk_jobs.c.id == job_id)
            ).scalar_one()
        assert runner == this_runner()
        assert run_bulk_job(svc, job_id, token=2, chunk=16) == "done"
        assert _results(svc, job_id) == N


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_stopped_by_a_shutdown_leaves_the_job_queued(backend: str, tmp_path: Path) -> None:
    """A run that stops because its process shuts down hands the job back: ``queued`` (it
    said ``running``, with no progress, until some run took it over), its rows so far kept;
    once that process is gone the next one takes the job at once, and finishes it."""
    with _stack_with_job(backend, tmp_path) as (svc, _principal, job_id):
        token = claim(svc.db, job_id, attempts=0)
        assert token == 1
        stop = threading.Event()
        stop.set()
        assert run_bulk_job(svc, job_id, token=token, stop=stop, chunk=16) == "queued"
        with svc.db.read() as conn:
            state, attempts = conn.execute(
                select(bulk_jobs.c.state, bulk_jobs.c.attempts).where(bulk_jobs.c.id == job_id)
            ).one()
        assert (state, attempts) == ("queued", 1)
        # a run that no longer holds the job changes nothing
        assert run_bulk_job(svc, job_id, token=token, stop=stop, chunk=16) == "superseded"
        stale = utcnow() - timedelta(seconds=3600)
        assert take_over(svc.db, stale) == []  # its process (this one) is alive
        _runner(svc, job_id, _gone_process())
        assert take_over(svc.db, stale) == [(job_id, 2)]
        assert run_bulk_job(svc, job_id, token=2, chunk=16) == "done"
        assert _results(svc, job_id) == N
