"""Rows of the workspace table: one workspace by name or id, its status and plan, and the
reads that span every workspace (operator listings, bootstrap)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from triaged.storage.tables import api_keys, quota_counters, workspaces

__all__ = [
    "all_workspaces",
    "count_workspaces",
    "insert_workspace",
    "name_in_use",
    "overview_rows",
    "plans_in_use",
    "set_plan",
    "set_status",
    "workspace_by_id",
    "workspace_named",
]


def count_workspaces(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(workspaces)).scalar_one())


def all_workspaces(conn: Connection) -> list[dict[str, Any]]:
    """Every workspace row, by name."""
    rows = conn.execute(select(workspaces).order_by(workspaces.c.name)).mappings().all()
    return [dict(r) for r in rows]


def insert_workspace(conn: Connection, row: Mapping[str, Any]) -> None:
    """Insert one workspace row (a taken name raises the driver's IntegrityError)."""
    conn.execute(insert(workspaces).values(**row))


def name_in_use(conn: Connection, name: str) -> str | None:
    """The existing workspace name equal to ``name`` but for case ("acme" for "ACME"), or
    None: names are identifiers people read, two that differ only in case are one."""
    found: str | None = conn.execute(
        select(workspaces.c.name).where(func.lower(workspaces.c.name) == name.lower())
    ).scalar()
    return found


def workspace_named(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(workspaces).where(workspaces.c.name == name)).mappings().first()
    return None if row is None else dict(row)


def workspace_by_id(conn: Connection, workspace_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).mappings().first()
    return None if row is None else dict(row)


def set_status(conn: Connection, workspace_id: str, status: str) -> None:
    conn.execute(update(workspaces).where(workspaces.c.id == workspace_id).values(status=status))


def set_plan(conn: Connection, workspace_id: str, plan: str) -> None:
    conn.execute(update(workspaces).where(workspaces.c.id == workspace_id).values(plan=plan))


def overview_rows(conn: Connection) -> list[RowMapping]:
    """Every workspace (by name) with its counter row's ``period``/``period_used`` and ``n``,
    its number of live keys (None when it has none)."""
    n_keys = (
        select(api_keys.c.workspace_id, func.count().label("n"))
        .where(api_keys.c.revoked_at.is_(None))
        .group_by(api_keys.c.workspace_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            workspaces,
            quota_counters.c.period,
            quota_counters.c.period_used,
            n_keys.c.n,
        )
        .outerjoin(quota_counters, quota_counters.c.workspace_id == workspaces.c.id)
        .outerjoin(n_keys, n_keys.c.workspace_id == workspaces.c.id)
        .order_by(workspaces.c.name)
    ).mappings()
    return list(rows)


def plans_in_use(conn: Connection) -> dict[str, int]:
    """How many workspaces are on each plan name."""
    rows = conn.execute(select(workspaces.c.plan, func.count()).group_by(workspaces.c.plan)).all()
    return {str(plan): int(n) for plan, n in rows}
