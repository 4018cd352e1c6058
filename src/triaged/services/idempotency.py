"""Idempotency keys: a retried write returns the first response instead of doing it again.

The key row is inserted in the same transaction as the decisions, so a
concurrent duplicate fails on the primary key, rolls back (no second count) and
replays the stored response.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from triaged.errors import Conflict, InvalidInput
from triaged.services.ids import utcnow
from triaged.storage.tables import idempotency_keys

__all__ = ["fingerprint", "lookup", "prune_older_than", "remember"]

MAX_KEY = 200


def fingerprint(route: str, payload: Any) -> str:
    raw = json.dumps([route, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(f"Idempotency-Key must have 1 to {MAX_KEY} characters")
    return key


def lookup(conn: Connection, workspace_id: str, key: str, request_hash: str) -> Any | None:
    row = conn.execute(
        select(idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
            idempotency_keys.c.workspace_id == workspace_id, idempotency_keys.c.key == key
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise Conflict(
            "this Idempotency-Key was already used with a different request",
            details={"idempotency_key": key},
        )
    return row.response


def remember(
    conn: Connection, workspace_id: str, key: str, request_hash: str, response: Any
) -> None:
    conn.execute(
        insert(idempotency_keys).values(
            workspace_id=workspace_id,
            key=key,
            request_hash=request_hash,
            response=response,
            created_at=utcnow(),
        )
    )


def prune_older_than(conn: Connection, cutoff: datetime) -> int:
    """Delete the keys created before ``cutoff``; returns how many went."""
    result = conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff))
    return int(result.rowcount or 0)
