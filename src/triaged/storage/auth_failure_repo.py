"""Failed authentications shared by every API process: record, read back, forget.

:class:`triaged.http.throttle.FailureThrottle` keeps its window in memory for the check on
every request; a failure is also written here, and the subject's failures from all
processes are read back, so N processes allow ``max_failures`` (plus at most one per
other process), not ``max_failures`` each.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from triaged.storage.security import auth_failures

__all__ = ["MAX_SUBJECT", "delete_older_than", "recent", "record"]

MAX_SUBJECT = 200  # the column's width: longer subjects are cut (they stay distinct enough)


def record(conn: Connection, subjects: Sequence[str], at: float) -> None:
    """One failure at ``at`` (epoch seconds) for each subject."""
    if subjects:
        conn.execute(
            insert(auth_failures),
            [{"subject": s[:MAX_SUBJECT], "failed_at": at} for s in subjects],
        )


def recent(conn: Connection, subjects: Sequence[str], since: float) -> dict[str, list[float]]:
    """Each subject's failures after ``since``, oldest first (subjects without any: [])."""
    cut = {s[:MAX_SUBJECT]: s for s in subjects}
    out: dict[str, list[float]] = {s: [] for s in subjects}
    rows = conn.execute(
        select(auth_failures.c.subject, auth_failures.c.failed_at)
        .where(auth_failures.c.subject.in_(list(cut)), auth_failures.c.failed_at > since)
        .order_by(auth_failures.c.failed_at)
    )
    for subject, at in rows:
        out[cut[subject]].append(float(at))
    return out


def delete_older_than(conn: Connection, cutoff: float, subjects: Sequence[str] = ()) -> int:
    """Delete failures at or before ``cutoff`` (of ``subjects`` only, when given)."""
    stmt = delete(auth_failures).where(auth_failures.c.failed_at <= cutoff)
    if subjects:
        stmt = stmt.where(auth_failures.c.subject.in_([s[:MAX_SUBJECT] for s in subjects]))
    return int(conn.execute(stmt).rowcount or 0)
