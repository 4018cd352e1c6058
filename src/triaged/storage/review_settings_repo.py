"""The ``review_settings`` row of a taxonomy (guidelines, overlap rate, reopen window).

Plain functions on a ``Connection``: the caller owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from triaged.storage.review_workspace import review_settings

__all__ = ["insert_settings", "settings_row", "update_settings"]


def settings_row(conn: Connection, taxonomy_id: str) -> Any:
    """The taxonomy's settings row, or None (the defaults apply)."""
    return conn.execute(
        select(review_settings).where(review_settings.c.taxonomy_id == taxonomy_id)
    ).first()


def insert_settings(
    conn: Connection, *, taxonomy_id: str, workspace_id: str, **fields: Any
) -> None:
    conn.execute(
        insert(review_settings).values(taxonomy_id=taxonomy_id, workspace_id=workspace_id, **fields)
    )


def update_settings(conn: Connection, taxonomy_id: str, **fields: Any) -> None:
    conn.execute(
        update(review_settings).where(review_settings.c.taxonomy_id == taxonomy_id).values(**fields)
    )
