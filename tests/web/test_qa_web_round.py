"""Fixes from the 6 December QA pass over the UI, checked through the ASGI app: what a
refused form keeps (and where: not in the address), the items filters' errors, one day
of dates, paging after a bulk answer, the address asked for before signing in, an admin
settling a disagreement of their own, and the usage page of a plan without a quota."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.seed import Seeded, seed
from triaged.api import create_app
from triaged.services import review_workspace as rw
from triaged.web import review_items_page

TEXTS = [
    "I was charged twice and need a refund",
    "The app crashes on start",
    "Where is the nearest train station?",
]


@pytest.fixture
def ui(tmp_path: Any) -> Iterator[tuple[TestClient, Seeded]]:
    s = seed(tmp_path, texts=TEXTS)
    with TestClient(create_app(service=s.service), follow_redirects=False) as client:
        yield client, s
    s.service.close()


def _sign_in(client: TestClient, key: str) -> str:
    r = client.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    r = client.post("/ui/login", data={"api_key": key, "login_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    page = client.get("/ui/")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def test_usage_shows_the_quota_example_only_for_a_plan_with_a_quota(ui):
    """An unlimited plan showed "429 ... monthly quota of plan 'unlimited' exhausted"."""
    client, s = ui
    _sign_in(client, s.admin_key)
    page = client.get("/ui/usage").text
    assert "no monthly quota" in page
    assert "quota_exceeded" not in page and 'id="quota-example"' not in page
    s.service.set_workspace_plan("acme", "free")
    page = client.get("/ui/usage").text
    assert 'id="quota-example"' in page and "monthly quota of plan 'free'" in page


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-item="([^"]+)">', html)


def _error(html: str) -> str | None:
    m = re.search(r'<p class="error" role="alert">([^<]*)</p>', html)
    return m.group(1) if m else None


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"confidence_min": "2", "confidence_max": "-1"}, "confidence_min must be a number"),
        ({"confidence_max": "-1"}, "confidence_max must be a number from 0 to 1"),
        (
            {"confidence_min": "abc"},
            "confidence_min must be a number from 0 to 1, not &#39;abc&#39;",
        ),
        ({"confidence_min": "nan"}, "confidence_min must be a number"),
        ({"confidence_min": "0.9", "confidence_max": "0.1"}, "is above confidence_max"),
    ],
)
def test_a_bad_confidence_filter_is_said_on_the_page_and_kept_in_the_form(ui, query, said):
    """``confidence_min=2&confidence_max=-1`` showed "0 items" and ``confidence_min=abc``
    dropped the filter, both without a word (the API answers 422)."""
    client, s = ui
    _sign_in(client, s.reviewer_key)
    html = client.get("/ui/items", params={"taxonomy": "support", **query}).text
    assert said in (_error(html) or ""), _error(html)
    assert _rows(html) == []
    for field, value in query.items():
        assert f'name="{field}" min="0" max="1" step="0.01" value="{value}"' in html
    fine = client.get("/ui/items", params={"confidence_min": "0", "confidence_max": "1"}).text
    assert _error(fine) is None and len(_rows(fine)) == len(TEXTS)


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"queue": "bogus"}, "queue &#39;bogus&#39; is not one of hold, review, audit"),
        ({"status": "done"}, "status &#39;done&#39; is not one of pending, claimed, resolved"),
    ],
)
def test_an_unknown_queue_or_status_is_said(ui, query, said):
    """``queue=bogus`` listed every item as if no filter was given."""
    client, s = ui
    _sign_in(client, s.reviewer_key)
    html = client.get("/ui/items", params={"taxonomy": "support", **query}).text
    assert said in (_error(html) or ""), _error(html)
    assert _rows(html) == []


def test_one_day_of_dates_lists_that_day(ui):
    """``since=D&until=D`` said "since must be before until": the form's date-only "until"
    now includes that day; the API's ``until`` stays exclusive."""
    client, s = ui
    _sign_in(client, s.reviewer_key)
    items = s.service.review.items(s.service.authenticate(s.admin_key), limit=10)["items"]
    day = items[0]["created_at"][:10]
    html = client.get("/ui/items", params={"since": day, "until": day}).text
    assert _error(html) is None and len(_rows(html)) == len(TEXTS)
    assert "through (inclusive)" in html and f'name="until" value="{day}"' in html
    earlier = client.get("/ui/items", params={"until": "2000-01-01"}).text
    assert _rows(earlier) == []
    # a date and time is passed as given (exclusive)
    html = client.get("/ui/items", params={"since": day, "until": f"{day}T00:00:00+00:00"}).text
    assert "since must be before until" in (_error(html) or "")


def test_a_bulk_answer_on_page_2_returns_to_page_2(ui, monkeypatch):
    """The form's ``back`` omitted the cursor: a bulk answer on page 2 went to page 1 (with
    no status filter the answered item stays on its page, resolved)."""
    monkeypatch.setattr(review_items_page, "PAGE", 1)
    client, s = ui
    csrf = _sign_in(client, s.admin_key)
    first = client.get("/ui/items", params={"taxonomy": "support"}).text
    cursor = re.search(r"cursor=(rvi_[0-9a-f]{32})", first).group(1)  # type: ignore[union-attr]
    second = client.get("/ui/items", params={"taxonomy": "support", "cursor": cursor}).text
    [item_id] = _rows(second)
    back = re.search(r'name="back" value="([^"]*)"', second).group(1)  # type: ignore[union-attr]
    assert back == f"taxonomy=support&amp;cursor={cursor}"
    form = {
        "csrf_token": csrf,
        "item_ids": [item_id],
        "action": "ambiguous",
        "back": back.replace("&amp;", "&"),
    }
    r = client.post("/ui/items/bulk", data=form)
    assert r.status_code == 303
    assert r.headers["location"] == f"/ui/items?taxonomy=support&cursor={cursor}&notice=1"
    after = client.get(r.headers["location"]).text
    assert "Resolved 1 item." in after and _rows(after) == [item_id]  # still page 2
    assert "Cannot be selected: already resolved" in after


def _login_token(client: TestClient, path: str = "/ui/login") -> str:
    page = client.get(path).text
    return re.search(r'name="login_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_signing_in_returns_to_the_page_asked_for(ui):
    """Signed out, ``/ui/items?taxonomy=support`` went to ``/ui/login`` and, after signing
    in, to ``/ui/``."""
    client, s = ui
    r = client.get("/ui/items", params={"taxonomy": "support"})
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=%2Fui%2Fitems%3Ftaxonomy%3Dsupport"
    page = client.get(r.headers["location"]).text
    assert 'name="next" value="/ui/items?taxonomy=support"' in page
    token = _login_token(client)
    form = {"api_key": s.reviewer_key, "login_token": token, "next": "/ui/items?taxonomy=support"}
    r = client.post("/ui/login", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/ui/items?taxonomy=support"
    # signed in already: the sign-in page sends you on
    r = client.get("/ui/login", params={"next": "/ui/items?status=pending"})
    assert r.headers["location"] == "/ui/items?status=pending"


@pytest.mark.parametrize(
    "bad",
    [
        "//evil.example/ui/",
        "/\\evil.example",
        "/ui/\\\\evil.example",
        "https://evil.example/ui/",
        "http:/ui/items",
        "/ui//evil.example",
        "javascript:alert(1)",
        "/ui/items\r\nSet-Cookie: x=1",
        "/v1/review/items",
        "ui/items",
        "/ui/login",
        "/ui/%2e%2e/%2e%2e/docs",  # ".." to the browser: it left /ui/ until 7 December
        "/ui/%252e%252e/docs",
        "/ui/./../docs",
    ],
)
def test_the_return_address_is_only_a_page_of_this_ui(ui, bad):
    client, s = ui
    assert 'name="next"' not in client.get("/ui/login", params={"next": bad}).text
    form = {"api_key": s.reviewer_key, "login_token": _login_token(client), "next": bad}
    r = client.post("/ui/login", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/ui/"


def _claim_one(s: Seeded) -> dict[str, Any]:
    alice = s.service.authenticate(s.reviewer_key)
    [item] = s.service.review.claim(alice, limit=1, taxonomy="support")
    return item


def test_a_refused_answer_keeps_the_comment_out_of_the_address(ui):
    """The comment came back in the redirect (``&note=<comment>&note_sig=...``): a
    2,000-character comment made an 18,000-character address, in history and logs."""
    client, s = ui
    item = _claim_one(s)
    csrf = _sign_in(client, s.reviewer_key)
    note = ("customer says the second charge is a duplicate; " * 50)[:2000]
    form = {"csrf_token": csrf, "choice": "new_category", "new_label": "billing", "note": note}
    r = client.post(f"/ui/review/{item['id']}/resolve", data=form)
    where = r.headers["location"]
    assert r.status_code == 303 and "notice=invalid" in where
    assert "note" not in where and "duplicate" not in where and len(where) < 600
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("triaged_form=") and "duplicate" not in cookie
    attrs = {a.strip().split("=")[0].lower(): a for a in cookie.split(";")[1:]}
    assert "httponly" in attrs and attrs["samesite"].strip().lower() == "samesite=lax"
    assert attrs["path"].strip() == f"Path=/ui/review/{item['id']}"
    assert attrs["max-age"].strip() == "Max-Age=600"
    page = client.get(where)
    assert f'value="{note}"' in page.text and "That answer was not saved:" in page.text
    assert 'triaged_form=""' in page.headers["set-cookie"]  # cleared once shown
    assert "duplicate" not in client.get(where).text  # shown once
    # the same cookie in another session shows nothing
    other = TestClient(client.app, follow_redirects=False)
    _sign_in(other, s.reviewer_key)
    kept = r.cookies.get("triaged_form")
    assert kept
    other.cookies.set("triaged_form", kept, path=f"/ui/review/{item['id']}")
    assert "duplicate" not in other.get(where).text


def test_a_refused_bulk_answer_keeps_a_full_page_in_one_cookie(ui):
    """A page's 100 ticked items and a 2,000-character comment come back from a refused
    bulk answer through one cookie of the items page (none of it in the address)."""
    client, s = ui
    csrf = _sign_in(client, s.admin_key)
    ids = [f"rvi_{i:032x}" for i in range(review_items_page.PAGE)]
    note = "".join(chr(0x4E00 + i % 500) for i in range(700))  # 2,100 bytes of UTF-8
    form = {"csrf_token": csrf, "item_ids": ids, "action": "correct", "label": "x", "note": note}
    r = client.post("/ui/items/bulk", data=form)
    assert r.status_code == 303 and "rvi_" not in r.headers["location"]
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("triaged_form=") and len(cookie) < 4096
    assert "Path=/ui/items" in cookie and "HttpOnly" in cookie
    page = client.get(r.headers["location"]).text
    assert f'value="{note}"' in page and 'value="x"' in page


def test_an_admin_settling_a_disagreement_of_their_own_is_warned_and_offered_it_last(ui):
    """An admin who answered differently from the first reviewer got the disagreement
    straight back and settled it alone, with no word that the answer was their own."""
    client, s = ui
    svc = s.service
    rw.update_settings(svc, svc.authenticate(s.admin_key), "support", overlap_rate=1.0)
    boss = svc.authenticate(s.admin_key)
    alice = svc.authenticate(s.reviewer_key)
    [item] = svc.review.claim(boss, limit=1, taxonomy="support")  # first in every order
    svc.review.resolve(boss, item["id"], action="confirm")
    taken = svc.review.claim(alice, limit=len(TEXTS), taxonomy="support")
    assert item["id"] in {t["id"] for t in taken}
    svc.review.resolve(alice, item["id"], action="out_of_scope")
    for t in taken:
        if t["id"] != item["id"]:
            svc.review.release(alice, t["id"])
    assert svc.review.item(boss, item["id"])["review_round"] == 3
    # another admin is offered it first; the admin who is part of it gets it last
    other_key = svc.create_key("acme", "admin", name="carol").key
    assert other_key
    carol = svc.authenticate(other_key)
    [first] = svc.review.claim(carol, limit=1, taxonomy="support")
    assert first["id"] == item["id"]
    svc.review.release(carol, item["id"])
    got = [svc.review.claim(boss, limit=1, taxonomy="support")[0]["id"] for _ in TEXTS]
    assert got[-1] == item["id"] and item["id"] not in got[:-1]  # not blocked either
    _sign_in(client, s.admin_key)
    page = client.get(f"/ui/review/{item['id']}").text
    assert "You are settling a disagreement you are part of" in page
    assert re.search(r"\(you\) said <strong>", page)
    # the other admin settling it is not warned
    svc.review.release(boss, item["id"])
    svc.review.claim(carol, limit=1, taxonomy="support")
    other = TestClient(client.app, follow_redirects=False)
    _sign_in(other, other_key)
    page = other.get(f"/ui/review/{item['id']}").text
    assert "Reviewers disagreed" in page and "you are part of" not in page
