"""Killing the server mid-review loses nothing: a real ``triaged serve`` is killed with
SIGKILL while items are claimed; after a restart every resolved item stays resolved
and the claimed ones come back to the queue when their lease runs out."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from tests.servicekit import TINY_TAXONOMY, free_port, serve_subprocess
from triaged.service import Service
from triaged.settings import Settings

LEASE_S = 6.0


@contextmanager
def serve(url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with serve_subprocess(
        url, port, log, {"TRIAGED_REVIEW_AUDIT_RATE": "1", "TRIAGED_REVIEW_RETRAIN_AFTER": "0"}
    ) as proc:
        yield proc


def test_kill_mid_review_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triaged.db'}"
    svc = Service(Settings(database_url=url, bootstrap_admin=False))
    svc.start()
    admin = svc.create_key("acme", "admin", create_plan="unlimited").key
    reviewer = svc.create_key("acme", "reviewer").key
    svc.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {admin}"}
    rev = {"Authorization": f"Bearer {reviewer}"}
    texts = [f"{t} #{i}" for i, t in enumerate(["I was charged twice", "the app crashes"] * 5)]
    log = tmp_path / "server.log"

    http = httpx.Client(timeout=120)
    with serve(url, port, log) as proc:
        assert (
            http.post(f"{base}/v1/taxonomies", json=TINY_TAXONOMY, headers=auth).status_code == 201
        )
        r = http.post(
            f"{base}/v1/classify/batch",
            json={"taxonomy": "support", "texts": texts},
            headers=auth,
            timeout=30,
        )
        decision_ids = [d["id"] for d in r.json()["results"]]
        r = http.post(
            f"{base}/v1/review/claim", json={"limit": 10, "lease_seconds": LEASE_S}, headers=rev
        )
        items = r.json()["items"]
        assert len(items) == 10
        lease_end = datetime.fromisoformat(items[0]["lease_expires_at"]).timestamp()
        done = items[:4]
        for item in done:
            r = http.post(
                f"{base}/v1/review/items/{item['id']}/resolve",
                json={"action": "confirm"},
                headers=rev,
            )
            assert r.status_code == 200
        http.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    http = httpx.Client(timeout=120)
    with serve(url, port, log):
        before = time.time()
        r = http.post(f"{base}/v1/review/claim", json={"limit": 10}, headers=rev)
        back = r.json()["items"]
        if time.time() < lease_end:  # still leased: nobody else gets them yet
            assert back == []
        if not back:
            time.sleep(max(0.0, lease_end - time.time()) + 0.2)
            r = http.post(f"{base}/v1/review/claim", json={"limit": 10}, headers=rev)
            back = r.json()["items"]
        else:
            assert before > lease_end - 1.0  # the restart outlasted the lease
        assert sorted(i["id"] for i in back) == sorted(i["id"] for i in items[4:])
        for item in back:
            r = http.post(
                f"{base}/v1/review/items/{item['id']}/resolve",
                json={"action": "confirm"},
                headers=rev,
            )
            assert r.status_code == 200
        for item in done:  # resolved before the kill: still resolved, not claimable again
            r = http.get(f"{base}/v1/review/items/{item['id']}", headers=rev)
            assert r.json()["status"] == "resolved"
            events = [h["event"] for h in r.json()["history"]]
            assert events == ["created", "claimed", "resolved"]
        for did in decision_ids:
            d = http.get(f"{base}/v1/decisions/{did}", headers=auth).json()
            assert d["final_source"] == "review" and d["final_label"] == d["label"]
        stats = http.get(f"{base}/v1/review/stats", headers=rev).json()
        assert sum(q["resolved"] for q in stats["queues"].values()) == 10
        assert sum(stats["counts"].values()) == 0
    http.close()
