"""The insights report as a terminal view (rich), markdown or a self-contained HTML page.

All three read the JSON of :meth:`InsightsReport.to_dict` (or the API response), so
the CLI can render a report it computed or one it fetched.
"""

from __future__ import annotations

import html
import re
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from triaged.wording import plural

__all__ = ["to_html", "to_markdown", "to_rich"]


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1%}"


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def _headline(data: dict[str, Any]) -> str:
    s = data.get("summary", {})
    return (
        f"{plural(s.get('decisions', 0), 'decision')}, {s.get('held', 0)} held "
        f"({_pct(s.get('held_share'))}); "
        f"{plural(len(data.get('gap_clusters', [])), 'gap cluster')} from "
        f"{plural(s.get('gap_candidates', 0), 'uncertain input')} "
        f"({_explained(s)}); "
        f"{plural(len(data.get('overlaps', [])), 'overlapping pair')}"
    )


def _explained(s: dict[str, Any]) -> str:
    """How much of the uncertain traffic is explained: by existing labels, by the gap
    clusters, and the unclustered remainder."""
    return (
        f"{_pct(s.get('gap_explained_share'))} near existing labels, "
        f"{_pct(s.get('gap_clustered_share'))} in gap clusters, "
        f"{_pct(s.get('unclustered_share'))} unclustered"
    )


#: as the dashboard shows them: an input text at most 240 characters, a keyword 40
EXAMPLE_CHARS, KEYWORD_CHARS = 240, 40


def _cut(text: Any, limit: int = EXAMPLE_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis (a 10,000-character
    input filled a markdown table cell or a terminal screen)."""
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 1] + "\u2026"


def _keywords(keywords: list[str], n: int) -> str:
    return ", ".join(_cut(k, KEYWORD_CHARS) for k in keywords[:n])


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def _md_cell(text: Any) -> str:
    """Text from decisions and labels as inert markdown: HTML escaped, markup characters too."""
    escaped = html.escape(" ".join(str(text).split()), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def to_markdown(data: dict[str, Any], *, max_rows: int = 20) -> str:
    """GitHub-flavoured markdown: summary, gap clusters, overlaps, label health."""
    lines = [f"# Insights: {_md_cell(data.get('taxonomy', ''))}", "", _headline(data), ""]
    lines += ["## Gap clusters", ""]
    clusters = data.get("gap_clusters", [])[:max_rows]
    if clusters:
        lines += [
            "| # | proposed label | size | share of held | between | keywords | example |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for c in clusters:
            example = _cut(c["examples"][0]) if c.get("examples") else ""
            lines.append(
                f"| {c['id']} | {_md_cell(c['proposed_label'])} | {c['size']} "
                f"| {_pct(c.get('share_of_held'))} | {_md_cell(', '.join(c['between']))} "
                f"| {_md_cell(_keywords(c['keywords'], 5))} | {_md_cell(example)} |"
            )
    else:
        lines.append("No gap clusters in this window.")
    lines += ["", "## Overlapping labels", ""]
    overlaps = data.get("overlaps", [])[:max_rows]
    if overlaps:
        lines += [
            "| labels | score | action | close calls | corrections | example cross-NN |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for o in overlaps:
            ev = o["evidence"]
            lines.append(
                f"| {_md_cell(' / '.join(o['labels']))} | {_num(o['score'])} "
                f"| {_md_cell(o['action'])} "
                f"| {ev.get('close_calls', 0)} | {sum(ev.get('corrections', {}).values())} "
                f"| {_num(ev.get('example_cross_nn_rate'))} |"
            )
    else:
        lines.append("No overlapping labels in this window.")
    lines += [
        "",
        "## Labels",
        "",
        "| label | volume | mean confidence | held | review | corrected | ECE |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for h in data.get("labels", []):
        lines.append(
            f"| {_md_cell(h['label'])} | {h['volume']} | {_num(h['mean_confidence'])} "
            f"| {_pct(h['held_share'])} | {_pct(h['review_share'])} "
            f"| {_pct(h['correction_rate'])} | {_num(h['ece'])} |"
        )
    return "\n".join(lines) + "\n"


def to_rich(data: dict[str, Any], *, max_rows: int = 20) -> Group:
    """Rich renderables for a terminal: a headline panel and three tables."""
    gaps = Table(title="Gap clusters (inputs no label covers)", expand=True)
    for col in ("#", "proposed label", "size", "held share", "between", "keywords", "example"):
        gaps.add_column(col, overflow="fold")
    for c in data.get("gap_clusters", [])[:max_rows]:
        gaps.add_row(
            str(c["id"]),
            Text(c["proposed_label"]),
            str(c["size"]),
            _pct(c.get("share_of_held")),
            Text(", ".join(c["between"])),
            Text(_keywords(c["keywords"], 5)),
            Text(_cut(c["examples"][0]) if c["examples"] else ""),
        )
    over = Table(title="Overlapping labels", expand=True)
    for col in ("labels", "score", "action", "close calls", "corrections", "cross-NN"):
        over.add_column(col, overflow="fold")
    for o in data.get("overlaps", [])[:max_rows]:
        ev = o["evidence"]
        over.add_row(
            Text(" / ".join(o["labels"])),
            _num(o["score"]),
            o["action"],
            str(ev.get("close_calls", 0)),
            str(sum(ev.get("corrections", {}).values())),
            _num(ev.get("example_cross_nn_rate")),
        )
    labels = Table(title="Labels", expand=True)
    for col in ("label", "volume", "mean conf.", "held", "review", "corrected", "ECE"):
        labels.add_column(col, overflow="fold")  # a long label wraps, never cut
    for h in data.get("labels", []):
        labels.add_row(
            Text(h["label"]),
            str(h["volume"]),
            _num(h["mean_confidence"]),
            _pct(h["held_share"]),
            _pct(h["review_share"]),
            _pct(h["correction_rate"]),
            _num(h["ece"]),
        )
    # traffic texts, labels and names are shown as written: as rich markup, "[P1] refund"
    # lost its "[P1]" and "[/b]" raised a MarkupError
    head = Panel(_headline(data), title=Text(f"insights: {data.get('taxonomy', '')}"))
    return Group(head, gaps, over, labels)


def render_text(data: dict[str, Any], console: Console) -> None:
    console.print(to_rich(data))


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330;max-width:80rem}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border-bottom:1px solid #dde2ea;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f9}code{background:#f4f6f9;padding:0 .2rem}
.bar{display:inline-block;height:.6rem;background:#c0392b;border-radius:2px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def to_html(data: dict[str, Any], *, max_rows: int = 50) -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external resources)."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Insights: {_e(data.get('taxonomy', ''))}</title><style>{_CSS}</style></head>",
        f"<body><h1>Insights: {_e(data.get('taxonomy', ''))}</h1><p>{_e(_headline(data))}</p>",
        "<h2>Gap clusters</h2><table><thead><tr><th>#</th><th>proposed label</th><th>size</th>"
        "<th>share of held</th><th>between</th><th>keywords</th><th>examples</th></tr></thead>"
        "<tbody>",
    ]
    for c in data.get("gap_clusters", [])[:max_rows]:
        width = max(2, round(120 * float(c.get("share_of_held") or 0)))
        examples = "<br>".join(_e(_cut(t)) for t in c["examples"][:3])
        parts.append(
            f"<tr><td>{c['id']}</td><td><code>{_e(c['proposed_label'])}</code></td>"
            f"<td>{c['size']}</td><td><span class='bar' style='width:{width}px'></span> "
            f"{_pct(c.get('share_of_held'))}</td><td>{_e(', '.join(c['between']))}</td>"
            f"<td>{_e(_keywords(c['keywords'], 6))}</td><td>{examples}</td></tr>"
        )
    parts.append(
        "</tbody></table><h2>Overlapping labels</h2><table><thead><tr><th>labels</th>"
        "<th>score</th><th>action</th><th>evidence</th><th>close calls</th></tr></thead>"
        "<tbody>"
    )
    for o in data.get("overlaps", [])[:max_rows]:
        ev = o["evidence"]
        evidence = (
            f"{plural(ev.get('close_calls', 0), 'close call')}, "
            f"{plural(sum(ev.get('corrections', {}).values()), 'correction')}, "
            f"example cross-NN {_num(ev.get('example_cross_nn_rate'))}"
        )
        texts = "<br>".join(_e(_cut(t)) for t in ev.get("examples", [])[:3])
        parts.append(
            f"<tr><td>{_e(' / '.join(o['labels']))}</td><td>{_num(o['score'])}</td>"
            f"<td>{_e(o['action'])}</td><td>{_e(evidence)}</td><td>{texts}</td></tr>"
        )
    parts.append(
        "</tbody></table><h2>Labels</h2><table><thead><tr><th>label</th><th>volume</th>"
        "<th>mean confidence</th><th>held</th><th>review</th><th>corrected</th>"
        "<th>ECE</th></tr></thead><tbody>"
    )
    for h in data.get("labels", []):
        parts.append(
            f"<tr><td>{_e(h['label'])}</td><td>{h['volume']}</td>"
            f"<td>{_num(h['mean_confidence'])}</td><td>{_pct(h['held_share'])}</td>"
            f"<td>{_pct(h['review_share'])}</td><td>{_pct(h['correction_rate'])}</td>"
            f"<td>{_num(h['ece'])}</td></tr>"
        )
    parts.append("</tbody></table></body></html>")
    return "".join(parts)
