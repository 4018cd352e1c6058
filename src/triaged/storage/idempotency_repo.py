"""Rows of the idempotency-key table: the stored response of a key, a new key, the purge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from triaged.storage.ids import utcnow
from triaged.storage.rows import AnyRow
from triaged.storage.tables import idempotency_keys

__all__ = ["delete_older_than", "insert_key", "stored"]


def stored(conn: Connection, workspace_id: str, key: str) -> AnyRow | None:
    """The key's ``request_hash`` and ``response``, or None when it was never used."""
    return conn.execute(
        select(idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
            idempotency_keys.c.workspace_id == workspace_id, idempotency_keys.c.key == key
        )
    ).first()


def insert_key(
    conn: Connection, workspace_id: str, key: str, request_hash: str, response: Any
) -> None:
    """A concurrent insert of the same key fails on the primary key (IntegrityError)."""
    conn.execute(
        insert(idempotency_keys).values(
            workspace_id=workspace_id,
            key=key,
            request_hash=request_hash,
            response=response,
            created_at=utcnow(),
        )
    )


def delete_older_than(conn: Connection, cutoff: datetime) -> int:
    """Delete the keys created before ``cutoff``; returns how many went."""
    result = conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff))
    return int(result.rowcount or 0)
