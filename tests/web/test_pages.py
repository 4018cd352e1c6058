"""The web pages through the ASGI app: sign-in, CSRF refusals, headers, session re-checks."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from triaged.web.render import human_age


def _login_token(client):
    r = client.get("/ui/login")
    assert r.status_code == 200
    return re.search(r'name="login_token" value="([^"]+)"', r.text).group(1)


def _sign_in(client, key):
    r = client.post("/ui/login", data={"api_key": key, "login_token": _login_token(client)})
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    page = client.get("/ui/")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_pages_need_a_session(ui):
    client, _ = ui
    assert client.get("/").headers["location"] == "/ui/"
    r = client.get("/ui/")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    r = client.get("/ui/review/rvi_x")  # comes back to the page asked for after sign-in
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=%2Fui%2Freview%2Frvi_x"
    r = client.post("/ui/review/next", data={"csrf_token": "x"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?notice=session_ended"
    # a form sent after the session ended: back to the page it was sent from, saying the
    # answer was not saved (it went to a bare sign-in page, the answer silently dropped)
    sent_from = {"referer": "http://testserver/ui/review/rvi_x?queue=hold"}
    r = client.post("/ui/review/rvi_x/resolve", data={"csrf_token": "x"}, headers=sent_from)
    location = r.headers["location"]
    assert location == "/ui/login?next=%2Fui%2Freview%2Frvi_x%3Fqueue%3Dhold&notice=session_ended"
    page = client.get(location).text
    assert '<p class="error" role="alert" id="notice">Your session had ended' in page
    assert 'value="/ui/review/rvi_x?queue=hold"' in page
    elsewhere = {"referer": "http://evil.example/ui/review/rvi_x"}
    r = client.post("/ui/review/rvi_x/resolve", data={"csrf_token": "x"}, headers=elsewhere)
    assert r.headers["location"] == "/ui/login?notice=session_ended"


def test_security_headers_and_local_assets(ui):
    client, _ = ui
    r = client.get("/ui/login")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert not re.search(r'(src|href)="(https?:)?//', r.text)  # nothing from another host
    assert client.get("/ui/static/triaged.css").status_code == 200
    assert client.get("/ui/static/review.js").status_code == 200


def test_sign_in_needs_the_form_token(ui):
    client, s = ui
    client.get("/ui/login")
    r = client.post("/ui/login", data={"api_key": s.reviewer_key, "login_token": "forged"})
    assert r.status_code == 403 and "triaged_session" not in r.headers.get("set-cookie", "")
    fresh = TestClient(client.app, follow_redirects=False)  # a token without its cookie
    r = fresh.post(
        "/ui/login", data={"api_key": s.reviewer_key, "login_token": _login_token(client)}
    )
    assert r.status_code == 403


def test_forms_need_the_session_csrf_token(ui):
    client, s = ui
    csrf = _sign_in(client, s.reviewer_key)
    for data in ({}, {"csrf_token": "wrong"}):
        r = client.post("/ui/review/next", data=data)
        assert r.status_code == 403
    r = client.post("/ui/review/next", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/review/rvi_")
    item_id = r.headers["location"].split("/")[-1].split("?")[0]
    r = client.post(f"/ui/review/{item_id}/resolve", data={"action": "confirm"})
    assert r.status_code == 403
    item = s.service.review.item(s.service.authenticate(s.reviewer_key), item_id)
    assert item["status"] == "claimed"  # nothing happened without the token


def test_review_flow_and_invalid_new_category(ui):
    client, s = ui
    csrf = _sign_in(client, s.reviewer_key)
    r = client.post("/ui/review/next", data={"csrf_token": csrf})
    first = r.headers["location"].split("/")[-1].split("?")[0]
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and 'data-shortcut="1"' in page.text
    # reloading "next" resumes the item already held instead of claiming another
    r = client.post("/ui/review/next", data={"csrf_token": csrf})
    assert first in r.headers["location"]
    r = client.post(
        f"/ui/review/{first}/resolve",
        data={"csrf_token": csrf, "choice": "new_category", "new_label": "  "},
    )
    assert r.status_code == 303 and "notice=invalid" in r.headers["location"]
    r = client.post(
        f"/ui/review/{first}/resolve",
        data={"csrf_token": csrf, "choice": "label:account", "note": "a login question"},
    )
    assert r.status_code == 303 and "notice=saved" in r.headers["location"]
    second = r.headers["location"].split("/")[-1].split("?")[0]
    assert second != first
    assert (
        '<p class="notice" role="status" id="notice">Saved.</p>'
        in client.get(r.headers["location"]).text
    )
    item = s.service.review.item(s.service.authenticate(s.reviewer_key), first)
    assert item["status"] == "resolved" and item["final_label"] == "account"
    assert item["note"] == "a login question"  # the comment field goes with the answer
    # resolving again is refused by the service: the UI moves on with a notice
    r = client.post(f"/ui/review/{first}/resolve", data={"csrf_token": csrf, "choice": "confirm"})
    assert "notice=lost" in r.headers["location"] or "notice=empty" in r.headers["location"]


def test_a_revoked_key_ends_the_session(ui):
    client, s = ui
    _sign_in(client, s.reviewer_key)
    admin = s.service.authenticate(s.admin_key)
    reviewer = s.service.authenticate(s.reviewer_key)
    s.service.revoke_key_for(admin, reviewer.key_id)
    r = client.get("/ui/")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"


def test_sign_out_needs_csrf_and_clears_the_cookie(ui):
    client, s = ui
    csrf = _sign_in(client, s.reviewer_key)
    assert client.post("/ui/logout", data={"csrf_token": "nope"}).status_code == 403
    r = client.post("/ui/logout", data={"csrf_token": csrf})
    assert r.status_code == 303 and 'triaged_session=""' in r.headers["set-cookie"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (5, "5 s"), (125, "2 min"), (7200, "2 h"), (3 * 86400, "3 d")],
)
def test_human_age(seconds, text):
    assert human_age(seconds) == text


def test_cookies_are_secure_over_https(ui):
    client, s = ui
    https = TestClient(client.app, base_url="https://triaged.test", follow_redirects=False)
    r = https.get("/ui/login")
    assert "secure" in r.headers["set-cookie"].lower()
    token = re.search(r'name="login_token" value="([^"]+)"', r.text).group(1)
    r = https.post("/ui/login", data={"api_key": s.reviewer_key, "login_token": token})
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303 and "triaged_session=" in cookie
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_items_of_another_workspace_are_not_found(ui):
    client, s = ui
    csrf = _sign_in(client, s.reviewer_key)
    r = client.post("/ui/review/next", data={"csrf_token": csrf})
    item_id = r.headers["location"].split("/")[-1].split("?")[0]
    other_key = s.service.create_key("rival", "reviewer", create_plan="free").key
    other = TestClient(client.app, follow_redirects=False)
    other_csrf = _sign_in(other, other_key)
    assert other.get(f"/ui/review/{item_id}").status_code == 404
    r = other.post(
        f"/ui/review/{item_id}/resolve", data={"csrf_token": other_csrf, "action": "confirm"}
    )
    assert r.status_code == 303 and "/ui/review/" not in r.headers["location"]
    item = s.service.review.item(s.service.authenticate(s.reviewer_key), item_id)
    assert item["status"] == "claimed"


def test_out_of_scope_form_needs_csrf_and_sets_oos(ui):
    client, s = ui
    csrf = _sign_in(client, s.reviewer_key)
    r = client.post("/ui/review/next", data={"csrf_token": csrf})
    item_id = r.headers["location"].split("/")[-1].split("?")[0]
    page = client.get(r.headers["location"])
    assert 'name="choice" value="out_of_scope"' in page.text and 'data-shortcut="o"' in page.text
    assert 'data-shortcut="0"' not in page.text  # digits are the model's top labels only
    r = client.post(f"/ui/review/{item_id}/resolve", data={"choice": "out_of_scope"})
    assert r.status_code == 403
    reviewer = s.service.authenticate(s.reviewer_key)
    assert s.service.review.item(reviewer, item_id)["status"] == "claimed"
    r = client.post(
        f"/ui/review/{item_id}/resolve", data={"csrf_token": csrf, "choice": "out_of_scope"}
    )
    assert r.status_code == 303 and "notice=saved" in r.headers["location"]
    item = s.service.review.item(reviewer, item_id)
    assert (item["action"], item["final_label"]) == ("out_of_scope", "oos")
