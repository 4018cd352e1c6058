"""A model row left `training` with no job in the queue (its writer stopped between the
commit and the enqueue) is queued again by the worker's sweep, once; before its first model
a taxonomy's routing says its lane is not open yet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text, update

from tests.servicekit import TINY_TAXONOMY, make_settings, pg_database
from triaged.service import Service
from triaged.services.ids import utcnow
from triaged.services.jobs import requeue_orphans
from triaged.storage import upgrade
from triaged.storage.tables import models

pytestmark = pytest.mark.postgres


def test_orphan_training_rows_are_queued_once() -> None:
    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False, job_queue="postgres"))
        try:
            key = svc.create_key("acme", "admin", create_plan="unlimited").key
            info = svc.create_taxonomy(svc.authenticate(key or ""), TINY_TAXONOMY)
            model_id = info["training"]["id"]
            with svc.db.write() as conn:  # as if the enqueue had never happened
                conn.execute(text("DELETE FROM procrastinate_jobs"))
                conn.execute(
                    update(models)
                    .where(models.c.id == model_id)
                    .values(created_at=utcnow() - timedelta(minutes=5))
                )
            assert requeue_orphans(svc.db) == [model_id]
            assert requeue_orphans(svc.db) == []  # it has a job now
            with svc.db.read() as conn:
                jobs = conn.execute(
                    text("SELECT task_name, args ->> 'model_id' FROM procrastinate_jobs")
                ).all()
            assert [tuple(j) for j in jobs] == [("train", model_id)]
        finally:
            svc.close()


def test_routing_before_the_first_model_says_the_lane_is_not_open_yet() -> None:
    """With no worker, the first model never trains: GET .../routing said "auto 0.85, lane
    open, manual" for a taxonomy whose lane is certified at training (nothing is routed
    before a model is ready)."""
    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False, job_queue="postgres"))
        try:
            key = svc.create_key("acme", "admin", create_plan="unlimited").key
            admin = svc.authenticate(key or "")
            body = {k: v for k, v in TINY_TAXONOMY.items() if k != "thresholds"}
            svc.create_taxonomy(admin, {**body, "name": "fresh"})
            state = svc.routing(admin, "fresh")
            assert state["auto"] is None and state["auto_lane_open"] is False
            assert state["source"] == "training" and "no model is ready yet" in state["reason"]
            # the taxonomy says so too, beside the definition's thresholds (none set)
            fresh = svc.get_taxonomy(admin, "fresh")
            assert fresh["thresholds"] == {"auto": None, "review": None}
            assert fresh["routing"] == {
                "url": "/v1/taxonomies/fresh/routing",
                "version": None,
                "auto": None,
                "review": 0.6,  # the default hold threshold until the first model
                "auto_lane_open": False,
                "source": "training",
            }
            # thresholds pinned in the definition are a manual policy at once
            svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "pinned"})
            pinned = svc.routing(admin, "pinned")
            assert pinned["source"] == "manual" and pinned["auto_lane_open"] is True
        finally:
            svc.close()
