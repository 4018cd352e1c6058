"""Reviewed decisions of a taxonomy as arrays, and the out-of-scope share they measure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection

from triaged.routing import Bucket
from triaged.routing_live import WeightedBound, weighted_error_bound
from triaged.services.label_lineage import current_label_names, lineage
from triaged.services.routing_learning import review_weights
from triaged.storage import routing_repo
from triaged.taxonomy import OOS_LABEL

__all__ = [
    "Reviewed",
    "measured_share",
    "model_wrong",
    "nearest_share",
    "reviewed",
    "traffic_reviews",
]


@dataclass(frozen=True, slots=True)
class Reviewed:
    """Reviewed decisions as arrays: confidence, wrong, importance weight, bucket, and
    the model and auto threshold that routed each."""

    confidence: np.ndarray
    wrong: np.ndarray
    weight: np.ndarray
    auto: np.ndarray  # routed auto (an audit)
    hold: np.ndarray  # routed hold (else review, when not auto)
    out_of_scope: np.ndarray  # a person marked it as fitting no label
    model_version: np.ndarray  # (object) the model that classified it
    # the auto threshold of the policy version that routed it (inf: the lane was closed;
    # a decision with no recorded version: the lowest auto threshold the taxonomy had)
    routed_auto: np.ndarray


def reviewed(
    conn: Connection,
    taxonomy_id: str,
    *,
    model_version: str | None = None,
    policy_version: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    audits_only: bool = False,
    default_rate: float = 0.02,
) -> Reviewed:
    """Decisions a person reviewed with a decisive outcome (a final label).

    An ``auto`` decision was reviewed only if drawn into the audit sample: its weight is
    ``1 / audit_rate`` (the share it was drawn with); a ``review``/``hold`` one weighs 1.
    Wrong: the final label is not the model's (corrected, a new category, ``oos``), both
    read under their current names (:func:`model_wrong`).
    """
    rows = routing_repo.reviewed_decisions(
        conn,
        taxonomy_id,
        model_version=model_version,
        policy_version=policy_version,
        since=since,
        until=until,
        audits_only=audits_only,
    )
    conf = np.fromiter((row.confidence for row in rows), np.float64, len(rows))
    wrong = model_wrong(conn, taxonomy_id, rows)
    is_auto = np.fromiter((row.bucket == Bucket.AUTO.value for row in rows), bool, len(rows))
    is_hold = np.fromiter((row.bucket == Bucket.HOLD.value for row in rows), bool, len(rows))
    rate = np.fromiter(
        (
            (row.audit_rate if row.audit_rate else default_rate) if row.bucket == "auto" else 1.0
            for row in rows
        ),
        np.float64,
        len(rows),
    )
    weight = 1.0 / np.clip(rate, 1e-6, 1.0)
    oos = fits_no_label(conn, taxonomy_id, rows)
    models = np.array([row.model_version for row in rows], dtype=object)
    return Reviewed(
        conf, wrong, weight, is_auto, is_hold, oos, models, _routed_auto(conn, taxonomy_id, rows)
    )


def fits_no_label(conn: Connection, taxonomy_id: str, rows: list[Any]) -> np.ndarray:
    """Per reviewed decision, whether the person said it fits no label of the taxonomy:
    ``out_of_scope``, or a new category that is not a label now (one the team has since
    added is in scope for the traffic to come).  Counting only ``oos`` undercounted the
    share whenever reviewers named what was missing instead of saying "none of these"."""
    named = any(row.action == "new_category" for row in rows)
    labels = current_label_names(conn, taxonomy_id) if named else frozenset()
    return np.fromiter(
        (
            row.final_label == OOS_LABEL
            or (row.action == "new_category" and row.final_label not in labels)
            for row in rows
        ),
        bool,
        len(rows),
    )


def model_wrong(conn: Connection, taxonomy_id: str, rows: list[Any]) -> np.ndarray:
    """Per reviewed decision, whether the person's label is not the model's: the model's
    label as its taxonomy version names it, the person's as the version in force when they
    answered did, both read under their names now (:mod:`~triaged.services.label_lineage`),
    so that confirming a decision whose label was renamed since counts it right."""
    lin = lineage(conn, taxonomy_id, {int(row.taxonomy_version) for row in rows})
    return np.fromiter(
        (
            not lin.agrees(int(row.taxonomy_version), row.label, row.resolved_at, row.final_label)
            for row in rows
        ),
        bool,
        len(rows),
    )


def _routed_auto(conn: Connection, taxonomy_id: str, rows: list[Any]) -> np.ndarray:
    """The auto threshold each row was routed by (inf where its version's lane was closed)."""
    if not rows:
        return np.zeros(0)
    autos = {
        v: (math.inf if a is None else a)
        for v, a in routing_repo.policy_autos(conn, taxonomy_id).items()
    }
    lowest = min((a for a in autos.values() if math.isfinite(a)), default=math.inf)
    return np.fromiter(
        (autos.get(row.policy_version, lowest) for row in rows), np.float64, len(rows)
    )


def traffic_reviews(
    conn: Connection, taxonomy_id: str, default_rate: float = 0.02
) -> tuple[Reviewed, np.ndarray]:
    """Every reviewed decision of the taxonomy (every model version's: the out-of-scope
    share is the traffic's) and its weight, the inverse of the chance it was reviewed
    (:func:`triaged.services.routing_learning.review_weights`); none at all while a lane
    that has decisions has no reviewed one."""
    pool = reviewed(conn, taxonomy_id, default_rate=default_rate)
    if not pool.out_of_scope.size:
        return pool, pool.weight
    weights = review_weights(conn, taxonomy_id, None, pool.weight, pool.auto, pool.hold)
    if weights is None:  # a lane with traffic and no review: no share measured yet
        nothing = Reviewed(*(getattr(pool, f)[:0] for f in Reviewed.__slots__))
        return nothing, nothing.weight
    return pool, weights


def measured_share(
    conn: Connection,
    taxonomy_id: str,
    *,
    was: float,
    level: float,
    default_rate: float = 0.02,
    traffic: tuple[Reviewed, np.ndarray] | None = None,
) -> WeightedBound | None:
    """The traffic's out-of-scope share as the taxonomy's reviews measure it
    (:func:`traffic_reviews`, or ``traffic`` when the caller has read them), when its
    interval at ``level`` excludes ``was``; else None."""
    pool, weights = (
        traffic if traffic is not None else traffic_reviews(conn, taxonomy_id, default_rate)
    )
    if not pool.out_of_scope.size:
        return None
    share = weighted_error_bound(pool.out_of_scope, weights, 1.0 - level)
    if share.estimate is None or share.lower <= was <= share.upper:
        return None
    return share


def nearest_share(measured: WeightedBound, was: float) -> float:
    """The out-of-scope share the reviews allow that is nearest ``was``: the interval's upper
    end when the traffic shows less than ``was``, its lower end when more.  A hold threshold
    chosen for it moves only as far as the evidence is sure of, and comes to the estimate as
    the reviews grow."""
    return measured.upper if measured.upper < was else measured.lower
