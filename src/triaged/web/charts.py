"""Server-rendered SVG charts for the dashboard (no script, no inline style: CSP-safe).

Colours and fonts come from presentation attributes and classes in ``dashboard.css``;
every chart carries a ``<title>`` and ``aria-label`` for screen readers, and data
attributes that tests (and curious users) can read back.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

__all__ = ["BUCKET_COLOURS", "bucket_share_chart", "reliability_chart"]

BUCKET_COLOURS = {"auto": "#2e7d4f", "review": "#d19a1d", "hold": "#c0392b"}


def _svg(width: int, height: int, label: str, body: list[str], css_id: str) -> Markup:
    head = (
        f'<svg id="{css_id}" class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def _tick(start: str, interval: str, previous: str | None) -> str:
    """An axis label for a period starting at ``start`` (ISO): the hour of an hourly bar
    (with its day where the day changes: every hourly bar read "12-07" until 7 December),
    the year with a week's day, the month and day otherwise."""
    if interval == "hour":
        day, hour = start[5:10], start[11:16]
        return hour if previous is not None and previous[5:10] == day else f"{day} {hour}"
    return start[:10] if interval == "week" else start[5:10]


def bucket_share_chart(
    series: Sequence[dict[str, Any]],
    *,
    interval: str = "day",
    width: int = 720,
    height: int = 240,
) -> Markup:
    """Stacked bars: the share of auto / review / hold per period (hold on top)."""
    left, right, top, bottom = 40, 10, 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    body: list[str] = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - frac)
        body.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#dde2ea"/>'
        )
        body.append(
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11">{int(frac * 100)}%</text>'
        )
    n = max(len(series), 1)
    labelled: str | None = None  # the start of the last bar given a label
    slot = plot_w / n
    bar = max(1.0, slot * 0.8)
    for i, p in enumerate(series):
        total = int(p.get("total") or 0)
        x = left + i * slot + (slot - bar) / 2
        if total:
            y = top + plot_h
            for bucket in ("auto", "review", "hold"):
                h = plot_h * int(p.get(bucket) or 0) / total
                y -= h
                if h > 0:
                    body.append(
                        f'<rect class="bar bar-{bucket}" data-bucket="{bucket}" '
                        f'data-start="{escape(str(p["start"]))}" data-count="{p.get(bucket)}" '
                        f'x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{BUCKET_COLOURS[bucket]}"><title>{escape(str(p["start"])[:16])}: '
                        f"{bucket} {p.get(bucket)} of {total}</title></rect>"
                    )
        if n <= 12 or i % max(1, n // 8) == 0:
            start = str(p["start"])
            body.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{height - 16}" '
                f'text-anchor="middle" font-size="10">'
                f"{escape(_tick(start, interval, labelled))}</text>"
            )
            labelled = start
    lx = left
    for bucket in ("auto", "review", "hold"):
        body.append(
            f'<rect x="{lx}" y="{height - 10}" width="10" height="8" '
            f'fill="{BUCKET_COLOURS[bucket]}"/>'
        )
        body.append(f'<text x="{lx + 14}" y="{height - 2}" font-size="10">{bucket}</text>')
        lx += 70
    return _svg(width, height, "Share of decisions per bucket over time", body, "bucket-chart")


def reliability_chart(bins: Sequence[dict[str, Any]], *, size: int = 260) -> Markup:
    """Measured accuracy against stated confidence (reviewed and audited decisions)."""
    pad = 36
    plot = size - 2 * pad
    body = [
        f'<rect x="{pad}" y="{pad}" width="{plot}" height="{plot}" fill="none" stroke="#dde2ea"/>',
        f'<line class="diagonal" x1="{pad}" y1="{pad + plot}" x2="{pad + plot}" y2="{pad}" '
        f'stroke="#8a94a6" stroke-dasharray="4 3"/>',
        f'<text x="{size / 2}" y="{size - 6}" text-anchor="middle" font-size="11">'
        "confidence</text>",
        f'<text x="12" y="{size / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {size / 2})">accuracy</text>',
    ]
    points = []
    for b in bins:
        if not b.get("count"):
            continue
        cx = pad + plot * float(b["confidence"])
        cy = pad + plot * (1 - float(b["accuracy"]))
        r = 3 + min(6.0, float(b["count"]) ** 0.5 / 2)
        points.append(f"{cx:.1f},{cy:.1f}")
        body.append(
            f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="#2f5fb3" '
            f'data-count="{b["count"]}"><title>confidence {float(b["confidence"]):.2f}: '
            f"accuracy {float(b['accuracy']):.2f} (n={b['count']})</title></circle>"
        )
    if len(points) > 1:
        body.insert(2, f'<polyline points="{" ".join(points)}" fill="none" stroke="#2f5fb3"/>')
    return _svg(size, size, "Reliability: accuracy against confidence", body, "reliability-chart")
