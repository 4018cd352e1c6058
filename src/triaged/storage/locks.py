"""Transaction-scoped advisory locks of a workspace (PostgreSQL).

A count checked before an insert (taxonomies, webhook endpoints, the rows of bulk jobs
waiting for the quota) and the drift check's once-per-period rule need writers of one
workspace to take turns: each takes ``pg_advisory_xact_lock(class, hash(workspace))``
first, held until its transaction ends.  SQLite needs none: it has one writer at a time.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

__all__ = ["workspace_lock"]


def workspace_lock(conn: Connection, key: int, workspace_id: str) -> None:
    """Take the advisory lock of (``key``, the workspace) for the rest of the transaction
    on PostgreSQL; nothing on SQLite (one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(:ws))"),
            {"key": key, "ws": workspace_id},
        )
