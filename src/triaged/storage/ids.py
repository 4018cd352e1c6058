"""Identifiers and the clock.

Ids are ``<prefix>_`` plus 12 hex digits of milliseconds since the epoch and 20
hex digits (80 bits) that are random for the first id of a millisecond: unique,
unguessable and sorted by creation time, so the decision log pages by id alone.

Within one process the ids are strictly increasing (monotonic ULID-style): an id
made in the same millisecond as the previous one (or after the clock stepped back)
keeps the previous time part and adds a random step of 1..2^32 to the previous
random part, so the order of ids is the order of :func:`new_id` calls.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

__all__ = ["as_utc", "new_id", "utcnow"]

_RANDOM_BITS = 80
_STEP_BITS = 32
_lock = threading.Lock()
_last: tuple[int, int] = (0, 0)  # (milliseconds, random part) of the previous id


def _next(now_ms: int) -> tuple[int, int]:
    global _last
    with _lock:
        last_ms, last_rand = _last
        if now_ms > last_ms:
            ms, rand = now_ms, secrets.randbits(_RANDOM_BITS)
        else:
            ms, rand = last_ms, last_rand + 1 + secrets.randbits(_STEP_BITS)
            if rand >> _RANDOM_BITS:  # the random part overflowed: borrow the next millisecond
                ms, rand = last_ms + 1, secrets.randbits(_RANDOM_BITS - 1)
        _last = (ms, rand)
        return _last


def new_id(prefix: str) -> str:
    """``<prefix>_<12 hex ms><20 hex>``, strictly greater than every earlier id of this process."""
    ms, rand = _next(time.time_ns() // 1_000_000)
    return f"{prefix}_{ms:012x}{rand:020x}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC.  SQLite hands back naive datetimes (every stored time is
    UTC); an aware one with another offset is converted, never relabelled: SQLite compares
    the digits, so a filter bound written ``21:38+01:00`` must reach it as ``20:38``."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
