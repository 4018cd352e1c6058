"""Reads of taxonomy rows that cross a workspace or another table (the operator's lookups).

The rows come back raw; :class:`triaged.services.taxonomies.TaxonomyRecord` wraps them.
"""

from __future__ import annotations

from sqlalchemy import Connection, Row, select

from triaged.storage.review import review_items
from triaged.storage.tables import taxonomies

__all__ = ["taxonomies_named", "taxonomy_of_review_item"]


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
