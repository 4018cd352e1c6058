"""The per-workspace quota counter row: the atomic check-and-increment, and its reads.

:mod:`triaged.services.quota` holds the plan's limits and the 429s; the statement here
counts ``n`` requests only when both limits hold, in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select, text

from triaged.storage.rows import AnyRow
from triaged.storage.tables import quota_counters, usage_daily

__all__ = ["add_daily", "count_requests", "counters", "daily_per_day", "daily_per_key"]

# One statement, the same on SQLite (3.35+) and PostgreSQL; plain text keeps it cheap.
_CONSUME = text(
    """
    INSERT INTO quota_counters (workspace_id, period, period_used, minute, minute_used)
    VALUES (:ws, :period, :n, :minute, :n)
    ON CONFLICT (workspace_id) DO UPDATE SET
      period_used = CASE WHEN quota_counters.period = excluded.period
                         THEN quota_counters.period_used + excluded.period_used
                         ELSE excluded.period_used END,
      period = excluded.period,
      minute_used = CASE WHEN quota_counters.minute = excluded.minute
                         THEN quota_counters.minute_used + excluded.minute_used
                         ELSE excluded.minute_used END,
      minute = excluded.minute
    WHERE (quota_counters.period <> excluded.period
           OR quota_counters.period_used + excluded.period_used <= :monthly)
      AND (quota_counters.minute <> excluded.minute
           OR quota_counters.minute_used + excluded.minute_used <= :per_minute)
    RETURNING quota_counters.period_used, quota_counters.minute_used
    """
)


def count_requests(
    conn: Connection,
    workspace_id: str,
    *,
    period: str,
    minute: int,
    n: int,
    monthly: int,
    per_minute: int,
) -> AnyRow | None:
    """Add ``n`` to the counters of ``period``/``minute`` (a new period or minute starts
    from ``n``) unless that takes them past ``monthly``/``per_minute``; returns the new
    ``(period_used, minute_used)``, or None when a limit refused it (nothing changed)."""
    params = {
        "ws": workspace_id,
        "period": period,
        "n": n,
        "minute": minute,
        "monthly": monthly,
        "per_minute": per_minute,
    }
    return conn.execute(_CONSUME, params).first()


def counters(conn: Connection, workspace_id: str) -> AnyRow | None:
    """The workspace's counter row (``period``, ``period_used``, ``minute``, ``minute_used``)."""
    return conn.execute(
        select(quota_counters).where(quota_counters.c.workspace_id == workspace_id)
    ).first()


_ADD_DAILY = text(
    """
    INSERT INTO usage_daily (workspace_id, day, key_id, requests) VALUES (:ws, :day, :key, :n)
    ON CONFLICT (workspace_id, day, key_id) DO UPDATE
      SET requests = usage_daily.requests + excluded.requests
    """
)


def add_daily(conn: Connection, workspace_id: str, day: str, key_id: str | None, n: int) -> None:
    """Add ``n`` counted requests to the workspace's ``day`` (UTC) for ``key_id``."""
    conn.execute(_ADD_DAILY, {"ws": workspace_id, "day": day, "key": key_id or "", "n": n})


def daily_per_day(conn: Connection, workspace_id: str, first_day: str) -> dict[str, int]:
    """Counted requests per day since ``first_day`` (days with none are absent)."""
    c = usage_daily.c
    rows = conn.execute(
        select(c.day, func.sum(c.requests))
        .where(c.workspace_id == workspace_id, c.day >= first_day)
        .group_by(c.day)
    )
    return {str(day): int(n) for day, n in rows}


def daily_per_key(conn: Connection, workspace_id: str, first_day: str) -> list[tuple[str, int]]:
    """(key id, counted requests) since ``first_day``; "" for requests no key made."""
    c = usage_daily.c
    rows = conn.execute(
        select(c.key_id, func.sum(c.requests))
        .where(c.workspace_id == workspace_id, c.day >= first_day)
        .group_by(c.key_id)
    )
    return [(str(key), int(n)) for key, n in rows]
