"""Bucket-share series and drift alerts over simulated decision logs (seeded, no mocks)."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest
from scipy.stats import norm

from triaged.drift import (
    DecisionRow,
    DriftConfig,
    bucket_series,
    detect_drift,
    floor_time,
    two_proportion_test,
)
from triaged.errors import InvalidInput

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)  # a Wednesday


def traffic(
    start: datetime, end: datetime, n: int, *, oos_share: float, seed: int
) -> list[DecisionRow]:
    """Decisions spread over [start, end): in-scope inputs are mostly auto, out-of-scope held.

    The bucket mix follows from the out-of-scope share, as it does in the service:
    in-scope 80% auto / 14% review / 6% hold, out-of-scope 10% / 15% / 75%.
    """
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    rows = []
    for _ in range(n):
        ts = start + timedelta(seconds=rng.random() * span)
        oos = rng.random() < oos_share
        weights = (0.10, 0.15, 0.75) if oos else (0.80, 0.14, 0.06)
        bucket = rng.choices(("auto", "review", "hold"), weights)[0]
        rows.append(DecisionRow(ts, bucket, "oos-ish" if oos else rng.choice("abc")))
    return rows


def test_series_equals_a_direct_count() -> None:
    rows = traffic(NOW - timedelta(days=20), NOW, 5000, oos_share=0.2, seed=1)
    for interval in ("hour", "day", "week"):
        series = bucket_series(rows, interval)
        direct: dict[datetime, Counter[str]] = {}
        for r in rows:
            direct.setdefault(floor_time(r.timestamp, interval), Counter())[r.bucket] += 1
        nonzero = [p for p in series if p.total]
        assert {p.start for p in nonzero} == set(direct)
        for p in nonzero:
            c = direct[p.start]
            assert (p.auto, p.review, p.hold, p.total) == (
                c["auto"],
                c["review"],
                c["hold"],
                sum(c.values()),
            )
        assert sum(p.total for p in series) == len(rows)
        # every period once, each one interval after the previous (no gap, no repeat):
        # ``starts == sorted(starts)`` could not fail, the code builds the periods in order
        starts = [p.start for p in series]
        step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
        assert all(b - a == step[interval] for a, b in itertools.pairwise(starts))
        assert starts[0] == floor_time(min(r.timestamp for r in rows), interval)
        assert starts[-1] == floor_time(max(r.timestamp for r in rows), interval)
    weeks = bucket_series(rows, "week")
    assert all(p.start.weekday() == 0 and p.start.hour == 0 for p in weeks)
    hours = bucket_series(rows, "hour")
    assert len(hours) == (hours[-1].start - hours[0].start) // timedelta(hours=1) + 1


def test_series_filters_fill_and_timezones() -> None:
    t = datetime(2026, 1, 5, 10, 30)  # naive = UTC
    rows = [
        (t, "hold", "a"),
        (t + timedelta(days=2), "auto", "b"),
        (datetime(2026, 1, 5, 12, 30, tzinfo=timezone(timedelta(hours=2))), "review", "a"),
        (t, "weird", "a"),
    ]
    days = bucket_series(rows, "day")
    assert [(p.start.day, p.auto, p.review, p.hold) for p in days] == [
        (5, 0, 1, 1),
        (6, 0, 0, 0),
        (7, 1, 0, 0),
    ]
    only_a = bucket_series(rows, "day", label="a", fill=False)
    assert [(p.start.day, p.total) for p in only_a] == [(5, 2)]
    window = bucket_series(rows, "day", start=datetime(2026, 1, 4), end=datetime(2026, 1, 7))
    assert [(p.start.day, p.total) for p in window] == [(4, 0), (5, 2), (6, 0)]
    d = days[0].to_dict()
    assert d["start"] == "2026-01-05T00:00:00+00:00" and d["shares"]["hold"] == 0.5
    assert bucket_series([], "hour") == []
    with pytest.raises(InvalidInput):
        bucket_series(rows, "month")


def test_a_series_ending_in_the_last_period_of_year_9999() -> None:
    """A window in the last day (or week) datetime can hold is filled to its end: stepping
    past the last period overflowed, and GET /v1/metrics/buckets answered 422 "a number or
    date in the request is out of range" for a valid window."""
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    rows = [DecisionRow(datetime(9999, 12, 31, 12, tzinfo=UTC), "hold", "a")]
    days = bucket_series(rows, "day", start=datetime(9999, 12, 30, tzinfo=UTC), end=end)
    assert [(p.start.day, p.hold) for p in days] == [(30, 0), (31, 1)]
    weeks = bucket_series(rows, "week", start=datetime(9999, 12, 20, tzinfo=UTC), end=end)
    assert [p.start.day for p in weeks] == [20, 27] and sum(p.hold for p in weeks) == 1
    assert [p.start.day for p in bucket_series(rows, "hour")] == [31]


def test_two_proportion_test_matches_the_normal_tail() -> None:
    z, p = two_proportion_test(100, 1000, 150, 1000)
    pooled = 250 / 2000
    expected_z = 0.05 / math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert z == pytest.approx(expected_z) and p == pytest.approx(2 * norm.sf(expected_z))
    assert two_proportion_test(0, 0, 5, 10) == (0.0, 1.0)
    assert two_proportion_test(0, 10, 0, 10) == (0.0, 1.0)


def test_drift_fires_when_oos_share_doubles_and_stays_silent_otherwise() -> None:
    base_start, recent_start = NOW - timedelta(days=8), NOW - timedelta(days=1)
    baseline = traffic(base_start, recent_start, 7000, oos_share=0.10, seed=2)
    same = traffic(recent_start, NOW, 1000, oos_share=0.10, seed=3)
    doubled = traffic(recent_start, NOW, 1000, oos_share=0.20, seed=4)
    cfg = DriftConfig(per_label=True)
    assert detect_drift(baseline + same, now=NOW, config=cfg) == []
    alerts = detect_drift(baseline + doubled, now=NOW, config=cfg)
    held = [a for a in alerts if a.metric == "bucket_share" and a.bucket == "hold" and not a.label]
    assert len(held) == 1
    alert = held[0]
    assert alert.direction == "up" and alert.recent_total == 1000
    assert alert.baseline_total == 7000 and alert.p_value < alert.alpha
    assert alert.recent_share > alert.baseline_share * 1.4
    assert "hold share went up" in alert.message
    assert alert.to_dict()["recent_start"] == recent_start.isoformat()
    # many unchanged mixes: silent every time (Bonferroni-corrected alpha = 1%)
    fired = sum(
        bool(
            detect_drift(
                traffic(base_start, recent_start, 7000, oos_share=0.1, seed=10 + s)
                + traffic(recent_start, NOW, 1000, oos_share=0.1, seed=100 + s),
                now=NOW,
                config=cfg,
            )
        )
        for s in range(20)
    )
    assert fired == 0


def test_drift_needs_volume_and_a_real_change() -> None:
    base = traffic(NOW - timedelta(days=8), NOW - timedelta(days=1), 60, oos_share=0.1, seed=5)
    recent = traffic(NOW - timedelta(days=1), NOW, 60, oos_share=0.9, seed=6)
    assert detect_drift(base + recent, now=NOW) == []  # under min_volume
    assert detect_drift(base + recent, now=NOW, config=DriftConfig(min_volume=50))
    big = DriftConfig(min_change=0.9, min_volume=50)
    assert detect_drift(base + recent, now=NOW, config=big) == []
    with pytest.raises(InvalidInput):
        DriftConfig(alpha=0)
    with pytest.raises(InvalidInput):
        DriftConfig(buckets=("maybe",))


def test_per_label_drift_sees_a_label_removed_or_renamed() -> None:
    """A taxonomy edit renamed 'billing' to 'payments': its share fell from 30% to nothing and
    the new name's rose from nothing, and per-label drift said nothing about either (a label
    was tested only with the volume in both windows).  A steady label stays silent."""
    rng = random.Random(3)
    rows: list[DecisionRow] = []
    for start, end, old in (
        (NOW - timedelta(days=8), NOW - timedelta(days=1), True),
        (NOW - timedelta(days=1), NOW, False),
    ):
        span = (end - start).total_seconds()
        for i in range(1000):
            t = start + timedelta(seconds=span * i / 1000)
            name = ("billing" if old else "payments") if i % 10 < 3 else "shipping"
            rows.append(DecisionRow(t, rng.choice(["auto", "review"]), name))
    alerts = detect_drift(rows, now=NOW, config=DriftConfig(per_label=True))
    moved = {(a.label, a.direction) for a in alerts if a.metric == "label_share"}
    assert moved == {("billing", "down"), ("payments", "up")}, moved
    billing = next(a for a in alerts if a.label == "billing" and a.metric == "label_share")
    assert (billing.baseline_share, billing.recent_share) == (0.3, 0.0)
    # no bucket-share test for a label missing from one window
    assert not [
        a for a in alerts if a.metric == "bucket_share" and a.label in ("billing", "payments")
    ]
