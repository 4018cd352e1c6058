"""`triaged serve` as an operator runs it: a subprocess on a fresh database, then the CLI
and a plain HTTP client, exactly as the README and the contract describe."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx

TRIAGED = [sys.executable, "-m", "triaged.cli"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_prints_an_admin_key_once_and_the_contract_works(tmp_path):
    url = f"sqlite:///{tmp_path / 'served.db'}"
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGED_")}
    proc = subprocess.Popen(
        [*TRIAGED, "serve", "--host", "127.0.0.1", "--port", str(port), "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, "".join(lines)
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        admin = None
        while admin is None and time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
            lines.append(line)
            found = re.search(r"\b(tri_[A-Za-z0-9_-]+)", line)
            admin = found.group(1) if found else None
        assert admin, "".join(lines)
        auth = {"Authorization": f"Bearer {admin}"}
        r = httpx.post(
            f"{base}/v1/classify",
            headers=auth,
            json={"taxonomy": "support", "text": "I was charged twice this month"},
            timeout=60,
        )
        assert r.status_code == 200 and r.json()["label"] == "billing", r.text

        # the operator CLI on the same database while the server runs
        out = subprocess.run(
            [*TRIAGED, "workspaces", "create", "acme", "--plan", "free", "--database-url", url],
            capture_output=True,
            text=True,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        out = subprocess.run(
            [
                *TRIAGED,
                "keys",
                "create",
                "--workspace",
                "acme",
                "--role",
                "admin",
                "--database-url",
                url,
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        key = json.loads(out.stdout)["key"]
        auth = {"Authorization": f"Bearer {key}"}
        body = {
            "name": "tickets",
            "labels": [
                {
                    "name": "billing",
                    "description": "Invoices and refunds",
                    "examples": ["refund please", "charged twice"],
                },
                {
                    "name": "bug",
                    "description": "Crashes and errors",
                    "examples": ["the app crashes", "error on login"],
                },
            ],
            "thresholds": {"auto": 0.85, "review": 0.6},
        }
        created = httpx.post(f"{base}/v1/taxonomies", headers=auth, json=body, timeout=60)
        assert created.status_code == 201 and created.json()["version"] == 1, created.text
        res = httpx.post(
            f"{base}/v1/classify",
            headers=auth,
            json={"taxonomy": "tickets", "text": "my app keeps crashing"},
            timeout=60,
        ).json()
        assert res["label"] == "bug"
        assert (
            httpx.get(f"{base}/v1/decisions/{res['id']}", headers=auth, timeout=60).status_code
            == 200
        )
        assert httpx.get(f"{base}/v1/usage", headers=auth, timeout=60).json()["used"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
