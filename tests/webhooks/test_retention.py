"""Retention: settled deliveries, their attempts and events expire; pending ones never do."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from triaged.services.ids import utcnow
from triaged.storage.webhooks import (
    webhook_attempts,
    webhook_deliveries,
    webhook_events,
)
from triaged.webhooks import WebhookWorker, create_endpoint, enqueue_event
from triaged.webhooks.retention import prune

from .conftest import FAST
from .receiver import Receiver, running_receiver


def _count(env, table):
    with env.db.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_prune_removes_only_old_settled_rows(env):
    with running_receiver(Receiver()) as receiver:
        with env.db.write() as conn:
            ep = create_endpoint(conn, env.workspace_id, receiver.url, ["decision.resolved"])
            receiver.secret = ep.secret or ""
            for _ in range(3):
                enqueue_event(
                    conn, workspace_id=env.workspace_id, event_type="decision.resolved", data={}
                )
            # an event nobody subscribed to
            enqueue_event(
                conn, workspace_id=env.workspace_id, event_type="decision.corrected", data={}
            )
        worker = WebhookWorker(env.db, FAST)
        try:
            assert worker.run_once() == 3
        finally:
            worker.close()
    with env.db.write() as conn:  # one more, still pending
        enqueue_event(conn, workspace_id=env.workspace_id, event_type="decision.resolved", data={})
    assert _count(env, webhook_attempts) == 3
    assert prune(env.db, older_than=timedelta(days=1)) == 0  # nothing old yet

    old = utcnow() - timedelta(days=40)
    with env.db.write() as conn:
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.status == "delivered")
            .values(finished_at=old)
        )
        conn.execute(update(webhook_events).values(created_at=old))
    assert prune(env.db, older_than=timedelta(days=30), batch=2) == 3 + 4
    assert _count(env, webhook_attempts) == 0
    with env.db.read() as conn:
        assert conn.execute(select(webhook_deliveries.c.status)).scalars().all() == ["pending"]
    assert _count(env, webhook_events) == 1  # the pending delivery keeps its event
