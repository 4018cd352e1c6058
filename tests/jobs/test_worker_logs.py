"""An idle `triaged worker` at log level info does not log the webhook drain it runs every
second (procrastinate wrote three lines a second about it); other jobs are still logged."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.jobs.test_processes import worker_process
from tests.servicekit import pg_database
from triaged.storage import upgrade

pytestmark = pytest.mark.postgres


def test_an_idle_worker_is_quiet_about_webhook_drains(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with pg_database() as url:
        upgrade(url)
        with worker_process(url, log, log_level="info") as proc:
            deadline = time.monotonic() + 60
            while "Job train[" not in log.read_text():  # the first start's example model
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            time.sleep(4)  # four drain periods
    text = log.read_text()
    assert "ended with status: Success" in text  # the training's lines are kept
    assert "periodic_webhooks[" not in text, text[-2000:]
