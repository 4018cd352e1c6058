"""An idle `triaged worker` at log level info does not log the webhook drain it runs every
second (procrastinate wrote three lines a second about it); other jobs are still logged."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.jobs.test_processes import worker_process
from tests.servicekit import TINY_TAXONOMY, make_settings, pg_database
from triaged.service import Service
from triaged.storage import upgrade

pytestmark = pytest.mark.postgres


def _queue_a_training(url: str) -> None:
    """A taxonomy created through the service: its first training waits in the queue."""
    svc = Service(make_settings(url, migrate_on_start=False, job_queue="postgres"))
    try:
        key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
        svc.create_taxonomy(svc.authenticate(key), dict(TINY_TAXONOMY))
    finally:
        svc.close()


def test_an_idle_worker_is_quiet_about_webhook_drains(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with pg_database() as url:
        upgrade(url)
        _queue_a_training(url)
        with worker_process(url, log, log_level="info") as proc:
            deadline = time.monotonic() + 60
            while "Job train[" not in log.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            time.sleep(4)  # four drain periods
    text = log.read_text()
    assert "ended with status: Success" in text  # the training's lines are kept
    assert "periodic_webhooks[" not in text, text[-2000:]


def test_a_worker_on_a_fresh_database_makes_no_admin_key(tmp_path: Path) -> None:
    """The worker started the service as `triaged serve` does: on a fresh database it made
    the first admin key, hashed with the worker's pepper (an API with another one refused
    it), and wrote the key into the worker's log.  The API's first start makes it."""
    log = tmp_path / "worker.log"
    with pg_database() as url:
        with worker_process(url, log, log_level="info") as proc:
            deadline = time.monotonic() + 60
            while "triaged worker: queue" not in log.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        text = log.read_text()
        assert "tri_" not in text, text[-2000:]
        svc = Service(make_settings(url, migrate_on_start=False))
        try:
            assert svc.workspaces_overview() == []  # migrated, and nothing else
        finally:
            svc.close()


def test_a_listener_that_keeps_failing_backs_off_and_logs_one_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A worker that lost its database logged the notice listener's full traceback every
    second (1,400 lines before it stopped); now one traceback, then one line per attempt,
    the pause doubling up to 30 s."""
    import asyncio
    import logging

    from triaged.services.jobs_worker import _keep_listening

    pauses: list[float] = []

    async def listen() -> None:
        raise ConnectionError("connection refused")

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 8:
            raise asyncio.CancelledError  # the worker stopping

    with caplog.at_level(logging.WARNING, logger="triaged"), pytest.raises(asyncio.CancelledError):
        asyncio.run(_keep_listening(listen, sleep=sleep))
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    records = [r for r in caplog.records if "notice listener" in r.getMessage()]
    assert len(records) == 8
    assert records[0].exc_info is not None  # the first failure with its traceback
    assert all(r.exc_info is None for r in records[1:])  # then one line each
    assert "again (8): connection refused" in records[-1].getMessage()


def test_the_api_model_listener_backs_off_and_logs_one_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A `triaged serve` whose database went away logged the model listener's traceback
    every second (14 in a 10-s outage); now one traceback, then a line per try, the pause
    doubling up to 10 s.  A real connection to a port nothing listens on."""
    import logging
    from types import SimpleNamespace

    from tests.servicekit import free_port
    from triaged.services.jobs_notify import ModelListener

    class Stop:
        def __init__(self) -> None:
            self.pauses: list[float] = []

        def is_set(self) -> bool:
            return len(self.pauses) >= 6

        def wait(self, seconds: float) -> bool:
            self.pauses.append(seconds)
            return self.is_set()

    db = SimpleNamespace(url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    listener = ModelListener(SimpleNamespace(db=db))  # type: ignore[arg-type]
    stop = Stop()
    listener._stop = stop  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="triaged"):
        listener._loop()
    assert stop.pauses == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    records = [r for r in caplog.records if "model listener" in r.getMessage()]
    assert len(records) == 6
    assert records[0].exc_info
    assert not any(r.exc_info for r in records[1:])
