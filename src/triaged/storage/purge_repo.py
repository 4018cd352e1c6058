"""The purge of a whole workspace (account deletion, stale pending sign-ups).

:func:`purge_workspace` deletes every row of one workspace from every table the
database holds (reflected, so tables of later revisions are covered too): rows whose
``workspace_id`` is the workspace, and rows that reach such a row through a foreign
key (a key's web sessions, a taxonomy's versions and models, a delivery's attempts).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, MetaData, Table, delete, or_, select, update

__all__ = ["purge_workspace"]

SKIP_TABLES = frozenset({"alembic_version", "workspaces"})


def _reference_only(table: Table, column: str) -> bool:
    """A nullable reference to a workspace in a table whose rows belong to the workspace in
    their own ``workspace_id`` (``invites.used_by``: the workspace signed up with another
    workspace's invite).  Deleting the referenced workspace nulls it; the row stays with its
    owner (until 5 December the inviting workspace lost the invite from its list)."""
    return column != "workspace_id" and "workspace_id" in table.c and bool(table.c[column].nullable)


def _owned_conditions(
    tables: dict[str, Table], workspace_id: str
) -> dict[str, ColumnElement[bool]]:
    """Per table: the WHERE clause selecting the workspace's rows (directly or by FK)."""
    conds: dict[str, ColumnElement[bool]] = {}
    busy: set[str] = set()

    def cond(name: str) -> ColumnElement[bool] | None:
        if name in conds:
            return conds[name]
        if name in busy or name not in tables:
            return None
        busy.add(name)
        table = tables[name]
        parts: list[ColumnElement[bool]] = []
        if "workspace_id" in table.c:
            parts.append(table.c.workspace_id == workspace_id)
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name == "workspaces":
                if _reference_only(table, fk.parent.name):
                    continue  # another workspace's row that mentions this one: detached
                parts.append(fk.parent == workspace_id)
            elif parent.name != name:
                sub = cond(parent.name)
                if sub is not None:
                    parts.append(fk.parent.in_(select(fk.column).where(sub)))
        busy.discard(name)
        if parts:
            conds[name] = or_(*parts) if len(parts) > 1 else parts[0]
        return conds.get(name)

    for name in tables:
        cond(name)
    return conds


def purge_workspace(conn: Connection, workspace_id: str) -> dict[str, int]:
    """Delete the workspace and every row of it in every table; returns rows deleted per table.

    Children go before their parents (reverse dependency order), so it works with the
    foreign keys enforced (PostgreSQL, SQLite with ``foreign_keys=ON``).
    """
    reflected = MetaData()
    reflected.reflect(conn)
    tables = {t.name: t for t in reflected.sorted_tables if t.name not in SKIP_TABLES}
    conds = _owned_conditions(tables, workspace_id)
    counts: dict[str, int] = {}
    for table in tables.values():  # e.g. an invite of another workspace it was signed up with
        for fk in table.foreign_keys:
            column = fk.parent
            if fk.column.table.name == "workspaces" and _reference_only(table, column.name):
                conn.execute(
                    update(table).where(column == workspace_id).values({column.name: None})
                )
    for table in reversed(reflected.sorted_tables):
        where = conds.get(table.name)
        if where is None:
            continue
        n = conn.execute(delete(table).where(where)).rowcount
        if n:
            counts[table.name] = int(n)
    ws = reflected.tables["workspaces"]
    counts["workspaces"] = int(conn.execute(delete(ws).where(ws.c.id == workspace_id)).rowcount)
    return counts
