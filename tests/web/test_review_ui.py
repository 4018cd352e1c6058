"""The reviewer UI in a real headless Chromium against a real uvicorn server and SQLite file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.web.keys import press

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SHOTS = (
    Path(os.environ.get("TRIAGED_SCREENSHOTS", ""))
    if os.environ.get("TRIAGED_SCREENSHOTS")
    else None
)


def _shot(page, name):
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


A11Y_PROBLEMS = """() => {
  const problems = [];
  const named = el => (el.getAttribute('aria-label') || el.innerText || '').trim();
  document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(el => {
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) {
      problems.push('unlabelled ' + el.outerHTML);
    }
  });
  document.querySelectorAll('button, a[href]').forEach(el => {
    if (!named(el)) { problems.push('nameless ' + el.outerHTML); }
  });
  if (!document.documentElement.lang) { problems.push('no lang'); }
  if (document.querySelectorAll('main').length !== 1) { problems.push('not one main'); }
  if (document.querySelectorAll('h1').length !== 1) { problems.push('not one h1'); }
  return problems;
}"""


def _accessible(page):
    assert page.evaluate(A11Y_PROBLEMS) == []


def _sign_in(page, key):
    page.goto("/ui/")
    assert page.url.endswith("/ui/login")
    _accessible(page)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/$"))


def _counts(page, queue):
    row = page.locator(f'table.queues tr[data-queue="{queue}"]')
    return {
        k: int(row.locator(f'td[data-count="{k}"]').inner_text())
        for k in ("pending", "claimed", "resolved")
    }


def _open_total(page):
    return int(page.locator("#total-open").inner_text())


def _item_text(page):
    return page.locator("#item-text").inner_text()


def _next_item(page, previous_text):
    page.wait_for_function(
        "t => { const e = document.querySelector('#item-text'); return e && e.innerText !== t; }",
        arg=previous_text,
    )
    page.wait_for_load_state("domcontentloaded")
    return _item_text(page)


def test_sign_in_claim_resolve_with_the_keyboard_and_see_counts_change(page, seeded):
    _sign_in(page, seeded.reviewer_key)
    assert _open_total(page) == seeded.n_items
    before = {q: _counts(page, q) for q in ("hold", "review", "audit")}
    assert sum(c["pending"] for c in before.values()) == seeded.n_items
    assert sum(c["resolved"] for c in before.values()) == 0
    _shot(page, "overview-before")
    _accessible(page)

    page.get_by_role("button", name="Start reviewing support").click()
    page.wait_for_url(re.compile(r"/ui/review/rvi_"))
    first = _item_text(page)
    assert page.get_by_role("heading", level=1).is_visible()
    assert page.locator("#item-heading").evaluate("e => document.activeElement === e")
    _shot(page, "review")
    _accessible(page)

    press(page, "c")  # confirm the model's label
    second = _next_item(page, first)
    assert page.get_by_role("status").inner_text() == "Saved."

    press(page, "2")  # correct to the second option
    third = _next_item(page, second)

    press(page, "n")  # new category: the name field takes focus
    assert page.locator("#new_label").evaluate("e => document.activeElement === e")
    page.keyboard.type("travel")
    press(page, "Enter")
    fourth = _next_item(page, third)

    press(page, "a")  # ambiguous
    fifth = _next_item(page, fourth)

    press(page, "s")  # skip: hand it back, get another one
    sixth = _next_item(page, fifth)
    assert len({first, second, third, fourth, fifth, sixth}) == 6

    page.get_by_role("link", name="Queues").click()
    page.wait_for_url(re.compile(r"/ui/$"))
    after = {q: _counts(page, q) for q in ("hold", "review", "audit")}
    assert sum(c["resolved"] for c in after.values()) == 4
    assert sum(c["claimed"] for c in after.values()) == 1  # the sixth, still held
    assert _open_total(page) == seeded.n_items - 4
    _shot(page, "overview-after")

    items = seeded.service.review.items(
        seeded.service.authenticate(seeded.reviewer_key), status="resolved", limit=50
    )["items"]
    assert sorted(i["action"] for i in items) == ["ambiguous", "confirm", "correct", "new_category"]
    assert {i["new_label"] for i in items} >= {"travel"}


def test_cookie_flags_sign_out_and_bad_keys(page, seeded):
    page.goto("/ui/login")
    page.get_by_label("API key").fill(seeded.client_key)
    page.get_by_role("button", name="Sign in").click()
    assert "cannot review" in page.get_by_role("alert").inner_text()
    page.get_by_label("API key").fill("tri_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()

    page.get_by_label("API key").fill(seeded.reviewer_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/$"))
    [cookie] = [c for c in page.context.cookies() if c["name"] == "triaged_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert seeded.reviewer_key not in cookie["value"]

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/ui/login"))
    assert page.get_by_role("status").inner_text() == "You are signed out."
    page.goto("/ui/")
    assert page.url.endswith("/ui/login")


def test_queue_drains_to_an_empty_notice(page, seeded):
    _sign_in(page, seeded.reviewer_key)
    page.get_by_role("button", name="Start reviewing support").click()
    page.wait_for_url(re.compile(r"/ui/review/rvi_"))
    for _ in range(seeded.n_items + 1):
        if "/ui/review/" not in page.url:
            break
        text = _item_text(page)
        press(page, "c")
        page.wait_for_function(
            "t => { const e = document.querySelector('#item-text');"
            " return !e || e.innerText !== t; }",
            arg=text,
        )
    page.wait_for_url(re.compile(r"/ui/\?"))
    assert "Nothing left" in page.get_by_role("status").inner_text()


def test_none_of_these_labels_by_key_and_by_click(page, seeded):
    service = seeded.service
    reviewer = service.authenticate(seeded.reviewer_key)
    _sign_in(page, seeded.reviewer_key)
    page.get_by_role("button", name="Start reviewing support").click()
    page.wait_for_url(re.compile(r"/ui/review/rvi_"))
    press(page, "?")  # the help overlay lists the key
    keys = page.locator("#help dl.keys")
    assert keys.is_visible()
    assert "none of these labels" in keys.inner_text()
    assert keys.locator("kbd", has_text="o").count() >= 1
    press(page, "Escape")
    assert not keys.is_visible()
    button = page.get_by_role("button", name="None of these labels: out of scope")
    assert button.get_attribute("aria-keyshortcuts") == "o"
    _accessible(page)
    _shot(page, "review-none-of-these")

    first_id = page.url.split("/ui/review/")[1].split("?")[0]
    first = _item_text(page)
    press(page, "o")
    second = _next_item(page, first)
    assert page.get_by_role("status").inner_text() == "Saved."
    second_id = page.url.split("/ui/review/")[1].split("?")[0]
    page.get_by_role("button", name="None of these labels: out of scope").click()
    _next_item(page, second)

    for item_id in (first_id, second_id):
        item = service.review.item(reviewer, item_id)
        assert item["status"] == "resolved" and item["action"] == "out_of_scope"
        assert item["final_label"] == "oos" and item["final_source"] == "review"
        assert item["resolved_label"] == "oos" and item["label"] != "oos"
