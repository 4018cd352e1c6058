"""Alembic environment: uses triaged's engine settings; serialises concurrent upgrades."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from triaged.storage.db import make_engine
from triaged.storage.tables import metadata

config = context.config
url = config.attributes.get("triaged_url") or config.get_main_option("sqlalchemy.url") or ""


def run_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url, null_pool=True)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.execution_options(sqlite_immediate=True)
            context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
            with context.begin_transaction():
                if conn.dialect.name == "postgresql":
                    # several workers starting at once: one migrates, the others wait
                    conn.execute(text("SELECT pg_advisory_xact_lock(727375001)"))
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
