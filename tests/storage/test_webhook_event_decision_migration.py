"""Revision 0023 adds ``webhook_events.decision_id`` (indexed) on SQLite and PostgreSQL and
fills it from the stored payloads; its downgrade drops it with every event kept, and an
erase after the round trip still clears the events' metadata (it is found by the column)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select

from tests.servicekit import BACKENDS, trained_service
from triaged.service import ClassifyItem
from triaged.storage import head_revision, upgrade
from triaged.storage.migrate import alembic_config
from triaged.storage.webhooks import webhook_events

BEFORE = "0022_decision_erasure"
TEXTS = ("refund my order", "the app crashes", "hello there", "what is this", "x")


@pytest.mark.parametrize("backend", BACKENDS)
def test_decision_id_filled_by_the_upgrade_and_dropped_by_the_downgrade(
    backend: str, tmp_path: Path
) -> None:
    with trained_service(backend, tmp_path) as trained:
        svc = trained.service
        url = trained.stack.url
        admin = svc.authenticate(trained.key)
        svc.set_routing(admin, "support", {"auto": 1.0, "review": 1.0})  # all held
        items = [ClassifyItem(t, metadata={"customer": "c-1"}) for t in TEXTS]
        done, _ = svc.classify(admin, "support", items)
        for item in svc.review.claim(admin, limit=len(TEXTS)):  # decision.resolved events
            svc.review.resolve(admin, item["id"], action="confirm")
        w = webhook_events.c
        with svc.db.engine.connect() as conn:
            before = {
                r.id: r.decision_id
                for r in conn.execute(select(w.id, w.decision_id, w.type)).all()
                if r.type.startswith("decision.")
            }
        assert before and set(before.values()) <= {d["id"] for d in done}
        svc.db.dispose()
        command.downgrade(alembic_config(url), BEFORE)
        with svc.db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("webhook_events")}
            assert "decision_id" not in columns
        assert upgrade(url) == head_revision()
        svc.db.dispose()
        with svc.db.engine.connect() as conn:
            after = dict(conn.execute(select(w.id, w.decision_id)).all())
        assert {k: after[k] for k in before} == before  # filled from the payloads
        about = next(iter(before.values()))
        assert svc.erase_decisions(admin, ids=[about])["erased"] == 1
        with svc.db.engine.connect() as conn:
            payloads = conn.execute(select(w.payload).where(w.decision_id == about)).scalars().all()
        assert payloads and all(p["data"].get("metadata") is None for p in payloads)
