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
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from triaged.errors import QuotaExceeded, RateLimited, ValidationFailed
from triaged.services.ids import utcnow
from triaged.services.keys import Principal
from triaged.services.plans import Plan
from triaged.storage import job_repo, quota_repo
from triaged.storage.log_repo import LogWrites
from triaged.storage.metrics_repo import Tally

__all__ = ["Window", "check", "check_job", "consume", "usage", "window"]

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

    @property
    def day(self) -> str:
        """The UTC day of ``now`` (``YYYY-MM-DD``)."""
        return datetime.fromtimestamp(self.now, UTC).date().isoformat()

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
            (
                f"monthly quota of plan {plan.name!r} exhausted: {period_used} of "
                f"{plan.monthly_quota} requests used this month"
                if n == 1 or period_used >= plan.monthly_quota
                else f"monthly quota of plan {plan.name!r}: {plan.monthly_quota - period_used} "
                f"of {plan.monthly_quota} requests left this month, {n} requested"
            )
            + f"; resets {win.period_reset.isoformat()}",
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
            "used this minute"
            + (f", {n} more requested" if n > 1 else "")
            + f"; resets {win.minute_reset.isoformat()}",
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
    _too_large(plan, n)
    period_used = principal.period_used if principal.period == win.period else 0
    minute_used = principal.minute_used if principal.minute == win.minute else 0
    _refuse(plan, win, n, period_used, minute_used)


#: how long a job still uploading holds the quota its rows need (an upload that died
#: holds nothing after it)
UPLOAD_HOLD_S = 3600.0


def check_job(conn: Connection, workspace_id: str, plan: Plan, rows: int, win: Window) -> None:
    """A bulk job of ``rows`` rows must fit what the monthly quota has left, less the rows
    the workspace's queued and running jobs have yet to classify: else 429 quota_exceeded
    (``details``: ``rows``, ``left``), at submission, before a row is stored.  A job that
    fits can still run out (texts classified meanwhile): it then fails, as before.  Call it
    in the write transaction that stores the job with its row count (``total``): jobs
    submitted together are checked one after the other, each seeing the others' rows
    (checked in a read before the job was stored, four 200-row jobs all passed a 300 quota)."""
    if plan.monthly_quota is None:
        return
    since = utcnow() - timedelta(seconds=UPLOAD_HOLD_S)
    waiting = job_repo.waiting_rows(conn, workspace_id, uploads_since=since)  # locks first
    used = usage(conn, workspace_id, plan, win)["used"]
    left = max(0, plan.monthly_quota - used - waiting)
    if rows <= left:
        return
    raise QuotaExceeded(
        f"the job has {rows} rows, but plan {plan.name!r} has {left} of {plan.monthly_quota} "
        "requests left this month"
        + (f" ({waiting} more wait in unfinished jobs)" if waiting else "")
        + f"; resets {win.period_reset.isoformat()}",
        retry_after=win.retry_after(win.period_reset),
        details={
            "limit": "monthly_quota",
            "plan": plan.name,
            "quota": plan.monthly_quota,
            "used": used,
            "waiting": waiting,
            "rows": rows,
            "left": left,
            "period": win.period,
            "reset": win.period_reset.isoformat(),
        },
    )


def _too_large(plan: Plan, n: int) -> None:
    """422 for a request larger than a limit itself: no wait lets it through, so it is not
    a (retryable) 429; the caller must send fewer texts at a time."""
    monthly = NO_LIMIT if plan.monthly_quota is None else plan.monthly_quota
    per_minute = NO_LIMIT if plan.per_minute is None else plan.per_minute
    if n <= monthly and n <= per_minute:
        return
    limit, name = (per_minute, "per_minute") if n > per_minute else (monthly, "monthly_quota")
    span = "a minute" if name == "per_minute" else "a month"
    raise ValidationFailed(
        f"{n} texts in one request, but plan {plan.name!r} allows {limit} in {span}: "
        f"send at most {limit} at a time",
        details={"field": "texts", "limit": name, "plan": plan.name, "quota": limit, "got": n},
    )


def consume(
    conn: Connection,
    workspace_id: str,
    plan: Plan,
    n: int,
    win: Window,
    key_id: str | None = None,
    tallies: Sequence[Tally] = (),
    *,
    unlogged: bool = False,
    writes: LogWrites | None = None,
) -> None:
    """Atomically count ``n`` requests, or raise 429 (nothing counted) if a limit would break.
    ``writes``: the request's decision rows and review items, written with the count (one
    statement on PostgreSQL); a refusal rolls them back with the transaction.
    ``unlogged`` ones (no decision row counts them) go to the usage ledger for ``key_id``;
    ``tallies`` (the logged decisions' Prometheus increments) are written with the count."""
    monthly = NO_LIMIT if plan.monthly_quota is None else plan.monthly_quota
    per_minute = NO_LIMIT if plan.per_minute is None else plan.per_minute
    _too_large(plan, n)
    counted = quota_repo.count_requests(
        conn,
        workspace_id,
        period=win.period,
        minute=win.minute,
        n=n,
        monthly=monthly,
        per_minute=per_minute,
        day=win.day,
        key_id=key_id,
        unlogged=unlogged,
        tallies=tallies,
        writes=writes,
    )
    if counted is not None:
        sink = observed.get()
        if sink is not None:
            sink.update(plan=plan, window=win, period_used=counted[0], minute_used=counted[1])
        return
    row = quota_repo.counters(conn, workspace_id)
    if row is None:  # pragma: no cover - the conflicting row refused the update
        raise RuntimeError("quota update refused without a counter row")
    # a window older than the counter's (taken before the turn) counts in the counter's
    _refuse(
        plan,
        win,
        n,
        row.period_used if row.period >= win.period else 0,
        row.minute_used if row.minute >= win.minute else 0,
    )
    raise RuntimeError("quota update refused without a broken limit")  # pragma: no cover


def usage(conn: Connection, workspace_id: str, plan: Plan, win: Window) -> dict[str, Any]:
    row = quota_repo.counters(conn, workspace_id)
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
