"""Exact quota and rate counting under concurrency.

One row per workspace holds this calendar month's count and this minute's
count.  A classify consumes ``n`` with a single ``INSERT ... ON CONFLICT DO
UPDATE ... WHERE <both limits hold> RETURNING``: the row lock (PostgreSQL) or
the write lock (SQLite, ``BEGIN IMMEDIATE``) makes the check-and-increment
atomic, and it runs in the same transaction as the decision insert, so a
refused or failed request is never counted.
"""

from __future__ import annotations

import math
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text

from triaged.errors import QuotaExceeded, RateLimited
from triaged.services.keys import Principal
from triaged.services.plans import Plan
from triaged.storage.tables import quota_counters

__all__ = ["Window", "check", "consume", "usage", "window"]

NO_LIMIT = 2**31 - 1  # fits the INTEGER minute column on PostgreSQL

#: A caller that wants the counts after :func:`consume` (the API's ``RateLimit-*`` headers)
#: sets a dict here; consume fills it in (the context is copied into worker threads).
observed: ContextVar[dict[str, Any] | None] = ContextVar("quota_observed", default=None)


@dataclass(frozen=True, slots=True)
class Window:
    """The current month (``YYYY-MM``) and minute (epoch minutes) and when they reset."""

    period: str
    period_reset: datetime
    minute: int
    minute_reset: datetime
    now: float

    def retry_after(self, reset: datetime) -> int:
        return max(1, math.ceil(reset.timestamp() - self.now))


def window(now: float | None = None) -> Window:
    ts = time.time() if now is None else now
    dt = datetime.fromtimestamp(ts, UTC)
    nxt = datetime(dt.year + (dt.month == 12), dt.month % 12 + 1, 1, tzinfo=UTC)
    minute = int(ts // 60)
    return Window(
        period=f"{dt.year:04d}-{dt.month:02d}",
        period_reset=nxt,
        minute=minute,
        minute_reset=datetime.fromtimestamp((minute + 1) * 60, UTC),
        now=ts,
    )


def _refuse(plan: Plan, win: Window, n: int, period_used: int, minute_used: int) -> None:
    """Raise the 429 for whichever limit ``n`` more requests would break."""
    if plan.monthly_quota is not None and period_used + n > plan.monthly_quota:
        raise QuotaExceeded(
            f"monthly quota of plan {plan.name!r} exhausted: {period_used} of "
            f"{plan.monthly_quota} requests used this month; resets {win.period_reset.isoformat()}",
            retry_after=win.retry_after(win.period_reset),
            details={
                "limit": "monthly_quota",
                "plan": plan.name,
                "quota": plan.monthly_quota,
                "used": period_used,
                "requested": n,
                "period": win.period,
                "reset": win.period_reset.isoformat(),
            },
        )
    if plan.per_minute is not None and minute_used + n > plan.per_minute:
        raise RateLimited(
            f"rate limit of plan {plan.name!r}: {minute_used} of {plan.per_minute} requests "
            f"used this minute; resets {win.minute_reset.isoformat()}",
            retry_after=win.retry_after(win.minute_reset),
            details={
                "limit": "per_minute",
                "plan": plan.name,
                "quota": plan.per_minute,
                "used": minute_used,
                "requested": n,
                "reset": win.minute_reset.isoformat(),
            },
        )


def check(principal: Principal, plan: Plan, n: int, win: Window) -> None:
    """Cheap pre-check on the counters read with the key: refuse before any work."""
    period_used = principal.period_used if principal.period == win.period else 0
    minute_used = principal.minute_used if principal.minute == win.minute else 0
    _refuse(plan, win, n, period_used, minute_used)


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


def consume(conn: Connection, workspace_id: str, plan: Plan, n: int, win: Window) -> None:
    """Atomically count ``n`` requests, or raise 429 (nothing counted) if a limit would break."""
    monthly = NO_LIMIT if plan.monthly_quota is None else plan.monthly_quota
    per_minute = NO_LIMIT if plan.per_minute is None else plan.per_minute
    if n > monthly or n > per_minute:
        _refuse(plan, win, n, 0, 0)
    params = {
        "ws": workspace_id,
        "period": win.period,
        "n": n,
        "minute": win.minute,
        "monthly": monthly,
        "per_minute": per_minute,
    }
    counted = conn.execute(_CONSUME, params).first()
    if counted is not None:
        sink = observed.get()
        if sink is not None:
            sink.update(plan=plan, window=win, period_used=counted[0], minute_used=counted[1])
        return
    t = quota_counters
    row = conn.execute(select(t).where(t.c.workspace_id == workspace_id)).one()
    _refuse(
        plan,
        win,
        n,
        row.period_used if row.period == win.period else 0,
        row.minute_used if row.minute == win.minute else 0,
    )
    raise RuntimeError("quota update refused without a broken limit")  # pragma: no cover


def usage(conn: Connection, workspace_id: str, plan: Plan, win: Window) -> dict[str, Any]:
    row = conn.execute(
        select(quota_counters).where(quota_counters.c.workspace_id == workspace_id)
    ).first()
    used = row.period_used if row is not None and row.period == win.period else 0
    minute_used = row.minute_used if row is not None and row.minute == win.minute else 0
    return {
        "plan": plan.name,
        "period": win.period,
        "used": used,
        "limit": plan.monthly_quota,
        "remaining": None if plan.monthly_quota is None else max(0, plan.monthly_quota - used),
        "reset": win.period_reset.isoformat(),
        "per_minute": {
            "limit": plan.per_minute,
            "used": minute_used,
            "reset": win.minute_reset.isoformat(),
        },
    }
