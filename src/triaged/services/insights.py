"""Insights and health metrics read from the decision log (the service side of
:mod:`triaged.insights` and :mod:`triaged.drift`).

Every function takes the workspace id first: nothing here crosses workspaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from triaged.drift import DecisionRow, DriftConfig, bucket_series, detect_drift
from triaged.encoders import Encoder
from triaged.errors import InvalidInput, ValidationFailed
from triaged.inputs import check_window
from triaged.insights import DecisionRecord, InsightsConfig, compute_insights
from triaged.insights.records import set_from_alternatives
from triaged.services.ids import as_utc
from triaged.services.label_lineage import lineage
from triaged.services.taxonomies import TaxonomyRecord, list_records, load_version
from triaged.storage import insights_repo
from triaged.webhooks.events import enqueue_event

__all__ = [
    "DEFAULT_WINDOW",
    "bucket_metrics",
    "decision_records",
    "decision_rows",
    "drift_alerts",
    "pending_drift_alerts",
    "record_drift_alerts",
    "stored_drift_alerts",
    "taxonomy_insights",
]

DEFAULT_WINDOW = timedelta(days=30)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return _utc(value) if value is not None else None


def decision_records(
    conn: Connection,
    workspace_id: str,
    taxonomy_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[DecisionRecord]:
    """The taxonomy's decisions in ``[since, until)`` with their reviewer outcomes."""
    rows = insights_repo.decisions_with_reviews(
        conn, workspace_id, taxonomy_id, since=_utc_or_none(since), until=_utc_or_none(until)
    )
    latest: dict[str, Any] = {}
    for row in rows:
        prev = latest.get(row.id)
        if prev is None or (
            row.resolved_at is not None
            and (prev.resolved_at is None or row.resolved_at > prev.resolved_at)
        ):
            latest[row.id] = row
    # the labels as the current version names them (a renamed label's old decisions are
    # its own traffic); a removed label's decisions keep its name
    lin = lineage(conn, taxonomy_id, {int(row.taxonomy_version) for row in latest.values()})
    out: list[DecisionRecord] = []
    for row in latest.values():
        version = int(row.taxonomy_version)
        # the reviewer's label as the version in force when they answered named it
        said = lin.at(row.resolved_at) if row.resolved_at else version
        alts = tuple(
            (lin.now(version, str(a["label"])), float(a["confidence"]))
            for a in (row.alternatives or [])
            if isinstance(a, dict) and "label" in a and "confidence" in a
        )
        final = row.resolved_label or row.final_label
        in_set = set_from_alternatives(row.label, row.alternatives)
        out.append(
            DecisionRecord(
                text=row.text,
                label=lin.now(version, row.label),
                confidence=float(row.confidence),
                bucket=row.bucket,
                alternatives=alts,
                id=row.id,
                created_at=as_utc(row.created_at),
                review_action=row.action,
                final_label=lin.now(said, final) if final else final,
                new_label=row.new_label,
                prediction_set=None
                if in_set is None
                else tuple(lin.now(version, x) for x in in_set),
            )
        )
    return out


def taxonomy_insights(
    conn: Connection,
    record: TaxonomyRecord,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    encoder: Encoder | None = None,
    known_vectors: Mapping[str, Any] | None = None,
    config: InsightsConfig | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The insights JSON of one taxonomy (default window: the last 30 days).  ``encoder``
    and ``known_vectors`` come from the active model when there is one (its encoder, its
    training examples' stored vectors: those are not embedded again)."""
    check_window(since, until)
    end = _utc(until) if until is not None else None
    start = _utc(since) if since is not None else (now or datetime.now(UTC)) - DEFAULT_WINDOW
    if since is None and end is not None and end <= start:  # as /v1/metrics/buckets answers
        raise InvalidInput(
            f"until ({end.isoformat()}) is before the default window's start (the last "
            f"{DEFAULT_WINDOW.days} days, from {start.isoformat()}): pass since as well",
            details={"since": start.isoformat(), "until": end.isoformat()},
        )
    tax = load_version(conn, record)
    recs = decision_records(conn, record.workspace_id, record.id, since=start, until=end)
    report = compute_insights(
        recs, tax, encoder=encoder, known_vectors=known_vectors, config=config
    ).to_dict()
    report["window"] = {"since": start.isoformat(), "until": end.isoformat() if end else None}
    return report


def decision_rows(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[DecisionRow]:
    """(time, bucket, label) of the decisions in ``[since, until)``."""
    rows = insights_repo.decision_buckets(
        conn,
        workspace_id,
        taxonomy_id=taxonomy_id,
        since=_utc_or_none(since),
        until=_utc_or_none(until),
    )
    return [DecisionRow(as_utc(t), b, lb) for t, b, lb in rows]


#: periods in one bucket series at most (a year of hours is 8,784)
MAX_PERIODS = 10_000
PERIOD = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def _check_periods(
    rows: list[DecisionRow], interval: str, since: datetime | None, until: datetime | None
) -> None:
    """A series is filled with every period from ``since`` (or the first decision) to
    ``until`` (or the last): at most ``MAX_PERIODS`` of them (422), whichever bound is given
    (``until`` alone, in the year 9999, once filled hours until the process ran out of
    memory)."""
    step = PERIOD.get(interval)
    if step is None or not (rows or (since is not None and until is not None)):
        return
    start = as_utc(since) if since is not None else min(r.timestamp for r in rows)
    end = as_utc(until) if until is not None else max(r.timestamp for r in rows)
    periods = (end - start) / step
    if periods > MAX_PERIODS:
        field = "until" if since is None else "since"
        raise ValidationFailed(
            f"{periods:.0f} {interval}s between since and until; at most {MAX_PERIODS} "
            "(give a later since, an earlier until, or a longer interval)",
            details={"field": field, "limit": MAX_PERIODS, "interval": interval},
        )


def bucket_metrics(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy: TaxonomyRecord | None = None,
    interval: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """``{"series": [{"start", "auto", "review", "hold", "total", "shares"}], ...}``."""
    check_window(since, until)
    rows = decision_rows(
        conn,
        workspace_id,
        taxonomy_id=taxonomy.id if taxonomy else None,
        since=since,
        until=until,
    )
    _check_periods(rows, interval, since, until)
    series = bucket_series(rows, interval, start=since, end=until, label=label)
    totals = {b: sum(getattr(p, b) for p in series) for b in ("auto", "review", "hold")}
    return {
        "taxonomy": taxonomy.name if taxonomy else None,
        "label": label,
        "interval": interval,
        "series": [p.to_dict() for p in series],
        "totals": {**totals, "total": sum(totals.values())},
    }


def drift_alerts(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy: TaxonomyRecord | None = None,
    config: DriftConfig | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Drift alerts of the recent window against the baseline before it, each with its
    ``taxonomy``.  Without ``taxonomy`` every taxonomy is tested on its own, as the check
    that records alerts does (a pool of all of them hid one taxonomy's shift in the
    others' traffic)."""
    cfg = config or DriftConfig()
    end = _utc(now) if now is not None else datetime.now(UTC)
    records = [taxonomy] if taxonomy is not None else list_records(conn, workspace_id)
    alerts: list[dict[str, Any]] = []
    for rec in records:
        rows = decision_rows(
            conn, workspace_id, taxonomy_id=rec.id, since=end - cfg.recent - cfg.baseline, until=end
        )
        found = detect_drift(rows, now=end, config=cfg)
        alerts += [{**a.to_dict(), "taxonomy": rec.name} for a in found]
    return {
        "taxonomy": taxonomy.name if taxonomy else None,
        "recent_start": (end - cfg.recent).isoformat(),
        "baseline_start": (end - cfg.recent - cfg.baseline).isoformat(),
        "now": end.isoformat(),
        "alerts": alerts,
    }


DRIFT_EVENT = "alert.drift"
DRIFT_LOCK_KEY = 727375002  # advisory lock class of the drift checks (PostgreSQL)


def _alert_key(taxonomy: str, alert: dict[str, Any]) -> str:
    return (
        "|".join(str(alert.get(k) or "") for k in ("metric", "bucket", "label", "direction"))
        + f"|{taxonomy}"
    )


def stored_drift_alerts(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Recorded drift alerts (the ``alert.drift`` events of the outbox), newest first."""
    rows = insights_repo.events_of_type(conn, workspace_id, DRIFT_EVENT, since=_utc_or_none(since))
    out: list[dict[str, Any]] = []
    for row in rows:
        data = dict((row.payload or {}).get("data") or {})
        if taxonomy is not None and data.get("taxonomy") != taxonomy:
            continue
        out.append({**data, "event_id": row.id, "recorded_at": as_utc(row.created_at).isoformat()})
        if len(out) >= limit:
            break
    return out


def pending_drift_alerts(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy: TaxonomyRecord | None = None,
    config: DriftConfig | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The alerts a check would record now (each with its ``taxonomy``); nothing is written.

    An alert already recorded within the recent window (same taxonomy, share and
    direction) is left out, so a periodic check does not repeat itself.
    """
    cfg = config or DriftConfig()
    end = _utc(now) if now is not None else datetime.now(UTC)
    records = [taxonomy] if taxonomy is not None else list_records(conn, workspace_id)
    seen = {
        _alert_key(str(a.get("taxonomy")), a)
        for a in stored_drift_alerts(conn, workspace_id, since=end - cfg.recent, limit=10_000)
    }
    out: list[dict[str, Any]] = []
    for rec in records:
        result = drift_alerts(conn, workspace_id, taxonomy=rec, config=cfg, now=end)
        for alert in result["alerts"]:
            key = _alert_key(rec.name, alert)
            if key not in seen:
                seen.add(key)
                out.append({**alert, "taxonomy": rec.name})
    return out


def record_drift_alerts(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy: TaxonomyRecord | None = None,
    config: DriftConfig | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Check every taxonomy (or one) and record each new alert as an ``alert.drift`` event.

    Run it in a write transaction (``Database.write``).  Recording goes through the
    webhook outbox in that transaction, so the workspace's endpoints subscribed to
    ``alert.drift`` receive it (signed, retried).  An alert already recorded within
    the recent window is not recorded again (:func:`pending_drift_alerts`); checks of
    one workspace are serialised (SQLite: one writer; PostgreSQL: an advisory
    transaction lock), so several workers checking at once record each alert once.
    """
    insights_repo.workspace_lock(conn, DRIFT_LOCK_KEY, workspace_id)
    new: list[dict[str, Any]] = []
    for data in pending_drift_alerts(conn, workspace_id, taxonomy=taxonomy, config=config, now=now):
        event_id = enqueue_event(conn, workspace_id=workspace_id, event_type=DRIFT_EVENT, data=data)
        new.append({**data, "event_id": event_id})
    return new
