"""Routing-policy versions (``routing_policies``) and the decision-log reads the policy is
certified and checked with: reviewed decisions, audits since a version, what-if counts.

Plain functions on a ``Connection``: the caller owns the transaction; a writer takes the
taxonomy's PostgreSQL advisory lock (:func:`advisory_lock`; SQLite has one writer) before
it re-reads the current version and writes the next one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select, text, update

from triaged.storage.review import review_items
from triaged.storage.tables import decisions, routing_policies, taxonomies

__all__ = [
    "active_taxonomies",
    "advisory_lock",
    "bucket_counts",
    "closed_lane_reasons",
    "count_reviewed_audits",
    "insert_policy",
    "latest_policy_row",
    "policy_autos",
    "policy_row",
    "policy_rows",
    "reviewed_decisions",
    "set_routing_version",
    "window_counts",
]


# ---------------------------------------------------------------- versions
def latest_policy_row(conn: Connection, taxonomy_id: str) -> Any:
    """The taxonomy's newest policy version row, or None."""
    return conn.execute(
        select(routing_policies)
        .where(routing_policies.c.taxonomy_id == taxonomy_id)
        .order_by(routing_policies.c.version.desc())
        .limit(1)
    ).first()


def policy_row(conn: Connection, taxonomy_id: str, version: int) -> Any:
    return conn.execute(
        select(routing_policies).where(
            routing_policies.c.taxonomy_id == taxonomy_id, routing_policies.c.version == version
        )
    ).first()


def policy_rows(
    conn: Connection, taxonomy_id: str, *, before: int | None = None, limit: int | None = None
) -> list[Any]:
    """The taxonomy's policy versions, newest first: those below version ``before`` when
    given, at most ``limit`` of them."""
    p = routing_policies.c
    query = select(routing_policies).where(p.taxonomy_id == taxonomy_id)
    if before is not None:
        query = query.where(p.version < before)
    query = query.order_by(p.version.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).all())


def closed_lane_reasons(
    conn: Connection, pairs: set[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """The reason of each (taxonomy id, version) among ``pairs`` whose auto lane was closed."""
    if not pairs:
        return {}
    p = routing_policies.c
    taxonomy_ids = {t for t, _ in pairs}
    rows = conn.execute(
        select(p.taxonomy_id, p.version, p.reason).where(
            p.taxonomy_id.in_(sorted(taxonomy_ids)),
            p.version.in_(sorted({v for _, v in pairs})),
            p.auto.is_(None),
        )
    ).all()
    return {
        (r.taxonomy_id, int(r.version)): str(r.reason)
        for r in rows
        if (r.taxonomy_id, int(r.version)) in pairs
    }


def policy_autos(conn: Connection, taxonomy_id: str) -> dict[int, float | None]:
    """Every policy version of the taxonomy and its auto threshold (None: lane closed)."""
    p = routing_policies.c
    rows = conn.execute(select(p.version, p.auto).where(p.taxonomy_id == taxonomy_id)).all()
    return {int(r.version): (None if r.auto is None else float(r.auto)) for r in rows}


def advisory_lock(conn: Connection, key: int, taxonomy_id: str) -> None:
    """The transaction-scoped advisory lock of (``key``, the taxonomy) on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(:tid))"),
            {"key": key, "tid": taxonomy_id},
        )


def insert_policy(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(routing_policies).values(**row))


def set_routing_version(conn: Connection, taxonomy_id: str, version: int) -> None:
    conn.execute(
        update(taxonomies).where(taxonomies.c.id == taxonomy_id).values(routing_version=version)
    )


def active_taxonomies(conn: Connection) -> list[Any]:
    """(workspace_id, id) of every taxonomy with an active model that is not archived."""
    t = taxonomies.c
    return list(
        conn.execute(
            select(t.workspace_id, t.id).where(
                t.active_model_id.is_not(None), t.archived_at.is_(None)
            )
        ).all()
    )


# ------------------------------------------------------------------ reads
def count_reviewed_audits(
    conn: Connection, taxonomy_id: str, since: datetime, policy_version: int
) -> int:
    """Reviewed audits of the taxonomy resolved since ``since`` of decisions routed by
    ``policy_version``."""
    r, d = review_items.c, decisions.c
    return int(
        conn.execute(
            select(func.count())
            .select_from(review_items.join(decisions, d.id == r.decision_id))
            .where(
                r.taxonomy_id == taxonomy_id,
                r.resolved_at >= since,
                r.queue == "audit",
                d.policy_version == policy_version,
                d.final_label.is_not(None),
            )
        ).scalar_one()
    )


def reviewed_decisions(
    conn: Connection,
    taxonomy_id: str,
    *,
    model_version: str | None = None,
    policy_version: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    audits_only: bool = False,
) -> list[Any]:
    """(confidence, label, final_label, bucket, audit_rate, model_version, policy_version,
    taxonomy_version, resolved_at, action) of the taxonomy's decisions a person reviewed
    with a decisive outcome, in the order the reviews came in."""
    r, d = review_items.c, decisions.c
    conds = [
        r.taxonomy_id == taxonomy_id,
        r.status == "resolved",
        d.final_label.is_not(None),
        d.final_source == "review",
    ]
    if model_version is not None:
        conds.append(d.model_version == model_version)
    if policy_version is not None:
        conds.append(d.policy_version == policy_version)
    if since is not None:
        conds.append(d.created_at >= since)
    if until is not None:
        conds.append(d.created_at < until)
    if audits_only:
        conds.append(r.queue == "audit")
    return list(
        conn.execute(
            select(
                d.confidence,
                d.label,
                d.final_label,
                d.bucket,
                d.audit_rate,
                d.model_version,
                d.policy_version,
                d.taxonomy_version,
                d.resolved_at,  # when its final label was set (a second opinion never sets it)
                r.action,
            )
            .select_from(review_items.join(decisions, d.id == r.decision_id))
            .where(*conds)
            .order_by(r.resolved_at, r.id)  # in the order the reviews came in
        ).all()
    )


def bucket_counts(conn: Connection, taxonomy_id: str, model_version: str | None) -> dict[str, int]:
    """Decisions of the taxonomy (of ``model_version`` when given) per bucket."""
    d = decisions.c
    conds = [d.taxonomy_id == taxonomy_id]
    if model_version is not None:
        conds.append(d.model_version == model_version)
    rows = conn.execute(select(d.bucket, func.count()).where(*conds).group_by(d.bucket))
    return {str(bucket): int(n) for bucket, n in rows}


def window_counts(
    conn: Connection,
    taxonomy_id: str,
    *,
    auto: float | None,
    review: float,
    since: datetime,
    until: datetime,
) -> tuple[int, int, int]:
    """(decisions, at or above ``auto``, at or above ``review`` but not ``auto``) of the
    taxonomy's decisions made in [``since``, ``until``)."""
    d = decisions.c
    window = and_(d.taxonomy_id == taxonomy_id, d.created_at >= since, d.created_at < until)
    auto_hit = d.confidence >= auto if auto is not None else d.confidence > 2.0
    n, n_auto, n_review = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((auto_hit, 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(~auto_hit, d.confidence >= review), 1), else_=0)), 0),
        ).where(window)
    ).one()
    return int(n), int(n_auto), int(n_review)


def policy_edges(conn: Connection, taxonomy_id: str) -> list[float]:
    """Every auto and review threshold any policy version of the taxonomy routed by."""
    p = routing_policies.c
    rows = conn.execute(select(p.auto, p.review).where(p.taxonomy_id == taxonomy_id)).all()
    return sorted({float(v) for r in rows for v in (r.auto, r.review) if v is not None})


def counts_at_or_above(
    conn: Connection, taxonomy_id: str, model_version: str | None, edges: list[float]
) -> list[int]:
    """Decisions of the taxonomy (of ``model_version`` when given) with a confidence at or
    above each of ``edges`` (one scan)."""
    if not edges:
        return []
    d = decisions.c
    conds = [d.taxonomy_id == taxonomy_id]
    if model_version is not None:
        conds.append(d.model_version == model_version)
    columns = [func.coalesce(func.sum(case((d.confidence >= e, 1), else_=0)), 0) for e in edges]
    row = conn.execute(select(*columns).where(*conds)).one()
    return [int(v) for v in row]
