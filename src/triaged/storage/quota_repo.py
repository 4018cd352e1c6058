"""The per-workspace quota counter row: the atomic check-and-increment, and its reads.

:mod:`triaged.services.quota` holds the plan's limits and the 429s; the statement here
counts ``n`` requests only when both limits hold, in the caller's transaction.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, TextClause, func, select, text

from triaged.storage import log_repo
from triaged.storage.log_repo import LogWrites
from triaged.storage.metrics_repo import TALLY_UPSERT, Tally, add_decision_tallies
from triaged.storage.rows import AnyRow
from triaged.storage.tables import quota_counters, usage_daily

__all__ = ["add_daily", "count_requests", "counters", "daily_per_day", "daily_per_key"]

# One statement, the same on SQLite (3.35+) and PostgreSQL; plain text keeps it cheap.
# The month and the minute only move forward ('YYYY-MM' strings sort by time): a request
# whose window was taken before the turn and that is counted after it (a batch still
# classifying at midnight, another process's clock) counts in the current month and
# minute; it set the counter back to its own month, and the next request started the
# current month again from zero.
_CONSUME = text(
    """
    INSERT INTO quota_counters (workspace_id, period, period_used, minute, minute_used)
    VALUES (:ws, :period, :n, :minute, :n)
    ON CONFLICT (workspace_id) DO UPDATE SET
      period_used = CASE WHEN excluded.period > quota_counters.period
                         THEN excluded.period_used
                         ELSE quota_counters.period_used + excluded.period_used END,
      period = CASE WHEN excluded.period > quota_counters.period
                    THEN excluded.period ELSE quota_counters.period END,
      minute_used = CASE WHEN excluded.minute > quota_counters.minute
                         THEN excluded.minute_used
                         ELSE quota_counters.minute_used + excluded.minute_used END,
      minute = CASE WHEN excluded.minute > quota_counters.minute
                    THEN excluded.minute ELSE quota_counters.minute END
    WHERE (excluded.period > quota_counters.period
           OR quota_counters.period_used + excluded.period_used <= :monthly)
      AND (excluded.minute > quota_counters.minute
           OR quota_counters.minute_used + excluded.minute_used <= :per_minute)
    RETURNING quota_counters.period_used, quota_counters.minute_used
    """
)


_DAILY_UPSERT = """
    ON CONFLICT (workspace_id, day, key_id) DO UPDATE
      SET requests = usage_daily.requests + excluded.requests
"""

# PostgreSQL: the counter, the day's ledger row (unlogged requests only) and the decision
# tallies in one round trip (data-modifying CTEs; the ledger row only when the counter took
# the requests).
_CONSUME_PG = text(
    "WITH q AS ("
    + _CONSUME.text.strip()
    + """
    ), u AS (
      INSERT INTO usage_daily (workspace_id, day, key_id, requests)
      SELECT :ws, :day, :key, :n FROM q WHERE CAST(:daily AS boolean)
    """
    + _DAILY_UPSERT
    + """
    ), t AS (
      INSERT INTO decision_tallies (workspace_id, taxonomy, bucket, le, n, latency_ms)
      SELECT * FROM json_to_recordset(CAST(:tallies AS json))
        AS t(workspace_id text, taxonomy text, bucket text, le text, n bigint, latency_ms float8)
    """
    + TALLY_UPSERT
    + """
    )
    SELECT period_used, minute_used FROM q
    """
)


@functools.cache
def _consume_pg_log(ctes: str) -> TextClause:
    """:data:`_CONSUME_PG` with the request's decisions, review items and events first
    (``ctes``: :func:`triaged.storage.log_repo.cte`)."""
    if not ctes:
        return _CONSUME_PG
    return text("WITH " + ctes + ",\n" + _CONSUME_PG.text.strip().removeprefix("WITH "))


_TALLY_KEYS = ("workspace_id", "taxonomy", "bucket", "le", "n", "latency_ms")


def count_requests(
    conn: Connection,
    workspace_id: str,
    *,
    period: str,
    minute: int,
    n: int,
    monthly: int,
    per_minute: int,
    day: str,
    key_id: str | None,
    unlogged: bool = False,
    tallies: Sequence[Tally] = (),
    writes: LogWrites | None = None,
) -> AnyRow | None:
    """Add ``n`` to the counters of ``period``/``minute`` (a new period or minute starts
    from ``n``) unless that takes them past ``monthly``/``per_minute``; returns the new
    ``(period_used, minute_used)``, or None when a limit refused it (nothing counted).
    ``unlogged`` requests (no decision row counts them) also go to ``day``'s ledger row for
    ``key_id``, and ``tallies`` (the logged decisions' metric increments) are added;
    ``writes`` (a request's decision rows and review items) are written first, in the same
    statement on PostgreSQL.  A refusal is expected to roll the transaction back."""
    params: dict[str, Any] = {
        "ws": workspace_id,
        "period": period,
        "n": n,
        "minute": minute,
        "monthly": monthly,
        "per_minute": per_minute,
    }
    if conn.dialect.name == "postgresql":
        # one JSON parameter, in key order (the rows lock in that order): psycopg adapts
        # array parameters element by element in Python
        params["tallies"] = json.dumps([dict(zip(_TALLY_KEYS, t, strict=True)) for t in tallies])
        ledger = {"day": day, "key": key_id or "", "daily": unlogged}
        if writes is None:
            return conn.execute(_CONSUME_PG, {**params, **ledger}).first()
        statement = _consume_pg_log(log_repo.cte(writes))
        logged = log_repo.cte_params(writes)
        return conn.execute(statement, {**params, **ledger, **logged}).first()
    if writes is not None:
        log_repo.insert_rows(conn, writes)
    counted = conn.execute(_CONSUME, params).first()
    if counted is not None:
        if unlogged:
            add_daily(conn, workspace_id, day, key_id, n)
        add_decision_tallies(conn, tallies)
    return counted


def counters(conn: Connection, workspace_id: str) -> AnyRow | None:
    """The workspace's counter row (``period``, ``period_used``, ``minute``, ``minute_used``)."""
    return conn.execute(
        select(quota_counters).where(quota_counters.c.workspace_id == workspace_id)
    ).first()


_ADD_DAILY = text(
    """
    INSERT INTO usage_daily (workspace_id, day, key_id, requests) VALUES (:ws, :day, :key, :n)
    """
    + _DAILY_UPSERT
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
