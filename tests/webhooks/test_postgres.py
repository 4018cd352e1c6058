"""Claims on PostgreSQL (FOR UPDATE SKIP LOCKED): concurrent workers never take a delivery twice."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from triaged.services.keys import create_workspace
from triaged.storage import Database, upgrade
from triaged.webhooks import create_endpoint, enqueue_event
from triaged.webhooks.worker import claim_due

pytestmark = pytest.mark.postgres

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_db():
    name = f"triaged_wh_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # fails loudly when PostgreSQL is not there
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade(url)
        db = Database(url)
        yield db
        db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_concurrent_claimers_take_each_delivery_exactly_once(pg_db):
    with pg_db.write() as conn:
        ws = create_workspace(conn, "acme", "free")
        create_endpoint(conn, ws["id"], "http://127.0.0.1:9/h", ["decision.resolved"])
        for _ in range(200):
            enqueue_event(conn, workspace_id=ws["id"], event_type="decision.resolved", data={})
    taken: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def claimer() -> None:
        barrier.wait()
        while claims := claim_due(pg_db, limit=7, lease_s=60):
            with lock:
                taken.extend(c.delivery_id for c in claims)

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(taken) == 200
    assert len(set(taken)) == 200


def test_delivery_with_retries_on_postgres(pg_db):
    from .conftest import delivering
    from .receiver import Receiver, running_receiver

    with running_receiver(Receiver(fail_first=2)) as receiver:
        with pg_db.write() as conn:
            ws = create_workspace(conn, "acme", "free")
            ep = create_endpoint(conn, ws["id"], receiver.url, ["decision.corrected"])
            receiver.secret = ep.secret or ""
            ids = {
                enqueue_event(conn, workspace_id=ws["id"], event_type="decision.corrected", data={})
                for _ in range(3)
            }
        with delivering(pg_db):
            deadline = time.monotonic() + 15
            while receiver.unique_event_ids() != ids and time.monotonic() < deadline:
                time.sleep(0.02)
    assert receiver.unique_event_ids() == ids
    assert sum(r.status == 500 for r in receiver.requests) == 2


def test_two_deliverers_keep_one_decisions_events_in_order(pg_db):
    import json

    from .conftest import delivering
    from .receiver import Receiver, running_receiver

    types = ["decision.resolved", "decision.reopened", "decision.corrected"]
    with running_receiver(Receiver(fail_first=3)) as receiver:
        with pg_db.write() as conn:
            ws = create_workspace(conn, "acme", "free")
            ep = create_endpoint(conn, ws["id"], receiver.url, types)
        receiver.secret = ep.secret or ""
        emitted: dict[str, list[str]] = {}
        for round_ in range(3):
            for d in range(10):
                with pg_db.write() as conn:
                    emitted.setdefault(f"dec_{d}", []).append(
                        enqueue_event(
                            conn,
                            workspace_id=ws["id"],
                            event_type=types[round_],
                            data={"decision_id": f"dec_{d}"},
                        )
                    )
        with delivering(pg_db), delivering(pg_db):  # two workers claim side by side
            deadline = time.monotonic() + 30
            while len(receiver.unique_event_ids()) < 30 and time.monotonic() < deadline:
                time.sleep(0.02)
    arrived: dict[str, list[str]] = {}
    for r in receiver.accepted():
        arrived.setdefault(json.loads(r.body)["data"]["decision_id"], []).append(r.event_id)
    assert arrived == emitted


def test_concurrent_deletes_of_one_endpoint_succeed_once(pg_db):
    from triaged.errors import NotFound
    from triaged.webhooks import delete_endpoint

    with pg_db.write() as conn:
        ws = create_workspace(conn, "acme", "free")
        ep = create_endpoint(conn, ws["id"], "http://127.0.0.1:9/h", ["decision.resolved"])
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def delete() -> None:
        barrier.wait()
        try:
            with pg_db.write() as conn:
                delete_endpoint(conn, ws["id"], ep.id)
            result = "deleted"
        except NotFound:
            result = "not_found"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=delete) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["deleted"] + ["not_found"] * 5
