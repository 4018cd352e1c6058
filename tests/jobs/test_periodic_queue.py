"""Two `triaged worker` processes on one PostgreSQL queue run each periodic job once per
period.  procrastinate keeps one job per task and period whoever defers it, but prunes a
task's older periods when it defers a newer one, so a lagging worker can queue a period
again: each job claims its period first, and the workers' logs must show every period run
once (a duplicate in the queue is skipped)."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.jobs.test_processes import worker_process
from tests.servicekit import pg_database
from triaged.storage import upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _ran(logs: list[Path]) -> dict[str, list[int]]:
    """The periods each periodic job ran for, from the workers' logs."""
    out: dict[str, list[int]] = {}
    for log in logs:
        text_ = log.read_text() if log.exists() else ""
        for m in re.finditer(r"periodic (\w+) at (\d+) runs", text_):
            out.setdefault(m[1], []).append(int(m[2]))
    return {name: sorted(ts) for name, ts in out.items()}


def _queued(engine: Engine) -> list[tuple[str, int]]:
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT task_name, args FROM procrastinate_jobs "
                    "WHERE task_name LIKE 'periodic_%'"
                )
            ).all()
    except Exception:  # the queue's schema is not there yet
        return []
    return [
        (
            r.task_name,
            int((r.args if isinstance(r.args, dict) else json.loads(r.args))["timestamp"]),
        )
        for r in found
    ]


def test_two_workers_run_each_period_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGED_DRIFT_CHECK_INTERVAL_SECONDS", "2")
    monkeypatch.setenv("TRIAGED_ROUTING_CHECK_INTERVAL_SECONDS", "3")
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    with pg_database() as url:
        upgrade(url)
        engine = create_engine(url)
        try:
            with worker_process(url, logs[0], "info"), worker_process(url, logs[1], "info"):
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and len(_ran(logs).get("drift", [])) < 4:
                    time.sleep(1.0)
            queued = sorted(t for name, t in _queued(engine) if name == "periodic_drift")
        finally:
            engine.dispose()
    ran = _ran(logs)
    drift, routing = ran.get("drift", []), ran.get("routing_check", [])
    assert len(drift) >= 4 and routing, (ran, logs[0].read_text()[-3000:])
    assert len(set(drift)) == len(drift), drift  # each period run once, by one worker
    assert len(set(routing)) == len(routing), routing
    assert all(b - a >= 2 for a, b in itertools.pairwise(drift)), drift
    # the queue holds a job per period (and, rarely, a lagging worker's second one that
    # was skipped), not one per worker and period
    assert set(drift) <= set(queued) and len(queued) < 2 * len(set(queued)), queued
