"""Fixes from a QA pass over the server-rendered UI, checked through the ASGI app: blind
second opinions, the "Resolved as" card, headers on redirects, skipping the last item,
HTML error pages instead of API JSON, a model label removed from the taxonomy, the usage
link, rows held by others, paging back and the empty bucket chart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.servicekit import TINY_TAXONOMY
from tests.web.seed import Seeded, seed
from triaged.api import create_app
from triaged.services import review_workspace as rw
from triaged.web import review_items_page
from triaged.web.render import SECURITY_HEADERS

TEXTS = ["I was charged twice and need a refund", "The app crashes on start"]
NOTE = "alice-private-note-7f3"


@pytest.fixture
def ui(tmp_path: Any) -> Iterator[tuple[TestClient, Seeded]]:
    s = seed(tmp_path, texts=TEXTS)
    with TestClient(create_app(service=s.service), follow_redirects=False) as client:
        yield client, s
    s.service.close()


@pytest.fixture
def bob_key(ui: tuple[TestClient, Seeded]) -> str:
    """A second reviewer of the workspace."""
    key = ui[1].service.create_key("acme", "reviewer", name="bob").key
    assert key
    return key


def _client(ui: tuple[TestClient, Seeded]) -> TestClient:
    return TestClient(ui[0].app, follow_redirects=False)


def _sign_in(client: TestClient, key: str) -> str:
    r = client.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    r = client.post("/ui/login", data={"api_key": key, "login_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    page = client.get("/ui/")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def _row(html: str, item_id: str) -> str:
    m = re.search(rf'<tr data-item="{item_id}">(.*?)</tr>', html, re.S)
    assert m, f"no row for {item_id}"
    return m.group(1)


def _other_label(s: Seeded, item: dict[str, Any]) -> str:
    return str(next(lb["name"] for lb in TINY_TAXONOMY["labels"] if lb["name"] != item["label"]))


def _first_round(s: Seeded) -> tuple[dict[str, Any], str]:
    """Overlap on every item; alice answers one (a correction with a note): it waits for a
    second opinion."""
    service = s.service
    rw.update_settings(service, service.authenticate(s.admin_key), "support", overlap_rate=1.0)
    alice = service.authenticate(s.reviewer_key)
    [item] = service.review.claim(alice, limit=1, taxonomy="support")
    label = _other_label(s, item)
    service.review.resolve(alice, item["id"], action="correct", label=label, note=NOTE)
    after = service.review.item(alice, item["id"])
    assert after["status"] == "pending" and after["review_round"] == 2
    return after, label


# ------------------------------------------------------------------- 1 and 2
def test_the_second_reviewer_answers_blind(ui, bob_key):
    client, s = ui
    item, label = _first_round(s)
    _sign_in(client, bob_key)
    row = _row(client.get("/ui/items").text, item["id"])
    assert label not in row and NOTE not in row
    page = client.get(f"/ui/review/{item['id']}").text
    assert "Resolved as" not in page and NOTE not in page
    assert f"<strong>{label}</strong>" not in page
    # bob takes it: still nothing of alice's answer on his screen
    m = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert m
    r = client.post("/ui/review/next", data={"csrf_token": m.group(1), "taxonomy": "support"})
    assert item["id"] in r.headers["location"]
    page = client.get(r.headers["location"]).text
    assert 'data-mine="true"' in page and NOTE not in page and "Resolved as" not in page
    # alice sees her own answer, and cannot take the item into a bulk answer
    alice = _client(ui)
    _sign_in(alice, s.reviewer_key)
    page = alice.get(f"/ui/review/{item['id']}").text
    assert "You answered <strong>" + label in page and NOTE in page
    box = re.search(
        rf'<input type="checkbox" name="item_ids" value="{item["id"]}"[^>]*>',
        alice.get("/ui/items").text,
    )
    assert box and "disabled" in box.group(0)
    # bob confirms the model's label (a disagreement): his page shows his answer, not
    # alice's final label as his (it did until 5 December)
    bob = s.service.authenticate(bob_key)
    s.service.review.resolve(bob, item["id"], action="confirm")
    page = client.get(f"/ui/review/{item['id']}").text
    assert "You answered <strong>" + item["label"] + "</strong>" in page
    assert f"<strong>{label}</strong>" not in page


def test_a_pending_disagreement_is_not_shown_as_resolved(ui, bob_key):
    client, s = ui
    item, label = _first_round(s)
    bob = s.service.authenticate(bob_key)
    [got] = s.service.review.claim(bob, limit=1, taxonomy="support")
    assert got["id"] == item["id"]
    s.service.review.resolve(bob, item["id"], action="out_of_scope", note="bob thinks oos")
    assert s.service.review.item(bob, item["id"])["review_round"] == 3
    _sign_in(client, s.reviewer_key)
    page = client.get(f"/ui/review/{item['id']}").text
    assert "Resolved as" not in page and "bob thinks oos" not in page
    admin = _client(ui)
    _sign_in(admin, s.admin_key)
    page = admin.get(f"/ui/review/{item['id']}").text
    assert "Resolved as" not in page and "disagree" in page.lower()
    # once the admin settles it, the card says how
    boss = s.service.authenticate(s.admin_key)
    s.service.review.claim(boss, limit=1, taxonomy="support")
    s.service.review.resolve(boss, item["id"], action="correct", label=label, note="settled")
    page = client.get(f"/ui/review/{item['id']}").text
    assert "Resolved as <strong>" + label in page and "settled" in page
    assert label in _row(client.get("/ui/items").text, item["id"])


# ------------------------------------------------------------------------- 3
def _secure(r: Any) -> None:
    assert r.status_code == 303, r.status_code
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, name


def test_redirects_carry_no_store_and_the_security_headers(ui):
    client, s = ui
    _secure(client.get("/"))
    _secure(client.get("/ui/"))  # the sign-in redirect
    csrf = _sign_in(client, s.reviewer_key)
    _secure(client.get("/ui/login"))  # signed in already
    _secure(client.post("/ui/review/next", data={"csrf_token": csrf}))
    _secure(client.post("/ui/logout", data={"csrf_token": csrf}))


# ------------------------------------------------------------------------- 6
def test_skipping_the_only_item_left_says_so(ui):
    client, s = ui
    alice = s.service.authenticate(s.reviewer_key)
    [first] = s.service.review.claim(alice, limit=1, taxonomy="support")
    s.service.review.resolve(alice, first["id"], action="confirm")
    csrf = _sign_in(client, s.reviewer_key)
    r = client.post("/ui/review/next", data={"csrf_token": csrf, "taxonomy": "support"})
    last = r.headers["location"].split("/ui/review/")[1].split("?")[0]
    r = client.post(f"/ui/review/{last}/skip", data={"csrf_token": csrf, "taxonomy": "support"})
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/")
    page = client.get(r.headers["location"]).text
    assert "Nothing left to review" not in page and "skipped" in page
    m = re.search(r'<form[^>]*id="take-again"[^>]*>(.*?)</form>', page, re.S)
    assert m and 'value="support"' in m.group(1)
    r = client.post("/ui/review/next", data={"csrf_token": csrf, "taxonomy": "support"})
    assert last in r.headers["location"]  # taking it again gives the skipped item back


# ------------------------------------------------------------------------- 7
def _html_error(r: Any, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
    assert '<p class="error" role="alert">' in r.text
    assert r.headers["cache-control"] == "no-store"
    return str(r.text)


def test_ui_errors_are_pages_not_api_json(ui):
    client, s = ui
    csrf = _sign_in(client, s.admin_key)
    for query in ("days=abc", "auto=2", "auto=nan", "review=-1", "days=1e9", "days=0"):
        text = _html_error(client.get(f"/ui/dashboard?{query}"), 400)
        assert "Back to the dashboard" in text
    for query in ("days=-1", "days=100000000"):  # were read as 1 and 365
        assert "from 1 to 365" in _html_error(client.get(f"/ui/dashboard?{query}"), 400)
    # a taxonomy the workspace has not: a 404 page (it showed the first taxonomy instead)
    assert "nope" in _html_error(client.get("/ui/dashboard?taxonomy=nope"), 404)
    assert client.get("/ui/dashboard?days=7&auto=0.9&review=0.5").status_code == 200
    _html_error(client.post("/ui/review/next", data={"csrf_token": csrf, "taxonomy": "nope"}), 404)
    form = {"csrf_token": csrf, "taxonomy": "nope", "label": "x", "decision_ids": ""}
    _html_error(client.post("/ui/dashboard/labels", data=form), 404)
    del form["csrf_token"]
    _html_error(client.post("/ui/dashboard/labels", data=form), 403)
    _html_error(client.post("/ui/dashboard/labels", data={}), 403)


# ------------------------------------------------------------------------- 8
def test_confirm_is_not_offered_for_a_label_the_taxonomy_dropped(ui):
    client, s = ui
    service = s.service
    alice = service.authenticate(s.reviewer_key)
    [item] = service.review.claim(alice, limit=1, taxonomy="support")
    gone = item["label"]
    labels = [lb for lb in TINY_TAXONOMY["labels"] if lb["name"] != gone]
    service.update_taxonomy(service.authenticate(s.admin_key), "support", {"labels": labels})
    csrf = _sign_in(client, s.reviewer_key)
    page = client.get(f"/ui/review/{item['id']}").text
    assert 'data-mine="true"' in page
    assert 'value="confirm"' not in page and 'data-shortcut="c"' not in page
    assert f"label:{gone}" not in page
    assert "no longer in the taxonomy" in page
    r = client.post(
        f"/ui/review/{item['id']}/resolve", data={"csrf_token": csrf, "choice": "confirm"}
    )
    assert r.status_code == 303 and "notice=label_gone" in r.headers["location"]
    page = client.get(r.headers["location"]).text
    assert 'role="status" id="notice">The model&#39;s label is no longer in the taxonomy' in page
    assert "That needs a valid label or a name for the new category" not in page


# ------------------------------------------------------------------------- 9
def test_usage_link_only_for_admins(ui):
    client, s = ui
    _sign_in(client, s.reviewer_key)
    page = client.get("/ui/").text
    assert 'href="/ui/items"' in page and 'href="/ui/usage"' not in page
    admin = _client(ui)
    _sign_in(admin, s.admin_key)
    assert 'href="/ui/usage"' in admin.get("/ui/").text


# ------------------------------------------------------------------------ 10
def test_rows_held_by_someone_else_cannot_be_selected(ui, bob_key):
    client, s = ui
    bob = s.service.authenticate(bob_key)
    [held] = s.service.review.claim(bob, limit=1, taxonomy="support")
    _sign_in(client, s.reviewer_key)
    html = client.get("/ui/items").text
    boxes = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<input type="checkbox" name="item_ids" value="([^"]+)"[^>]*>', html)
    }
    assert len(boxes) == 2
    assert "disabled" in boxes[held["id"]]
    assert all("disabled" not in box for i, box in boxes.items() if i != held["id"])


# ------------------------------------------------------------------------ 11
def test_later_pages_link_back_to_the_first(ui, monkeypatch):
    client, s = ui
    monkeypatch.setattr(review_items_page, "PAGE", 1)
    _sign_in(client, s.reviewer_key)
    first = client.get("/ui/items?taxonomy=support").text
    assert "First page" not in first
    nxt = re.search(r'href="(/ui/items\?[^"]*cursor=[^"]+)">Next page', first).group(1)  # type: ignore[union-attr]
    second = client.get(nxt.replace("&amp;", "&")).text
    m = re.search(r'href="([^"]+)">First page', second)
    assert m and m.group(1).replace("&amp;", "&") == "/ui/items?taxonomy=support"


# ------------------------------------------------------------------------ 12
def test_an_empty_bucket_chart_says_there_are_no_decisions(ui):
    client, s = ui
    service = s.service
    service.create_taxonomy(service.authenticate(s.admin_key), {**TINY_TAXONOMY, "name": "quiet"})
    _sign_in(client, s.reviewer_key)
    page = client.get("/ui/dashboard?taxonomy=quiet").text
    assert 'id="no-decisions"' in page
    # a share of no decisions is undefined: a dash, not "0.0%"
    assert "0 decisions in the last 30 days; 0 held (–)." in page
    assert 'id="no-decisions"' not in client.get("/ui/dashboard?taxonomy=support").text


def test_messages_in_links_show_only_when_this_session_signed_them(ui):
    """``?error=...`` put any text from a link in a red alert on a real page (phishing), and
    the dashboard showed any ``notice``; only a failure this session's form caused shows."""
    client, s = ui
    csrf = _sign_in(client, s.admin_key)
    bait = "Your session expired. Re-enter your API key at https://evil.example"
    assert bait not in client.get("/ui/items", params={"error": bait}).text
    assert "evil.example" not in client.get("/ui/dashboard", params={"notice": bait}).text
    # a label name already taken: the dashboard says why (it said "invalid_taxonomy")
    ids = ",".join(
        i["decision_id"]
        for i in s.service.review.items(
            s.service.authenticate(s.admin_key), taxonomy="support", limit=3
        )["items"]
    )
    form = {"csrf_token": csrf, "taxonomy": "support", "label": "billing", "decision_ids": ids}
    r = client.post("/ui/dashboard/labels", data=form)
    assert r.status_code == 303 and "error_sig=" in r.headers["location"]
    assert r.headers["location"].endswith(f"#gap-{ids.split(',')[0]}")  # back at its card
    page = client.get(r.headers["location"]).text
    assert "That did not work:" in page and "billing" in page and "invalid_taxonomy" not in page
    # a failure reads as one: red, announced (it was the green "Saved." box, role=status)
    assert '<p class="error" role="alert" id="notice">That did not work:' in page
    # the same link in another session shows nothing
    other = _client(ui)
    _sign_in(other, s.admin_key)
    assert "That did not work" not in other.get(r.headers["location"]).text
    # no known input: no label with no example is created
    form = {"csrf_token": csrf, "taxonomy": "support", "label": "fresh", "decision_ids": ""}
    r = client.post("/ui/dashboard/labels", data=form)
    assert "none of the given inputs" in client.get(r.headers["location"]).text
    labels = s.service.get_taxonomy(s.service.authenticate(s.admin_key), "support")["labels"]
    assert "fresh" not in {lb["name"] for lb in labels}


def test_an_unknown_ui_page_and_a_nul_in_its_address_get_pages_not_json(ui):
    """/ui/nonexistent answered the API's JSON 404, a NUL in a /ui/ address its JSON 422."""
    client, s = ui
    _sign_in(client, s.reviewer_key)
    r = client.get("/ui/nonexistent")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "no such page" in r.text
    for path in ("/ui/items?label=%00", "/ui/review/%00"):
        r = client.get(path)
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), path
        assert "NUL" in r.text
    # the API keeps its JSON
    r = client.get("/v1/nonexistent")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/v1/decisions?label=%00")
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_a_refused_answer_says_why_and_keeps_the_comment(ui):
    """Proposing an existing label said only "That needs a valid label or a name for the
    new category." and emptied the comment field."""
    client, s = ui
    alice = s.service.authenticate(s.reviewer_key)
    [item] = s.service.review.claim(alice, limit=1, taxonomy="support")
    csrf = _sign_in(client, s.reviewer_key)
    form = {
        "csrf_token": csrf,
        "choice": "new_category",
        "new_label": "billing",
        "note": "looks like a duplicate charge",
    }
    r = client.post(f"/ui/review/{item['id']}/resolve", data=form)
    assert r.status_code == 303 and "notice=invalid" in r.headers["location"]
    page = client.get(r.headers["location"]).text
    assert "That answer was not saved:" in page and "billing" in page
    assert '<p class="error" role="alert" id="notice">That answer was not saved:' in page
    assert 'value="looks like a duplicate charge"' in page
    # a link that carries words of its own shows none of them
    bait = f"/ui/review/{item['id']}?notice=invalid&error=call+us&note=send+your+key"
    page = client.get(bait).text
    assert "call us" not in page and "send your key" not in page


def test_a_page_link_the_server_did_not_make_is_said_so(ui):
    """``/ui/items?cursor=garbage`` listed the first page as if nothing were wrong."""
    client, s = ui
    _sign_in(client, s.reviewer_key)
    page = client.get("/ui/items", params={"cursor": "garbage"}).text
    assert "not one this server made" in page and 'data-item="' not in page
    first = client.get("/ui/items").text
    assert 'data-item="' in first


def test_a_label_from_a_cluster_takes_its_reviewed_texts_as_examples(tmp_path):
    """The one-click label used every text of the cluster, held inputs nobody had read
    included; with reviewed (new_category) members it takes those alone."""
    texts = [
        "a gift card for my sister",
        "can I send this as a present",
        "wrap it as a gift please",
        "my parcel is late",
        "where is my order",
    ]
    s = seed(tmp_path, texts=texts)
    client = TestClient(create_app(service=s.service), follow_redirects=False)
    svc = s.service
    csrf = _sign_in(client, s.admin_key)
    admin = svc.authenticate(s.admin_key)
    claimed = svc.review.claim(svc.authenticate(s.reviewer_key), limit=3, taxonomy="support")
    assert len(claimed) == 3
    for item in claimed[:2]:
        svc.review.resolve(
            svc.authenticate(s.reviewer_key), item["id"], action="new_category", new_label="gifts"
        )
    ids = ",".join(item["decision_id"] for item in claimed)
    form = {"csrf_token": csrf, "taxonomy": "support", "label": "gifts", "decision_ids": ids}
    r = client.post("/ui/dashboard/labels", data=form)
    assert r.status_code == 303 and "notice=label_created" in r.headers["location"], r.headers
    labels = {
        lb["name"]: lb for lb in svc.get_taxonomy(admin, "support", include_examples=True)["labels"]
    }
    assert sorted(labels["gifts"]["examples"]) == sorted(i["text"] for i in claimed[:2])
    assert all(lb["examples"] for lb in labels.values())  # the others keep theirs
    # a cluster nobody has reviewed yet gives all its texts
    rest = svc.review.items(admin, taxonomy="support", status="pending", limit=2)["items"]
    form = {
        "csrf_token": csrf,
        "taxonomy": "support",
        "label": "returns_new",
        "decision_ids": ",".join(i["decision_id"] for i in rest),
    }
    assert client.post("/ui/dashboard/labels", data=form).status_code == 303
    labels = {
        lb["name"]: lb for lb in svc.get_taxonomy(admin, "support", include_examples=True)["labels"]
    }
    assert sorted(labels["returns_new"]["examples"]) == sorted({i["text"] for i in rest})
    client.close()
    svc.close()


def test_a_hand_set_lane_over_its_target_is_not_shown_as_plainly_open(ui):
    """A manual auto threshold whose bound misses the target showed a green "open" (only the
    side text said it did not meet the target); a certified lane still reads "open"."""
    client, s = ui
    _sign_in(client, s.admin_key)
    admin = s.service.authenticate(s.admin_key)
    routing = s.service.set_routing(admin, "support", {"auto": 0.9, "review": 0.6})
    assert routing["auto_lane_open"] and routing["bound"]["upper"] > routing["auto_error_target"]
    page = client.get("/ui/dashboard", params={"taxonomy": "support"}).text
    assert 'id="lane-over-target">open, above its error target</span>' in page
    assert "set by hand; the evidence does not certify it" in page
    assert '<span class="lane-open">open</span>' not in page


def test_an_unknown_taxonomy_is_a_404_in_an_empty_workspace_too(ui):
    """A workspace without taxonomies showed "No taxonomies yet" (200) for any name asked
    for; elsewhere an unknown name is a 404 page that says so."""
    _, s = ui
    key = s.service.create_key("empty-ws", "admin", create_plan="free").key or ""
    client = _client(ui)
    _sign_in(client, key)
    r = client.get("/ui/dashboard", params={"taxonomy": "banking"})
    assert r.status_code == 404 and "No taxonomy &#39;banking&#39;" in r.text
    r = client.get("/ui/dashboard")
    assert r.status_code == 200 and "No taxonomies yet" in r.text
