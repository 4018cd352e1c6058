"""The dashboard in a real headless Chromium: charts rendered from real decisions.

The seeded database gets two weeks of decision history (the hold share doubles on the
last day) on top of the seed's real classifications, and reviewers resolve every
queued item, so every chart has data: stacked bucket shares, the reliability diagram,
the label table, insight cards and a drift alert.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from tests.web.test_model_panel import _start_training
from tests.web.test_review_ui import _accessible, _shot, _sign_in
from triaged.services.ids import new_id, utcnow
from triaged.services.training_progress import ProgressRecorder
from triaged.storage import training_repo
from triaged.storage.tables import decisions

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

HISTORY = [
    ("I was charged twice this month", "billing"),
    ("Please refund my last payment", "billing"),
    ("The app crashes when I open settings", "bug"),
    ("I get an error message when I log in", "bug"),
    ("How do I change my email address?", "account"),
    ("Where can I buy a bicycle helmet?", "account"),
    ("Is it going to rain tomorrow?", "bug"),
]


def _history(seeded) -> None:
    svc = seeded.service
    principal = svc.authenticate(seeded.admin_key)
    record = svc.taxonomy_record(principal, "support")
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows = []
    for day in range(14, 0, -1):
        hold_share = 0.3 if day == 1 else 0.12
        for _ in range(150):
            text, label = rng.choice(HISTORY)
            bucket = "hold" if rng.random() < hold_share else rng.choice(("auto", "auto", "review"))
            rows.append(
                {
                    "id": new_id("dec"),
                    "workspace_id": principal.workspace_id,
                    "taxonomy_id": record.id,
                    "taxonomy": "support",
                    "taxonomy_version": 1,
                    "model_version": "m",
                    "text": text,
                    "external_id": None,
                    "metadata": None,
                    "label": label,
                    "confidence": {"hold": 0.4, "review": 0.7}.get(bucket, 0.93),
                    "bucket": bucket,
                    "alternatives": [],
                    "scores": {},
                    "latency_ms": 2.0,
                    "key_id": None,
                    "final_label": None,
                    "final_source": None,
                    "resolved_at": None,
                    "created_at": now - timedelta(days=day - 1, seconds=rng.random() * 80000),
                }
            )
    with svc.db.write() as conn:
        conn.execute(decisions.insert(), rows)
    reviewer = svc.authenticate(seeded.reviewer_key)
    for item in svc.review.claim(reviewer, limit=100):
        ok = item["label"] != "account"
        svc.review.resolve(
            reviewer,
            item["id"],
            action="confirm" if ok else "correct",
            label=item["label"] if ok else "billing",
        )


def _png_pixels(data: bytes) -> list[tuple[int, int, int]]:
    """RGB pixels of an 8-bit RGB/RGBA PNG (what Chromium screenshots are)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 4
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    pixels = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        pixels += [tuple(line[x : x + 3]) for x in range(0, stride, channels)]
        prev = line
    return pixels  # type: ignore[return-value]


def _near(pixels, rgb, tol=12) -> int:
    return sum(1 for p in pixels if all(abs(p[k] - rgb[k]) <= tol for k in range(3)))


def test_dashboard_renders_charts_from_real_data(page, seeded) -> None:
    _history(seeded)
    _sign_in(page, seeded.admin_key)
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(re.compile(r"/ui/dashboard"))
    _accessible(page)
    assert page.locator("h1").inner_text() == "Taxonomy health"

    bars = page.locator("#bucket-chart rect.bar")
    days = {bars.nth(i).get_attribute("data-start") for i in range(bars.count())}
    assert len(days) >= 14
    held = page.locator('#bucket-chart rect.bar[data-bucket="hold"]')
    counts = [int(held.nth(i).get_attribute("data-count")) for i in range(held.count())]
    assert sum(counts) > 200
    box = page.locator("#bucket-chart").bounding_box()
    assert box["width"] > 300 and box["height"] > 100

    points = page.locator("#reliability-chart circle.point")
    assert points.count() >= 1
    audited = seeded.service.review.items(
        seeded.service.authenticate(seeded.admin_key), queue="audit", status="resolved", limit=500
    )["items"]
    decisive = [i for i in audited if i["action"] != "ambiguous"]
    assert (  # reliability from the audit sample only (issue 12), each bin with its count
        sum(int(points.nth(i).get_attribute("data-count")) for i in range(points.count()))
        == len(decisive)
    )
    assert page.locator("#reliability-chart text.tick").count() == 12  # both axes ticked
    assert page.locator("#reliability-chart line.ci").count() == points.count()

    rows = page.locator("#label-table tbody tr")
    assert {rows.nth(i).get_attribute("data-label") for i in range(rows.count())} == {
        "billing",
        "bug",
        "account",
    }
    billing = page.locator('#label-table tr[data-label="billing"] td').first.inner_text()
    assert int(billing) > 500
    assert page.locator("#drift-alerts .alert-now[data-bucket='hold']").count() == 1
    cards = page.locator("article.overlap-card, article.gap-card").count()
    # overlap advice only above an evidence threshold (issue 12): else a note says so
    hidden = page.get_by_text(re.compile(r"below 5 close calls plus corrections")).count()
    assert cards + hidden >= 1, page.locator("#h-overlaps").locator("..").inner_text()

    chart = _png_pixels(page.locator("#bucket-chart").screenshot())
    assert _near(chart, (0xC0, 0x39, 0x2B)) > 200  # hold bars drawn
    assert _near(chart, (0x2E, 0x7D, 0x4F)) > 1000  # auto bars drawn
    rel = _png_pixels(page.locator("#reliability-chart").screenshot())
    assert _near(rel, (0x2F, 0x5F, 0xB3)) > 20  # reliability points drawn
    _shot(page, "dashboard")


def test_model_panel_follows_a_training_without_a_reload(page, seeded) -> None:
    mid = _start_training(seeded, 2, 8, "fitting")
    _sign_in(page, seeded.admin_key)
    page.goto("/ui/dashboard?taxonomy=support")
    _accessible(page)
    assert page.locator("#training-stage").inner_text() == "fitting"
    assert page.locator("#training-progress").get_attribute("value") == "25"
    page.evaluate("window.__same_page = true")  # gone if the page reloaded
    ProgressRecorder(seeded.service.db, mid, every=0.0)(6, 8, "calibrating")
    page.locator('#training-progress[value="75"]').wait_for()
    assert page.locator("#training-stage").inner_text() == "calibrating"
    with seeded.service.db.write() as conn:
        training_repo.mark_failed(conn, mid, "MemoryError: out of memory", utcnow())
    page.locator("#model-failed").wait_for()
    assert "out of memory" in page.locator("#model-failed").inner_text()
    assert page.locator("#model-training").count() == 0
    assert page.evaluate("window.__same_page") is True
    assert page.get_by_role("button", name="Retrain now").count() == 1
    _shot(page, "dashboard-model")


def test_dashboard_needs_a_session(page) -> None:
    page.goto("/ui/dashboard")
    assert page.url.endswith("/ui/login?next=%2Fui%2Fdashboard")  # and comes back after
