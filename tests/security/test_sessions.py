"""Web UI sessions: not forgeable from the public development pepper, revoked by sign-out."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from tests.web.seed import seed
from triaged.api import create_app
from triaged.service import Service
from triaged.services import secrets_store
from triaged.settings import DEV_KEY_PEPPER
from triaged.storage.security import server_secrets
from triaged.web.session import SESSION_COOKIE


@pytest.fixture
def ui(tmp_path):
    s = seed(tmp_path, texts=["I was charged twice"])
    with TestClient(create_app(service=s.service), follow_redirects=False) as client:
        yield client, s
    s.service.close()


def _sign_in(client, key):
    r = client.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', r.text).group(1)
    r = client.post("/ui/login", data={"api_key": key, "login_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _old_derivation_cookie(key_id: str, **extra: str) -> str:
    """What the session cookie was: signed under a secret derived from the key pepper."""
    secret = hmac.new(DEV_KEY_PEPPER.encode(), b"triaged.web.session", hashlib.sha256)
    codec = URLSafeTimedSerializer(secret.hexdigest(), salt="triaged.web.session")
    return codec.dumps({"kid": key_id, "csrf": "forged", **extra})


def test_a_cookie_forged_with_the_pepper_derivation_is_refused(ui):
    client, s = ui
    admin_key_id = s.service.authenticate(s.admin_key).key_id
    for cookie in (
        _old_derivation_cookie(admin_key_id),
        _old_derivation_cookie(admin_key_id, sid="anything"),
    ):
        forger = TestClient(client.app, follow_redirects=False)
        forger.cookies.set(SESSION_COOKIE, cookie)
        r = forger.get("/ui/")
        assert r.status_code == 303 and r.headers["location"] == "/ui/login"


def test_the_generated_secret_is_random_kept_and_shared(ui, tmp_path):
    client, s = ui
    with s.service.db.read() as conn:
        stored = conn.execute(
            select(server_secrets.c.value).where(server_secrets.c.name == "session_secret")
        ).scalar_one()
    assert len(stored) >= 48 and DEV_KEY_PEPPER not in stored
    # another process on the same database signs with the same secret: the cookie still works
    _sign_in(client, s.reviewer_key)
    other = Service(s.service.settings)
    try:
        with TestClient(create_app(service=other), follow_redirects=False) as second:
            second.cookies.update(client.cookies)
            assert second.get("/ui/").status_code == 200
    finally:
        other.close()
    assert secrets_store.session_secret(s.service.db, None) == stored
    assert secrets_store.session_secret(s.service.db, "configured-secret") == "configured-secret"


def test_sign_out_revokes_the_session_server_side(ui):
    client, s = ui
    csrf = _sign_in(client, s.reviewer_key)
    stolen = client.cookies.get(SESSION_COOKIE)
    r = client.post("/ui/logout", data={"csrf_token": csrf})
    assert r.status_code == 303
    replay = TestClient(client.app, follow_redirects=False)
    replay.cookies.set(SESSION_COOKIE, stolen)
    r = replay.get("/ui/")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"


def test_start_warns_loudly_about_development_defaults(tmp_path, capsys, caplog):
    """Once: through logging where it is configured (as `triaged serve` does, and pytest),
    else on stderr (it was printed and logged: twice on a served console)."""
    s = seed(tmp_path, texts=["hello there"])
    try:
        with TestClient(create_app(service=s.service)):
            pass
    finally:
        s.service.close()
    captured = capsys.readouterr()
    said = captured.err + caplog.text
    assert said.count("WARNING: development defaults in use") == 1
    assert "TRIAGED_KEY_PEPPER" in said
