"""Shared pieces for the service tests: real databases, the real app, tenants.

Every API test runs twice: on a SQLite file and on the PostgreSQL server at
``TRIAGED_TEST_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
in a database created for this test session (one per xdist worker) and dropped
at the end.  When PostgreSQL is unreachable those tests are skipped locally but
FAIL when ``CI`` is set.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from triaged.api import create_app
from triaged.service import Service
from triaged.settings import Settings
from triaged.storage import upgrade

PG_URL = os.environ.get("TRIAGED_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

TINY_TAXONOMY: dict[str, Any] = {
    "name": "support",
    "labels": [
        {
            "name": "billing",
            "description": "Invoices, charges, payments and refunds",
            "examples": [
                "I was charged twice this month",
                "Please refund my last payment",
                "My invoice shows the wrong amount",
            ],
        },
        {
            "name": "bug",
            "description": "Crashes, errors and broken features in the app",
            "examples": [
                "The app crashes when I open settings",
                "I get an error message when I log in",
                "The export button does nothing",
            ],
        },
        {
            "name": "account",
            "description": "Login details, email address, profile and password",
            "examples": [
                "How do I change my email address?",
                "I want to reset my password",
                "Please delete my account",
            ],
        },
    ],
    "thresholds": {"auto": 0.85, "review": 0.6},
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _pg_admin_engine() -> Any:
    return create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session; fails loudly in CI when unreachable."""
    admin = _pg_admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        msg = f"PostgreSQL unreachable at {PG_URL}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(msg)
    name = f"triaged_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Tenant:
    workspace: str
    key: str  # admin key


@dataclass
class Stack:
    """A real service and app on one database."""

    backend: str
    url: str
    service: Service

    def __post_init__(self) -> None:
        self.app = create_app(service=self.service)

    def tenant(self, plan: str = "unlimited") -> Tenant:
        name = unique("ws")
        info = self.service.create_key(name, "admin", create_plan=plan)
        assert info.key is not None
        return Tenant(name, info.key)

    def key(self, tenant: Tenant, role: str) -> str:
        info = self.service.create_key(tenant.workspace, role)
        assert info.key is not None
        return info.key

    def client(self, key: str | None = None, app: Any = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app or self.app),
            base_url="http://triaged.test",
            headers=headers,
            timeout=60,
        )

    def variant(self, **overrides: Any) -> Service:
        """Another service on the same database with some settings changed."""
        return Service(self.service.settings.with_overrides(**overrides))


@contextmanager
def backend_url(backend: str, tmp_path: Path, name: str = "triaged.db") -> Iterator[str]:
    """A fresh database of ``backend``: a PostgreSQL one (:func:`pg_database`), or a SQLite
    file ``name`` in ``tmp_path``."""
    if backend == "postgres":
        with pg_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / name}"


def make_settings(url: str, **extra: Any) -> Settings:
    return Settings(
        database_url=url,
        bootstrap_admin=False,
        db_pool_size=5,
        db_max_overflow=20,
        plans={"tiny": {"monthly_quota": 1000, "per_minute": 3}},
        **extra,
    )


def make_stack(backend: str, url: str) -> Stack:
    upgrade(url)
    service = Service(make_settings(url, migrate_on_start=False))
    return Stack(backend, url, service)


@dataclass
class Trained:
    """A stack whose ``support`` taxonomy (:data:`TINY_TAXONOMY`) has its first model."""

    stack: Stack
    key: str  # the tenant's admin key
    model_id: str

    @property
    def service(self) -> Service:
        return self.stack.service


def trained_stack(backend: str, url: str) -> Trained:
    """:func:`make_stack` with a tenant and the ``support`` taxonomy trained (inline jobs,
    waited for).  The caller closes ``.service``."""
    stack = make_stack(backend, url)
    key = stack.tenant().key
    info = stack.service.create_taxonomy(
        stack.service.authenticate(key), {**TINY_TAXONOMY, "name": "support"}
    )
    stack.service.jobs.wait(120)
    return Trained(stack, key, str(info["training"]["id"]))


@contextmanager
def trained_service(backend: str, tmp_path: Path) -> Iterator[Trained]:
    """:func:`trained_stack` on a fresh database of ``backend`` (:func:`backend_url`); its
    service is closed on the way out."""
    with backend_url(backend, tmp_path) as url:
        trained = trained_stack(backend, url)
        try:
            yield trained
        finally:
            trained.service.close()


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def live_server(app: Any) -> Iterator[LiveServer]:
    """Run ``app`` on real uvicorn on a free loopback port in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_subprocess(
    url: str, port: int, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a real ``triaged serve`` process on ``port`` (output appended to ``log``) until
    it answers /healthz; killed on exit if still alive.  Tests may SIGKILL it themselves."""
    full_env = {
        **os.environ,
        "TRIAGED_BOOTSTRAP_ADMIN": "false",
        "TRIAGED_LOG_LEVEL": "warning",
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "triaged.cli", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--database-url", url]
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, env=full_env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start:\n" + log.read_text()
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
