"""Rows of the decision log: the insert on the classify path, one decision, a filtered page,
and the per-day / per-key counts of the usage page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from triaged.storage.review import review_items
from triaged.storage.rows import AnyRow
from triaged.storage.tables import decisions

__all__ = [
    "decision_row",
    "decision_texts",
    "page_rows",
    "requests_per_day",
    "requests_per_key",
]


def decision_texts(
    conn: Connection,
    workspace_id: str,
    taxonomy_id: str,
    ids: Sequence[str],
    *,
    proposed_only: bool = False,
) -> list[str]:
    """The texts of the workspace's decisions ``ids`` of one taxonomy (unknown and erased
    ids: skipped); ``proposed_only``: only those a reviewer answered ``new_category``
    (resolved)."""
    if not ids:
        return []
    query = select(decisions.c.text).where(
        decisions.c.workspace_id == workspace_id,
        decisions.c.taxonomy_id == taxonomy_id,
        decisions.c.id.in_(list(ids)),
        decisions.c.redacted_at.is_(None),
    )
    if proposed_only:
        i = review_items.c
        query = query.where(
            select(i.id)
            .where(
                i.decision_id == decisions.c.id,
                i.status == "resolved",
                i.action == "new_category",
            )
            .exists()
        )
    return [str(t) for t in conn.execute(query).scalars()]


def decision_row(conn: Connection, workspace_id: str, decision_id: str) -> AnyRow | None:
    return conn.execute(
        select(decisions).where(
            decisions.c.id == decision_id, decisions.c.workspace_id == workspace_id
        )
    ).first()


def page_rows(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy: str | None,
    bucket: str | None,
    label: str | None,
    external_id: str | None,
    since: datetime | None,
    until: datetime | None,
    cursor: str | None,
    fetch: int,
) -> list[AnyRow]:
    """Up to ``fetch`` of the workspace's decisions matching every filter given, newest
    (highest id) first; ``cursor``: only ids below it; ``since``/``until``: UTC times."""
    c = decisions.c
    stmt = select(decisions).where(c.workspace_id == workspace_id)
    if taxonomy is not None:
        stmt = stmt.where(c.taxonomy == taxonomy)
    if bucket is not None:
        stmt = stmt.where(c.bucket == bucket)
    if label is not None:
        stmt = stmt.where(c.label == label)
    if external_id is not None:
        stmt = stmt.where(c.external_id == external_id)
    if since is not None:
        stmt = stmt.where(c.created_at >= since)
    if until is not None:
        stmt = stmt.where(c.created_at < until)
    if cursor:
        stmt = stmt.where(c.id < cursor)
    return list(conn.execute(stmt.order_by(c.id.desc()).limit(fetch)))


def _day(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", decisions.c.created_at), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", decisions.c.created_at)


def requests_per_day(conn: Connection, workspace_id: str, start: datetime) -> dict[str, int]:
    """The workspace's decisions since ``start`` per UTC day (``YYYY-MM-DD``; days with none
    are absent)."""
    day = _day(conn).label("day")
    in_month = (decisions.c.workspace_id == workspace_id, decisions.c.created_at >= start)
    return {
        str(d): int(n)
        for d, n in conn.execute(select(day, func.count()).where(*in_month).group_by(day)).all()
    }


def requests_per_key(conn: Connection, workspace_id: str, start: datetime) -> list[AnyRow]:
    """``(key_id, n)``: the workspace's decisions since ``start`` per key that made them."""
    in_month = (decisions.c.workspace_id == workspace_id, decisions.c.created_at >= start)
    return list(
        conn.execute(
            select(decisions.c.key_id, func.count().label("n"))
            .where(*in_month)
            .group_by(decisions.c.key_id)
        ).all()
    )
