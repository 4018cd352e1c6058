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
from dataclasses import dataclass, replace
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

__all__ = [
    "Window",
    "check",
    "check_job",
    "consume",
    "for_jobs",
    "left_for_job",
    "observe",
    "reserved",
    "usage",
    "window",
]

NO_LIMIT = 2**31 - 1  # fits the INTEGER minute column on PostgreSQL

#: The share of a plan's per-minute limit bulk jobs may use together with live requests:
#: the rest of each minute is left to live requests (a paced job took the whole minute's
#: budget as it began, and the workspace's /v1/classify got 429 for the rest of it).
JOB_MINUTE_SHARE = 0.8


def for_jobs(plan: Plan) -> Plan:
    """``plan`` as a bulk job's chunks are counted against it: a job's chunk is refused
    when the minute's count would pass :data:`JOB_MINUTE_SHARE` of the per-minute limit
    (at least 1 a minute), so live requests always keep the rest of it."""
    if plan.per_minute is None:
        return plan
    return replace(plan, per_minute=max(1, math.floor(plan.per_minute * JOB_MINUTE_SHARE)))


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


def _refuse(
    plan: Plan, win: Window, n: int, period_used: int, minute_used: int, reserved: int = 0
) -> None:
    """Raise the 429 for whichever limit ``n`` more requests would break (``reserved``:
    the rows unfinished bulk jobs hold of the monthly quota)."""
    quota = plan.monthly_quota
    if quota is not None and period_used + reserved + n > quota:
        left = max(0, quota - period_used - reserved)
        if reserved:
            message = (
                f"monthly quota of plan {plan.name!r}: {left} of {quota} requests left this "
                f"month ({period_used} used, {reserved} reserved by queued and running bulk "
                "jobs until they finish)" + (f", {n} requested" if n > 1 else "")
            )
        elif n == 1 or period_used >= quota:
            message = (
                f"monthly quota of plan {plan.name!r} exhausted: {period_used} of "
                f"{quota} requests used this month"
            )
        else:
            message = (
                f"monthly quota of plan {plan.name!r}: {left} of {quota} requests left "
                f"this month, {n} requested"
            )
        raise QuotaExceeded(
            message + f"; resets {win.period_reset.isoformat()}",
            retry_after=win.retry_after(win.period_reset),
            details={
                "limit": "monthly_quota",
                "plan": plan.name,
                "quota": quota,
                "used": period_used,
                "reserved": reserved,
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


def _uploads_since() -> datetime:
    return utcnow() - timedelta(seconds=UPLOAD_HOLD_S)


def reserved(
    conn: Connection, workspace_id: str, *, job_id: str | None = None, lock: bool = True
) -> int:
    """Requests of the monthly quota that the workspace's unfinished bulk jobs hold: the
    rows they accepted and have yet to classify (a job's rows from its submission until
    each is classified; the job failing or being cancelled releases the rest); ``job_id``'s
    own rows left out.  A chunk that classifies rows advances the job's ``done`` in the
    transaction that counts them, so a row moves from reserved to used at once, and is
    counted once.  ``lock``: under the workspace's submission lock (PostgreSQL), held to
    the end of the transaction (see :func:`consume`)."""
    return job_repo.waiting_rows(
        conn, workspace_id, uploads_since=_uploads_since(), exclude=job_id, lock=lock
    )


def check_job(conn: Connection, workspace_id: str, plan: Plan, rows: int, win: Window) -> None:
    """A bulk job of ``rows`` rows must fit what the monthly quota has left, less the rows
    the workspace's queued and running jobs have yet to classify: else 429 quota_exceeded
    (``details``: ``rows``, ``left``), at submission, before a row is stored.  From then on
    its rows are reserved (:func:`reserved`): online requests that would eat into them are
    refused, so the job runs whole.  Call it in the write transaction that stores the job
    with its row count (``total``): jobs submitted together are checked one after the
    other, each seeing the others' rows (checked in a read before the job was stored, four
    200-row jobs all passed a 300 quota)."""
    if plan.monthly_quota is None:
        return
    waiting = reserved(conn, workspace_id)  # locks first
    used = usage(conn, workspace_id, plan, win, reserved=waiting)["used"]
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


def left_for_job(conn: Connection, plan: Plan, job_id: str, workspace_id: str) -> int | None:
    """What the monthly quota has left for the job ``job_id``: the quota less the month's
    count and the rows the workspace's other unfinished jobs hold (None: no quota).  An
    estimate read without the lock; the chunk's count decides."""
    if plan.monthly_quota is None:
        return None
    others = reserved(conn, workspace_id, job_id=job_id, lock=False)
    used = int(usage(conn, workspace_id, plan, window(), reserved=others)["used"])
    return max(0, plan.monthly_quota - used - others)


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
    job_id: str | None = None,
) -> None:
    """Atomically count ``n`` requests, or raise 429 (nothing counted) if a limit would break.
    The monthly quota less what unfinished bulk jobs hold (:func:`reserved`; for a chunk of
    the job ``job_id``, what the other jobs hold) is the limit.  The reservation is read
    under the workspace's submission lock (PostgreSQL), held with the counter row to the
    commit, so a submission, a job chunk and this request see each other's counts whole.
    ``writes``: the request's decision rows and review items, written with the count (one
    statement on PostgreSQL); a refusal rolls them back with the transaction.
    ``unlogged`` ones (no decision row counts them) go to the usage ledger for ``key_id``;
    ``tallies`` (the logged decisions' Prometheus increments) are written with the count.
    A job's chunk (``job_id``) is counted against :func:`for_jobs` of the plan."""
    if job_id is not None:
        plan = for_jobs(plan)
    _too_large(plan, n)
    held = 0 if plan.monthly_quota is None else reserved(conn, workspace_id, job_id=job_id)
    monthly = NO_LIMIT if plan.monthly_quota is None else max(0, plan.monthly_quota - held)
    per_minute = NO_LIMIT if plan.per_minute is None else plan.per_minute
    # the statement counts a new month (or the first request) as n without its limit check
    counted = None
    if n <= monthly:
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
            sink.update(
                plan=plan,
                window=win,
                period_used=counted[0],
                minute_used=counted[1],
                reserved=held,
            )
        return
    row = quota_repo.counters(conn, workspace_id)  # None: refused before any count
    _refuse(plan, win, n, *_counted(row, win), held)
    raise RuntimeError("quota update refused without a broken limit")  # pragma: no cover


def _counted(row: Any, win: Window) -> tuple[int, int]:
    """The month's and the minute's counts for ``win`` (a missing counter row: 0, 0); a
    window older than the counter's (taken before the turn) counts in the counter's."""
    if row is None:
        return 0, 0
    return (
        row.period_used if row.period >= win.period else 0,
        row.minute_used if row.minute >= win.minute else 0,
    )


def observe(conn: Connection, workspace_id: str, plan: Plan, win: Window) -> None:
    """Fill the :data:`observed` sink with the counts as they stand, counting nothing: an
    idempotent replay is not counted but carries the same ``RateLimit-*`` headers as any
    answered request (until 6 December it carried none)."""
    sink = observed.get()
    if sink is None:
        return
    period_used, minute_used = _counted(quota_repo.counters(conn, workspace_id), win)
    held = 0 if plan.monthly_quota is None else reserved(conn, workspace_id, lock=False)
    sink.update(
        plan=plan,
        window=win,
        period_used=period_used,
        minute_used=minute_used,
        reserved=held,
    )


def usage(
    conn: Connection, workspace_id: str, plan: Plan, win: Window, *, reserved: int | None = None
) -> dict[str, Any]:
    """This month's count, what unfinished bulk jobs hold (``reserved``: given, or read
    here without the lock) and what is left for new requests and jobs (``remaining``: the
    quota less both)."""
    row: Any
    if reserved is None:  # both in one statement: a chunk committing is on both sides or neither
        row, reserved = job_repo.counters_and_waiting(
            conn, workspace_id, uploads_since=_uploads_since()
        )
    else:
        row = quota_repo.counters(conn, workspace_id)
    used = row.period_used if row is not None and row.period == win.period else 0
    minute_used = row.minute_used if row is not None and row.minute == win.minute else 0
    quota = plan.monthly_quota
    return {
        "plan": plan.name,
        "period": win.period,
        "used": used,
        "reserved": reserved,
        "limit": quota,
        "remaining": None if quota is None else max(0, quota - used - reserved),
        "reset": win.period_reset.isoformat(),
        "per_minute": {
            "limit": plan.per_minute,
            "used": minute_used,
            "reset": win.minute_reset.isoformat(),
        },
    }
