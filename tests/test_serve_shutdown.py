"""`triaged serve` stops on SIGTERM even while a request never ends: a stalled upload is cut
off after ``TRIAGED_SHUTDOWN_TIMEOUT_SECONDS`` (uvicorn would otherwise wait for it forever,
and a supervisor's stop would hang or escalate to SIGKILL)."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, free_port, make_settings, serve_subprocess
from triaged.service import Service
from triaged.storage import upgrade

pytestmark = pytest.mark.slow


def test_sigterm_stops_the_server_during_a_stalled_upload(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    key = svc.create_key("acme", "admin", create_plan="unlimited").key
    svc.create_taxonomy(svc.authenticate(key or ""), {**TINY_TAXONOMY, "name": "support"})
    svc.close()
    port, log = free_port(), tmp_path / "serve.log"
    release = threading.Event()
    sent = threading.Event()
    outcome: list[BaseException | int] = []

    def body() -> Iterator[bytes]:
        yield b'{"text": "I was charged twice"}\n'
        sent.set()
        release.wait(120)  # the client stalls mid-upload
        yield b'{"text": "and again"}\n'

    def upload() -> None:
        try:
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/jobs?taxonomy=support&format=jsonl",
                content=body(),
                headers={"Authorization": f"Bearer {key}"},
                timeout=120,
            )
            outcome.append(r.status_code)
        except BaseException as exc:  # the server closed the connection
            outcome.append(exc)

    env = {"TRIAGED_SHUTDOWN_TIMEOUT_SECONDS": "2", "TRIAGED_LOG_LEVEL": "info"}
    with serve_subprocess(url, port, log, env) as proc:
        client = threading.Thread(target=upload)
        client.start()
        try:
            assert sent.wait(60)
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(90)
            except subprocess.TimeoutExpired:
                pytest.fail("serve did not stop on SIGTERM:\n" + log.read_text()[-3000:])
            # uvicorn re-raises the signal once stopped: the exit status says SIGTERM
            assert code in (0, -signal.SIGTERM), log.read_text()[-3000:]
        finally:
            release.set()
            client.join(60)
    # the stalled upload got no 202: nothing half-uploaded was accepted
    assert outcome and not (isinstance(outcome[0], int) and outcome[0] == 202), outcome
