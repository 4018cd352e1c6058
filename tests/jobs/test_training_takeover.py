"""A model row left ``training`` by a killed process (inline jobs, the embedded default):
the row records the process that trains it, and a process of the same machine that finds
it gone trains the model again at once (one process wins each row), instead of the row
staying ``training`` for hours while ``train --wait`` waits on it."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.jobs.test_bulk_api import _url
from tests.jobs.test_claims import _gone_process
from tests.servicekit import (
    BACKENDS,
    TINY_TAXONOMY,
    free_port,
    make_settings,
    serve_subprocess,
    trained_stack,
)
from triaged.service import ClassifyItem, Service
from triaged.services.runner_id import this_runner
from triaged.services.training import take_over_dead
from triaged.storage import upgrade
from triaged.storage.tables import models

# The child trains a model that never finishes (its fit sleeps), so that the test kills it
# mid-training without racing a real fit; everything else in it is the real service.
CHILD = textwrap.dedent(
    """
    import sys, time
    from triaged.classifier import Classifier
    Classifier.fit = lambda self, *a, **k: time.sleep(3600)
    from tests.servicekit import make_settings
    from triaged.service import ClassifyItem, Service
    svc = Service(make_settings(sys.argv[1], migrate_on_start=False))
    svc.train(svc.authenticate(sys.argv[2]), "support")
    """
)


def _row(svc: Any, model_id: str) -> Any:
    with svc.db.read() as conn:
        return conn.execute(
            select(models.c.status, models.c.runner, models.c.trigger).where(
                models.c.id == model_id
            )
        ).one()


def _training_ids(url: str) -> list[str]:
    svc = Service(make_settings(url, migrate_on_start=False))
    try:
        with svc.db.read() as conn:
            return list(
                conn.execute(select(models.c.id).where(models.c.status == "training")).scalars()
            )
    finally:
        svc.close()


@pytest.mark.slow
def test_a_training_left_by_a_killed_process_trains_when_serve_starts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
    svc.create_taxonomy(svc.authenticate(key), {**TINY_TAXONOMY, "name": "support"})
    svc.jobs.wait(120)
    svc.close()
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, key], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 60
        while not (stuck := _training_ids(url)):
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    [model_id] = stuck
    port = free_port()
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    log = tmp_path / "serve.log"
    # the heartbeat rule would wait an hour; the dead process's row is taken at once
    with serve_subprocess(url, port, log, {"TRIAGED_JOB_STALLED_SECONDS": "3600"}):
        deadline = time.monotonic() + 120
        while (
            model := httpx.get(
                f"{base}/v1/taxonomies/support/models/{model_id}", headers=auth, timeout=60
            )
        ).json()["status"] == "training":
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        assert model.json()["status"] == "ready", model.text
        assert model.json()["active"] is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_a_gone_trainer_of_this_machine_is_replaced_and_once(
    backend: str, tmp_path: Path
) -> None:
    with _url(backend, tmp_path) as url:
        t = trained_stack(backend, url)
        svc, model_id = t.service, t.model_id
        try:
            assert _row(svc, model_id).runner == this_runner()  # recorded by its trainer

            def left(runner: str, trigger: str | None = None) -> None:
                with svc.db.write() as conn:
                    conn.execute(
                        update(models)
                        .where(models.c.id == model_id)
                        .values(status="training", runner=runner, trigger=trigger)
                    )

            left(this_runner())
            assert take_over_dead(svc.db) == []  # its trainer (this process) is alive
            left("another-host/boot/1/1")
            assert take_over_dead(svc.db) == []  # not known to be gone
            left(_gone_process(), "api")
            barrier, taken = threading.Barrier(6), []

            def take() -> None:
                barrier.wait()
                taken.extend(take_over_dead(svc.db))

            threads = [threading.Thread(target=take) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert taken == [(model_id, "api")]  # one process wins; the retrain's trigger kept
            assert _row(svc, model_id).runner == this_runner()
        finally:
            svc.close()


def test_resume_trains_the_taken_row_again(tmp_path: Path) -> None:
    with _url("sqlite", tmp_path) as url:
        t = trained_stack("sqlite", url)
        svc, model_id = t.service, t.model_id
        principal = svc.authenticate(t.key)
        try:
            with svc.db.write() as conn:
                conn.execute(
                    update(models)
                    .where(models.c.id == model_id)
                    .values(status="training", runner=_gone_process(), blob=None)
                )
            assert svc.jobs.resume() == 1
            svc.jobs.wait(120)
            assert _row(svc, model_id).status == "ready"
            assert svc.jobs.resume() == 0
            [decision], _ = svc.classify(principal, "support", [ClassifyItem("charged twice")])
            assert decision["model_version"]
        finally:
            svc.close()
