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


def _outputs(report: dict) -> dict[str, str]:
    console = Console(file=io.StringIO(), width=400)
    render_text(report, console)
    return {
        "markdown": to_markdown(report),
        "html": to_html(report),
        "text": " ".join(console.file.getvalue().split()),  # type: ignore[attr-defined]
    }


def test_counts_of_one_are_singular() -> None:
    """The headline said "1 gap clusters from 1 uncertain inputs" and "1 overlapping
    pairs"; the HTML report's evidence "1 close calls, 1 corrections"."""
    one = _report()
    one["summary"] = {"decisions": 1, "held": 1, "held_share": 1.0, "gap_candidates": 1}
    one["overlaps"][0]["evidence"].update(close_calls=1, corrections={"a->b": 1})
    for fmt, out in _outputs(one).items():
        assert "1 decision, 1 held (100.0%)" in out, fmt
        assert "1 gap cluster from 1 uncertain input (" in out, fmt
        assert "1 overlapping pair" in out and "1 overlapping pairs" not in out, fmt
    assert "1 close call, 1 correction," in to_html(one)
    two = _report()
    two["gap_clusters"] *= 2
    for fmt, out in _outputs(two).items():
        assert "12 decisions, 12 held" in out and "2 gap clusters from 12 uncertain inputs" in out
        assert "1 overlapping pair" in out, fmt


def test_the_shares_of_no_decisions_are_null_and_shown_as_a_dash() -> None:
    """A window without decisions said ``held_share`` 0.0 ("0 held (0.0%)"): a share of
    nothing is undefined, so it is null in the JSON and "–" in the reports; the SDK reads it."""
    from triaged.client import Insights
    from triaged.insights import compute_insights
    from triaged.taxonomy import Label, Taxonomy

    tax = Taxonomy(name="t", labels=(Label("a", "", ("x one",)), Label("b", "", ("y two",))))
    data = compute_insights([], tax).to_dict()
    summary = data["summary"]
    assert summary["decisions"] == 0 and summary["held_share"] is None
    assert summary["clustered_held_share"] is None
    assert summary["gap_explained_share"] is None and summary["unclustered_share"] is None
    for fmt, out in _outputs(data).items():
        assert "0 decisions, 0 held (–); 0 gap clusters from 0 uncertain inputs" in out, fmt
    got = Insights.from_dict({**data, "window": {"since": "2026-01-01", "until": None}})
    assert got.summary["held_share"] is None


def _label_health(label: str) -> dict:
    return {
        "label": label,
        "volume": 3,
        "mean_confidence": 0.5,
        "held_share": 0.1,
        "review_share": 0.1,
        "correction_rate": 0.1,
        "ece": 0.1,
    }


def test_texts_and_names_with_brackets_are_shown_as_written() -> None:
    """Real traffic has brackets ("[URGENT] refund"): the terminal report read them as rich
    markup, dropping "[P1]" and raising MarkupError on "[/b]"."""
    report = _report()
    report["taxonomy"] = "ops[/i]"
    report["gap_clusters"][0].update(
        proposed_label="[P1] refund", examples=["[/b] my refund [URGENT]"], keywords=["[x]"]
    )
    report["labels"] = [_label_health("[P1] urgent")]
    text = _outputs(report)["text"]
    for written in ("insights: ops[/i]", "[P1] refund", "[/b] my refund [URGENT]", "[x]"):
        assert written in text, written
    assert "[P1] urgent" in text


def test_a_long_label_wraps_in_a_narrow_terminal_and_is_never_cut() -> None:
    label = "a_really_long_label_name_that_goes_on_and_on_forever_xyz"
    report = _report()
    report["labels"] = [_label_health(label)]
    console = Console(file=io.StringIO(), width=60)
    render_text(report, console)
    lines = console.file.getvalue().split("Labels")[-1].splitlines()  # type: ignore[attr-defined]
    cells = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert cells == label
