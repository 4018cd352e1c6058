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

from sqlalchemy import Connection

from triaged.errors import IdempotencyKeyReused, InvalidInput
from triaged.storage import idempotency_repo

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
    row = idempotency_repo.stored(conn, workspace_id, key)
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request; send a new key "
            "for a new request",
            details={"idempotency_key": key},
        )
    return row.response


def remember(
    conn: Connection, workspace_id: str, key: str, request_hash: str, response: Any
) -> None:
    idempotency_repo.insert_key(conn, workspace_id, key, request_hash, response)


def prune_older_than(conn: Connection, cutoff: datetime) -> int:
    """Delete the keys created before ``cutoff``; returns how many went."""
    return idempotency_repo.delete_older_than(conn, cutoff)
