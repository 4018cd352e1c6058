"""Webhook delivery is a job of the PostgreSQL queue, run by `triaged worker` (real processes).

One `triaged serve` (TRIAGED_JOB_QUEUE=postgres) writes the events and delivers nothing
itself: with no worker running, a real receiver on loopback gets nothing and the outbox
rows stay untouched.  A `triaged worker` then delivers them (the periodic ``webhooks`` job,
signed).  With the receiver down, a worker that has started retrying is SIGKILLed; with
the receiver back and a new worker, every event arrives, and none already accepted is sent
again.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, text

from tests.jobs.test_processes import QUEUE_ENV, worker_process
from tests.servicekit import TINY_TAXONOMY, free_port, make_settings, pg_database, serve_subprocess
from tests.webhooks.receiver import Receiver, running_receiver
from triaged.service import Service
from triaged.services.keys import create_workspace
from triaged.storage import Database, upgrade
from triaged.storage.webhooks import webhook_deliveries
from triaged.webhooks import create_endpoint, enqueue_event

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WEBHOOK_ENV = {
    "TRIAGED_WEBHOOK_BACKOFF_BASE_S": "0.05",
    "TRIAGED_WEBHOOK_BACKOFF_MAX_S": "0.3",
    "TRIAGED_WEBHOOK_MAX_ATTEMPTS": "1000",
    "TRIAGED_WEBHOOK_TIMEOUT_S": "2",
    "TRIAGED_WEBHOOK_CLAIM_LEASE_S": "3",  # a claim of the killed worker expires soon
    "TRIAGED_WEBHOOK_POLL_INTERVAL_S": "1",  # the queue's period for the webhooks job
    "TRIAGED_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver listens on 127.0.0.1
    "TRIAGED_REVIEW_AUDIT_RATE": "1",  # every decision goes to review: events to resolve
    "TRIAGED_REVIEW_RETRAIN_AFTER": "0",
}
TEXTS = ["I was charged twice", "the app crashes", "change my email", "refund my invoice"]


def _wait(what: str, check: Any, timeout: float = 90.0, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.05)


@contextmanager
def worker_context(url: str, log: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start a `triaged worker` later, inside the block (killed at its end if still running)."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(worker_process(url, log))


def _deliveries(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        c = webhook_deliveries.c
        return list(conn.execute(select(c.event_id, c.status, c.attempts)).all())


def _resolve(base: str, key: str, items: list[dict[str, Any]]) -> None:
    """Correct each item to another label: one ``decision.corrected`` event each."""
    for item in items:
        other = next(lb["name"] for lb in TINY_TAXONOMY["labels"] if lb["name"] != item["label"])
        r = httpx.post(
            f"{base}/v1/review/items/{item['id']}/resolve",
            json={"action": "correct", "label": other},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text


def test_the_worker_delivers_webhooks_and_the_api_process_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WEBHOOK_ENV.items():
        monkeypatch.setenv(name, value)  # the worker processes inherit them
    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False))
        admin = svc.create_key("acme", "admin", create_plan="unlimited").key
        reviewer = svc.create_key("acme", "reviewer").key
        svc.close()
        assert admin and reviewer
        auth, rev = {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {reviewer}"}
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        port, hook_port = free_port(), free_port()
        base = f"http://127.0.0.1:{port}"
        slog, wlog = tmp_path / "serve.log", tmp_path / "worker.log"
        try:
            with serve_subprocess(url, port, slog, env={**QUEUE_ENV, **WEBHOOK_ENV}):
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
                with worker_process(url, wlog) as first:  # trains the taxonomy
                    r = httpx.post(
                        f"{base}/v1/taxonomies", json=TINY_TAXONOMY, headers=auth, timeout=60
                    )
                    assert r.status_code in (200, 201, 202), r.text
                    _wait(
                        "the model",
                        lambda: (
                            httpx.get(f"{base}/v1/taxonomies/support", headers=auth, timeout=60)
                            .json()
                            .get("model")
                        ),
                        log=wlog,
                    )
                    first.send_signal(signal.SIGTERM)
                    assert first.wait(30) == 0
                r = httpx.post(
                    f"{base}/v1/classify/batch",
                    json={"taxonomy": "support", "texts": TEXTS},
                    headers=auth,
                    timeout=30,
                )
                assert r.status_code == 200, r.text
                items = httpx.post(
                    f"{base}/v1/review/claim", json={"limit": 10}, headers=rev, timeout=60
                )
                items_list = items.json()["items"]
                assert len(items_list) == len(TEXTS)

                # no worker: the API process writes the events and sends nothing
                with worker_context(url, wlog) as start_worker:
                    with running_receiver(Receiver(secret=secret), port=hook_port) as receiver:
                        _resolve(base, reviewer, items_list[:2])
                        time.sleep(4.0)  # eight of the 0.5 s polls the old delivery thread made
                        assert receiver.requests == []
                        outbox = _deliveries(engine)
                        assert len(outbox) == 2
                        assert {(d.status, d.attempts) for d in outbox} == {("pending", 0)}
                        second = start_worker()
                        _wait(
                            "the worker to deliver",
                            lambda: len(receiver.unique_event_ids()) == 2,
                            log=wlog,
                        )
                    # the receiver is down; two more events; the worker keeps trying
                    _resolve(base, reviewer, items_list[2:])
                    _wait(
                        "failed tries",
                        lambda: (
                            sum(d.attempts for d in _deliveries(engine) if d.status != "delivered")
                            >= 4
                        ),
                        log=wlog,
                    )
                    second.send_signal(signal.SIGKILL)  # mid-retries, maybe mid-claim
                    second.wait(10)
                receiver_first = receiver.accepted()
                accepted_before = {r.event_id for r in receiver_first}
                with (
                    running_receiver(Receiver(secret=secret), port=hook_port) as again,
                    worker_process(url, tmp_path / "worker3.log"),
                ):
                    _wait(
                        "every event",
                        lambda: {d.status for d in _deliveries(engine)} == {"delivered"},
                        log=tmp_path / "worker3.log",
                    )
            events = {d.event_id for d in _deliveries(engine)}
            assert len(events) == 4
            assert accepted_before | again.unique_event_ids() == events
            assert not accepted_before & again.unique_event_ids()  # nothing accepted twice
            assert all(r.valid for r in receiver_first + again.requests)
            with engine.connect() as conn:
                kept = conn.execute(
                    text(
                        "SELECT status, count(*) FROM procrastinate_jobs "
                        "WHERE task_name = 'periodic_webhooks' GROUP BY status"
                    )
                ).all()
                deferred = conn.execute(
                    text(
                        "SELECT count(*) FROM procrastinate_periodic_defers "
                        "WHERE task_name = 'periodic_webhooks' AND periodic_id = 'webhooks'"
                    )
                ).scalar_one()
            # delivery ran as the periodic queue job (procrastinate keeps its latest defer) ...
            assert deferred == 1
            # ... and a finished drain is deleted at once (one a second); a failed one is kept
            assert "succeeded" not in {row.status for row in kept}, kept
        finally:
            engine.dispose()


def test_an_event_starts_a_drain_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The period is a day here: an event written on PostgreSQL notifies the worker, which
    defers a drain at once; the receiver gets every event, each once."""
    for name, value in {**WEBHOOK_ENV, "TRIAGED_WEBHOOK_POLL_INTERVAL_S": "86400"}.items():
        monkeypatch.setenv(name, value)
    with pg_database() as url:
        upgrade(url)
        db = Database(url)
        with db.write() as conn:
            ws = create_workspace(conn, "acme", "free")["id"]
        log = tmp_path / "worker.log"
        try:
            with running_receiver(Receiver()) as receiver, worker_process(url, log):
                with db.write() as conn:
                    secret = create_endpoint(conn, ws, receiver.url, ["alert.drift"]).secret
                receiver.secret = secret or ""
                _wait("the worker's queue", lambda: _listening(db), log=log)
                time.sleep(2.0)  # its notice listener connects beside it
                sent = set()
                for i in range(5):
                    with db.write() as conn:
                        sent.add(
                            enqueue_event(
                                conn, workspace_id=ws, event_type="alert.drift", data={"i": i}
                            )
                        )
                    time.sleep(0.2)
                _wait("the events", lambda: receiver.unique_event_ids() == sent, 60, log)
            assert len(receiver.requests) == 5 and all(r.valid for r in receiver.requests)
        finally:
            db.dispose()


def _listening(db: Database) -> bool:
    """A worker registered with the queue (its notice listener starts with it)."""
    try:
        with db.read() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar())
    except Exception:  # the queue's schema is not there yet
        return False
