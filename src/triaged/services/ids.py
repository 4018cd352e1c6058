"""Identifiers and the clock.

Ids are ``<prefix>_`` plus 12 hex digits of milliseconds since the epoch and 20
random hex digits: unique, unguessable and sorted by creation time, so the
decision log pages by id alone.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

__all__ = ["new_id", "utcnow"]


def new_id(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
