"""Persistence: SQLAlchemy tables on one shared MetaData, Alembic migrations, engines."""

from triaged.storage.db import Database, make_engine
from triaged.storage.migrate import current_revision, head_revision, upgrade
from triaged.storage.tables import metadata

__all__ = ["Database", "current_revision", "head_revision", "make_engine", "metadata", "upgrade"]
