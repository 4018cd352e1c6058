"""The dashboard's honest parts (issue 12): reliability from audited decisions drawn with
axis ticks, bin counts and an interval; "no drift" only with enough history; overlap
advice only above an evidence threshold; reviewer agreement (Cohen's kappa)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from triaged.service import DRIFT_HISTORY_DAYS, Principal, Service

__all__ = ["MIN_OVERLAP_EVIDENCE", "audited_reliability_svg", "dashboard_context"]

#: close calls plus reviewer corrections a label pair needs before a merge/split is advised
MIN_OVERLAP_EVIDENCE = 5
W, H, PAD_L, PAD_B, PAD_T, PAD_R = 360, 260, 44, 40, 12, 12


def _x(v: float) -> float:
    return PAD_L + v * (W - PAD_L - PAD_R)


def _y(v: float) -> float:
    return H - PAD_B - v * (H - PAD_B - PAD_T)


def audited_reliability_svg(rel: dict[str, Any]) -> Markup:
    """Accuracy against confidence per bin: a point, its 95% interval, its count."""
    parts = [
        f'<svg class="reliability" id="reliability-chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-labelledby="rel-title rel-desc">',
        '<title id="rel-title">Reliability on audited automatic decisions</title>',
        f'<desc id="rel-desc">{rel["n"]} audited decisions in {len(rel["bins"])} bins; '
        "points on the diagonal mean confidence matches accuracy.</desc>",
    ]
    for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(
            f'<line class="grid" x1="{_x(0):.1f}" y1="{_y(t):.1f}" x2="{_x(1):.1f}" '
            f'y2="{_y(t):.1f}"/><text class="tick" x="{PAD_L - 6}" y="{_y(t) + 4:.1f}" '
            f'text-anchor="end">{t:.1f}</text>'
            f'<text class="tick" x="{_x(t):.1f}" y="{H - PAD_B + 16}" '
            f'text-anchor="middle">{t:.1f}</text>'
        )
    parts.append(
        f'<line class="diag" x1="{_x(0):.1f}" y1="{_y(0):.1f}" x2="{_x(1):.1f}" y2="{_y(1):.1f}"/>'
        f'<text class="axis" x="{_x(0.5):.1f}" y="{H - 4}" text-anchor="middle">confidence</text>'
        f'<text class="axis" x="12" y="{_y(0.5):.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_y(0.5):.1f})">accuracy</text>'
    )
    for b in rel["bins"]:
        x, lo, hi = _x(b["confidence"]), b["interval"][0], b["interval"][1]
        # the count beside its point, inside the chart: left of it near the right edge,
        # below it near the top (an accuracy of 1.0 at confidence 0.95 was cut off)
        y = _y(b["accuracy"])
        at = f'x="{x - 6:.1f}" text-anchor="end"' if b["confidence"] > 0.75 else f'x="{x + 6:.1f}"'
        at += f' y="{y - 6 if y - 6 >= 2 * PAD_T else y + 16:.1f}"'
        parts.append(
            f'<g class="bin" data-count="{b["count"]}"><line class="ci" x1="{x:.1f}" '
            f'y1="{_y(lo):.1f}" x2="{x:.1f}" y2="{_y(hi):.1f}"/>'
            f'<circle class="point" data-count="{b["count"]}" cx="{x:.1f}" '
            f'cy="{_y(b["accuracy"]):.1f}" r="4"/>'
            f'<text class="count" {at}>'
            f"n={b['count']}</text><title>{escape(_bin_title(b))}</title></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _bin_title(b: dict[str, Any]) -> str:
    lo, hi = b["interval"]
    return (
        f"confidence {b['lower_edge']:.1f}-{b['upper_edge']:.1f}: {b['correct']} of {b['count']} "
        f"right ({100 * b['accuracy']:.0f}%, 95% interval {100 * lo:.0f}-{100 * hi:.0f}%)"
    )


def _overlap_evidence(o: dict[str, Any]) -> int:
    ev = o.get("evidence") or {}
    corrections = ev.get("corrections") or {}
    total = sum(corrections.values()) if isinstance(corrections, dict) else int(corrections)
    return int(ev.get("close_calls") or 0) + int(total)


def dashboard_context(
    service: Service,
    principal: Principal,
    taxonomy: str,
    *,
    since: datetime,
    now: datetime,
    report: dict[str, Any],
) -> dict[str, Any]:
    rel = service.desk.audited_reliability(principal, taxonomy, since=since)
    overlaps = list(report.get("overlaps") or [])
    shown = [o for o in overlaps if _overlap_evidence(o) >= MIN_OVERLAP_EVIDENCE]
    return {
        "audited": rel,
        "audited_chart": audited_reliability_svg(rel),
        "history_days": service.desk.history_days(principal, taxonomy, now=now),
        "drift_history_days": DRIFT_HISTORY_DAYS,
        "overlaps_shown": shown,
        "overlaps_hidden": len(overlaps) - len(shown),
        "overlap_min_evidence": MIN_OVERLAP_EVIDENCE,
        "reviewer_agreement": service.desk.agreement(principal, taxonomy=taxonomy),
    }
