"""In Chromium, against a real server and a local SMTP sink: sign up, verify, sign in,
classify with the quick start, and the usage page; invite-only sign-up."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.signup.conftest import SmtpSink, database, loopback_page, served, signup_settings
from triaged.service import Service


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Any:
    with database("sqlite", tmp_path) as url:
        yield url


def _service(url: str, **extra: Any) -> Service:
    svc = Service(signup_settings(url, **extra))
    svc.start()
    return svc


def _run(command: str) -> dict[str, Any]:
    """Run a shown shell command (the quick start) as a user would paste it."""
    res = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out: dict[str, Any] = json.loads(res.stdout)
    return out


def _sign_up(page: Any, name: str, email: str, invite: str | None = None) -> None:
    page.fill("#name", name)
    page.fill("#email", email)
    if invite is not None:
        page.fill("#invite", invite)
    page.click("button[type=submit]")


def _sign_in(page: Any, key: str) -> None:
    page.goto("/ui/login")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/")


def _next_month_start() -> str:
    now = datetime.now(UTC)
    return (
        datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC).date().isoformat()
    )


def test_sign_up_verify_sign_in_classify_and_usage(
    browser: Any, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    svc = _service(sqlite_url, smtp_url=smtp_sink.url, signup_allow_unverified=False)
    try:
        with served(svc) as server, loopback_page(browser, server) as page:
            page.goto("/ui/login")
            page.click("#signup-link")
            page.wait_for_url("**/ui/signup")
            assert "100 requests per month" in page.inner_text("#plan-line")
            assert "No credit card required" in page.inner_text("#plan-line")
            _sign_up(page, "acme-support", "Ops@Example.com")
            assert page.inner_text("h1") == "Workspace acme-support created"
            key = page.inner_text("#admin-key").strip()
            quick_start = page.inner_text("#quick-start")
            assert key.startswith("tri_") and key in quick_start
            assert f"{server.url}/v1/classify" in quick_start
            assert "ops@example.com" in page.inner_text("#verify-notice")

            # pending until the emailed link is followed: the key is refused
            refused = httpx.post(
                f"{server.url}/v1/classify",
                headers={"Authorization": f"Bearer {key}"},
                json={"taxonomy": "support", "text": "hello"},
                timeout=60,
            )
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "workspace_inactive"
            page.goto("/ui/login")
            page.fill("#api_key", key)
            page.click("button[type=submit]")
            assert "verification email" in page.inner_text("#signin-error")

            link = smtp_sink.link("ops@example.com")
            assert link.startswith(server.url)
            page.goto(link)
            # opening the link (a mail scanner, a prefetch) changes nothing: the button does
            assert svc.workspaces_overview()[0]["status"] == "pending"
            page.click("#verify-button")
            assert "acme-support" in page.inner_text("#verified")
            assert "active" in page.inner_text("#verified")

            _sign_in(page, key)
            result = _run(quick_start)  # the quick start exactly as shown
            assert result["label"] == "billing" and result["id"].startswith("dec_")

            page.goto("/ui/usage")
            assert page.inner_text("#usage-count") == "1 of 100"
            assert page.get_attribute("#usage-bar", "value") == "1"
            assert page.get_attribute("#usage-bar", "max") == "100"
            today = datetime.now(UTC).date().isoformat()
            assert page.get_attribute(f'#daily-chart rect[data-day="{today}"]', "data-count") == "1"
            rows = page.locator("#per-key tbody tr")
            assert rows.count() == 1 and rows.first.locator("td.num").inner_text() == "1"
            assert page.get_attribute("#usage-reset", "datetime").startswith(_next_month_start())
            assert "quota_exceeded" in page.inner_text("#at-limit")
    finally:
        svc.close()


def test_free_quota_101st_request_and_full_usage_page(browser: Any, sqlite_url: str) -> None:
    svc = _service(sqlite_url)  # open, no mail server: active at once
    try:
        with served(svc) as server, loopback_page(browser, server) as page:
            page.goto("/ui/signup")
            _sign_up(page, "quota-team", "quota@example.com")
            key = page.inner_text("#admin-key").strip()
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
                for i in range(100):
                    r = client.post(
                        "/v1/classify", json={"taxonomy": "support", "text": f"refund {i}"}
                    )
                    assert r.status_code == 200, (i, r.text)
                last = client.post("/v1/classify", json={"taxonomy": "support", "text": "one more"})
                assert last.status_code == 429
                error = last.json()["error"]
                assert error["code"] == "quota_exceeded"
                assert error["details"]["quota"] == 100 and error["details"]["used"] == 100
                assert int(last.headers["Retry-After"]) >= 1
                assert error["details"]["reset"].startswith(_next_month_start())
            _sign_in(page, key)
            page.goto("/ui/usage")
            assert page.inner_text("#usage-count") == "100 of 100"
            assert page.get_attribute("#usage-bar", "value") == "100"
            assert page.locator("#at-limit-now").is_visible()
            reset = page.get_attribute("#usage-reset", "datetime")
            assert reset.startswith(_next_month_start())
            assert page.inner_text("#usage-reset") == _next_month_start()
    finally:
        svc.close()


def test_invite_mode_refuses_without_a_valid_invite_and_accepts_it_once(
    browser: Any, sqlite_url: str
) -> None:
    svc = _service(sqlite_url, signup="invite", signup_allow_unverified=False)
    try:
        ops = svc.create_key("ops", "admin", create_plan="unlimited")
        with served(svc) as server, loopback_page(browser, server) as page:
            made = httpx.post(
                f"{server.url}/v1/invites",
                headers={"Authorization": f"Bearer {ops.key}"},
                json={"note": "for the data team"},
                timeout=60,  # a busy CI box took more than httpx's default 5 s once
            )
            assert made.status_code == 201, made.text
            invite_url = made.json()["url"]
            assert invite_url.startswith(f"{server.url}/ui/signup?invite=inv_")

            page.goto("/ui/signup")  # no invite
            _sign_up(page, "data-team", "data@example.com", invite="inv_not-a-real-one")
            assert "not valid" in page.inner_text("#signup-error")
            api = httpx.post(
                f"{server.url}/v1/signup",
                json={"name": "data-team", "email": "data@example.com"},
                timeout=60,
            )
            assert api.status_code == 403
            assert api.json()["error"]["details"]["reason"] == "invite_required"
            assert [w["name"] for w in svc.workspaces_overview()] == ["ops"]

            page.goto(invite_url)
            _sign_up(page, "data-team", "data@example.com")  # the invite field is filled in
            assert page.inner_text("h1") == "Workspace data-team created"
            key = page.inner_text("#admin-key").strip()
            assert _run(page.inner_text("#quick-start"))["label"] == "billing"

            page.goto(invite_url)  # the same invite again
            _sign_up(page, "data-team-2", "data2@example.com")
            assert "not valid" in page.inner_text("#signup-error")
            names = sorted(w["name"] for w in svc.workspaces_overview())
            assert names == ["data-team", "ops"]
            listed = httpx.get(
                f"{server.url}/v1/invites",
                headers={"Authorization": f"Bearer {ops.key}"},
                timeout=60,
            ).json()["data"]
            assert [i["used"] for i in listed] == [True]
            assert svc.authenticate(key).workspace == "data-team"
    finally:
        svc.close()
