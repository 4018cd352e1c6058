"""Revision 0007_review_workspace builds what storage/review_workspace.py declares, and
downgrades cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from triaged.storage import make_engine, metadata, review, review_workspace, upgrade  # noqa: F401  (their tables in metadata)
from triaged.storage.migrate import alembic_config

MINE = {"review_settings", "review_judgments", "review_items"}


def test_0007_matches_the_tables_and_downgrades(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url, null_pool=True)
    try:
        with engine.connect() as conn:

            def mine(obj, name, type_, reflected, compare_to):
                table = obj if type_ == "table" else getattr(obj, "table", None)
                return (name if type_ == "table" else getattr(table, "name", None)) in MINE

            opts = {"include_object": mine, "compare_type": True}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
            assert diff == [], diff
        command.downgrade(alembic_config(url), "0006_signup")
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            cols = {c["name"] for c in inspect(conn).get_columns("review_items")}
        assert not ({"review_settings", "review_judgments"} & names)
        assert not ({"review_round", "first_by"} & cols)
    finally:
        engine.dispose()
