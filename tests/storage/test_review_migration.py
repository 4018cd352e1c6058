"""Revision 0002_review builds exactly what ``triaged.storage.review`` declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.servicekit import pg_database
from triaged.storage import make_engine, metadata, upgrade
from triaged.storage import review as review_tables
from triaged.storage.migrate import alembic_config

REVIEW = {review_tables.review_items.name, review_tables.review_events.name,
          review_tables.model_evaluations.name}  # fmt: skip


def _check(url: str) -> None:
    upgrade(url)
    engine = make_engine(url, null_pool=True)
    try:
        with engine.connect() as conn:

            def review_only(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
                table = obj if type_ == "table" else getattr(obj, "table", None)
                return (name if type_ == "table" else getattr(table, "name", None)) in REVIEW

            opts = {"include_object": review_only, "compare_type": True}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
            assert diff == [], diff
    finally:
        engine.dispose()


def test_revision_chain() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
    rev = script.get_revision("0002_review")
    assert rev is not None and rev.down_revision == "0001_core"


def test_review_tables_match_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _check(f"sqlite:///{tmp_path / 'review.db'}")


@pytest.mark.postgres
def test_review_tables_match_on_postgres() -> None:
    with pg_database() as url:
        _check(url)
