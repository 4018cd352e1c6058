"""Reads of the decision log that the service needs beyond the log's own listing."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from triaged.storage.tables import decisions

__all__ = ["decision_texts"]


def decision_texts(
    conn: Connection, workspace_id: str, taxonomy_id: str, ids: Sequence[str]
) -> list[str]:
    """The texts of the workspace's decisions ``ids`` of one taxonomy (unknown ids: skipped)."""
    if not ids:
        return []
    query = select(decisions.c.text).where(
        decisions.c.workspace_id == workspace_id,
        decisions.c.taxonomy_id == taxonomy_id,
        decisions.c.id.in_(list(ids)),
    )
    return [str(t) for t in conn.execute(query).scalars()]
