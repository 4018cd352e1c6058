"""Bucket shares over time and drift alerts, as pure functions over decision rows.

A row is anything with a timestamp, a bucket and (optionally) a label: a
:class:`DecisionRow` or a ``(timestamp, bucket, label)`` tuple.  Naive timestamps are
taken as UTC.

* :func:`bucket_series`: counts per ``hour`` / ``day`` / ``week`` (ISO weeks, Monday
  00:00 UTC) for ``auto``, ``review`` and ``hold``, empty periods filled with zeros.
* :func:`detect_drift`: the held (and review) share of a recent window against a
  baseline window just before it, by a two-sided two-proportion z-test.  An alert needs
  both windows to reach ``min_volume``, a p-value under ``alpha`` (Bonferroni-corrected
  over all the tests run) and an absolute change of at least ``min_change``, so an
  unchanged traffic mix stays silent while a real shift (say, out-of-scope traffic
  doubling) fires.

Usage::

    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 1, 5)
    >>> rows = [(t0 + timedelta(minutes=i), "hold" if i % 4 == 0 else "auto", "a")
    ...         for i in range(120)]
    >>> [(p.start.hour, p.hold, p.total) for p in bucket_series(rows, "hour")]
    [(0, 15, 60), (1, 15, 60)]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from triaged.errors import InvalidInput

__all__ = [
    "BUCKETS",
    "INTERVALS",
    "DecisionRow",
    "DriftAlert",
    "DriftConfig",
    "SeriesPoint",
    "bucket_series",
    "detect_drift",
    "floor_time",
    "two_proportion_test",
]

BUCKETS = ("auto", "review", "hold")
INTERVALS = ("hour", "day", "week")
Interval = Literal["hour", "day", "week"]
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


@dataclass(frozen=True, slots=True)
class DecisionRow:
    timestamp: datetime
    bucket: str
    label: str | None = None


RowLike = DecisionRow | tuple[datetime, str] | tuple[datetime, str, str | None]


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _row(r: RowLike) -> DecisionRow:
    if isinstance(r, DecisionRow):
        return DecisionRow(_utc(r.timestamp), r.bucket, r.label)
    label = r[2] if len(r) > 2 else None
    return DecisionRow(_utc(r[0]), str(r[1]), None if label is None else str(label))


def _check_interval(interval: str) -> None:
    if interval not in INTERVALS:
        raise InvalidInput(
            f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}",
            details={"field": "interval", "value": interval},
        )


def floor_time(ts: datetime, interval: str) -> datetime:
    """Start (UTC) of the hour / day / ISO week holding ``ts``."""
    _check_interval(interval)
    t = _utc(ts)
    if interval == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """Counts of one period; shares follow from them."""

    start: datetime
    auto: int = 0
    review: int = 0
    hold: int = 0

    @property
    def total(self) -> int:
        return self.auto + self.review + self.hold

    def share(self, bucket: str) -> float | None:
        return getattr(self, bucket) / self.total if self.total else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "auto": self.auto,
            "review": self.review,
            "hold": self.hold,
            "total": self.total,
            "shares": {
                b: (None if self.share(b) is None else round(self.share(b) or 0.0, 6))
                for b in BUCKETS
            },
        }


def bucket_series(
    rows: Iterable[RowLike],
    interval: str = "day",
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    label: str | None = None,
    fill: bool = True,
) -> list[SeriesPoint]:
    """Bucket counts per period, oldest first.

    Rows outside ``[start, end)`` (when given) are left out; ``label`` keeps only rows of
    that predicted label.  With ``fill`` every period between the first and the last
    (or ``start`` and ``end``) appears, with zeros where nothing happened.  Buckets other
    than auto/review/hold are ignored.
    """
    _check_interval(interval)
    lo = _utc(start) if start is not None else None
    hi = _utc(end) if end is not None else None
    counts: dict[datetime, Counter[str]] = {}
    for raw in rows:
        r = _row(raw)
        if r.bucket not in BUCKETS or (label is not None and r.label != label):
            continue
        if (lo is not None and r.timestamp < lo) or (hi is not None and r.timestamp >= hi):
            continue
        counts.setdefault(floor_time(r.timestamp, interval), Counter())[r.bucket] += 1
    if not counts and not (fill and lo is not None and hi is not None):
        return []
    periods = sorted(counts)
    if fill:
        first = floor_time(lo, interval) if lo is not None else periods[0]
        last = (
            floor_time(hi - timedelta(microseconds=1), interval) if hi is not None else periods[-1]
        )
        periods = _periods(first, last, interval)
    return [
        SeriesPoint(p, **{b: int(counts.get(p, Counter()).get(b, 0)) for b in BUCKETS})
        for p in periods
    ]


def _periods(first: datetime, last: datetime, interval: str) -> list[datetime]:
    out: list[datetime] = []
    p = first
    while p <= last:
        out.append(p)
        if last - p < _STEP[interval]:  # the next one is past ``last`` (or past year 9999)
            break
        p += _STEP[interval]
    return out


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p) for H0: p1 == p2, with the pooled standard error.

    ``z`` is positive when the second proportion is the larger one.
    """
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0 if p1 == p2 else 0.0
    z = (p2 - p1) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True, slots=True)
class DriftConfig:
    """When a share change counts as drift.

    The recent window is ``[now - recent, now)``; the baseline window is the
    ``baseline`` just before it.  ``buckets`` are the shares tested; ``per_label``
    also tests each label's share of the traffic (labels with at least ``min_volume``
    decisions in either window: one that vanished or appeared counts) and the bucket
    shares of each label with ``min_volume`` decisions in both windows.
    """

    recent: timedelta = timedelta(days=1)
    baseline: timedelta = timedelta(days=7)
    buckets: tuple[str, ...] = ("hold", "review")
    alpha: float = 0.01
    min_volume: int = 100
    min_change: float = 0.02
    per_label: bool = False
    bonferroni: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InvalidInput("alpha must be between 0 and 1", details={"field": "alpha"})
        if self.recent <= timedelta(0) or self.baseline <= timedelta(0):
            raise InvalidInput("windows must be positive", details={"field": "recent"})
        if self.min_volume < 1:
            raise InvalidInput(
                f"min_volume must be at least 1, got {self.min_volume}",
                details={"field": "min_volume"},
            )
        unknown = set(self.buckets) - set(BUCKETS)
        if unknown:
            raise InvalidInput(
                f"unknown bucket(s): {sorted(unknown)}", details={"field": "buckets"}
            )


@dataclass(frozen=True, slots=True)
class DriftAlert:
    """A share that moved beyond chance between the baseline and the recent window."""

    metric: str  # "bucket_share" or "label_share"
    bucket: str | None
    label: str | None
    baseline_share: float
    recent_share: float
    baseline_count: int
    baseline_total: int
    recent_count: int
    recent_total: int
    z: float
    p_value: float
    alpha: float
    baseline_start: datetime
    recent_start: datetime
    recent_end: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def direction(self) -> str:
        return "up" if self.recent_share > self.baseline_share else "down"

    @property
    def message(self) -> str:
        if self.metric == "bucket_share":
            what = f"{self.bucket} share"
        else:
            what = f"share of {self.label!r}"
        if self.metric == "bucket_share" and self.label:
            what += f" of {self.label!r}"
        return (
            f"{what} went {self.direction} from {self.baseline_share:.1%} "
            f"(n={self.baseline_total}) to {self.recent_share:.1%} (n={self.recent_total}), "
            f"p={self.p_value:.2g}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "bucket": self.bucket,
            "label": self.label,
            "direction": self.direction,
            "baseline_share": round(self.baseline_share, 6),
            "recent_share": round(self.recent_share, 6),
            "baseline_count": self.baseline_count,
            "baseline_total": self.baseline_total,
            "recent_count": self.recent_count,
            "recent_total": self.recent_total,
            "z": round(self.z, 4),
            "p_value": self.p_value,
            "alpha": self.alpha,
            "baseline_start": self.baseline_start.isoformat(),
            "recent_start": self.recent_start.isoformat(),
            "recent_end": self.recent_end.isoformat(),
            "message": self.message,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass(slots=True)
class _Test:
    metric: str
    bucket: str | None
    label: str | None
    x1: int
    n1: int
    x2: int
    n2: int


def detect_drift(
    rows: Iterable[RowLike],
    *,
    now: datetime | None = None,
    config: DriftConfig | None = None,
) -> list[DriftAlert]:
    """Alerts for the shares that changed beyond chance (strongest first)."""
    cfg = config or DriftConfig()
    end = _utc(now) if now is not None else datetime.now(UTC)
    recent_start = end - cfg.recent
    base_start = recent_start - cfg.baseline
    base: list[DecisionRow] = []
    recent: list[DecisionRow] = []
    for raw in rows:
        r = _row(raw)
        if r.bucket not in BUCKETS:
            continue
        if recent_start <= r.timestamp < end:
            recent.append(r)
        elif base_start <= r.timestamp < recent_start:
            base.append(r)
    tests = _tests(base, recent, cfg)
    alpha = cfg.alpha / len(tests) if cfg.bonferroni and tests else cfg.alpha
    alerts: list[DriftAlert] = []
    for t in tests:
        z, p = two_proportion_test(t.x1, t.n1, t.x2, t.n2)
        s1, s2 = t.x1 / t.n1, t.x2 / t.n2
        if p < alpha and abs(s2 - s1) >= cfg.min_change:
            alerts.append(
                DriftAlert(
                    metric=t.metric,
                    bucket=t.bucket,
                    label=t.label,
                    baseline_share=s1,
                    recent_share=s2,
                    baseline_count=t.x1,
                    baseline_total=t.n1,
                    recent_count=t.x2,
                    recent_total=t.n2,
                    z=z,
                    p_value=p,
                    alpha=alpha,
                    baseline_start=base_start,
                    recent_start=recent_start,
                    recent_end=end,
                )
            )
    alerts.sort(key=lambda a: (a.p_value, -abs(a.z)))
    return alerts


def _tests(
    base: Sequence[DecisionRow], recent: Sequence[DecisionRow], cfg: DriftConfig
) -> list[_Test]:
    tests: list[_Test] = []
    n1, n2 = len(base), len(recent)
    least = max(cfg.min_volume, 1)  # a share of nothing is no share: never divide by 0
    if n1 < least or n2 < least:
        return tests
    b1 = Counter(r.bucket for r in base)
    b2 = Counter(r.bucket for r in recent)
    for bucket in cfg.buckets:
        tests.append(_Test("bucket_share", bucket, None, b1[bucket], n1, b2[bucket], n2))
    if cfg.per_label:
        l1 = Counter(r.label for r in base)
        l2 = Counter(r.label for r in recent)
        for label in sorted({lb for lb in l1 | l2 if lb is not None}):
            # its share of all traffic is tested when it had the volume in either window:
            # a label whose traffic vanished (removed or renamed by a taxonomy edit, or no
            # longer predicted) or appeared is the largest share change there is
            if l1[label] < least and l2[label] < least:
                continue
            tests.append(_Test("label_share", None, label, l1[label], n1, l2[label], n2))
            if l1[label] < least or l2[label] < least:
                continue  # its own bucket shares need its volume in both windows
            lb1 = Counter(r.bucket for r in base if r.label == label)
            lb2 = Counter(r.bucket for r in recent if r.label == label)
            for bucket in cfg.buckets:
                tests.append(
                    _Test(
                        "bucket_share",
                        bucket,
                        label,
                        lb1[bucket],
                        l1[label],
                        lb2[bucket],
                        l2[label],
                    )
                )
    return tests
