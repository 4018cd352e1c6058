"""Fixes from a QA pass that live in the browser, in a real headless Chromium against a real
uvicorn server: Back after signing out, Enter on a focused control, "Select all" beside a
row someone else holds, long unbroken text on the dashboard."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.keys import press

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _sign_in(page: Any, key: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/$"))


def test_back_after_signing_out_shows_the_sign_in_page(browser, server, seeded):
    # a context of its own: the ``page`` fixture routes every request (to keep them on
    # loopback), and Playwright turns the HTTP cache off for routed contexts, while the
    # loop came from redirects the browser cached
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        _back_after_signing_out(page, seeded.reviewer_key)
    finally:
        context.close()


def _back_after_signing_out(page: Any, key: str) -> None:
    _sign_in(page, key)
    page.goto("/ui/login")  # signed in: redirected to the queues
    page.wait_for_url(re.compile(r"/ui/$"))
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/ui/login\?notice=signed_out$"))
    page.go_back()  # was net::ERR_TOO_MANY_REDIRECTS: a cached /ui/login -> /ui/ redirect
    page.wait_for_load_state()
    assert re.search(r"/ui/login$", page.url), page.url
    assert page.get_by_role("button", name="Sign in").is_visible()


def test_enter_on_a_focused_control_does_what_the_control_does(page, seeded):
    service = seeded.service
    alice = service.authenticate(seeded.reviewer_key)
    answered = []
    for _ in range(2):
        [item] = service.review.claim(alice, limit=1, taxonomy="support")
        service.review.resolve(alice, item["id"], action="confirm")
        answered.append(item["id"])
    first, second = answered
    _sign_in(page, seeded.reviewer_key)

    page.goto(f"/ui/review/{first}")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").focus()
    press(page, "Enter")  # follows the link, not "Next item"
    page.wait_for_url(re.compile(r"/ui/dashboard$"))

    page.goto(f"/ui/review/{first}")
    page.get_by_role("button", name="Reopen and change").focus()
    press(page, "Enter")  # presses the focused button
    page.wait_for_url(re.compile(rf"/ui/review/{first}\?notice=reopened"))

    page.goto(f"/ui/review/{second}")
    page.locator("#guidelines > summary").focus()
    press(page, "Enter")  # opens the details, stays on the page
    page.wait_for_timeout(300)
    assert page.url.endswith(f"/ui/review/{second}")
    assert page.locator("#guidelines").get_attribute("open") is not None
    page.locator("#item-heading").focus()
    press(page, "Enter")  # nothing focused that Enter means anything to: next item
    page.wait_for_url(re.compile(rf"/ui/review/{first}$"))  # the reopened one, held


def test_select_all_leaves_out_a_row_someone_else_holds(page, seeded):
    service = seeded.service
    bob = service.authenticate(service.create_key("acme", "reviewer", name="bob").key)
    [held] = service.review.claim(bob, limit=1, taxonomy="support")
    _sign_in(page, seeded.reviewer_key)
    page.goto("/ui/items?taxonomy=support")
    page.get_by_label("Select all").check()
    boxes = page.locator('#items-table input[name="item_ids"]')
    checked = boxes.evaluate_all("bs => bs.filter(b => b.checked).map(b => b.value)")
    assert held["id"] not in checked and len(checked) == seeded.n_items - 1
    page.get_by_label("Answer").select_option("confirm")
    page.get_by_role("button", name="Resolve selected").click()
    page.wait_for_url(re.compile(rf"notice={seeded.n_items - 1}"))
    assert service.review.item(bob, held["id"])["claimed_by"] == bob.key_id


def test_long_unbroken_text_does_not_widen_the_dashboard(page, seeded, monkeypatch):
    token = "a" * 5000
    real = seeded.service.dashboard

    def with_a_long_gap(*args: Any, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = real(*args, **kwargs)
        cluster = {
            "proposed_label": "b" * 300,
            "size": 3,
            "share_of_held": 0.5,
            "keywords": [token, "refund"],
            "between": ["billing", "bug"],
            "terms": [token],
            "examples": [token, "short example"],
            "decision_ids": ["dec_x"],
        }
        data["report"]["gap_clusters"] = [cluster, *data["report"].get("gap_clusters", [])]
        return data

    monkeypatch.setattr(seeded.service, "dashboard", with_a_long_gap)
    _sign_in(page, seeded.admin_key)
    for width in (1366, 375):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("/ui/dashboard?taxonomy=support")
        card = page.locator("article.gap-card").first
        assert len(card.locator(".keywords").inner_text()) < 200
        assert card.locator(".examples li").first.get_attribute("title") == token
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_long_label_name_does_not_widen_the_review_page(page, seeded):
    """A 100-character label without a space (the API accepts it) made the review page
    874 px wide at a 390 px viewport (the neighbour's label tag never wrapped)."""
    service = seeded.service
    admin = service.authenticate(seeded.admin_key)
    long_name = "refund_" + "x" * 93
    service.create_taxonomy(
        admin,
        {
            "name": "wide",
            "labels": [
                {
                    "name": long_name,
                    "description": "money back",
                    "examples": ["I want my money back", "please refund my order", "refund"],
                },
                {
                    "name": "bug",
                    "description": "the app is broken",
                    "examples": ["the app crashes", "it freezes on start", "error on login"],
                },
            ],
        },
    )
    service.wait_for_jobs(timeout=600)
    client = service.authenticate(seeded.client_key)
    from triaged.service import ClassifyItem

    service.classify(client, "wide", [ClassifyItem("can I get a refund for this")])
    reviewer = service.authenticate(seeded.reviewer_key)
    [item] = service.review.claim(reviewer, limit=1, taxonomy="wide")
    _sign_in(page, seeded.reviewer_key)
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"/ui/review/{item['id']}")
        assert long_name in page.content()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, width
