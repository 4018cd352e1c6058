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
