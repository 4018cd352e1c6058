"""Revision 0022 adds ``decisions.redacted_at`` on SQLite and PostgreSQL, and its downgrade
drops it from a populated log (the batch copy of ``decisions`` failed on SQLite: review
items reference the table) with every decision kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from tests.servicekit import BACKENDS, trained_service
from triaged.service import ClassifyItem
from triaged.storage import head_revision, upgrade
from triaged.storage.migrate import alembic_config
from triaged.storage.tables import decisions

BEFORE = "0021_created_by"


@pytest.mark.parametrize("backend", BACKENDS)
def test_redacted_at_up_and_down_with_decisions(backend: str, tmp_path: Path) -> None:
    with trained_service(backend, tmp_path) as trained:
        svc = trained.service
        url = trained.stack.url
        admin = svc.authenticate(trained.key)
        done, _ = svc.classify(admin, "support", [ClassifyItem(t) for t in ("refund", "crash")])
        svc.erase_decisions(admin, ids=[done[0]["id"]])
        svc.db.dispose()
        command.downgrade(alembic_config(url), BEFORE)
        with svc.db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("decisions")}
            assert "redacted_at" not in columns
            n = conn.execute(select(func.count()).select_from(decisions.alias())).scalar()
        assert n == 2
        assert upgrade(url) == head_revision()
        svc.db.dispose()
        assert svc.decision(admin, done[0]["id"])["redacted_at"] is None  # not recorded
        assert svc.erase_decisions(admin, ids=[done[1]["id"]])["erased"] == 1
