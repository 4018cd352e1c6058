"""Fixes from the 6 December QA pass that live in the browser, in a real headless Chromium
against a real uvicorn server: what a refused answer keeps on the review screen and on the
items page, and a Propose with no name stopped before it is sent."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _sign_in(page: Any, key: str) -> None:
    page.goto("/ui/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/$"))


def _posts(page: Any) -> list[str]:
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    return posts


def test_a_refused_proposal_keeps_its_name_and_an_empty_one_is_not_sent(page, seeded):
    """``Billing`` beside ``billing`` was refused and the New category field came back
    empty (the comment stayed); Propose with no name went to the server."""
    alice = seeded.service.authenticate(seeded.reviewer_key)
    [item] = seeded.service.review.claim(alice, limit=1, taxonomy="support")
    _sign_in(page, seeded.reviewer_key)
    page.goto(f"/ui/review/{item['id']}")
    posts = _posts(page)
    field = page.locator("#new_label")
    page.locator("#propose").click()
    page.wait_for_timeout(300)
    assert posts == []
    assert field.evaluate("el => el.validationMessage") == "Name the new category first."
    field.fill("Billing")
    page.locator("#note").fill("a second charge for one order")
    page.locator("#propose").click()
    page.wait_for_url(re.compile(r"notice=invalid"))
    assert posts and posts[0].endswith(f"/ui/review/{item['id']}/resolve")
    assert (
        "already exists" in page.locator(".notice, [role=status], [role=alert]").first.inner_text()
    )
    assert field.input_value() == "Billing"
    assert page.locator("#note").input_value() == "a second charge for one order"
    assert "note=" not in page.url and "second" not in page.url  # nothing typed in the URL
    field.fill("billing_duplicate")  # fixed: it is saved, and the next item follows
    page.locator("#propose").click()
    page.wait_for_url(re.compile(r"notice=saved|notice=empty"))
    done = seeded.service.review.item(alice, item["id"])
    assert done["status"] == "resolved" and done["new_label"] == "billing_duplicate"


def test_a_refused_bulk_answer_keeps_the_selection_and_what_was_typed(page, seeded):
    """A bulk answer the server refused (an unknown label, nothing ticked) came back with
    no item ticked, the answer reset and the label and comment emptied."""
    _sign_in(page, seeded.admin_key)
    page.goto("/ui/items?taxonomy=support")
    boxes = page.locator('#items-table input[name="item_ids"]')
    chosen = [boxes.nth(i).get_attribute("value") for i in (0, 2)]
    for i in (0, 2):
        boxes.nth(i).check()
    page.get_by_label("Answer").select_option("correct")
    page.get_by_label("Label or new category name").fill("not_a_label")
    page.get_by_label("Comment").fill("these are all the same")
    page.get_by_role("button", name="Resolve selected").click()
    page.wait_for_url(re.compile(r"error_sig="))
    assert "not_a_label" in page.get_by_role("alert").inner_text()
    ticked = boxes.evaluate_all("bs => bs.filter(b => b.checked).map(b => b.value)")
    assert ticked == chosen
    assert page.get_by_label("Answer").input_value() == "correct"
    assert page.get_by_label("Label or new category name").input_value() == "not_a_label"
    assert page.get_by_label("Comment").input_value() == "these are all the same"
    assert "note=" not in page.url and "same" not in page.url and "item_ids" not in page.url
    # nothing ticked: the answer and the comment stay
    for i in (0, 2):
        boxes.nth(i).uncheck()
    page.get_by_label("Answer").select_option("ambiguous")
    page.get_by_role("button", name="Resolve selected").click()
    page.wait_for_url(re.compile(r"error_sig="))
    assert "1 to 500" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Answer").input_value() == "ambiguous"
    assert page.get_by_label("Comment").input_value() == "these are all the same"
    # shown once: a reload starts afresh
    page.reload()
    assert page.get_by_label("Comment").input_value() == ""
