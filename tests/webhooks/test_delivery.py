"""Delivery against a real HTTP receiver on loopback: retries, de-duplication, restarts."""

from __future__ import annotations

import json
import socket
import time

import pytest
from sqlalchemy import select

from triaged.errors import Conflict
from triaged.storage.webhooks import webhook_deliveries
from triaged.webhooks import (
    WebhookWorker,
    create_endpoint,
    enqueue_event,
    list_attempts,
    list_deliveries,
    retry_delivery,
)
from triaged.webhooks.worker import backoff_delay, claim_due

from .conftest import FAST, delivering
from .receiver import Receiver, running_receiver


def _subscribe(env, url):
    with env.db.write() as conn:
        return create_endpoint(conn, env.workspace_id, url, ["decision.resolved"])


def _emit(env, n):
    ids = []
    for i in range(n):
        with env.db.write() as conn:
            ids.append(
                enqueue_event(
                    conn,
                    workspace_id=env.workspace_id,
                    event_type="decision.resolved",
                    data={"decision_id": f"dec_{i}", "label": "billing"},
                )
            )
    return ids


def _statuses(env):
    with env.db.read() as conn:
        return sorted(conn.execute(select(webhook_deliveries.c.status)).scalars())


def _wait(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_receiver_failing_three_times_gets_every_event_once_after_dedup(env):
    with running_receiver(Receiver(fail_first=3)) as receiver:
        endpoint = _subscribe(env, receiver.url)
        receiver.secret = endpoint.secret or ""
        event_ids = _emit(env, 5)
        with delivering(env.db):
            assert _wait(lambda: _statuses(env) == ["delivered"] * 5)
    assert receiver.unique_event_ids() == set(event_ids)
    assert all(r.valid for r in receiver.requests)
    assert [r.status for r in receiver.requests[:3]] == [500, 500, 500]
    with env.db.read() as conn:
        deliveries = list_deliveries(conn, env.workspace_id, endpoint.id)
        attempts = [list_attempts(conn, env.workspace_id, endpoint.id, d["id"]) for d in deliveries]
    assert sum(len(a) for a in attempts) == len(receiver.requests)
    logged = [a for per in attempts for a in per]
    assert sorted(a["status_code"] for a in logged).count(500) == 3
    assert all(a["duration_ms"] >= 0 for a in logged)


def test_pending_events_are_delivered_after_a_restart(env):
    with socket.socket() as s:  # a port with nothing listening yet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = _subscribe(env, f"http://127.0.0.1:{port}/hook")
    event_ids = _emit(env, 3)
    with delivering(env.db):
        assert _wait(lambda: _attempted(env) >= 3)
    # the "server" went down with the receiver still unreachable
    assert "delivered" not in _statuses(env)
    with (
        running_receiver(Receiver(secret=endpoint.secret or ""), port=port) as receiver,
        delivering(env.db),  # a fresh process would do the same
    ):
        assert _wait(lambda: _statuses(env) == ["delivered"] * 3)
    assert receiver.unique_event_ids() == set(event_ids)


def _attempted(env):
    with env.db.read() as conn:
        return sum(r.attempts for r in conn.execute(select(webhook_deliveries.c.attempts)))


def test_a_claim_abandoned_by_a_dead_worker_is_retried_after_its_lease(env):
    with running_receiver(Receiver()) as receiver:
        endpoint = _subscribe(env, receiver.url)
        receiver.secret = endpoint.secret or ""
        [event_id] = _emit(env, 1)
        [claim] = claim_due(env.db, limit=10, lease_s=0.3)  # ... and the worker dies here
        assert claim.event_id == event_id
        assert claim_due(env.db, limit=10, lease_s=0.3) == []  # still leased: not taken twice
        time.sleep(0.35)
        worker = WebhookWorker(env.db, FAST)
        try:
            assert worker.run_once() == 1
        finally:
            worker.close()
    assert _statuses(env) == ["delivered"]
    assert receiver.unique_event_ids() == {event_id}


def test_gives_up_after_max_attempts_and_can_be_retried(env):
    with running_receiver(Receiver(fail_first=3)) as receiver:
        endpoint = _subscribe(env, receiver.url)
        receiver.secret = endpoint.secret or ""
        [event_id] = _emit(env, 1)
        with delivering(env.db, FAST.model_copy(update={"max_attempts": 3})):
            assert _wait(lambda: _statuses(env) == ["failed"])
            assert len(receiver.requests) == 3
            with env.db.read() as conn:
                [delivery] = list_deliveries(conn, env.workspace_id, endpoint.id)
            assert delivery["attempts"] == 3 and delivery["last_status_code"] == 500
            with env.db.write() as conn:
                again = retry_delivery(conn, env.workspace_id, endpoint.id, delivery["id"])
            assert again["status"] == "pending"
            assert _wait(lambda: _statuses(env) == ["delivered"])
    assert receiver.unique_event_ids() == {event_id}
    with env.db.read() as conn:
        attempts = list_attempts(conn, env.workspace_id, endpoint.id, delivery["id"])
    assert [a["status_code"] for a in attempts] == [500, 500, 500, 200]
    # the retry's round numbers its tries from 1 again; n and round tell them apart
    assert [(a["n"], a["round"], a["attempt"]) for a in attempts] == [
        (1, 1, 1),
        (2, 1, 2),
        (3, 1, 3),
        (4, 2, 1),
    ]
    with pytest.raises(Conflict), env.db.write() as conn:  # delivered: nothing to retry
        retry_delivery(conn, env.workspace_id, endpoint.id, delivery["id"])


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for attempt, full in [(1, 2.0), (2, 4.0), (3, 8.0), (12, 60.0)]:
        delays = [backoff_delay(attempt, 2.0, 60.0) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1


def _failures_exposed(env) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    from triaged.metrics import exposition

    families = {f.name: f for f in text_string_to_metric_families(exposition(env.db).decode())}
    [sample] = families["triaged_webhook_delivery_failures"].samples
    return float(sample.value)


def test_the_failure_counter_never_goes_down_when_attempts_are_pruned(env):
    """Prometheus reads a counter that decreases as a reset: the failures are tallied when
    the attempt is written, so retention pruning the attempts leaves the count as it was."""
    from datetime import timedelta

    from triaged.services.ids import utcnow
    from triaged.webhooks.retention import prune

    with running_receiver(Receiver(fail_first=2)) as receiver:
        endpoint = _subscribe(env, receiver.url)
        receiver.secret = endpoint.secret or ""
        _emit(env, 1)
        with delivering(env.db, FAST):
            assert _wait(lambda: _statuses(env) == ["delivered"])
    assert _failures_exposed(env) == 2.0
    assert prune(env.db, older_than=timedelta(0), now=utcnow() + timedelta(days=1)) >= 1
    assert _statuses(env) == []  # the delivery, its attempts and its event are gone
    assert _failures_exposed(env) == 2.0


def test_one_decisions_events_reach_an_endpoint_in_order(env):
    """Deliveries run in parallel and retry, so without an order a reviewer's answer, its
    undo and the new answer reached a receiver in any order (and the last to arrive was not
    the decision's final state).  One decision's events now go one at a time, in order,
    even when the first is retried; other decisions' events are not held back."""
    types = ["decision.resolved", "decision.reopened", "decision.corrected"]
    with running_receiver(Receiver(fail_first=2)) as receiver:
        with env.db.write() as conn:
            endpoint = create_endpoint(conn, env.workspace_id, receiver.url, types)
        receiver.secret = endpoint.secret or ""
        emitted: dict[str, list[str]] = {}
        for round_ in range(3):
            for d in range(8):
                with env.db.write() as conn:
                    emitted.setdefault(f"dec_{d}", []).append(
                        enqueue_event(
                            conn,
                            workspace_id=env.workspace_id,
                            event_type=types[round_],
                            data={"decision_id": f"dec_{d}", "round": round_},
                        )
                    )
        with delivering(env.db):
            assert _wait(lambda: _statuses(env) == ["delivered"] * 24)
    arrived: dict[str, list[str]] = {}
    for r in receiver.accepted():
        arrived.setdefault(json.loads(r.body)["data"]["decision_id"], []).append(r.event_id)
    assert arrived == emitted
    assert [r.status for r in receiver.requests[:2]] == [500, 500]  # retried, still in order


def test_the_log_names_the_receiver_by_its_host_only(env, caplog):
    """A receiver's URL often holds its secret (``/hooks/T0KEN?sig=...``): every attempt's
    log line wrote it whole."""
    import logging

    from triaged.webhooks.worker import url_origin

    assert url_origin("https://hooks.example.com/T0KEN?sig=abc") == "https://hooks.example.com/…"
    assert url_origin("http://127.0.0.1:8163") == "http://127.0.0.1:8163"
    with running_receiver(Receiver()) as receiver:
        secret_url = receiver.url.rstrip("/") + "/in/T0KEN-SECRET?sig=S3CRET"
        endpoint = _subscribe(env, secret_url)
        receiver.secret = endpoint.secret or ""
        _emit(env, 1)
        with caplog.at_level(logging.INFO, logger="triaged"), delivering(env.db):
            assert _wait(lambda: _statuses(env) == ["delivered"])
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("triaged.webhooks")]
    assert any("attempt 1 to http://127.0.0.1:" in line for line in lines), lines
    assert not any("SECRET" in line or "S3CRET" in line for line in lines), lines
