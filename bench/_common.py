"""Helpers shared by the benchmark scripts: dataset location and README sections."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("TRIAGED_DATASETS", ROOT.parent / "shared" / "datasets"))
README = ROOT / "README.md"


def update_readme(section: str, body: str) -> None:
    """Replace the text between ``<!-- bench:SECTION -->`` and ``<!-- /bench:SECTION -->``."""
    text = README.read_text(encoding="utf-8")
    start, end = f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {start} ... {end} section")
    README.write_text(
        pattern.sub(lambda _: f"{start}\n{body.rstrip()}\n{end}", text), encoding="utf-8"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]
