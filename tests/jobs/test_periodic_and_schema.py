"""Periodic rounds claimed once per period across processes; the 0008 tables match."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tests.servicekit import BACKENDS, make_settings, pg_database
from triaged.service import Service
from triaged.services.jobs_worker import run_period
from triaged.services.periodic import claim_period
from triaged.storage import Database, make_engine, metadata, upgrade

MINE = {"bulk_jobs", "bulk_job_rows", "periodic_runs"}


def _url(backend: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    if backend == "postgres":
        return pg_database()
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{tmp_path / 'p.db'}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_period_is_claimed_once_by_concurrent_processes(backend: str, tmp_path: Path) -> None:
    with _url(backend, tmp_path) as url:
        upgrade(url)
        dbs = [Database(url) for _ in range(6)]  # six processes' engines
        try:
            for period in range(3):  # three periods of 60 s, all six racing in each
                now = 1_000_000 * 60 + period * 60 + 1
                barrier = threading.Barrier(len(dbs))
                wins: list[bool] = []
                lock = threading.Lock()

                def race(db, now=now, barrier=barrier, wins=wins, lock=lock):  # type: ignore[no-untyped-def]
                    barrier.wait()
                    won = claim_period(db, "drift-checker", 60.0, now=now)
                    with lock:
                        wins.append(won)

                threads = [threading.Thread(target=race, args=(db,)) for db in dbs]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                assert sorted(wins) == [False] * 5 + [True], (period, wins)
                # later in the same period: nobody
                assert not claim_period(dbs[0], "drift-checker", 60.0, now=now + 30)
            # another job's periods are its own
            assert claim_period(dbs[0], "housekeeper", 60.0, now=now)
        finally:
            for db in dbs:
                db.dispose()


def test_a_queued_periodic_job_runs_its_period_once(tmp_path: Path) -> None:
    """procrastinate can defer a period twice (a lagging worker re-defers one whose row
    was pruned): the second job of a period, and one of an older period, do nothing."""
    url = f"sqlite:///{tmp_path / 'q.db'}"
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    try:
        ran = [run_period(svc, "housekeeping", ts) for ts in (1000, 1000, 998, 1002, 1002)]
        assert ran == [True, False, False, True, False]
        assert run_period(svc, "drift", 1000)  # each job's periods are its own
    finally:
        svc.close()


def test_jobs_tables_match_the_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url, null_pool=True)

    def mine(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return (name if type_ == "table" else getattr(table, "name", None)) in MINE

    try:
        with engine.connect() as conn:
            opts = {"include_object": mine, "compare_type": True}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
        assert diff == [], diff
    finally:
        engine.dispose()
