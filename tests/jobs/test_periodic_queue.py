"""Two `triaged worker` processes on one PostgreSQL queue run each periodic job once per
period (procrastinate keeps one job per task and period, whoever defers it)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.jobs.test_processes import worker_process
from tests.servicekit import pg_database
from triaged.storage import upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_two_workers_run_each_period_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGED_DRIFT_CHECK_INTERVAL_SECONDS", "2")
    monkeypatch.setenv("TRIAGED_ROUTING_CHECK_INTERVAL_SECONDS", "3")
    with pg_database() as url:
        upgrade(url)
        engine = create_engine(url)
        try:
            with worker_process(url, tmp_path / "w1.log"), worker_process(url, tmp_path / "w2.log"):
                deadline = time.monotonic() + 90
                rows: list[tuple[str, int]] = []
                while time.monotonic() < deadline:
                    time.sleep(1.0)
                    try:
                        with engine.connect() as conn:
                            found = conn.execute(
                                text(
                                    "SELECT task_name, args FROM procrastinate_jobs "
                                    "WHERE task_name LIKE 'periodic_%'"
                                )
                            ).all()
                    except Exception:  # the queue's schema is not there yet
                        continue
                    rows = [
                        (
                            r.task_name,
                            int(
                                (r.args if isinstance(r.args, dict) else json.loads(r.args))[
                                    "timestamp"
                                ]
                            ),
                        )
                        for r in found
                    ]
                    drift = [r for r in rows if r[0] == "periodic_drift"]
                    if len(drift) >= 4:
                        break
            drift = sorted(t for name, t in rows if name == "periodic_drift")
            routing = sorted(t for name, t in rows if name == "periodic_routing_check")
            assert len(drift) >= 4 and routing, rows
            assert len(set(drift)) == len(drift), drift  # one job per period, not one per worker
            assert len(set(routing)) == len(routing), routing
            assert all(b - a >= 2 for a, b in itertools.pairwise(drift)), drift
        finally:
            engine.dispose()
