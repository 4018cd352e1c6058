"""A migrated SQLite file with one workspace, for the webhook tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from triaged.services.keys import create_workspace
from triaged.storage import Database, upgrade
from triaged.webhooks import WebhookSettings, WebhookWorker

FAST = WebhookSettings(
    backoff_base_s=0.02,
    backoff_max_s=0.1,
    poll_interval_s=0.02,
    timeout_s=2.0,
    claim_lease_s=5.0,
    max_attempts=6,
    allow_private=True,  # the receivers of these tests listen on 127.0.0.1
)


@pytest.fixture(autouse=True)
def _loopback_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registration reads TRIAGED_WEBHOOK_*: let these tests register their loopback receivers."""
    monkeypatch.setenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", "true")


@dataclass
class Env:
    db: Database
    workspace_id: str
    other_workspace_id: str


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    url = f"sqlite:///{tmp_path / 'hooks.db'}"
    upgrade(url)
    db = Database(url)
    with db.write() as conn:
        ws = create_workspace(conn, "acme", "free")
        other = create_workspace(conn, "other", "free")
    yield Env(db, ws["id"], other["id"])
    db.dispose()


@contextmanager
def delivering(db: Database, config: WebhookSettings = FAST) -> Iterator[WebhookWorker]:
    """A deliverer drained every ``poll_interval_s`` in a thread, as the ``webhooks`` job
    runs in ``triaged serve`` (the job runner itself is tested with real processes)."""
    worker = WebhookWorker(db, config)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            worker.drain(10.0, stop=stop)
            stop.wait(config.poll_interval_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(10)
        worker.close()
