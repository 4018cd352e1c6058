"""``triaged workspaces delete`` leaves no row of the workspace in any table (SQLite and
PostgreSQL): every table of the migrated database is inspected through reflected
SQLAlchemy metadata, not a list kept by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, String, Text, func, select
from typer.testing import CliRunner

from tests.signup.conftest import SmtpSink, row_counts
from triaged.api import create_app
from triaged.cli import app as cli
from triaged.service import Service
from triaged.webhooks import WebhookSettings
from triaged.webhooks.worker import WebhookWorker

# what populate() must reach in each workspace: the test fails if one of them stays empty
TOUCHED = {
    "api_keys",
    "quota_counters",
    "taxonomies",
    "taxonomy_versions",
    "models",
    "model_evaluations",
    "decisions",
    "idempotency_keys",
    "routing_policies",
    "review_items",
    "review_events",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
    "web_sessions",
    "invites",
    "email_verifications",
}
# server-wide rows that belong to no workspace
GLOBAL = {"alembic_version", "server_secrets", "signup_attempts"}


@pytest.fixture(autouse=True)
def _loopback_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", "true")


def _web_sign_in(client: TestClient, key: str) -> None:
    form = client.get("/ui/login").text
    token = re.search(r'name="login_token" value="([^"]+)"', form)
    assert token, form
    r = client.post(
        "/ui/login",
        data={"api_key": key, "login_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def populate(svc: Service, admin_key: str) -> None:
    """Rows of one workspace in every table the product writes."""
    client = TestClient(create_app(service=svc))
    admin = {"Authorization": f"Bearer {admin_key}"}
    principal = svc.authenticate(admin_key)
    made = client.post("/v1/keys", json={"role": "client", "name": "ci"}, headers=admin).json()
    client.post("/v1/keys", json={"role": "reviewer", "name": "rev"}, headers=admin)
    assert client.delete(f"/v1/keys/{made['id']}", headers=admin).status_code == 200
    hook = client.post(
        "/v1/webhooks",
        json={
            "url": "http://127.0.0.1:9/hook",
            "events": ["decision.resolved", "decision.corrected"],
        },
        headers=admin,
    )
    assert hook.status_code == 201, hook.text
    texts = ["I was charged twice", "The app crashes", "Change my email", "Weather?"]
    for i, text in enumerate(texts):
        r = client.post(
            "/v1/classify",
            json={"taxonomy": "support", "text": text},
            headers={**admin, "Idempotency-Key": f"req-{i}"},
        )
        assert r.status_code == 200, r.text
    item = svc.review.claim(principal, taxonomy="support")[0]
    labels = [lb["name"] for lb in svc.get_taxonomy(principal, "support")["labels"]]
    other = next(lb for lb in labels if lb != item["label"])
    svc.review.resolve(principal, item["id"], action="correct", label=other)  # an event
    svc.review.retrain(principal, "support", wait=True)
    worker = WebhookWorker(
        svc.db, WebhookSettings(allow_private=True, timeout_s=1.0, max_attempts=1)
    )
    try:
        assert worker.run_once() >= 1  # a refused connection: one recorded attempt
    finally:
        worker.close()
    assert client.post("/v1/invites", json={"note": "n"}, headers=admin).status_code == 201
    _web_sign_in(client, admin_key)


def _rows_naming(svc: Service, value: str) -> dict[str, int]:
    """Per table: rows with ``value`` in any text column."""
    meta = MetaData()
    found: dict[str, int] = {}
    with svc.db.read() as conn:
        meta.reflect(conn)
        for table in meta.sorted_tables:
            cols = [c for c in table.c if isinstance(c.type, String | Text)]
            for col in cols:
                n = conn.execute(
                    select(func.count()).select_from(table).where(col == value)
                ).scalar_one()
                if n:
                    found[f"{table.name}.{col.name}"] = int(n)
    return found


def test_delete_leaves_no_row_of_the_workspace_in_any_table(
    make_service: Callable[..., Service], smtp_sink: SmtpSink
) -> None:
    svc = make_service(
        signup="invite",
        smtp_url=smtp_sink.url,
        signup_allow_unverified=False,
        review_audit_rate=1.0,
        review_retrain_after=0,
    )
    keep = svc.create_key("keep", "admin", create_plan="unlimited")
    assert keep.key is not None
    svc.create_taxonomy(
        svc.authenticate(keep.key),
        {
            **{k: v for k, v in _example().items() if k != "thresholds"},
        },
    )
    populate(svc, keep.key)
    before = row_counts(svc)

    invite = svc.create_invite(svc.authenticate(keep.key), base_url="http://t")
    out = svc.signup(
        "gone",
        "gone@example.com",
        client="ip:192.0.2.1",
        base_url="http://t",
        invite=invite["token"],
    )
    svc.verify_signup(smtp_sink.link("gone@example.com").split("token=")[1])
    populate(svc, out["key"])
    gone_id = out["workspace"]["id"]
    full = row_counts(svc)
    assert {t for t in TOUCHED if full.get(t, 0) <= before.get(t, 0)} == set()
    assert _rows_naming(svc, gone_id)

    url = svc.settings.resolved_database_url
    res = CliRunner().invoke(cli, ["workspaces", "delete", "gone", "--yes", "--database-url", url])
    assert res.exit_code == 0, res.output
    assert "deleted workspace gone" in res.output

    after = row_counts(svc)
    # the invite it signed up with is the other workspace's: it stays in that workspace's
    # list, spent, no longer naming the deleted one (until 5 December it was deleted too)
    expected = {t: n for t, n in before.items() if t not in GLOBAL}
    expected["invites"] = expected.get("invites", 0) + 1
    assert {t: n for t, n in after.items() if t not in GLOBAL} == expected
    assert _rows_naming(svc, gone_id) == {}
    kept = {i["id"]: i for i in svc.list_invites(svc.authenticate(keep.key))}
    assert kept[invite["id"]]["used_at"] is not None
    # the other workspace is whole and works
    r = TestClient(create_app(service=svc)).post(
        "/v1/classify",
        json={"taxonomy": "support", "text": "refund please"},
        headers={"Authorization": f"Bearer {keep.key}"},
    )
    assert r.status_code == 200, r.text
    res = CliRunner().invoke(cli, ["workspaces", "delete", "gone", "--yes", "--database-url", url])
    assert res.exit_code == 2 and "no workspace" in res.output


def _example() -> dict[str, Any]:
    from triaged.examples import example_taxonomy

    return example_taxonomy().to_dict()
