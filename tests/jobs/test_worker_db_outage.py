"""A `triaged worker` whose database goes away for a few seconds: procrastinate stops the
worker when its queue listener loses the connection. It exited 0 without a word, so a
supervisor restarting on failure left it down and queued jobs waited for ever; it now says
why in one line and exits non-zero."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from tests.jobs.test_processes import _wait, worker_process
from tests.servicekit import _pg_admin_engine, pg_database
from triaged.storage import upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_worker_that_loses_its_database_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    with pg_database() as url:
        upgrade(url)
        name = make_url(url).database
        log = tmp_path / "worker.log"
        admin = _pg_admin_engine()
        try:
            with worker_process(url, log, log_level="info") as proc:
                _wait("the worker", lambda: "Starting worker on queues" in log.read_text(), log=log)
                with admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :db AND pid <> pg_backend_pid()"
                        ),
                        {"db": name},
                    )
                time.sleep(3)
                with admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
                proc.wait(90)
                out = log.read_text()
                assert proc.returncode == 2, out[-3000:]
                assert "error (unavailable): the worker stopped without being asked to" in out
        finally:
            with admin.connect() as conn:  # pg_database() drops it WITH (FORCE)
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()
