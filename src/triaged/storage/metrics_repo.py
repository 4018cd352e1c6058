"""The Prometheus exposition's figures (:mod:`triaged.metrics`): the tallies written with
the rows they count (logged decisions per bucket and latency bucket, failed webhook
attempts), and aggregate reads of the open review queues and webhook deliveries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select, text

from triaged.storage.review import review_items
from triaged.storage.rows import AnyRow
from triaged.storage.tables import decision_tallies, metric_totals
from triaged.storage.webhooks import webhook_deliveries

__all__ = [
    "INF",
    "LATENCY_BOUNDS_S",
    "TALLY_UPSERT",
    "WEBHOOK_FAILURES",
    "Tally",
    "add_decision_tallies",
    "add_total",
    "decision_tally_rows",
    "deliveries_by_status",
    "group_tallies",
    "latency_le",
    "open_review_queues",
    "total",
]


def open_review_queues(conn: Connection, statuses: Sequence[str]) -> list[AnyRow]:
    """``(queue, n, oldest created_at)`` of the review items in ``statuses``, per queue."""
    r = review_items.c
    stmt3 = (
        select(r.queue, func.count(), func.min(r.created_at))
        .where(r.status.in_(statuses))
        .group_by(r.queue)
    )
    return list(conn.execute(stmt3))


def deliveries_by_status(conn: Connection) -> list[AnyRow]:
    """``(status, n)``: webhook deliveries per status."""
    w = webhook_deliveries.c
    return list(conn.execute(select(w.status, func.count()).group_by(w.status)))


# ------------------------------------------------------------------- tallies
#: upper bounds (seconds) of the classify latency histogram's buckets (the ``le`` label)
LATENCY_BOUNDS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
INF = "+Inf"
WEBHOOK_FAILURES = "webhook_delivery_failures"

#: adds an increment to its tally row (also in quota_repo's PostgreSQL statement)
TALLY_UPSERT = """
    ON CONFLICT (workspace_id, taxonomy, bucket, le) DO UPDATE
      SET n = decision_tallies.n + excluded.n,
          latency_ms = decision_tallies.latency_ms + excluded.latency_ms
"""
_ADD_TALLY = text(
    """
    INSERT INTO decision_tallies (workspace_id, taxonomy, bucket, le, n, latency_ms)
    VALUES (:ws, :taxonomy, :bucket, :le, :n, :ms)
    """
    + TALLY_UPSERT
)
_ADD_TOTAL = text(
    """
    INSERT INTO metric_totals (name, value) VALUES (:name, :n)
    ON CONFLICT (name) DO UPDATE SET value = metric_totals.value + excluded.value
    """
)


def latency_le(latency_ms: float) -> str:
    """The ``le`` label of the histogram bucket a latency falls in."""
    for bound in LATENCY_BOUNDS_S:
        if latency_ms <= bound * 1000.0:
            return str(bound)
    return INF


Tally = tuple[str, str, str, str, int, float]  # workspace, taxonomy, bucket, le, n, ms


def group_tallies(rows: Iterable[Mapping[str, Any]]) -> list[Tally]:
    """Decision rows grouped into tally increments, in key order (concurrent transactions
    then lock the tally rows in the same order)."""
    groups: dict[tuple[str, str, str, str], list[float]] = {}
    for r in rows:
        key = (r["workspace_id"], r["taxonomy"], r["bucket"], latency_le(r["latency_ms"]))
        group = groups.setdefault(key, [0, 0.0])
        group[0] += 1
        group[1] += float(r["latency_ms"])
    return [(*key, int(n), ms) for key, (n, ms) in sorted(groups.items())]


def add_decision_tallies(conn: Connection, tallies: Sequence[Tally]) -> None:
    """Add grouped increments to the decision tallies (one executemany)."""
    if tallies:
        conn.execute(
            _ADD_TALLY,
            [
                {"ws": ws, "taxonomy": tax, "bucket": b, "le": le, "n": n, "ms": ms}
                for ws, tax, b, le, n, ms in tallies
            ],
        )


def add_total(conn: Connection, name: str, n: int = 1) -> None:
    conn.execute(_ADD_TOTAL, {"name": name, "n": n})


def total(conn: Connection, name: str) -> int:
    value = conn.execute(select(metric_totals.c.value).where(metric_totals.c.name == name))
    return int(value.scalar_one_or_none() or 0)


def decision_tally_rows(conn: Connection) -> list[AnyRow]:
    """``(workspace_id, taxonomy, bucket, le, n, latency_ms)`` of every tally."""
    t = decision_tallies.c
    return list(conn.execute(select(t.workspace_id, t.taxonomy, t.bucket, t.le, t.n, t.latency_ms)))
