"""The sign-up web form sent twice (a reload of the page that showed the key): the second
sending creates nothing and says which workspace the first one created."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.signup.conftest import row_counts
from triaged.api import create_app
from triaged.service import Service

MakeService = Callable[..., Service]


def _form_token(html: str) -> str:
    match = re.search(r'name="login_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def test_reloading_the_key_page_creates_nothing_and_names_the_workspace(
    make_service: MakeService,
) -> None:
    svc = make_service(signup_per_ip=10, signup_window_seconds=60)
    client = TestClient(create_app(service=svc), client=("203.0.113.8", 50000))
    form = {"name": "reload-team", "email": "reload@example.com"}
    token = _form_token(client.get("/ui/signup").text)
    first = client.post("/ui/signup", data={**form, "login_token": token})
    assert first.status_code == 201, first.text
    assert first.headers["Cache-Control"] == "no-store"
    key = re.search(r'id="admin-key">([^<]+)<', first.text)
    assert key and key.group(1).startswith("tri_")
    before = row_counts(svc)

    again = client.post("/ui/signup", data={**form, "login_token": token})  # the reload
    assert again.status_code == 409, again.text
    assert "reload-team" in again.text and "shown once" in again.text
    assert key.group(1) not in again.text
    # a visitor without a session is sent to sign in, not "back to the queues"
    assert 'href="/ui/login"' in again.text and "Back to the queues" not in again.text
    assert row_counts(svc) == before  # no workspace, no refused attempt counted
    assert [w["name"] for w in svc.workspaces_overview()].count("reload-team") == 1

    # a new form (a fresh token) still signs up another workspace
    token2 = _form_token(client.get("/ui/signup").text)
    assert token2 != token
    other = {"name": "second-team", "email": "second@example.com", "login_token": token2}
    assert client.post("/ui/signup", data=other).status_code == 201


def test_a_forged_form_without_a_prior_sign_up_is_still_refused(
    make_service: MakeService,
) -> None:
    svc = make_service()
    client = TestClient(create_app(service=svc), client=("203.0.113.9", 50000))
    client.get("/ui/signup")
    r = client.post(
        "/ui/signup", data={"name": "x-team", "email": "x@example.com", "login_token": "forged"}
    )
    assert r.status_code == 403
    assert "x-team" not in [w["name"] for w in svc.workspaces_overview()]


def test_a_form_opened_before_another_sign_up_comes_back_filled_in(
    make_service: MakeService,
) -> None:
    """Two sign-up forms open in one browser (two tabs): once the first is sent, the
    second's token is spent.  Sending the second is not told that it "already created" the
    first's workspace (until 6 December it was, on a 409 page a reload could not leave): it
    comes back filled in with a fresh token, and sending it again signs up."""
    svc = make_service(signup_per_ip=10, signup_window_seconds=60)
    client = TestClient(create_app(service=svc), client=("203.0.113.10", 50000))
    tab_a = _form_token(client.get("/ui/signup").text)
    tab_b = _form_token(client.get("/ui/signup").text)
    first = {"name": "tab-a", "email": "a@example.com", "login_token": tab_a}
    assert client.post("/ui/signup", data=first).status_code == 201
    before = row_counts(svc)

    form_b = {"name": "tab-b", "email": "b@example.com"}
    stale = client.post("/ui/signup", data={**form_b, "login_token": tab_b})
    assert stale.status_code == 403, stale.text
    assert "already created" not in stale.text and "tab-a" not in stale.text
    assert 'value="tab-b"' in stale.text and 'value="b@example.com"' in stale.text
    assert row_counts(svc) == before
    resent = client.post("/ui/signup", data={**form_b, "login_token": _form_token(stale.text)})
    assert resent.status_code == 201, resent.text
    assert sorted(w["name"] for w in svc.workspaces_overview()) == ["tab-a", "tab-b"]
