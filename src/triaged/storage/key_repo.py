"""Rows of the API key table, and the authentication read (key, workspace, counters).

The service (:mod:`triaged.services.keys`) makes and hashes the keys and decides who
may do what; these functions only read and write the rows, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, insert, select, update

from triaged.storage.ids import utcnow
from triaged.storage.rows import AnyRow
from triaged.storage.tables import api_keys, quota_counters, taxonomies, workspaces

__all__ = [
    "auth_row_by_hash",
    "auth_row_by_id",
    "auth_row_with_taxonomy",
    "insert_key",
    "key_by_id",
    "key_names",
    "key_of_workspace",
    "keys_of_workspace",
    "live_keys_with_role_for_update",
    "mark_revoked",
]


def insert_key(
    conn: Connection,
    *,
    key_id: str,
    workspace_id: str,
    name: str,
    role: str,
    prefix: str,
    key_hash: str,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            workspace_id=workspace_id,
            name=name,
            role=role,
            prefix=prefix,
            key_hash=key_hash,
            created_at=created_at,
        )
    )


def keys_of_workspace(conn: Connection, workspace_id: str) -> list[AnyRow]:
    """The workspace's keys (revoked ones too), by id."""
    rows = conn.execute(
        select(api_keys).where(api_keys.c.workspace_id == workspace_id).order_by(api_keys.c.id)
    )
    return list(rows)


def key_of_workspace(conn: Connection, workspace_id: str, key_id: str) -> AnyRow | None:
    return conn.execute(
        select(api_keys).where(api_keys.c.id == key_id, api_keys.c.workspace_id == workspace_id)
    ).first()


def live_keys_with_role_for_update(conn: Connection, workspace_id: str, role: str) -> list[str]:
    """The ids of the workspace's unrevoked keys of ``role``, locked (``FOR UPDATE``)."""
    rows = conn.execute(
        select(api_keys.c.id)
        .where(
            api_keys.c.workspace_id == workspace_id,
            api_keys.c.role == role,
            api_keys.c.revoked_at.is_(None),
        )
        .with_for_update()
    ).all()
    return [str(r.id) for r in rows]


def mark_revoked(conn: Connection, key_id: str) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=utcnow()))


def key_by_id(conn: Connection, key_id: str) -> AnyRow:
    """The key row ``key_id`` (it must exist)."""
    return conn.execute(select(api_keys).where(api_keys.c.id == key_id)).one()


def key_names(conn: Connection, workspace_id: str) -> dict[str, AnyRow]:
    """The workspace's keys by id: ``id``, ``name``, ``prefix`` and ``role``."""
    return {
        r.id: r
        for r in conn.execute(
            select(api_keys.c.id, api_keys.c.name, api_keys.c.prefix, api_keys.c.role).where(
                api_keys.c.workspace_id == workspace_id
            )
        )
    }


_AUTH = (
    select(
        api_keys.c.id,
        api_keys.c.role,
        api_keys.c.revoked_at,
        workspaces.c.id.label("workspace_id"),
        workspaces.c.name.label("workspace"),
        workspaces.c.plan,
        workspaces.c.status,
        quota_counters.c.period,
        quota_counters.c.period_used,
        quota_counters.c.minute,
        quota_counters.c.minute_used,
    )
    .select_from(api_keys)
    .join(workspaces, workspaces.c.id == api_keys.c.workspace_id)
    .outerjoin(quota_counters, quota_counters.c.workspace_id == workspaces.c.id)
)
_AUTH_BY_HASH = _AUTH.where(api_keys.c.key_hash == bindparam("key_hash"))


def auth_row_by_hash(conn: Connection, key_hash: str) -> AnyRow | None:
    """The key with this hash joined with its workspace and quota counters, or None."""
    return conn.execute(_AUTH_BY_HASH, {"key_hash": key_hash}).first()


# the classify hot path: the key and the workspace's taxonomy in one statement
TAXONOMY_PREFIX = "tax_"
_AUTH_WITH_TAXONOMY = (
    _AUTH.add_columns(*(c.label(TAXONOMY_PREFIX + c.name) for c in taxonomies.c))
    .outerjoin(
        taxonomies,
        and_(
            taxonomies.c.workspace_id == workspaces.c.id,
            taxonomies.c.name == bindparam("taxonomy"),
        ),
    )
    .where(api_keys.c.key_hash == bindparam("key_hash"))
)


def auth_row_with_taxonomy(conn: Connection, key_hash: str, taxonomy: str) -> AnyRow | None:
    """:func:`auth_row_by_hash` plus the key's workspace's taxonomy called ``taxonomy``, its
    columns named with :data:`TAXONOMY_PREFIX` (all None when there is none)."""
    return conn.execute(_AUTH_WITH_TAXONOMY, {"key_hash": key_hash, "taxonomy": taxonomy}).first()


def auth_row_by_id(conn: Connection, key_id: str) -> AnyRow | None:
    """Like :func:`auth_row_by_hash`, for the key ``key_id``."""
    return conn.execute(_AUTH.where(api_keys.c.id == key_id)).first()
