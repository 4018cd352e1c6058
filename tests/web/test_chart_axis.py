"""The bucket chart's axis names each bar's period in its own unit: every hourly bar was
labelled with its day ("12-07 12-07 12-07"), and a weekly chart without the year left
"12-01" ambiguous across a year."""

from __future__ import annotations

import re

from triaged.web.charts import bucket_share_chart


def _series(starts: list[str]) -> list[dict[str, object]]:
    return [{"start": s, "total": 4, "auto": 2, "review": 1, "hold": 1} for s in starts]


def _ticks(svg: str) -> list[str]:
    return re.findall(r'<text class="axis" [^>]*text-anchor="middle"[^>]*>([^<]*)</text>', svg)


def test_hourly_bars_are_labelled_by_hour_and_the_day_where_it_changes() -> None:
    starts = [f"2026-12-0{6 + (h // 24)}T{h % 24:02d}:00:00+00:00" for h in range(20, 30)]
    assert _ticks(bucket_share_chart(_series(starts), interval="hour")) == [
        "12-06 20:00",
        "21:00",
        "22:00",
        "23:00",
        "12-07 00:00",
        "01:00",
        "02:00",
        "03:00",
        "04:00",
        "05:00",
    ]


def test_weeks_carry_the_year_and_days_the_month_and_day() -> None:
    weeks = ["2025-12-29T00:00:00+00:00", "2026-01-05T00:00:00+00:00"]
    assert _ticks(bucket_share_chart(_series(weeks), interval="week")) == [
        "2025-12-29",
        "2026-01-05",
    ]
    assert _ticks(bucket_share_chart(_series(weeks))) == ["12-29", "01-05"]
