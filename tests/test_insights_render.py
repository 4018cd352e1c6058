"""The insights report as text, markdown and HTML (what `triaged insights --format` prints)
with the inputs people really send: very long texts and single very long words."""

from __future__ import annotations

import io

from rich.console import Console

from triaged.insights.render import render_text, to_html, to_markdown

LONG_TEXT = "word " * 1999  # 9,995 characters, under the 10,000 a classify takes
LONG_WORD = "a" * 3000


def _report() -> dict:
    cluster = {
        "id": 0,
        "size": 6,
        "held": 6,
        "share_of_held": 0.5,
        "proposed_label": "word_card",
        "keywords": [LONG_WORD, "word", "card"],
        "between": ["card_arrival"],
        "examples": [LONG_TEXT, "card " * 1990],
    }
    overlap = {
        "labels": ["a", "b"],
        "score": 0.5,
        "action": "sharpen_descriptions",
        "evidence": {"close_calls": 2, "corrections": {}, "examples": [LONG_TEXT]},
    }
    return {
        "taxonomy": "t",
        "summary": {"decisions": 12, "held": 12, "gap_candidates": 12},
        "gap_clusters": [cluster],
        "overlaps": [overlap],
        "labels": [],
    }


def test_long_inputs_are_cut_as_the_dashboard_cuts_them() -> None:
    """A 10,000-character input filled the markdown table's cell (and the HTML page, and a
    terminal screen of text) whole; the dashboard shows 240 characters of an input and 40
    of a keyword, and so do the reports now, with an ellipsis."""
    console = Console(file=io.StringIO(), width=140)
    render_text(_report(), console)
    outputs = {
        "markdown": to_markdown(_report()),
        "html": to_html(_report()),
        "text": console.file.getvalue(),  # type: ignore[attr-defined]
    }
    for fmt, out in outputs.items():
        assert "word word" in out and "\u2026" in out, fmt
        assert "word " * 60 not in out, fmt  # 300 characters of the long text
        assert "a" * 41 not in out, fmt
        assert len(out) < 6000, (fmt, len(out))
