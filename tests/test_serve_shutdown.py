"""`triaged serve` stops on SIGTERM even while a request never ends (a stalled upload is cut
off after ``TRIAGED_SHUTDOWN_TIMEOUT_SECONDS``: uvicorn would otherwise wait for it forever,
and a supervisor's stop would hang or escalate to SIGKILL) or a training runs (abandoned
after the same time, and trained by the next start)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
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


# `triaged serve` whose trainings never finish (the fit sleeps): everything else is real.
SLOW_SERVE = textwrap.dedent(
    """
    import sys, time
    from triaged.classifier import Classifier
    Classifier.fit = lambda self, *a, **k: time.sleep(3600)
    from triaged.cli import app
    app(["serve", "--host", "127.0.0.1", "--port", sys.argv[2], "--database-url", sys.argv[1]])
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["term", "int"])
def test_a_stop_abandons_a_running_training_which_the_next_start_finishes(
    tmp_path: Path, sig: signal.Signals
) -> None:
    url = f"sqlite:///{tmp_path / 'train-stop.db'}"
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
    svc.create_taxonomy(svc.authenticate(key), {**TINY_TAXONOMY, "name": "support"})
    svc.close()
    port, log = free_port(), tmp_path / "slow.log"
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    env = {
        **os.environ,
        "TRIAGED_BOOTSTRAP_ADMIN": "false",
        "TRIAGED_SHUTDOWN_TIMEOUT_SECONDS": "2",
        "TRIAGED_LOG_LEVEL": "info",
    }
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", SLOW_SERVE, url, str(port)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).parents[1],
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        started = httpx.post(f"{base}/v1/taxonomies/support/train", headers=auth, timeout=30)
        assert started.status_code == 202, started.text
        model_id = started.json()["id"]
        time.sleep(0.5)  # the retrain thread is inside the (endless) fit
        proc.send_signal(sig)
        try:
            code = proc.wait(60)  # without the deadline: an hour
        except subprocess.TimeoutExpired:
            pytest.fail("serve waited for the training:\n" + log.read_text()[-3000:])
        assert code in (0, -sig, 130), log.read_text()[-3000:]
        assert "abandoned" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    # the next start on this machine trains the abandoned row at once
    port2 = free_port()
    base2 = f"http://127.0.0.1:{port2}"
    with serve_subprocess(url, port2, tmp_path / "serve.log"):
        deadline = time.monotonic() + 120
        while (
            model := httpx.get(
                f"{base2}/v1/taxonomies/support/models/{model_id}", headers=auth, timeout=60
            )
        ).json()["status"] == "training":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert model.json()["status"] == "ready", model.text
        assert model.json()["active"] is True
