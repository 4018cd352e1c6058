"""Rows of the taxonomy and taxonomy-version tables.

A taxonomy row points at its current version; every change inserts a new, immutable
version row.  The rows come back raw; :class:`triaged.services.taxonomies.TaxonomyRecord`
wraps them.  Lookups that cross a workspace or another table serve the operator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, text, update

from triaged.storage.ids import new_id, utcnow
from triaged.storage.locks import workspace_lock
from triaged.storage.review import review_items
from triaged.storage.rows import AnyRow
from triaged.storage.tables import taxonomies, taxonomy_versions

__all__ = [
    "archive",
    "bump_version",
    "insert_taxonomy",
    "insert_version",
    "live_taxonomy_count",
    "schema_revision",
    "taxonomies_named",
    "taxonomy_by_id",
    "taxonomy_named",
    "taxonomy_of_review_item",
    "taxonomy_row",
    "version_definition",
    "version_definitions",
    "version_rows",
    "version_stamp",
    "workspace_taxonomies",
]


def insert_taxonomy(
    conn: Connection, taxonomy_id: str, workspace_id: str, name: str, now: datetime
) -> None:
    """A new taxonomy at version 1 (a name taken in the workspace raises IntegrityError)."""
    conn.execute(
        insert(taxonomies).values(
            id=taxonomy_id,
            workspace_id=workspace_id,
            name=name,
            current_version=1,
            created_at=now,
            updated_at=now,
        )
    )


CAP_LOCK = 727375020  # PostgreSQL advisory lock class: a workspace's taxonomy count


def live_taxonomy_count(conn: Connection, workspace_id: str) -> int:
    """The workspace's taxonomies that are not archived, counted under the workspace's
    transaction-scoped lock (PostgreSQL; SQLite has one writer), so of creations racing
    each sees the others' rows once they committed."""
    workspace_lock(conn, CAP_LOCK, workspace_id)
    t = taxonomies.c
    n = conn.execute(
        select(func.count())
        .select_from(taxonomies)
        .where(t.workspace_id == workspace_id, t.archived_at.is_(None))
    ).scalar_one()
    return int(n)


def insert_version(
    conn: Connection,
    taxonomy_id: str,
    version: int,
    definition: dict[str, Any],
    n_examples: int,
    renames: dict[str, str] | None = None,
    created_by: str | None = None,
) -> None:
    conn.execute(
        insert(taxonomy_versions).values(
            id=new_id("txv"),
            taxonomy_id=taxonomy_id,
            version=version,
            definition=definition,
            n_examples=n_examples,
            created_at=utcnow(),
            renames=renames or None,
            created_by=created_by,
        )
    )


_RECORD = select(taxonomies).where(
    taxonomies.c.workspace_id == bindparam("workspace_id"), taxonomies.c.name == bindparam("name")
)
_RECORD_FOR_UPDATE = _RECORD.with_for_update()


def taxonomy_named(
    conn: Connection, workspace_id: str, name: str, *, for_update: bool = False
) -> AnyRow | None:
    """The workspace's taxonomy row called ``name``; ``for_update``: locked (``FOR UPDATE``)."""
    stmt = _RECORD_FOR_UPDATE if for_update else _RECORD
    return conn.execute(stmt, {"workspace_id": workspace_id, "name": name}).first()


def taxonomy_by_id(conn: Connection, workspace_id: str, taxonomy_id: str) -> AnyRow | None:
    return conn.execute(
        select(taxonomies).where(
            taxonomies.c.id == taxonomy_id, taxonomies.c.workspace_id == workspace_id
        )
    ).first()


def taxonomy_row(conn: Connection, taxonomy_id: str) -> AnyRow:
    """The taxonomy row ``taxonomy_id`` (it must exist)."""
    return conn.execute(select(taxonomies).where(taxonomies.c.id == taxonomy_id)).one()


def workspace_taxonomies(
    conn: Connection,
    workspace_id: str,
    *,
    include_archived: bool,
    limit: int | None,
    after: str | None,
) -> list[AnyRow]:
    """The workspace's taxonomy rows by name; ``after`` a name and ``limit`` page through them."""
    stmt = select(taxonomies).where(taxonomies.c.workspace_id == workspace_id)
    if not include_archived:
        stmt = stmt.where(taxonomies.c.archived_at.is_(None))
    if after is not None:
        stmt = stmt.where(taxonomies.c.name > after)
    stmt = stmt.order_by(taxonomies.c.name)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(conn.execute(stmt))


def version_definition(conn: Connection, taxonomy_id: str, version: int) -> AnyRow | None:
    """The stored ``definition`` of one version, or None when there is no such version."""
    return conn.execute(
        select(taxonomy_versions.c.definition).where(
            taxonomy_versions.c.taxonomy_id == taxonomy_id, taxonomy_versions.c.version == version
        )
    ).first()


def version_stamp(conn: Connection, taxonomy_id: str, version: int) -> str | None:
    """What tells one stored definition of a version from another (None: no such version):
    when the version was written (a version number rolled back is used again) and the
    schema revision (a migration may rewrite stored definitions)."""
    v = taxonomy_versions.c
    stamp: datetime | None = conn.execute(
        select(v.created_at).where(v.taxonomy_id == taxonomy_id, v.version == version)
    ).scalar()
    if stamp is None:
        return None
    return f"{stamp.isoformat()}@{schema_revision(conn)}"


def schema_revision(conn: Connection) -> str:
    """The database's migration revision ("" before any)."""
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(revision or "")


def version_definitions(conn: Connection, taxonomy_id: str, *, since: int = 1) -> list[AnyRow]:
    """``version``, ``definition`` and ``renames`` of the versions from ``since`` on,
    oldest first."""
    v = taxonomy_versions.c
    return list(
        conn.execute(
            select(v.version, v.definition, v.renames)
            .where(v.taxonomy_id == taxonomy_id, v.version >= since)
            .order_by(v.version)
        )
    )


def version_rows(conn: Connection, taxonomy_id: str) -> list[AnyRow]:
    """``version``, ``n_examples``, ``created_at``, ``renames`` and ``created_by`` of every
    version, oldest first."""
    return list(
        conn.execute(
            select(
                taxonomy_versions.c.version,
                taxonomy_versions.c.n_examples,
                taxonomy_versions.c.created_at,
                taxonomy_versions.c.renames,
                taxonomy_versions.c.created_by,
            )
            .where(taxonomy_versions.c.taxonomy_id == taxonomy_id)
            .order_by(taxonomy_versions.c.version)
        )
    )


def bump_version(conn: Connection, taxonomy_id: str) -> int:
    """Increment the current version in one statement (concurrent edits never clash);
    returns the new version."""
    version: int = conn.execute(
        update(taxonomies)
        .where(taxonomies.c.id == taxonomy_id)
        .values(current_version=taxonomies.c.current_version + 1, updated_at=utcnow())
        .returning(taxonomies.c.current_version)
    ).scalar_one()
    return version


def archive(conn: Connection, taxonomy_id: str) -> None:
    conn.execute(
        update(taxonomies)
        .where(taxonomies.c.id == taxonomy_id)
        .values(archived_at=utcnow(), updated_at=utcnow())
    )


def taxonomies_named(conn: Connection, name: str) -> list[Row[tuple[object, ...]]]:
    """Every workspace's taxonomy called ``name`` (an operator command names no workspace)."""
    return list(conn.execute(select(taxonomies).where(taxonomies.c.name == name)).all())


def taxonomy_of_review_item(
    conn: Connection, workspace_id: str, item_id: str
) -> Row[tuple[object, ...]] | None:
    """The taxonomy row of one review item of the workspace; None when there is no such item."""
    return conn.execute(
        select(taxonomies)
        .join(review_items, review_items.c.taxonomy_id == taxonomies.c.id)
        .where(review_items.c.id == item_id, review_items.c.workspace_id == workspace_id)
    ).first()
