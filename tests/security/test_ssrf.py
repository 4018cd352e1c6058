"""Webhook URLs that reach inside the host or its network are refused, at registration and
at delivery, whatever the spelling; DNS answers are checked for every address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.webhooks.conftest import FAST
from tests.webhooks.receiver import Receiver, running_receiver
from triaged.errors import InvalidInput
from triaged.storage.webhooks import webhook_attempts
from triaged.webhooks import WebhookSettings, WebhookWorker, create_endpoint, enqueue_event
from triaged.webhooks.netguard import UrlPolicy, check_webhook_url

STRICT = UrlPolicy()

INTERNAL_URLS = [
    "http://127.0.0.1/h",
    "http://127.1/h",
    "http://2130706433/h",
    "http://0x7f.0.0.1/h",
    "http://0177.0.0.1/h",
    "http://0.0.0.0/h",
    "http://[::1]/h",
    "http://[::]/h",
    "http://[::ffff:127.0.0.1]/h",
    "http://[::ffff:7f00:1]/h",
    "http://[64:ff9b::a9fe:a9fe]/h",
    "http://localhost/h",
    "http://LOCALHOST./h",
    "http://api.localhost/h",
    "http://10.0.0.5/h",
    "http://172.16.3.4/h",
    "http://172.31.255.255/h",
    "http://192.168.1.1/h",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://100.64.0.1/h",
    "http://224.0.0.1/h",
    "http://240.0.0.1/h",
    "http://255.255.255.255/h",
    "http://[fe80::1]/h",
    "http://[fd00::1]/h",
    "http://[ff02::1]/h",
    "https://user:pw@hooks.example.com/h",
    "https://token@hooks.example.com/h",
]


def _public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def _rebinding(host: str, port: int) -> list[str]:
    """A public-looking name whose answers include a private address."""
    return ["93.184.216.34", "10.0.0.7"] if host == "hooks.example.com" else ["93.184.216.34"]


def _to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_url_refused_at_registration(url):
    with pytest.raises(InvalidInput):
        check_webhook_url(url, STRICT, _public)


def test_public_url_accepted_and_names_resolving_inside_refused():
    assert check_webhook_url(" https://hooks.example.com/h ", STRICT, _public) == (
        "https://hooks.example.com/h"
    )
    assert check_webhook_url("http://8.8.8.8:8080/h", STRICT, _public)
    with pytest.raises(InvalidInput) as info:
        check_webhook_url("https://hooks.example.com/h", STRICT, _rebinding)
    assert info.value.details["reason"] == "private address"


def test_operator_allow_list_and_allow_private():
    assert check_webhook_url("http://127.0.0.1:9/h", UrlPolicy(allow_private=True), _public)
    policy = UrlPolicy.from_allow_list(False, ["10.1.2.0/24", "hooks.corp.example"])
    assert check_webhook_url("http://10.1.2.9/h", policy, _public)
    assert check_webhook_url("http://hooks.corp.example/h", policy, _to_loopback)
    with pytest.raises(InvalidInput):
        check_webhook_url("http://10.1.3.9/h", policy, _public)
    with pytest.raises(InvalidInput):  # credentials stay refused, whatever the policy
        check_webhook_url("http://u:p@127.0.0.1/h", UrlPolicy(allow_private=True), _public)


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["http://127.1:9/h", "http://[::ffff:127.0.0.1]/h"])
async def test_api_refuses_internal_urls_by_default(stack, tenant, url, monkeypatch):
    monkeypatch.delenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", raising=False)
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/webhooks", json={"url": url, "events": ["decision.resolved"]})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_input"
        assert (await c.get("/v1/webhooks")).json()["data"] == []
        monkeypatch.setenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", "true")
        r = await c.post("/v1/webhooks", json={"url": url, "events": ["decision.resolved"]})
        assert r.status_code == 201, r.text


MALFORMED_URLS = [
    "http://xn--/h",  # a malformed IDNA A-label: httpx raises while decoding the host
    "http://xn--a/h",
    "http://.com/h",  # empty label
    "http://example..com/h",
    "http://" + "a" * 64 + ".com/h",  # a label over 63 characters (getaddrinfo raised)
    "http://-bad-.com/h",
    "http://a.xn--/h",
    "http://exa mple.com/h",
    "https://example.com/a b",
    "http://example.com:0/h",
    "http://example.com:99999/h",
    "http://example.com:-1/h",
    "http://example.com/\u202e",
]


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_malformed_url_refused_at_registration(url):
    """Refused as invalid input, by the real resolver too (until 5 December some raised
    inside httpx or getaddrinfo: a 500), and never stored to fail at every delivery."""
    with pytest.raises(InvalidInput):
        check_webhook_url(url, STRICT)


def test_well_formed_names_pass_the_syntax_check():
    for url in ("http://example.com./h", "http://bücher.example/h", "http://my_svc.example/h"):
        assert check_webhook_url(url, STRICT, _public) == url


@pytest.mark.anyio
async def test_api_answers_400_for_malformed_urls_and_stores_none(stack, tenant):
    async with stack.client(tenant.key) as c:
        for url in MALFORMED_URLS:
            r = await c.post("/v1/webhooks", json={"url": url, "events": ["decision.resolved"]})
            assert r.status_code == 400, (url, r.text)
            assert r.json()["error"]["code"] == "invalid_input"
        assert (await c.get("/v1/webhooks")).json()["data"] == []


def _queue_one(env, url, policy):
    with env.db.write() as conn:
        endpoint = create_endpoint(
            conn, env.workspace_id, url, ["decision.resolved"], policy=policy, resolver=None
        )
        enqueue_event(
            conn, workspace_id=env.workspace_id, event_type="decision.resolved", data={"x": 1}
        )
    return endpoint


def _attempts(env):
    with env.db.read() as conn:
        return conn.execute(select(webhook_attempts)).all()


def test_delivery_refuses_a_name_that_now_resolves_to_loopback(env):
    """DNS rebinding: the name was public at registration, it resolves to the receiver's
    loopback address at delivery; nothing is sent and the attempt says only why."""
    with running_receiver(Receiver()) as receiver:
        port = int(receiver.url.split(":")[2].split("/")[0])
        _queue_one(env, f"http://hooks.example.com:{port}/hook", STRICT)
        worker = WebhookWorker(
            env.db, FAST.model_copy(update={"allow_private": False}), resolver=_to_loopback
        )
        try:
            assert worker.run_once() == 1
        finally:
            worker.close()
        assert receiver.requests == []
    (attempt,) = _attempts(env)
    assert attempt.status_code is None
    assert attempt.error == "blocked_destination"
    assert attempt.response_excerpt is None


def test_delivery_connects_to_the_checked_address_with_the_original_host(env):
    """The allowed name is resolved by the injected resolver and the request goes to that
    address (the name itself does not resolve anywhere), with Host unchanged."""
    with running_receiver(Receiver(fail_first=1)) as receiver:
        port = int(receiver.url.split(":")[2].split("/")[0])
        endpoint = _queue_one(
            env,
            f"http://hooks.corp.example:{port}/hook",
            UrlPolicy.from_allow_list(False, ["hooks.corp.example"]),
        )
        receiver.secret = endpoint.secret or ""
        config = FAST.model_copy(
            update={"allow_private": False, "allow_hosts": ["hooks.corp.example"]}
        )
        worker = WebhookWorker(env.db, config, resolver=_to_loopback)
        try:
            assert worker.run_once() == 1  # 500 from the receiver
        finally:
            worker.close()
        assert len(receiver.requests) == 1
        assert receiver.requests[0].host == f"hooks.corp.example:{port}"
    (attempt,) = _attempts(env)
    assert attempt.status_code == 500
    assert attempt.error == "http_status"
    assert attempt.response_excerpt is None  # no receiver text unless the operator asks


def test_closed_port_reports_a_generic_class_not_the_os_text(env):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _queue_one(env, f"http://127.0.0.1:{port}/h", UrlPolicy(allow_private=True))
    worker = WebhookWorker(env.db, FAST)
    try:
        worker.run_once()
    finally:
        worker.close()
    (attempt,) = _attempts(env)
    assert attempt.error == "connect_error"


def test_default_settings_refuse_private_delivery():
    assert WebhookSettings().allow_private is False
    assert WebhookSettings().response_excerpts is False


def test_attempts_stored_before_the_upgrade_show_no_os_or_receiver_text(env):
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from triaged.storage.webhooks import webhook_deliveries
    from triaged.webhooks import list_attempts, list_deliveries

    endpoint = _queue_one(env, "https://hooks.example.com/h", STRICT)
    with env.db.write() as conn:
        delivery_id = conn.execute(select(webhook_deliveries.c.id)).scalar_one()
        conn.execute(
            webhook_deliveries.update().values(
                last_error="ConnectError: [Errno 111] Connection refused"
            )
        )
        for i, (error, excerpt) in enumerate(
            [("ConnectError: [Errno 111] Connection refused", None), ("HTTP 500", "db password")]
        ):
            conn.execute(
                insert(webhook_attempts).values(
                    id=f"att_old{i}",
                    delivery_id=delivery_id,
                    attempt=i + 1,
                    started_at=datetime.now(UTC),
                    duration_ms=1.0,
                    status_code=500 if excerpt else None,
                    error=error,
                    response_excerpt=excerpt,
                )
            )
    with env.db.read() as conn:
        shown = list_attempts(conn, env.workspace_id, endpoint.id, delivery_id, excerpts=False)
        (delivery,) = list_deliveries(conn, env.workspace_id, endpoint.id)
        opted_in = list_attempts(conn, env.workspace_id, endpoint.id, delivery_id, excerpts=True)
    assert [a["error"] for a in shown] == ["transport_error", "http_status"]
    assert [a["response_excerpt"] for a in shown] == [None, None]
    assert delivery["last_error"] == "transport_error"
    assert opted_in[1]["response_excerpt"] == "db password"
