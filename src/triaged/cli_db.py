"""Which database an operator command works on, and the refusal to make a new, empty one.

Operator commands (``workspaces``, ``keys``, ``review``, ``insights`` ...) resolve the database
exactly as ``triaged serve`` does: ``--database-url`` / ``TRIAGED_DATABASE_URL``, else
``triaged.db`` in ``--data-dir`` / ``TRIAGED_DATA_DIR``, else ``./data/triaged.db`` in the
current folder.  ``serve`` creates the database on its first start; an operator command does
not: run from another folder it would otherwise make an empty ``./data/triaged.db`` and report
on nothing.  It stops with an error naming the file it looked for and how to point at the
right one; ``triaged db upgrade`` creates a database on purpose.
"""

from __future__ import annotations

from pathlib import Path

from triaged.errors import NotFound
from triaged.settings import Settings

__all__ = ["HOW", "require_database"]

HOW = (
    "operator commands use the database `triaged serve` uses: --database-url or "
    "TRIAGED_DATABASE_URL, else triaged.db in --data-dir or TRIAGED_DATA_DIR, else "
    "./data/triaged.db in the current folder ({cwd}). Run the command where the server runs, "
    "pass --data-dir or --database-url, or create a new database with `triaged db upgrade`"
)


def require_database(settings: Settings) -> None:
    """Raise :class:`NotFound` unless the settings' database exists and holds triaged's schema."""
    from triaged.service import Service

    how = HOW.format(cwd=Path.cwd())
    path = settings.sqlite_path
    if path is not None and not path.exists():
        raise NotFound(
            f"no triaged database at {path.resolve()}; {how}",
            details={"database": str(path.resolve()), "reason": "missing"},
        )
    current, _head = Service.database_revisions(settings.resolved_database_url)
    if current is None:
        where = str(path.resolve()) if path is not None else "the database at --database-url"
        raise NotFound(
            f"{where} has no triaged schema (never set up); {how}",
            details={"reason": "no_schema"},
        )
