"""End to end: a real ``triaged serve`` is SIGKILLed while webhook events are pending (the
receiver is down); after a restart every event reaches the receiver, signed, once each."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from tests.servicekit import TINY_TAXONOMY, free_port, serve_subprocess
from triaged.service import Service
from triaged.settings import Settings
from triaged.storage.webhooks import webhook_attempts, webhook_events

from .receiver import Receiver, running_receiver

WEBHOOK_ENV = {
    "TRIAGED_WEBHOOK_BACKOFF_BASE_S": "0.05",
    "TRIAGED_WEBHOOK_BACKOFF_MAX_S": "0.2",
    "TRIAGED_WEBHOOK_POLL_INTERVAL_S": "0.05",
    "TRIAGED_WEBHOOK_MAX_ATTEMPTS": "1000",
    "TRIAGED_WEBHOOK_TIMEOUT_S": "2",
    # a delivery in flight when the server is killed stays claimed for the lease: keep it short
    # (above the timeout) so its retry after the restart falls inside the test's wait
    "TRIAGED_WEBHOOK_CLAIM_LEASE_S": "3",
    "TRIAGED_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver listens on 127.0.0.1
}


@contextmanager
def serve(url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with serve_subprocess(
        url,
        port,
        log,
        {**WEBHOOK_ENV, "TRIAGED_REVIEW_AUDIT_RATE": "1", "TRIAGED_REVIEW_RETRAIN_AFTER": "0"},
    ) as proc:
        yield proc


def _outbox(url: str) -> tuple[set[str], int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            events = set(conn.execute(select(webhook_events.c.id)).scalars())
            attempts = len(conn.execute(select(webhook_attempts.c.id)).all())
        return events, attempts
    finally:
        engine.dispose()


def test_pending_events_survive_a_kill_and_are_delivered_after_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triaged.db'}"
    svc = Service(Settings(database_url=url, bootstrap_admin=False))
    svc.start()
    admin = svc.create_key("acme", "admin", create_plan="unlimited").key
    reviewer = svc.create_key("acme", "reviewer").key
    svc.close()
    auth = {"Authorization": f"Bearer {admin}"}
    rev = {"Authorization": f"Bearer {reviewer}"}
    port, hook_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    texts = ["I was charged twice", "the app crashes", "change my email", "where is the moon"]

    with serve(url, port, log) as proc:
        r = httpx.post(
            f"{base}/v1/webhooks",
            json={
                "url": f"http://127.0.0.1:{hook_port}/hook",
                "events": ["decision.resolved", "decision.corrected"],
            },
            headers=auth,
            timeout=60,
        )
        assert r.status_code == 201, r.text
        secret = r.json()["secret"]
        assert httpx.post(
            f"{base}/v1/taxonomies", json=TINY_TAXONOMY, headers=auth, timeout=60
        ).is_success
        r = httpx.post(
            f"{base}/v1/classify/batch",
            json={"taxonomy": "support", "texts": texts},
            headers=auth,
            timeout=30,
        )
        assert r.status_code == 200, r.text
        items = httpx.post(
            f"{base}/v1/review/claim", json={"limit": 10}, headers=rev, timeout=60
        ).json()
        assert len(items["items"]) == len(texts)
        for n, item in enumerate(items["items"]):
            other = next(
                lb["name"] for lb in TINY_TAXONOMY["labels"] if lb["name"] != item["label"]
            )
            body = {"action": "confirm"} if n % 2 else {"action": "correct", "label": other}
            r = httpx.post(
                f"{base}/v1/review/items/{item['id']}/resolve", json=body, headers=rev, timeout=60
            )
            assert r.status_code == 200, r.text
        deadline = time.monotonic() + 20
        while _outbox(url)[1] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the worker is trying (and failing: nobody listens yet)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    events, attempts = _outbox(url)
    assert events and attempts >= 2

    with (
        running_receiver(Receiver(secret=secret), port=hook_port) as receiver,
        serve(url, port, log),
    ):
        deadline = time.monotonic() + 30
        while receiver.unique_event_ids() != events and time.monotonic() < deadline:
            time.sleep(0.05)
    assert receiver.unique_event_ids() == events
    assert all(r.valid for r in receiver.requests)
    assert len(receiver.accepted()) == len(events)  # nothing twice here: each settled once
    for req in receiver.accepted():
        payload = json.loads(req.body)
        assert set(payload) == {"id", "type", "created_at", "data"}
        assert payload["id"] == req.event_id
        assert payload["type"] in {"decision.resolved", "decision.corrected"}
        assert payload["data"]["decision_id"].startswith("dec_")
