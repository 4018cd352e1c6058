"""The SDK's typed metrics results: bucket counts over time and drift alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from triaged.client.results import BucketShares, _opt_float, _opt_str

__all__ = ["BucketMetrics", "BucketPoint", "BucketTotals", "DriftAlert", "DriftReport"]


def _shares(data: Mapping[str, Any]) -> BucketShares:
    return BucketShares(
        auto=_opt_float(data.get("auto")),
        review=_opt_float(data.get("review")),
        hold=_opt_float(data.get("hold")),
    )


@dataclass(frozen=True, slots=True)
class BucketTotals:
    """Decisions per bucket, and all of them."""

    auto: int
    review: int
    hold: int
    total: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BucketTotals:
        return cls(
            auto=int(data.get("auto") or 0),
            review=int(data.get("review") or 0),
            hold=int(data.get("hold") or 0),
            total=int(data.get("total") or 0),
        )


@dataclass(frozen=True, slots=True)
class BucketPoint:
    """One period (starting at ``start``): decisions per bucket and their shares."""

    start: str
    auto: int
    review: int
    hold: int
    total: int
    shares: BucketShares

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BucketPoint:
        counts = BucketTotals.from_dict(data)
        return cls(
            start=str(data["start"]),
            auto=counts.auto,
            review=counts.review,
            hold=counts.hold,
            total=counts.total,
            shares=_shares(data.get("shares") or {}),
        )


@dataclass(frozen=True, slots=True)
class BucketMetrics:
    """Decision counts per bucket and period (``interval``: hour, day or week), oldest
    period first, of one taxonomy (or all: ``taxonomy`` None) and one label (or all)."""

    taxonomy: str | None
    label: str | None
    interval: str
    series: list[BucketPoint]
    totals: BucketTotals

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BucketMetrics:
        return cls(
            taxonomy=_opt_str(data.get("taxonomy")),
            label=_opt_str(data.get("label")),
            interval=str(data["interval"]),
            series=[BucketPoint.from_dict(p) for p in data["series"]],
            totals=BucketTotals.from_dict(data.get("totals") or {}),
        )


@dataclass(frozen=True, slots=True)
class DriftAlert:
    """A share that moved beyond chance between the baseline and the recent window
    (``metric``: ``bucket_share`` or ``label_share``; ``direction``: up or down), with the
    counts behind it and the test's ``z`` and ``p_value``.  ``event_id`` is set once the
    alert is recorded (drift check, recorded alerts), ``recorded_at`` in the recorded list."""

    metric: str
    bucket: str | None
    label: str | None
    direction: str
    baseline_share: float
    recent_share: float
    baseline_count: int
    baseline_total: int
    recent_count: int
    recent_total: int
    z: float
    p_value: float
    alpha: float
    baseline_start: str
    recent_start: str
    recent_end: str
    message: str
    taxonomy: str | None = None
    extra: dict[str, Any] | None = None
    event_id: str | None = None
    recorded_at: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftAlert:
        return cls(
            metric=str(data["metric"]),
            bucket=_opt_str(data.get("bucket")),
            label=_opt_str(data.get("label")),
            direction=str(data["direction"]),
            baseline_share=float(data["baseline_share"]),
            recent_share=float(data["recent_share"]),
            baseline_count=int(data["baseline_count"]),
            baseline_total=int(data["baseline_total"]),
            recent_count=int(data["recent_count"]),
            recent_total=int(data["recent_total"]),
            z=float(data["z"]),
            p_value=float(data["p_value"]),
            alpha=float(data["alpha"]),
            baseline_start=str(data["baseline_start"]),
            recent_start=str(data["recent_start"]),
            recent_end=str(data["recent_end"]),
            message=str(data.get("message") or ""),
            taxonomy=_opt_str(data.get("taxonomy")),
            extra=data.get("extra"),
            event_id=_opt_str(data.get("event_id")),
            recorded_at=_opt_str(data.get("recorded_at")),
        )


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Drift now (nothing recorded): the alerts of the recent window ``[recent_start, now)``
    against the baseline window ``[baseline_start, recent_start)``."""

    taxonomy: str | None
    recent_start: str
    baseline_start: str
    now: str
    alerts: list[DriftAlert]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        return cls(
            taxonomy=_opt_str(data.get("taxonomy")),
            recent_start=str(data["recent_start"]),
            baseline_start=str(data["baseline_start"]),
            now=str(data["now"]),
            alerts=[DriftAlert.from_dict(a) for a in data.get("alerts") or []],
        )
