"""The reliability chart's bin counts stay inside the chart, in headless Chromium with the
dashboard's stylesheet: the busiest bin of an auto lane sits at confidence 0.9-1.0 and
accuracy near 1.0, where its "n=73" was drawn past the right and top edges (cut off)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from triaged.web.review_honesty import H, W, audited_reliability_svg

CSS = Path(__file__).resolve().parents[2] / "src" / "triaged" / "web" / "static" / "triaged.css"


def _bin(lower: float, confidence: float, correct: int, count: int) -> dict[str, Any]:
    return {
        "lower_edge": lower,
        "upper_edge": lower + 0.1,
        "count": count,
        "correct": correct,
        "confidence": confidence,
        "accuracy": correct / count,
        "interval": [max(0.0, correct / count - 0.2), 1.0],
    }


def test_every_bin_count_is_drawn_inside_the_chart(browser: Any) -> None:
    bins = [
        _bin(0.0, 0.05, 0, 12),
        _bin(0.5, 0.55, 6, 12),
        _bin(0.8, 0.86, 2, 3),
        _bin(0.9, 0.97, 10073, 10073),
    ]
    svg = audited_reliability_svg({"n": 10100, "bins": bins})
    page = browser.new_page(viewport={"width": 800, "height": 600})
    try:
        page.set_content(f"<style>{CSS.read_text()}</style><div style='width:{W}px'>{svg}</div>")
        boxes = page.eval_on_selector_all(
            "svg.reliability text.count",
            "els => els.map(e => { const b = e.getBBox(); "
            "return [e.textContent, b.x, b.y, b.x + b.width, b.y + b.height]; })",
        )
    finally:
        page.close()
    assert len(boxes) == len(bins)
    for text, left, top, right, bottom in boxes:
        assert left >= 0 and right <= W, (text, left, right, W)
        assert top >= 0 and bottom <= H, (text, top, bottom, H)
