"""The /v1/webhooks routes through the real app (lifespan included) on a SQLite file."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from triaged.api import create_app
from triaged.service import Service
from triaged.settings import Settings
from triaged.webhooks import enqueue_event

from .receiver import Receiver, running_receiver


@pytest.fixture
def api(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGED_WEBHOOK_POLL_INTERVAL_S", "0.02")
    service = Service(Settings(data_dir=tmp_path, bootstrap_admin=False))
    app = create_app(service=service)
    with TestClient(app) as client:
        admin = service.create_key("acme", "admin", create_plan="free").key
        reviewer = service.create_key("acme", "reviewer").key
        other = service.create_key("other", "admin", create_plan="free").key
        client.headers["Authorization"] = f"Bearer {admin}"
        yield client, service, {"reviewer": reviewer, "other": other}


def test_register_list_log_and_delete(api):
    client, service, _keys = api
    with running_receiver(Receiver()) as receiver:
        r = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["decision.resolved"]})
        assert r.status_code == 201, r.text
        created = r.json()
        assert set(created) >= {"id", "secret"}
        receiver.secret = created["secret"]
        listed = client.get("/v1/webhooks").json()["data"]
        assert [w["id"] for w in listed] == [created["id"]]
        assert "secret" not in listed[0]

        workspace_id = service.authenticate(client.headers["Authorization"][7:]).workspace_id
        with service.db.write() as conn:
            event_id = enqueue_event(
                conn, workspace_id=workspace_id, event_type="decision.resolved", data={"a": 1}
            )
        deadline = time.monotonic() + 10
        while not receiver.accepted() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.unique_event_ids() == {event_id}

    deliveries = client.get(f"/v1/webhooks/{created['id']}/deliveries").json()["data"]
    assert [d["status"] for d in deliveries] == ["delivered"]
    attempts = client.get(
        f"/v1/webhooks/{created['id']}/deliveries/{deliveries[0]['id']}/attempts"
    ).json()["data"]
    assert attempts[0]["status_code"] == 200
    assert client.delete(f"/v1/webhooks/{created['id']}").status_code == 204
    assert client.get("/v1/webhooks").json()["data"] == []


def test_every_event_type_can_be_subscribed(api):
    """The API accepts exactly the events the service sends: `decision.withdrawn` (a held
    decision erased before its review) was sent but refused at registration with 422, so
    a workflow waiting on a held decision could never hear that none would come."""
    from typing import get_args

    from triaged.api.routes.webhooks import EventType
    from triaged.webhooks.events import EVENT_TYPES

    assert set(get_args(EventType)) == set(EVENT_TYPES)
    client, _service, _keys = api
    url = "https://hooks.example.com/triaged"
    r = client.post("/v1/webhooks", json={"url": url, "events": list(EVENT_TYPES)})
    assert r.status_code == 201, r.text
    assert set(r.json()["events"]) == set(EVENT_TYPES)
    r = client.patch(f"/v1/webhooks/{r.json()['id']}", json={"events": ["decision.withdrawn"]})
    assert r.status_code == 200 and r.json()["events"] == ["decision.withdrawn"], r.text


def test_other_workspaces_and_roles(api):
    client, _service, keys = api
    created = client.post(
        "/v1/webhooks", json={"url": "https://example.test/h", "events": ["decision.corrected"]}
    ).json()
    other = {"Authorization": f"Bearer {keys['other']}"}
    for method, path in [
        ("GET", f"/v1/webhooks/{created['id']}"),
        ("DELETE", f"/v1/webhooks/{created['id']}"),
        ("GET", f"/v1/webhooks/{created['id']}/deliveries"),
    ]:
        r = client.request(method, path, headers=other)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/v1/webhooks", headers={"Authorization": f"Bearer {keys['reviewer']}"})
    assert r.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://example.test/h", "events": ["nope"]},
        {"url": "https://example.test/h", "events": []},
        {"url": "ftp://example.test/h", "events": ["decision.resolved"]},
    ],
)
def test_invalid_registrations(api, body):
    client, _service, _keys = api
    r = client.post("/v1/webhooks", json=body)
    assert r.status_code in (400, 422) and "error" in r.json()


def test_sdk_manages_webhooks_and_verifies(api):
    from tests.servicekit import live_server
    from triaged.client import Client, verify_signature
    from triaged.webhooks import signature_header

    client, service, _keys = api
    admin_key = client.headers["Authorization"][7:]
    with live_server(create_app(service=service)) as srv, Client(srv.url, admin_key) as sdk:
        created = sdk.create_webhook("https://example.test/h", ["decision.resolved"])
        assert created.secret and created.secret.startswith("whsec_")
        assert created.events == ["decision.resolved"] and created.url == "https://example.test/h"
        [listed] = sdk.webhooks()
        assert listed.id == created.id and listed.secret is None  # the secret is shown once
        assert sdk.delete_webhook(created.id) is None
        assert sdk.webhooks() == []
    body = b'{"id":"evt_1"}'
    assert verify_signature(body, signature_header(body, created.secret), created.secret)


def _quick_retries(tmp_path, monkeypatch) -> Service:
    """A service whose deliveries give up after two quick tries (private receivers allowed)."""
    for name, value in {
        "POLL_INTERVAL_S": "0.02",
        "MAX_ATTEMPTS": "2",
        "BACKOFF_BASE_S": "0.02",
        "ALLOW_PRIVATE": "true",
    }.items():
        monkeypatch.setenv(f"TRIAGED_WEBHOOK_{name}", value)
    return Service(Settings(data_dir=tmp_path, bootstrap_admin=False))


def test_attempts_page_through_a_retried_delivery(tmp_path, monkeypatch):
    """A manual retry numbers its tries from 1 again: pages follow the tries in order
    (``n``) and say which round each belongs to; none is skipped or repeated."""
    service = _quick_retries(tmp_path, monkeypatch)
    with TestClient(create_app(service=service)) as client:
        admin = service.create_key("acme", "admin", create_plan="free").key
        client.headers["Authorization"] = f"Bearer {admin}"
        with running_receiver(Receiver(fail_first=2)) as receiver:
            hook = client.post(
                "/v1/webhooks", json={"url": receiver.url, "events": ["decision.resolved"]}
            ).json()
            receiver.secret = hook["secret"]
            with service.db.write() as conn:
                enqueue_event(
                    conn,
                    workspace_id=service.authenticate(admin or "").workspace_id,
                    event_type="decision.resolved",
                    data={"a": 1},
                )
            base = f"/v1/webhooks/{hook['id']}/deliveries"

            def status() -> str:
                return str(client.get(base).json()["data"][0]["status"])

            deadline = time.monotonic() + 20
            while status() != "failed":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            [delivery] = client.get(base).json()["data"]
            r = client.post(f"{base}/{delivery['id']}/retry")
            assert r.status_code == 200, r.text
            while status() != "delivered":
                assert time.monotonic() < deadline
                time.sleep(0.02)
        seen, cursor = [], None
        while True:
            params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            page = client.get(f"{base}/{delivery['id']}/attempts", params=params).json()
            seen += [(a["n"], a["round"], a["attempt"], a["status_code"]) for a in page["data"]]
            if not (cursor := page["next_cursor"]):
                break
    assert seen == [(1, 1, 1, 500), (2, 1, 2, 500), (3, 2, 1, 200)]


def test_a_retry_never_sends_a_decision_s_old_state_after_its_current_one(tmp_path, monkeypatch):
    """A decision's first event fails (receiver down), a later one about the same decision
    is delivered: retrying the first would make it arrive last, and a receiver takes the
    last event of a decision to arrive as its state.  The retry is refused (409, reason
    ``superseded``, naming the newer delivery); another decision's failed event is retried."""
    service = _quick_retries(tmp_path, monkeypatch)
    with TestClient(create_app(service=service)) as client:
        admin = service.create_key("acme", "admin", create_plan="free").key
        client.headers["Authorization"] = f"Bearer {admin}"
        workspace = service.authenticate(admin).workspace_id
        with running_receiver(Receiver(fail_first=4)) as receiver:
            hook = client.post(
                "/v1/webhooks", json={"url": receiver.url, "events": ["decision.resolved"]}
            ).json()
            receiver.secret = hook["secret"]
            base = f"/v1/webhooks/{hook['id']}/deliveries"

            def send(decision: str, label: str) -> None:
                with service.db.write() as conn:
                    enqueue_event(
                        conn,
                        workspace_id=workspace,
                        event_type="decision.resolved",
                        data={"decision_id": decision, "final_label": label},
                    )

            def settled(n: int) -> list[dict]:
                deadline = time.monotonic() + 20
                while True:
                    rows = client.get(base).json()["data"]
                    if len(rows) == n and all(r["status"] in ("delivered", "failed") for r in rows):
                        return rows
                    assert time.monotonic() < deadline, rows
                    time.sleep(0.02)

            send("dec_1", "travel")
            [first] = settled(1)  # 2 tries failed: given up
            send("dec_2", "travel")
            other = next(r for r in settled(2) if r["id"] != first["id"])
            assert first["status"] == other["status"] == "failed"
            send("dec_1", "leave")
            newer = next(r for r in settled(3) if r["id"] not in {first["id"], other["id"]})
            assert newer["status"] == "delivered"
            r = client.post(f"{base}/{first['id']}/retry")
            assert r.status_code == 409, r.text
            details = r.json()["error"]["details"]
            assert details["reason"] == "superseded" and details["newer"] == newer["id"]
            assert client.post(f"{base}/{other['id']}/retry").status_code == 200


def test_change_rotate_and_test_an_endpoint(tmp_path, monkeypatch):
    """PATCH changes the URL (pending and later deliveries go there), the events and the
    description, never the secret; rotate-secret answers a new one that signs from then on;
    /test sends one signed webhook.test event to that endpoint only."""
    for name, value in {"POLL_INTERVAL_S": "0.02", "ALLOW_PRIVATE": "true"}.items():
        monkeypatch.setenv(f"TRIAGED_WEBHOOK_{name}", value)
    service = Service(Settings(data_dir=tmp_path, bootstrap_admin=False))
    with TestClient(create_app(service=service)) as client:
        admin = service.create_key("acme", "admin", create_plan="free").key
        reviewer = service.create_key("acme", "reviewer").key
        client.headers["Authorization"] = f"Bearer {admin}"
        with running_receiver(Receiver()) as first, running_receiver(Receiver()) as second:
            hook = client.post(
                "/v1/webhooks", json={"url": first.url, "events": ["decision.resolved"]}
            ).json()
            other = client.post(
                "/v1/webhooks", json={"url": second.url, "events": ["decision.resolved"]}
            ).json()
            first.secret, second.secret = hook["secret"], other["secret"]
            base = f"/v1/webhooks/{hook['id']}"

            def wait_for(receiver: Receiver, n: int) -> None:
                deadline = time.monotonic() + 15
                while len(receiver.accepted()) < n:
                    assert time.monotonic() < deadline, receiver.requests
                    time.sleep(0.02)

            r = client.post(f"{base}/test")
            assert r.status_code == 202, r.text
            assert r.json()["event_type"] == "webhook.test"
            wait_for(first, 1)
            assert json.loads(first.accepted()[0].body)["type"] == "webhook.test"
            time.sleep(0.2)
            assert second.requests == []  # the other endpoint got nothing

            r = client.patch(
                base,
                json={"url": second.url, "events": ["decision.corrected"], "description": "b"},
            )
            assert r.status_code == 200, r.text
            changed = r.json()
            assert (changed["url"], changed["events"], changed["description"]) == (
                second.url,
                ["decision.corrected"],
                "b",
            )
            assert "secret" not in changed
            second.secret = hook["secret"]  # the secret stays: verified by this receiver
            client.post(f"{base}/test")
            wait_for(second, 1)

            rotated = client.post(f"{base}/rotate-secret")  # default: 24 h of overlap
            assert rotated.status_code == 200, rotated.text
            new_secret = rotated.json()["secret"]
            assert new_secret.startswith("whsec_") and new_secret != hook["secret"]
            assert rotated.json()["previous_secret_expires_at"] is not None
            assert client.get(base).json()["previous_secret_expires_at"] is not None
            client.post(f"{base}/test")  # the receiver still knows the old secret only
            wait_for(second, 2)
            assert second.accepted()[-1].signature.count("v1=") == 2
            second.secret = new_secret  # ... and the new one, once it has switched
            client.post(f"{base}/test")
            wait_for(second, 3)
            assert all(r.valid for r in second.accepted())

            again = client.post(f"{base}/rotate-secret", json={"overlap_hours": 0})
            assert again.status_code == 200 and again.json()["previous_secret_expires_at"] is None
            client.post(f"{base}/test")  # signed by the newest secret alone: refused here
            deadline = time.monotonic() + 15
            while not [r for r in second.requests if r.status == 400]:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert second.requests[-1].signature.count("v1=") == 1
            second.secret = again.json()["secret"]
            r = client.post(f"{base}/rotate-secret", json={"overlap_hours": 500})
            assert r.status_code == 422

            for method, path, body in [
                ("PATCH", base, {"events": ["no.such.event"]}),
                ("PATCH", base, {"url": "ftp://example.com/x"}),
                ("PATCH", base, {"secret": "mine"}),
            ]:
                r = client.request(method, path, json=body)
                assert r.status_code == 422, (body, r.text)
            as_reviewer = {"Authorization": f"Bearer {reviewer}"}
            assert client.post(f"{base}/test", headers=as_reviewer).status_code == 403
            assert client.post("/v1/webhooks/wh_nope/rotate-secret").status_code == 404
            assert client.get(base).json()["url"] == second.url
