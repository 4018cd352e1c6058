"""Revision 0019 adds ``models.progress`` (a training's progress, JSON, null when none) on
SQLite and PostgreSQL, and its downgrade drops it again (the whole schema against the
tables: ``test_migrations.py``)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from tests.servicekit import BACKENDS, pg_database
from triaged.storage import head_revision, make_engine, upgrade
from triaged.storage.migrate import alembic_config

BEFORE = "0018_definition_thresholds"


def _columns(url: str) -> dict[str, bool]:
    """The ``models`` columns, each with whether it may be null."""
    engine = make_engine(url, null_pool=True)
    try:
        with engine.connect() as conn:
            return {c["name"]: bool(c["nullable"]) for c in inspect(conn).get_columns("models")}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_progress_column_up_and_down(backend: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        if backend == "postgres":
            url = stack.enter_context(pg_database())
        else:
            url = f"sqlite:///{tmp_path / 'm.db'}"
        upgrade(url, BEFORE)
        assert "progress" not in _columns(url)
        assert upgrade(url) == head_revision()
        assert _columns(url)["progress"]
        command.downgrade(alembic_config(url), BEFORE)
        assert "progress" not in _columns(url)
        upgrade(url)
        assert _columns(url)["progress"]
