"""Alembic, driven from code: the migrations ship inside the package.

``upgrade(url)`` is what ``triaged db upgrade`` and the service start run.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from triaged.errors import InvalidInput
from triaged.storage.db import make_engine

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "head_revision",
    "schema_behind",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["triaged_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> str | None:
    """Bring the schema at ``url`` up to ``revision``; returns the revision now current.

    An unknown or unreachable ``revision`` raises :class:`InvalidInput` (before anything
    is applied), naming the revisions there are."""
    cfg = alembic_config(url)
    try:
        if not any(c in revision for c in "+-@:"):  # relative ones need the database
            ScriptDirectory.from_config(cfg).get_revisions(revision)
        command.upgrade(cfg, revision)
    except (CommandError, RevisionError) as exc:
        raise InvalidInput(
            f"cannot upgrade to revision {revision!r}: {exc} (head is {head_revision()})",
            details={"revision": revision},
        ) from None
    return current_revision(url)


def current_revision(url: str) -> str | None:
    engine = make_engine(url, null_pool=True)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_current_head()


def schema_behind(url: str) -> tuple[str | None, str | None] | None:
    """(the database's revision, this code's head) when the database is behind this code
    (an older revision of this package's history, or no schema at all); None when it is
    at the head or at a revision this code does not know (a newer release migrated it:
    its migrations only add, so this code still runs on it during a rolling upgrade)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
    current, head = current_revision(url), script.get_current_head()
    if current == head:
        return None
    known = {rev.revision for rev in script.walk_revisions()}
    return (current, head) if current is None or current in known else None
