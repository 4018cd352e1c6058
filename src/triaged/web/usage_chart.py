"""Server-rendered SVG of the usage page: requests per day of the month (CSP-safe, no script)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

__all__ = ["daily_requests_chart"]

BAR = "#2f5fb3"


def daily_requests_chart(
    days: Sequence[dict[str, Any]], *, width: int = 720, height: int = 200
) -> Markup:
    """One bar per day (``{"day": "YYYY-MM-DD", "requests": n}``), a scale of round numbers."""
    left, right, top, bottom = 40, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([int(d["requests"]) for d in days] + [1])
    step = 1
    while peak / step > 5:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2  # 1, 2, 5, 10, 20, 50...
    scale = step * -(-peak // step)
    label = "Classify requests per day this month"
    body: list[str] = []
    for tick in range(0, scale + 1, step):
        y = top + plot_h * (1 - tick / scale)
        body.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#dde2ea"/><text class="axis" x="{left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end" font-size="11">{tick}</text>'
        )
    n = max(len(days), 1)
    slot = plot_w / n
    bar = max(1.0, slot * 0.75)
    for i, d in enumerate(days):
        count = int(d["requests"])
        x = left + i * slot + (slot - bar) / 2
        h = plot_h * count / scale
        day = escape(str(d["day"]))
        body.append(
            f'<rect class="bar" data-day="{day}" data-count="{count}" x="{x:.1f}" '
            f'y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{BAR}">'
            f"<title>{day}: {count} request{'' if count == 1 else 's'}</title></rect>"
        )
        if n <= 16 or i % 3 == 0:
            body.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{height - 8}" '
                f'text-anchor="middle" font-size="10">{day[8:10]}</text>'
            )
    head = (
        f'<svg id="daily-chart" class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{label}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")
