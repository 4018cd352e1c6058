"""POST /v1/signup on SQLite and PostgreSQL: rate limits, the email cap, names, the mail
server, pending and suspended workspaces; refused attempts create nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.signup.conftest import SmtpSink, row_counts
from triaged.api import create_app
from triaged.cli import app as cli
from triaged.errors import Conflict
from triaged.service import Service

MakeService = Callable[..., Service]


def _client(svc: Service, address: str = "203.0.113.7") -> TestClient:
    return TestClient(create_app(service=svc), client=(address, 50000))


def _body(name: str, email: str | None = None) -> dict[str, Any]:
    return {"name": name, "email": email or f"{name}@example.com"}


def test_twenty_sign_ups_from_one_address_stop_at_the_limit(make_service: MakeService) -> None:
    svc = make_service(signup_per_ip=5, signup_window_seconds=60)
    client = _client(svc)
    for i in range(5):
        r = client.post("/v1/signup", json=_body(f"team-{i}"))
        assert r.status_code == 201, r.text
    before = row_counts(svc)
    for i in range(5, 20):
        r = client.post("/v1/signup", json=_body(f"team-{i}"))
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "rate_limited"
        assert r.json()["error"]["details"]["limit"] == "signup_client"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert row_counts(svc) == before  # nothing created by the refused attempts
    assert len(svc.workspaces_overview()) == 5
    # another address is not held back by this one's limit
    assert _client(svc, "198.51.100.9").post("/v1/signup", json=_body("other")).status_code == 201


def test_the_global_limit_holds_across_addresses(make_service: MakeService) -> None:
    svc = make_service(signup_per_ip=0, signup_global=3, signup_window_seconds=3600)
    for i in range(3):
        r = _client(svc, f"192.0.2.{i + 1}").post("/v1/signup", json=_body(f"g-{i}"))
        assert r.status_code == 201, r.text
    before = row_counts(svc)
    r = _client(svc, "192.0.2.50").post("/v1/signup", json=_body("g-late"))
    assert r.status_code == 429 and r.json()["error"]["details"]["limit"] == "signup_global"
    assert int(r.headers["Retry-After"]) > 3000
    assert row_counts(svc) == before


def test_email_cap_names_and_emails_are_checked_before_anything_is_written(
    make_service: MakeService,
) -> None:
    svc = make_service(signup_max_per_email=2, signup_per_ip=20)
    client = _client(svc)
    for name in ("first", "second"):
        assert client.post("/v1/signup", json=_body(name, "Same@Example.com")).status_code == 201
    before = row_counts(svc)
    capped = client.post("/v1/signup", json=_body("third", "same@example.com "))
    assert capped.status_code == 409
    assert capped.json()["error"]["details"]["reason"] == "email_cap"
    for name in ("first", "FIRST", "First"):  # a name differing only in case is the same
        taken = client.post("/v1/signup", json=_body(name, "new@example.com"))
        assert taken.status_code == 409, (name, taken.text)
        assert taken.json()["error"]["details"]["reason"] == "name_taken"
    with pytest.raises(Conflict, match="'first' already exists"):  # the operator's way too
        svc.create_key("First", "admin", create_plan="free")
    for bad in ("../admin", "a b", "-dash-first", "x" * 101, "naïve", "a/b"):
        r = client.post("/v1/signup", json=_body(bad, "ok@example.com"))
        assert r.status_code == 422, (bad, r.text)
    for email in ("not-an-email", "a@b", "two@@example.com", "a@b.c\nBcc: x@y.z"):
        r = client.post("/v1/signup", json=_body("fine-name", email))
        assert r.status_code == 422, (email, r.text)
    # nothing but the rate limiter's record of the four refused attempts
    after = row_counts(svc)
    assert after.pop("signup_attempts") == before.pop("signup_attempts") + 4
    assert after == before


def test_probing_names_and_emails_spends_the_address_limit(make_service: MakeService) -> None:
    """A 409 says a name is taken or an email has workspaces: each one counts as an attempt
    of the address, so one client cannot probe without end (it could until 5 December)."""
    svc = make_service(signup_per_ip=3, signup_max_per_email=1, signup_window_seconds=600)
    assert _client(svc, "192.0.2.1").post("/v1/signup", json=_body("acme")).status_code == 201
    prober = _client(svc, "198.51.100.20")
    codes = [
        prober.post("/v1/signup", json=_body(name, email)).status_code
        for name, email in [
            ("acme", "x@example.org"),
            ("other", "acme@example.com"),
            ("ACME", "y@example.org"),
            ("acme", "z@example.org"),
            ("fresh", "fresh@example.org"),
        ]
    ]
    assert codes == [409, 409, 409, 429, 429]
    # nothing was created for the prober; another address still signs up
    assert len(svc.workspaces_overview()) == 1
    assert _client(svc, "192.0.2.2").post("/v1/signup", json=_body("fresh")).status_code == 201


def test_an_ipv6_client_is_counted_by_its_64_network(make_service: MakeService) -> None:
    """One IPv6 client holds a whole /64: the per-address limit counts the network, so
    taking a new address for each try does not pass it (until 6 December it did)."""
    svc = make_service(signup_per_ip=3, signup_window_seconds=600)
    codes = [
        _client(svc, f"2001:db8:1:2::{i:x}").post("/v1/signup", json=_body(f"v6-{i}")).status_code
        for i in range(1, 6)
    ]
    assert codes == [201, 201, 201, 429, 429]
    assert len(svc.workspaces_overview()) == 3
    # another /64 is another client; an IPv4-mapped address counts as its IPv4 address
    assert _client(svc, "2001:db8:1:3::1").post("/v1/signup", json=_body("v6-b")).status_code == 201
    for i, address in enumerate(("192.0.2.9", "::ffff:192.0.2.9", "192.0.2.9")):
        r = _client(svc, address).post("/v1/signup", json=_body(f"v4-{i}"))
        assert r.status_code == 201, r.text
    r = _client(svc, "::ffff:192.0.2.9").post("/v1/signup", json=_body("v4-late"))
    assert r.status_code == 429 and r.json()["error"]["details"]["limit"] == "signup_client"


def test_an_email_is_one_plain_address_the_link_goes_to(
    make_service: MakeService, smtp_sink: SmtpSink
) -> None:
    """An email that a mail header reads as another address is a 422 that writes nothing:
    the contact stored, and its place under the email cap, are the address the link is
    mailed to (until 6 December "<a@x.io>" or "x:a@x.io;" were stored as typed, each its
    own place under the cap, and the link went to a@x.io)."""
    svc = make_service(
        smtp_url=smtp_sink.url,
        signup_allow_unverified=False,
        signup_max_per_email=1,
        signup_per_ip=20,
    )
    client = _client(svc)
    assert client.post("/v1/signup", json=_body("first", "cap@example.com")).status_code == 201
    before = row_counts(svc)
    for email in (
        "<cap@example.com>",
        "cap@example.com)",
        "x:cap@example.com;",
        "x,cap@example.com",
        "(x)cap@example.com",
        "=?utf-8?q?cap?=@example.com",
        "cap@ex_ample.com",
    ):
        r = client.post("/v1/signup", json=_body("second", email))
        assert r.status_code == 422, (email, r.text)
        assert r.json()["error"]["details"]["field"] == "email"
    assert row_counts(svc) == before
    assert len(smtp_sink.messages) == 1
    unusual = "o'brien+ops@mail.example.co.uk"  # a plain address, however unusual, is fine
    r = client.post("/v1/signup", json=_body("second", unusual))
    assert r.status_code == 201, r.text
    assert r.json()["workspace"]["contact_email"] == unusual
    assert smtp_sink.wait_for(unusual)["X-Envelope-To"] == unusual


def test_a_mail_server_that_refuses_undoes_the_sign_up(make_service: MakeService) -> None:
    from tests.servicekit import free_port

    svc = make_service(smtp_url=f"smtp://127.0.0.1:{free_port()}", signup_allow_unverified=False)
    before = row_counts(svc)
    r = _client(svc).post("/v1/signup", json=_body("mailless"))
    assert r.status_code == 502 and r.json()["error"]["code"] == "mail_failed"
    after = row_counts(svc)
    # only the rate limiter's record of the attempt stays (a client address hash and a time)
    assert {t: n for t, n in after.items() if t != "signup_attempts"} == {
        t: n for t, n in before.items() if t != "signup_attempts"
    }
    assert svc.workspaces_overview() == []


def test_pending_until_verified_then_suspend_activate_and_set_plan(
    make_service: MakeService, smtp_sink: SmtpSink
) -> None:
    svc = make_service(smtp_url=smtp_sink.url, signup_allow_unverified=False)
    client = _client(svc)
    r = client.post("/v1/signup", json=_body("pending-team"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["workspace"]["status"] == "pending" and out["verification"] == "sent"
    auth = {"Authorization": f"Bearer {out['key']}"}
    body = {"taxonomy": "support", "text": "I was charged twice"}
    refused = client.post("/v1/classify", json=body, headers=auth)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["reason"] == "workspace_pending"

    token = smtp_sink.link("pending-team@example.com").split("token=")[1]
    assert client.post("/v1/signup/verify", json={"token": "nope"}).status_code == 404
    # the emailed link opens a page: a GET of it (a mail scanner) activates nothing
    assert client.get(f"/ui/signup/verify?token={token}").status_code == 200
    assert client.post("/v1/classify", json=body, headers=auth).status_code == 403
    verified = client.post("/v1/signup/verify", json={"token": token})
    assert verified.json() == {
        "workspace": "pending-team",
        "status": "active",
        "email": "pending-team@example.com",
    }
    assert client.post("/v1/classify", json=body, headers=auth).status_code == 200

    url = svc.settings.resolved_database_url
    runner = CliRunner()
    res = runner.invoke(cli, ["workspaces", "suspend", "pending-team", "--database-url", url])
    assert res.exit_code == 0, res.output
    suspended = client.post("/v1/classify", json=body, headers=auth)
    assert suspended.status_code == 403
    assert suspended.json()["error"]["details"]["reason"] == "workspace_suspended"
    res = runner.invoke(cli, ["workspaces", "activate", "pending-team", "--database-url", url])
    assert res.exit_code == 0, res.output
    assert client.post("/v1/classify", json=body, headers=auth).status_code == 200

    res = runner.invoke(
        cli, ["workspaces", "set-plan", "pending-team", "unlimited", "--database-url", url]
    )
    assert res.exit_code == 0 and "free -> unlimited" in res.output
    assert client.get("/v1/usage", headers=auth).json()["limit"] is None
    res = runner.invoke(
        cli, ["workspaces", "set-plan", "pending-team", "gold", "--database-url", url]
    )
    assert res.exit_code == 2 and "unknown plan" in res.output
    res = runner.invoke(cli, ["workspaces", "list", "--database-url", url, "--json"])
    listed = json.loads(res.stdout)
    assert [(w["name"], w["status"], w["plan"], w["used_this_month"]) for w in listed] == [
        ("pending-team", "active", "unlimited", 2)
    ]


def test_sign_up_is_off_by_default(make_service: MakeService) -> None:
    svc = make_service(signup="off")
    client = _client(svc)
    r = client.post("/v1/signup", json=_body("nope"))
    assert r.status_code == 403 and r.json()["error"]["details"]["reason"] == "signup_off"
    assert client.get("/ui/signup").status_code == 404
    assert svc.workspaces_overview() == []


def test_open_sign_up_without_a_mail_server_is_refused_at_start_up(tmp_path: Any) -> None:
    env = {
        **os.environ,
        "TRIAGED_SIGNUP": "open",
        "TRIAGED_DATA_DIR": str(tmp_path),
        "TRIAGED_BOOTSTRAP_ADMIN": "false",
    }
    env.pop("TRIAGED_SMTP_URL", None)
    env.pop("TRIAGED_SIGNUP_ALLOW_UNVERIFIED", None)
    cmd = [sys.executable, "-m", "triaged.cli", "serve", "--port", "1"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "TRIAGED_SMTP_URL" in res.stderr and "TRIAGED_SIGNUP_ALLOW_UNVERIFIED" in res.stderr
    assert not (tmp_path / "triaged.db").exists()


@pytest.mark.parametrize("invite", [None, "inv_unknown"])
def test_invite_mode_through_the_api(make_service: MakeService, invite: str | None) -> None:
    svc = make_service(signup="invite")
    admin = svc.create_key("ops", "admin", create_plan="unlimited")
    client = _client(svc)
    before = row_counts(svc)
    r = client.post("/v1/signup", json={**_body("x-team"), "invite": invite})
    assert r.status_code == 403
    assert row_counts(svc) == before
    made = client.post(
        "/v1/invites",
        json={"expires_in_hours": 1},
        headers={"Authorization": f"Bearer {admin.key}"},
    ).json()
    ok = client.post("/v1/signup", json={**_body("x-team"), "invite": made["token"]})
    assert ok.status_code == 201, ok.text
    again = client.post("/v1/signup", json={**_body("y-team"), "invite": made["token"]})
    assert again.status_code == 403 and again.json()["error"]["details"]["reason"] == "invite_used"


def test_an_abandoned_pending_sign_up_frees_its_name_once_its_link_expired(
    make_service: MakeService, smtp_sink: SmtpSink
) -> None:
    svc = make_service(
        smtp_url=smtp_sink.url,
        signup_allow_unverified=False,
        signup_verify_hours=1e-6,  # 3.6 ms
        signup_max_per_email=1,
    )
    client = _client(svc)
    first = client.post("/v1/signup", json=_body("squat", "one@example.com"))
    assert first.status_code == 201
    old_token = smtp_sink.link("one@example.com").split("token=")[1]
    time.sleep(0.05)
    assert client.post("/v1/signup/verify", json={"token": old_token}).status_code == 403
    again = client.post("/v1/signup", json=_body("squat", "one@example.com"))
    assert again.status_code == 201, again.text
    assert again.json()["workspace"]["id"] != first.json()["workspace"]["id"]
    assert [w["name"] for w in svc.workspaces_overview()] == ["squat"]
    # the deprecated GET answers the same, saying it is deprecated and what replaces it
    by_get = client.get("/v1/signup/verify", params={"token": old_token})
    assert by_get.status_code == 404
    assert by_get.headers["Deprecation"] == "true"
    assert by_get.headers["Link"] == '</v1/signup/verify>; rel="successor-version"'


def test_concurrent_sign_ups_from_one_address_never_pass_the_limit(
    make_service: MakeService,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from triaged.errors import RateLimited

    svc = make_service(signup_per_ip=5, signup_window_seconds=60)

    def attempt(i: int) -> str:
        try:
            svc.signup(f"race-{i}", f"race-{i}@example.com", client="ip:192.0.2.77", base_url="x")
        except RateLimited:
            return "429"
        return "201"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert sorted(outcomes) == ["201"] * 5 + ["429"] * 15
    assert len(svc.workspaces_overview()) == 5


def test_operator_invite_from_the_cli(make_service: MakeService) -> None:
    svc = make_service(signup="invite")
    svc.create_key("ops", "admin", create_plan="unlimited")
    url = svc.settings.resolved_database_url
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            *("invites", "create", "--workspace", "ops", "--note", "acme", "--json"),
            *("--base-url", "https://triaged.example", "--database-url", url),
        ],
    )
    assert res.exit_code == 0, res.output
    made = json.loads(res.stdout)
    assert made["url"] == f"https://triaged.example/ui/signup?invite={made['token']}"
    before = row_counts(svc)
    for base in ("triaged.example", "ftp://triaged.example", "https://"):  # no link to print
        res = runner.invoke(
            cli,
            [
                *("invites", "create", "--workspace", "ops", "--base-url", base),
                *("--database-url", url),
            ],
        )
        assert res.exit_code == 2 and "--base-url" in res.output, (base, res.output)
    assert row_counts(svc) == before
    out = svc.signup("acme", "a@example.com", client="ip:x", base_url="x", invite=made["token"])
    assert out["workspace"]["status"] == "active"
    res = runner.invoke(cli, ["workspaces", "list", "--database-url", url])
    assert res.exit_code == 0 and "acme" in res.output and "a@example.com" in res.output
    res = runner.invoke(cli, ["workspaces", "delete", "acme", "--database-url", url], input="n\n")
    assert res.exit_code == 1
    assert [w["name"] for w in svc.workspaces_overview()] == ["acme", "ops"]


def test_a_public_url_without_a_scheme_is_refused_at_start_up(tmp_path: Any) -> None:
    """TRIAGED_PUBLIC_URL is the base of the mailed verification link and the quick start:
    "triaged.example.com" (until 6 December accepted) mailed links no one could follow."""
    env = {
        **os.environ,
        "TRIAGED_SIGNUP": "open",
        "TRIAGED_SIGNUP_ALLOW_UNVERIFIED": "true",
        "TRIAGED_PUBLIC_URL": "triaged.example.com",
        "TRIAGED_DATA_DIR": str(tmp_path),
        "TRIAGED_BOOTSTRAP_ADMIN": "false",
    }
    cmd = [sys.executable, "-m", "triaged.cli", "serve", "--port", "1"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "error (invalid_settings)" in res.stderr and "TRIAGED_PUBLIC_URL" in res.stderr
    assert not (tmp_path / "triaged.db").exists()


def test_settings_refuse_a_mail_url_of_another_scheme() -> None:
    from pydantic import ValidationError

    from triaged.settings import Settings

    with pytest.raises(ValidationError, match="smtp\\+starttls://"):
        Settings(signup="open", smtp_url="http://mail.example.com")
    assert Settings(signup="open", smtp_url="smtps://u:p@mail.example.com").smtp_url


def test_a_failed_email_hands_the_invite_back_and_deleting_keeps_the_inviters_record(
    make_service: MakeService,
) -> None:
    """Invite mode, a mail server that refuses: the sign-up is undone and the invite works
    again (it was deleted with the undone workspace: 403 invite_unknown on the retry).  A
    workspace signed up with an invite, once deleted, leaves the invite in the inviting
    workspace's list, spent."""
    from tests.servicekit import free_port

    svc = make_service(
        signup="invite", smtp_url=f"smtp://127.0.0.1:{free_port()}", signup_allow_unverified=False
    )
    admin = svc.create_key("ops", "admin", create_plan="unlimited")
    auth = {"Authorization": f"Bearer {admin.key}"}
    client = _client(svc)
    made = client.post("/v1/invites", json={"expires_in_hours": 1}, headers=auth).json()
    r = client.post("/v1/signup", json={**_body("x-team"), "invite": made["token"]})
    assert r.status_code == 502, r.text
    listed = client.get("/v1/invites", headers=auth).json()["data"]
    assert [(i["id"], i["used_at"]) for i in listed] == [(made["id"], None)]

    ok_svc = make_service(signup="invite")  # the same database, no mail server
    ops = ok_svc.create_key("ops2", "admin", create_plan="unlimited")
    ops_auth = {"Authorization": f"Bearer {ops.key}"}
    ok_client = _client(ok_svc)
    inv = ok_client.post("/v1/invites", json={"expires_in_hours": 1}, headers=ops_auth).json()
    r = ok_client.post("/v1/signup", json={**_body("y-team"), "invite": inv["token"]})
    assert r.status_code == 201, r.text
    ok_svc.delete_workspace("y-team")
    listed = ok_client.get("/v1/invites", headers=ops_auth).json()["data"]
    assert [i["id"] for i in listed] == [inv["id"]] and listed[0]["used_at"] is not None


def test_a_suspended_workspaces_invites_admit_no_one(make_service: MakeService) -> None:
    svc = make_service(signup="invite")
    admin = svc.create_key("ops", "admin", create_plan="unlimited")
    client = _client(svc)
    auth = {"Authorization": f"Bearer {admin.key}"}
    made = client.post("/v1/invites", json={"expires_in_hours": 1}, headers=auth).json()
    svc.set_workspace_status("ops", "suspended")
    before = row_counts(svc)
    r = client.post("/v1/signup", json={**_body("x-team"), "invite": made["token"]})
    assert r.status_code == 403 and r.json()["error"]["details"]["reason"] == "invite_inactive"
    assert row_counts(svc) == before
    svc.set_workspace_status("ops", "active")
    r = client.post("/v1/signup", json={**_body("x-team"), "invite": made["token"]})
    assert r.status_code == 201, r.text


def test_signup_declares_its_502_and_the_workspace_answers_aware_times(
    make_service: MakeService,
) -> None:
    svc = make_service()
    spec = create_app(service=svc).openapi()
    assert "502" in spec["paths"]["/v1/signup"]["post"]["responses"]
    admin = svc.create_key("ops", "admin", create_plan="free")
    r = _client(svc).get("/v1/workspace", headers={"Authorization": f"Bearer {admin.key}"})
    assert r.status_code == 200, r.text
    assert r.json()["created_at"].endswith("+00:00")


def test_sign_up_under_limits_smaller_than_the_example_works_without_it(
    make_service: MakeService,
) -> None:
    """With label or example limits below the example taxonomy's size every sign-up
    answered the example's 413; the workspace is made without it and the quick start
    shows the workspace instead."""
    svc = make_service(max_labels_per_taxonomy=3)
    r = _client(svc).post("/v1/signup", json=_body("tiny-co"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["taxonomy"] is None
    assert "/v1/workspace" in out["quick_start"] and out["key"] in out["quick_start"]
    key = out["key"]
    client = _client(svc)
    shown = client.get("/v1/workspace", headers={"Authorization": f"Bearer {key}"})
    assert shown.status_code == 200 and shown.json()["name"] == "tiny-co"
    listed = client.get("/v1/taxonomies", headers={"Authorization": f"Bearer {key}"})
    assert listed.json()["data"] == []
