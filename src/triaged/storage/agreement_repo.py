"""Reviewers' answers (``review_judgments``): write, withdraw, and read them back for the
overlap rounds, undo and agreement; and the names of the keys that gave them.

Plain functions on a ``Connection``: the caller owns the transaction.  The rounds are
:data:`triaged.storage.review_repo.FIRST`, ``SECOND`` and ``ADJUDICATION``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from triaged.storage.ids import new_id
from triaged.storage.review import review_items
from triaged.storage.review_repo import ADJUDICATION, FIRST, SECOND
from triaged.storage.review_workspace import review_judgments
from triaged.storage.tables import api_keys

__all__ = [
    "answer_of",
    "insert_judgment",
    "item_answers",
    "key_names",
    "latest_answer",
    "open_disagreements",
    "overlap_judgments",
    "recent_answers",
    "withdraw",
    "withdrawn_in_round",
]


def insert_judgment(
    conn: Connection,
    row: Any,
    *,
    reviewer: str,
    action: str,
    label: str | None,
    now: datetime,
) -> None:
    """``reviewer``'s answer to the item ``row`` in its current round."""
    conn.execute(
        insert(review_judgments).values(
            id=new_id("rjd"),
            workspace_id=row.workspace_id,
            taxonomy_id=row.taxonomy_id,
            item_id=row.id,
            decision_id=row.decision_id,
            review_round=row.review_round,
            reviewer=reviewer,
            action=action,
            label=label,
            created_at=now,
        )
    )


def answer_of(conn: Connection, item_id: str, round_: int) -> Any:
    """The standing (not withdrawn) judgment of round ``round_`` of an item, or None."""
    j = review_judgments.c
    return conn.execute(
        select(review_judgments)
        .where(j.item_id == item_id, j.review_round == round_, j.withdrawn_at.is_(None))
        .order_by(j.created_at.desc(), j.id.desc())
        .limit(1)
    ).first()


def latest_answer(conn: Connection, item_id: str) -> Any:
    """The item's most recent standing judgment (any round), or None."""
    j = review_judgments.c
    return conn.execute(
        select(review_judgments)
        .where(j.item_id == item_id, j.withdrawn_at.is_(None))
        .order_by(j.created_at.desc(), j.review_round.desc(), j.id.desc())
        .limit(1)
    ).first()


def withdrawn_in_round(conn: Connection, item_id: str, round_: int) -> bool:
    """Whether an answer of round ``round_`` to the item was taken back (reopened)."""
    j = review_judgments.c
    found = conn.execute(
        select(j.id)
        .where(j.item_id == item_id, j.review_round == round_, j.withdrawn_at.is_not(None))
        .limit(1)
    ).first()
    return found is not None


def withdraw(conn: Connection, judgment_id: str, now: datetime) -> None:
    conn.execute(
        update(review_judgments)
        .where(review_judgments.c.id == judgment_id)
        .values(withdrawn_at=now)
    )


def recent_answers(
    conn: Connection,
    *,
    workspace_id: str,
    reviewer: str,
    since: datetime,
    taxonomy: str | None = None,
) -> list[Any]:
    """``reviewer``'s 20 newest standing judgments since ``since`` (with the item's
    taxonomy name), newest first."""
    j = review_judgments.c
    stmt = (
        select(review_judgments, review_items.c.taxonomy)
        .join(review_items, review_items.c.id == j.item_id)
        .where(
            j.workspace_id == workspace_id,
            j.reviewer == reviewer,
            j.withdrawn_at.is_(None),
            j.created_at >= since,
        )
        .order_by(j.created_at.desc(), j.id.desc())
        .limit(20)
    )
    if taxonomy is not None:
        stmt = stmt.where(review_items.c.taxonomy == taxonomy)
    return list(conn.execute(stmt))


def overlap_judgments(
    conn: Connection, workspace_id: str, *, taxonomy_id: str | None = None
) -> list[Any]:
    """The standing first and second opinions of the workspace, oldest first."""
    j = review_judgments.c
    conds = [j.workspace_id == workspace_id, j.withdrawn_at.is_(None)]
    conds.append(or_(j.review_round == FIRST, j.review_round == SECOND))
    if taxonomy_id is not None:
        conds.append(j.taxonomy_id == taxonomy_id)
    return list(conn.execute(select(review_judgments).where(*conds).order_by(j.created_at, j.id)))


def item_answers(conn: Connection, workspace_id: str, item_id: str) -> list[Any]:
    """The standing judgments of an item, by round then time."""
    j = review_judgments.c
    return list(
        conn.execute(
            select(review_judgments)
            .where(j.workspace_id == workspace_id, j.item_id == item_id, j.withdrawn_at.is_(None))
            .order_by(j.review_round, j.created_at)
        ).all()
    )


def key_names(conn: Connection, key_ids: set[str]) -> dict[str, str]:
    """The name of each key (its id when it has none)."""
    if not key_ids:
        return {}
    rows = conn.execute(select(api_keys.c.id, api_keys.c.name).where(api_keys.c.id.in_(key_ids)))
    return {r.id: (r.name or r.id) for r in rows}


def open_disagreements(conn: Connection, workspace_id: str, taxonomy_id: str | None) -> int:
    """Items waiting for an admin's adjudication."""
    c = review_items.c
    conds = [
        c.workspace_id == workspace_id,
        c.review_round == ADJUDICATION,
        c.status != "resolved",
    ]
    if taxonomy_id is not None:
        conds.append(c.taxonomy_id == taxonomy_id)
    return len(conn.execute(select(c.id).where(*conds)).all())
