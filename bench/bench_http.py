"""Classify over HTTP against a real uvicorn server, next to in-process classify.

    python -m bench.bench_http [--clients 1,8,32] [--requests 400] [--backends sqlite,postgres]
                               [--pg-url URL] [--json] [--update-readme]

For each backend (a fresh SQLite file; a fresh database on the PostgreSQL server)
it migrates, creates an ``unlimited`` workspace, a key and the bundled example
taxonomy (trained), starts ``uvicorn triaged.api:create_app --factory`` in a
subprocess (one worker, as ``triaged serve`` runs it) and drives ``POST
/v1/classify`` from N concurrent keep-alive clients (threads, one request at a
time each).  Each request is a full decision: auth, quota, classify, decision
committed.  In the same run it times
``Classifier.classify`` (library) and ``Service.classify`` (library + database,
no HTTP) one text at a time.  Prints a markdown table (or JSON); "server CPU
ms/req" is the CPU time the serving process spent per request (for the
in-process rows: this process), which stays meaningful on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench._common import DATASETS, percentile, update_readme
from triaged.examples import example_taxonomy
from triaged.service import ClassifyItem, Service
from triaged.settings import Settings
from triaged.storage import upgrade

PG_URL = os.environ.get("TRIAGED_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _texts(n: int) -> list[str]:
    test = DATASETS / "banking77" / "test.jsonl"
    if test.exists():
        rows = [json.loads(line)["text"] for line in test.read_text().splitlines() if line.strip()]
        if rows:
            return [rows[i % len(rows)] for i in range(n)]
    base = [
        "I was charged twice for my subscription this month",
        "The app crashes every time I open the settings page",
        "How do I change the email address on my account?",
        "Can you recommend a good pizza place nearby?",
    ]
    return [f"{base[i % len(base)]} ({i})" for i in range(n)]


@contextmanager
def _database(backend: str, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="triaged-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
    name = f"triaged_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def _server(
    url: str, extra: list[str], env_extra: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "TRIAGED_DATABASE_URL": url,
        "TRIAGED_BOOTSTRAP_ADMIN": "false",
        "TRIAGED_MIGRATE_ON_START": "false",
        **(env_extra or {}),
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "triaged.api:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        *extra,
    ]
    # the server's output goes to stderr: stdout carries this bench's --json
    proc = subprocess.Popen(cmd, env=env, stdout=sys.stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _load(
    base: str, pid: int, key: str, taxonomy: str, texts: list[str], clients: int
) -> dict[str, Any]:
    """``clients`` threads, each a keep-alive ``httpx.Client`` sending one request at a time."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    queue = list(reversed(texts))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            while True:
                with lock:
                    if not queue:
                        return
                    text = queue.pop()
                t0 = time.perf_counter()
                r = c.post("/v1/classify", json={"taxonomy": taxonomy, "text": text})
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(ms)
                    errors += r.status_code != 200

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    cpu0 = _cpu_seconds(pid)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu1 = _cpu_seconds(pid)
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return _row(latencies, elapsed, errors, cpu)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), to show cost apart from load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _row(
    latencies: list[float], elapsed: float, errors: int = 0, cpu: float | None = None
) -> dict[str, Any]:
    return {
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "rps": round(len(latencies) / elapsed, 1),
        "cpu_ms_per_req": None if cpu is None else round(cpu * 1000 / max(1, len(latencies)), 2),
        "errors": errors,
    }


def _timed(fn: Any, texts: list[str]) -> dict[str, Any]:
    latencies = []
    cpu0 = time.process_time()
    started = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        fn(text)
        latencies.append((time.perf_counter() - t0) * 1000)
    return _row(latencies, time.perf_counter() - started, cpu=time.process_time() - cpu0)


def run_backend(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with _database(backend, args.pg_url) as url:
        upgrade(url)
        service = Service(Settings(database_url=url, bootstrap_admin=False, migrate_on_start=False))
        try:
            key = service.create_key("bench", "admin", create_plan="unlimited").key
            assert key is not None
            principal = service.authenticate(key)
            tax = example_taxonomy()
            service.create_taxonomy(principal, tax.to_dict())
            clf = service.classifier(principal, tax.name)
            texts = _texts(args.requests)
            for t in texts[:30]:
                clf.classify(t)
            lib = _timed(clf.classify, texts)
            rows.append({"backend": backend, "mode": "library (in-process)", "clients": 1, **lib})
            svc = _timed(lambda t: service.classify(principal, tax.name, [ClassifyItem(t)]), texts)
            rows.append(
                {"backend": backend, "mode": "service (in-process, DB)", "clients": 1, **svc}
            )
        finally:
            service.close()
        with _server(url, args.uvicorn_args.split()) as (base, pid):
            _load(base, pid, key, tax.name, texts[:30], 1)  # warm up: load the model
            for clients in args.clients:
                n = max(args.requests, clients * 20)
                result = _load(base, pid, key, tax.name, _texts(n), clients)
                rows.append(
                    {"backend": backend, "mode": "HTTP (uvicorn)", "clients": clients, **result}
                )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | mode | clients | requests | p50 ms | p99 ms | req/s | server CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cpu = "-" if r["cpu_ms_per_req"] is None else f"{r['cpu_ms_per_req']:.2f}"
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['clients']} | {r['requests']} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['rps']:.0f} | {cpu} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--requests", type=int, default=400, help="per level (at least 20/client)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--uvicorn-args", default="", help='e.g. "--http h11 --loop asyncio"')
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    rows: list[dict[str, Any]] = []
    for backend in args.backends.split(","):
        rows += run_backend(backend.strip(), args)
    if args.json:
        print(json.dumps({"rows": rows, "cpu_count": os.cpu_count()}, indent=1))
    else:
        print(table(rows))
    if args.update_readme:
        cmd = "python -m bench.bench_http"
        update_readme("http", f"{table(rows)}\n\n`{cmd}` on {os.cpu_count()} CPU cores.")


if __name__ == "__main__":
    main()
