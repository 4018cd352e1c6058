"""Alembic: ``upgrade head`` on an empty database builds what the tables declare."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tests.servicekit import pg_database
from triaged.storage import current_revision, head_revision, make_engine, metadata, upgrade
from triaged.storage import tables as core

CORE = {t.name for t in vars(core).values() if hasattr(t, "c") and hasattr(t, "name")}


def _check(url: str) -> None:
    assert current_revision(url) is None
    assert upgrade(url) == head_revision()
    assert upgrade(url) == head_revision()  # idempotent
    engine = make_engine(url, null_pool=True)
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            assert names >= CORE
            assert "decisions" in names and "alembic_version" in names

            def core_only(obj, name, type_, reflected, compare_to):
                table = obj if type_ == "table" else getattr(obj, "table", None)
                table_name = name if type_ == "table" else getattr(table, "name", None)
                return table_name in CORE

            opts = {"include_object": core_only, "compare_type": True}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
            assert diff == [], diff
            cols = {c["name"] for c in inspect(conn).get_columns("decisions")}
            assert {
                "final_label",
                "final_source",
                "resolved_at",
                "alternatives",
                "latency_ms",
                "key_id",
                "external_id",
                "metadata",
                "model_version",
            } <= cols
    finally:
        engine.dispose()


def test_upgrade_head_on_an_empty_sqlite_file(tmp_path):
    _check(f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.mark.postgres
def test_upgrade_head_on_an_empty_postgres_database():
    with pg_database() as url:
        _check(url)


def test_core_revision_is_0001_core():
    from alembic.script import ScriptDirectory

    from triaged.storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
    assert script.get_revision("0001_core").down_revision is None
