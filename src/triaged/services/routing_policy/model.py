"""A routing policy version, its defaults and the policy of a taxonomy with none recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triaged.routing import (
    DEFAULT_AUTO_ERROR_TARGET,
    DEFAULT_CONFIDENCE_LEVEL,
    DEFAULT_EXPECTED_OUT_OF_SCOPE,
    Bucket,
)
from triaged.services.ids import as_utc, utcnow
from triaged.taxonomy import Thresholds

ALERT_EVENT = "alert.auto_lane"
ROUTING_LOCK_KEY = 727375004  # advisory lock class of routing changes (PostgreSQL)
SOURCES = ("training", "manual", "live")


def lane_change(before: float | None, after: float | None) -> str:
    """What a move of the auto threshold from ``before`` to ``after`` (None: the lane
    closed) did to the lane: ``raised``, ``lowered``, ``closed``, ``opened`` or ``kept``
    (the ``change`` of an ``alert.auto_lane`` event, for a receiver that pages on the
    tightening ones only)."""
    if before == after:
        return "kept"
    if after is None:
        return "closed"
    if before is None:
        return "opened"
    return "raised" if after > before else "lowered"


@dataclass(frozen=True, slots=True)
class Defaults:
    """Parameters of a taxonomy's first policy (from settings)."""

    auto_error_target: float = DEFAULT_AUTO_ERROR_TARGET
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL
    expected_out_of_scope: float = DEFAULT_EXPECTED_OUT_OF_SCOPE


_DEFAULTS = Defaults()


@dataclass(frozen=True, slots=True)
class LiveConfig:
    min_audits: int = 200  # reviewed audits after which the lane must be live-certified
    thin_audit_rate: float = 0.10


@dataclass(frozen=True, slots=True)
class Policy:
    """One version of a taxonomy's routing policy."""

    taxonomy_id: str
    version: int
    auto: float | None
    review: float
    audit_rate: float | None  # None: the service's setting (review_audit_rate[s])
    auto_error_target: float
    confidence_level: float
    expected_out_of_scope: float
    source: str
    reason: str
    bound: dict[str, Any]
    created_at: datetime
    model_id: str | None = None
    review_source: str = "manual"  # evidence: chosen from the model's evidence (>= floor)
    review_floor: float | None = None  # the lowest hold threshold the evidence may choose
    created_by: str | None = None  # the API key id that made it (None: the service itself)

    @property
    def hold_floor(self) -> float:
        """The floor of an evidence-chosen hold threshold (the threshold itself if manual)."""
        return self.review if self.review_floor is None else self.review_floor

    @property
    def auto_lane_open(self) -> bool:
        return self.auto is not None

    def route(self, confidence: float) -> Bucket:
        if self.auto is not None and confidence >= self.auto:
            return Bucket.AUTO
        if confidence >= self.review:
            return Bucket.REVIEW
        return Bucket.HOLD

    @classmethod
    def from_row(cls, row: Any) -> Policy:
        m = row._mapping
        return cls(
            taxonomy_id=m["taxonomy_id"],
            version=int(m["version"]),
            auto=None if m["auto"] is None else float(m["auto"]),
            review=float(m["review"]),
            audit_rate=None if m["audit_rate"] is None else float(m["audit_rate"]),
            auto_error_target=float(m["auto_error_target"]),
            confidence_level=float(m["confidence_level"]),
            expected_out_of_scope=float(m["expected_out_of_scope"]),
            source=m["source"],
            reason=m["reason"],
            bound=dict(m["bound"] or {}),
            created_at=as_utc(m["created_at"]),
            model_id=m["model_id"],
            review_source=m.get("review_source") or "manual",
            review_floor=None if m.get("review_floor") is None else float(m["review_floor"]),
            created_by=m.get("created_by"),
        )


def legacy(taxonomy_id: str, thresholds: Thresholds) -> Policy:
    """The policy of a taxonomy with no recorded version yet (its definition's thresholds)."""
    return Policy(
        taxonomy_id=taxonomy_id,
        version=0,
        auto=float(thresholds.auto),
        review=float(thresholds.review),
        audit_rate=None,
        auto_error_target=_DEFAULTS.auto_error_target,
        confidence_level=_DEFAULTS.confidence_level,
        expected_out_of_scope=_DEFAULTS.expected_out_of_scope,
        source="manual",
        reason="the taxonomy definition's thresholds (no routing policy recorded yet)",
        bound={},
        created_at=utcnow(),
        review_source="evidence",  # no evidence yet: the floor, until a model is trained
        review_floor=float(thresholds.review),
    )
