"""A training beats on its model row while it runs (and while it waits in its process's
pool), so the queue's orphan sweep and the inline take-over act on a training whose
process stopped, on any host, and never on one still running; a second run of the same
training stores nothing and activates nothing; with the job queue, a retrain an API
request waits for is trained by a worker, not by the API process."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from tests.jobs.test_bulk_api import _url
from tests.jobs.test_processes import _wait, worker_process
from tests.servicekit import BACKENDS, TINY_TAXONOMY, make_settings, pg_database, trained_stack
from triaged.service import Service
from triaged.services import training
from triaged.services.ids import utcnow
from triaged.services.jobs import requeue_orphans
from triaged.services.runner_id import this_runner
from triaged.storage import upgrade
from triaged.storage.tables import models, routing_policies, taxonomies
from triaged.taxonomy import Taxonomy


def _set(svc: Service, model_id: str, **values: Any) -> None:
    with svc.db.write() as conn:
        conn.execute(update(models).where(models.c.id == model_id).values(**values))


def _beat_at(svc: Service, model_id: str) -> Any:
    with svc.db.read() as conn:
        return conn.execute(select(models.c.heartbeat_at).where(models.c.id == model_id)).scalar()


@pytest.mark.postgres
def test_the_sweep_queues_a_silent_training_and_never_a_beating_one() -> None:
    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False, job_queue="postgres"))
        try:
            key = svc.create_key("acme", "admin", create_plan="unlimited").key
            model_id = svc.create_taxonomy(svc.authenticate(key or ""), TINY_TAXONOMY)["training"][
                "id"
            ]
            long_ago = utcnow() - timedelta(minutes=5)
            with svc.db.write() as conn:  # trained by a job that is not a `train` job
                conn.execute(text("DELETE FROM procrastinate_jobs"))
            _set(svc, model_id, created_at=long_ago, heartbeat_at=utcnow())
            assert requeue_orphans(svc.db) == []  # it beats: someone trains it
            _set(svc, model_id, heartbeat_at=long_ago)
            assert requeue_orphans(svc.db) == [model_id]  # silent for 5 minutes
        finally:
            svc.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_heartbeats_and_the_take_over_of_a_silent_row_of_another_host(
    backend: str, tmp_path: Path
) -> None:
    with _url(backend, tmp_path) as url:
        t = trained_stack(backend, url)
        svc, model_id = t.service, t.model_id
        try:
            assert _beat_at(svc, model_id) is not None  # it beat while it trained

            # a training in progress beats every `every` seconds, and stops with it
            long_ago = utcnow() - timedelta(minutes=5)
            _set(svc, model_id, status="training", heartbeat_at=long_ago)
            with training.heartbeat(svc.db, model_id, every=0.05):
                time.sleep(0.3)
            first = _beat_at(svc, model_id)
            assert first is not None and first.replace(tzinfo=None) > long_ago.replace(tzinfo=None)
            time.sleep(0.2)
            assert _beat_at(svc, model_id) == first  # stopped with the block

            # another host's training: taken over once it has been silent for SILENT_S
            _set(svc, model_id, runner="another-host/boot/1/1", heartbeat_at=utcnow())
            assert training.take_over_dead(svc.db) == []  # beating: alive somewhere
            _set(svc, model_id, heartbeat_at=long_ago)
            assert training.take_over_dead(svc.db) == [(model_id, None)]
            # this process's own rows (queued in its pool) are beaten by its sweeper, and
            # never taken over by itself
            _set(svc, model_id, runner=this_runner(), heartbeat_at=long_ago)
            assert training.take_over_dead(svc.db) == []
            assert training.beat_mine(svc.db) == 1
            assert _beat_at(svc, model_id).replace(tzinfo=None) > long_ago.replace(tzinfo=None)
        finally:
            svc.close()


def test_a_second_run_of_a_finished_training_stores_and_activates_nothing(
    tmp_path: Path,
) -> None:
    with _url("sqlite", tmp_path) as url:
        t = trained_stack("sqlite", url)
        svc, model_id = t.service, t.model_id
        try:

            def state() -> tuple[Any, ...]:
                with svc.db.read() as conn:
                    blob = conn.execute(
                        select(models.c.blob).where(models.c.id == model_id)
                    ).scalar()
                    active = conn.execute(select(taxonomies.c.active_model_id)).scalar()
                    policies = conn.execute(select(routing_policies.c.version)).scalars().all()
                return blob, active, sorted(policies)

            before = state()
            tax = Taxonomy.from_dict({**TINY_TAXONOMY, "name": "support", "version": 1})
            assert training.finish(svc.db, model_id, tax) is None  # it was ready already
            assert state() == before
        finally:
            svc.close()


def _jobs(svc: Service, model_id: str) -> list[str]:
    """The states of the queue's `train` jobs for one model."""
    with svc.db.read() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT status FROM procrastinate_jobs WHERE task_name = 'train'"
                    " AND args ->> 'model_id' = :id"
                ),
                {"id": model_id},
            ).scalars()
        )


@pytest.mark.postgres
@pytest.mark.slow
def test_a_retrain_waited_for_through_the_api_is_trained_by_a_worker(tmp_path: Path) -> None:
    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False, job_queue="postgres"))
        try:
            key = svc.create_key("acme", "admin", create_plan="unlimited").key
            principal = svc.authenticate(key or "")
            with worker_process(url, tmp_path / "worker.log"):
                first = svc.create_taxonomy(principal, {**TINY_TAXONOMY, "name": "support"})
                # waits for the first model (joined while a worker trains it) or, where the
                # worker was done before this call, for a second one; then a new one
                joined = svc.review.retrain(principal, "support", wait=True)
                assert joined["status"] == "ready", joined
                version = svc.review.retrain(principal, "support", wait=True)
                # the model is ready inside the job; the worker marks the job done just
                # after, so wait for that before the worker is killed
                for model_id in (first["training"]["id"], version["id"]):
                    _wait(f"train job of {model_id}", lambda m=model_id: _jobs(svc, m) != ["doing"])
                    assert _jobs(svc, model_id) == ["succeeded"]  # a worker's `train` job
            assert version["id"] != joined["id"]
            assert version["status"] == "ready", version
            with svc.db.read() as conn:
                runner = conn.execute(
                    select(models.c.runner).where(models.c.id == version["id"])
                ).scalar()
            assert runner != this_runner()  # not this (API) process (a worker: None)
        finally:
            svc.close()
