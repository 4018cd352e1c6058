"""Reads of the workspace table that span every workspace (operator listings, bootstrap)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from triaged.storage.tables import workspaces

__all__ = ["all_workspaces", "count_workspaces"]


def count_workspaces(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(workspaces)).scalar_one())


def all_workspaces(conn: Connection) -> list[dict[str, Any]]:
    """Every workspace row, by name."""
    rows = conn.execute(select(workspaces).order_by(workspaces.c.name)).mappings().all()
    return [dict(r) for r in rows]
