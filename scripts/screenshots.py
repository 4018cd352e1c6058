"""README screenshots of the reviewer workspace, generated from a real server and Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/img]

Seeds a temporary database with a 150-label CLINC150 slice (from ../shared/datasets;
only this script and the tests read it), has two reviewers answer it with a 30% overlap,
and writes ``review-desktop.png`` (1366x768), ``review-mobile.png`` (375x812),
``review-dark.png`` (1366x768, prefers-color-scheme: dark), ``review-picker.png``,
``items.png`` and ``dashboard.png`` (its first 1100 px).  Needs Chromium (TRIAGED_CHROMIUM,
default /usr/bin/chromium) and the dev extra (playwright).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servicekit import live_server  # noqa: E402
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.web.seed_review import NAME, ClincSeeded, seed_clinc  # noqa: E402

from triaged.api import create_app  # noqa: E402
from triaged.services import review_workspace as rw  # noqa: E402


def _answer_some(s: ClincSeeded) -> None:
    """Two reviewers: alice answers most items, r0 gives second opinions (30% overlap)."""
    svc = s.service
    admin = svc.authenticate(s.admin_key)
    alice = svc.authenticate(s.reviewer_key)
    bob = svc.authenticate(s.extra_keys[0])  # type: ignore[attr-defined]
    rw.update_settings(
        svc,
        admin,
        NAME,
        overlap_rate=0.3,
        guidelines="Pick the intent the user wants done, not the topic they mention.\n"
        "A balance question about a card is `balance`, not `card_declined`.\n"
        "Nothing fits? Press o (out of scope); a new intent? Press n.",
    )
    names = [lb["name"] for lb in s.labels]
    for _ in range(s.n_items - 6):  # leave a few for the screenshots
        items = svc.review.claim(alice, limit=1, taxonomy=NAME)
        if not items:
            break
        it = items[0]
        label = s.truth[it["text"]]
        if label == it["label"]:
            svc.review.resolve(alice, it["id"], action="confirm")
        else:
            svc.review.resolve(alice, it["id"], action="correct", label=label)
    for n, it in enumerate(iter(lambda: svc.review.claim(bob, limit=1, taxonomy=NAME), [])):
        item = it[0]
        if item["review_round"] != 2:
            svc.review.release(bob, item["id"])
            break
        label = item["resolved_label"] or item["label"]
        if n % 4 == 3:
            label = names[(names.index(label) + 1) % len(names)] if label in names else label
        svc.review.resolve(bob, item["id"], action="correct", label=label)


def _sign_in(page: Any, key: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("API key").fill(key)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ui/$"))


def _start(page: Any) -> None:
    page.get_by_role("button", name=f"Start reviewing {NAME}").click()
    page.wait_for_url(re.compile(r"/ui/review/rvi_"))


def shoot(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        s = seed_clinc(Path(tmp), n_items=40, reviewers=2)
        try:
            _answer_some(s)
            with live_server(create_app(service=s.service)) as srv, sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                shots: list[tuple[str, dict[str, Any], str]] = [
                    ("review-desktop.png", {"viewport": {"width": 1366, "height": 768}}, "review"),
                    ("review-picker.png", {"viewport": {"width": 1366, "height": 768}}, "picker"),
                    (
                        "review-dark.png",
                        {"viewport": {"width": 1366, "height": 768}, "color_scheme": "dark"},
                        "review",
                    ),
                    (
                        "review-mobile.png",
                        {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2},
                        "review",
                    ),
                    ("items.png", {"viewport": {"width": 1366, "height": 768}}, "items"),
                    ("dashboard.png", {"viewport": {"width": 1366, "height": 1100}}, "dashboard"),
                ]
                for name, options, what in shots:
                    context = browser.new_context(base_url=srv.url, **options)
                    page = context.new_page()
                    key = s.admin_key if what == "dashboard" else s.reviewer_key
                    _sign_in(page, key)
                    full = False
                    if what in ("review", "picker"):
                        _start(page)
                        if what == "picker":
                            page.keyboard.press("l")
                            page.keyboard.type("card")
                    elif what == "items":
                        page.goto(f"/ui/items?taxonomy={NAME}&status=pending")
                    else:
                        page.goto(f"/ui/dashboard?taxonomy={NAME}")
                    path = out / name
                    page.screenshot(path=str(path), full_page=full)
                    written.append(path)
                    context.close()
                browser.close()
        finally:
            s.service.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    os.environ.setdefault("TRIAGED_LOG_LEVEL", "warning")
    for path in shoot(args.out):
        print(path)


if __name__ == "__main__":
    main()
