"""Drift checks in the background of the served app: a shifted traffic mix is recorded once
and sent to the workspace's ``alert.drift`` webhook, an unchanged mix stays silent, and
several checkers at once (API workers on one database) record each alert once."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.servicekit import BACKENDS, TINY_TAXONOMY, make_settings, make_stack, pg_database
from tests.webhooks.receiver import Receiver, running_receiver
from triaged.api import create_app
from triaged.service import Service
from triaged.services.drift_checks import DriftChecker
from triaged.services.ids import new_id
from triaged.settings import Settings
from triaged.storage import Database, upgrade
from triaged.storage.tables import decisions
from triaged.storage.webhooks import webhook_events


def _rows(
    ws: str,
    tax_id: str,
    name: str,
    start: datetime,
    hours: float,
    n: int,
    hold_share: float,
    seed: int,
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "id": new_id("dec"),
            "workspace_id": ws,
            "taxonomy_id": tax_id,
            "taxonomy": name,
            "taxonomy_version": 1,
            "model_version": "m",
            "text": "t",
            "external_id": None,
            "metadata": None,
            "label": rng.choice(("billing", "bug")),
            "confidence": 0.5,
            "bucket": "hold"
            if rng.random() < hold_share
            else rng.choice(("auto", "auto", "review")),
            "alternatives": [],
            "scores": {},
            "latency_ms": 1.0,
            "key_id": None,
            "created_at": start + timedelta(seconds=rng.random() * hours * 3600),
            "final_label": None,
            "final_source": None,
            "resolved_at": None,
        }
        for _ in range(n)
    ]


def _history(ws: str, tax_id: str, name: str, recent_hold: float) -> list[dict[str, Any]]:
    """A week at 10% held, then a day at ``recent_hold`` (an hour clear of each window edge)."""
    now = datetime.now(UTC)
    return _rows(
        ws, tax_id, name, now - timedelta(days=8, hours=-1), 24 * 7 - 2, 2000, 0.10, 1
    ) + _rows(ws, tax_id, name, now - timedelta(hours=23), 22, 600, recent_hold, 2)


def _drift_events(db: Database, ws: str) -> list[dict[str, Any]]:
    e = webhook_events.c
    with db.read() as conn:
        rows = conn.execute(
            select(e.id, e.payload).where(e.workspace_id == ws, e.type == "alert.drift")
        ).all()
    return [{"id": r.id, **r.payload["data"]} for r in rows]


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_settings_default_and_documented() -> None:
    assert Settings().drift_check_interval_seconds == 900
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "TRIAGED_DRIFT_CHECK_INTERVAL_SECONDS" in readme


def test_serve_checks_drift_in_the_background_and_sends_the_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", "true")  # the receiver is on loopback
    url = f"sqlite:///{tmp_path / 'drift.db'}"
    upgrade(url)
    service = Service(make_settings(url, migrate_on_start=False, drift_check_interval_seconds=0.2))
    key = service.create_key("acme", "admin", create_plan="unlimited").key
    principal = service.authenticate(key or "")
    ws = principal.workspace_id
    headers = {"Authorization": f"Bearer {key}"}
    with (
        running_receiver(Receiver()) as receiver,
        TestClient(create_app(service=service), headers=headers) as client,
    ):
        for name in ("shifted", "steady"):
            r = client.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})
            assert r.status_code == 201, r.text
        hook = client.post("/v1/webhooks", json={"url": receiver.url, "events": ["alert.drift"]})
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]
        shifted = service.taxonomy_record(principal, "shifted")
        steady = service.taxonomy_record(principal, "steady")
        with service.db.write() as conn:  # both in one commit: a round sees both or neither
            conn.execute(
                decisions.insert(),
                _history(ws, shifted.id, "shifted", recent_hold=0.20)
                + _history(ws, steady.id, "steady", recent_hold=0.10),
            )

        def recorded() -> list[dict[str, Any]]:
            r = client.get("/v1/metrics/drift/alerts")
            assert r.status_code == 200, r.text
            alerts: list[dict[str, Any]] = r.json()["data"]
            return alerts

        _wait(lambda: bool(recorded()))
        time.sleep(1.0)  # several more rounds: nothing is repeated, the steady mix stays silent
        alerts = recorded()
        assert [(a["taxonomy"], a["bucket"], a["direction"]) for a in alerts] == [
            ("shifted", "hold", "up")
        ]
        events = _drift_events(service.db, ws)
        assert [e["id"] for e in events] == [alerts[0]["event_id"]]
        assert events[0]["recent_total"] == 600
        _wait(lambda: receiver.unique_event_ids() == {alerts[0]["event_id"]})
        assert all(r.valid for r in receiver.accepted())
    service.close()


def test_interval_zero_turns_the_checker_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'off.db'}"
    upgrade(url)
    service = Service(make_settings(url, migrate_on_start=False, drift_check_interval_seconds=0))
    with TestClient(create_app(service=service)):
        names = {t.name for t in threading.enumerate()}
        assert "triaged-drift-checker" not in names
        assert "triaged-webhooks" in names  # the outbox job runs in-process (no queue)
    service.close()


@contextmanager
def _database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'workers.db'}"
        return
    with pg_database() as url:
        yield url


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_checkers_record_each_alert_once(backend: str, tmp_path: Path) -> None:
    with _database_url(backend, tmp_path) as url:
        stack = make_stack(backend, url)
        tenant = stack.tenant()
        principal = stack.service.authenticate(tenant.key)
        stack.service.create_taxonomy(principal, {**TINY_TAXONOMY, "name": "shifted"})
        record = stack.service.taxonomy_record(principal, "shifted")
        with stack.service.db.write() as conn:
            conn.execute(
                decisions.insert(), _history(principal.workspace_id, record.id, "shifted", 0.20)
            )
        # four API workers, each with its own engine, checking at the same moment
        workers = [DriftChecker(Database(url), interval_s=60) for _ in range(4)]
        barrier = threading.Barrier(len(workers))
        found: list[dict[str, Any]] = []
        lock = threading.Lock()

        def check(worker: DriftChecker) -> None:
            barrier.wait()
            new = worker.run_once()
            with lock:
                found.extend(new)

        threads = [threading.Thread(target=check, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(found) == 1, found
        # and back to back: already recorded within the recent window
        for w in workers:
            assert w.run_once() == []
        events = _drift_events(stack.service.db, principal.workspace_id)
        assert [e["id"] for e in events] == [found[0]["event_id"]]
        with stack.service.db.read() as conn:
            total = conn.execute(
                select(func.count())
                .select_from(webhook_events)
                .where(webhook_events.c.type == "alert.drift")
            ).scalar_one()
        assert total == 1
        for w in workers:
            w.db.dispose()
        stack.service.close()
