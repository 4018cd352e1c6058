"""Fixtures of the sign-up tests: a local SMTP sink, databases per backend, a served app
with sign-up settings, and Chromium (from the web tests) on a page confined to loopback."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select

from tests.servicekit import BACKENDS, LiveServer, free_port, live_server, pg_database
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, browser  # noqa: F401  (fixture)
from triaged.api import create_app
from triaged.service import Service
from triaged.settings import Settings
from triaged.storage import upgrade


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class SmtpSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it is given."""

    port: int
    messages: list[Message] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content)
        msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        with self.arrived:
            self.messages.append(msg)
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 20.0) -> Message:
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: next((m for m in self.messages if m["To"] == to), None), timeout
            )
        assert found is not None, f"no email to {to} arrived"
        return next(m for m in self.messages if m["To"] == to)

    def link(self, to: str) -> str:
        body = self.wait_for(to).get_payload(decode=True).decode()
        match = re.search(r"https?://\S+/ui/signup/verify\?token=\S+", body)
        assert match, body
        return match.group(0)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    """A fresh, migrated database of ``backend`` (SQLite file or PostgreSQL)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'signup.db'}"
        upgrade(url)
        yield url
        return
    with pg_database() as url:
        upgrade(url)
        yield url


def signup_settings(url: str, **extra: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": url,
        "bootstrap_admin": False,
        "migrate_on_start": False,
        "db_pool_size": 5,
        "db_max_overflow": 10,
        "signup": "open",
        "signup_allow_unverified": True,
    }
    return Settings(**{**base, **extra})


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_service(backend: str, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """``make_service(**settings)``: a started service on a fresh database of ``backend``
    (every call of one test shares that database)."""
    made: list[Service] = []
    with database(backend, tmp_path) as url:

        def make(**extra: Any) -> Service:
            svc = Service(signup_settings(url, **extra))
            svc.start()
            made.append(svc)
            return svc

        yield make
        for svc in made:
            svc.close()


def row_counts(service: Service) -> dict[str, int]:
    """Rows per table of the service's database, every table (reflected)."""
    meta = MetaData()
    with service.db.read() as conn:
        meta.reflect(conn)
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in meta.sorted_tables
        }


@contextmanager
def served(service: Service) -> Iterator[LiveServer]:
    with live_server(create_app(service=service)) as srv:
        yield srv


@contextmanager
def loopback_page(chromium: Any, server: LiveServer) -> Iterator[Any]:
    """A page that may only talk to ``server`` (any other request fails the test)."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, base_url=server.url)
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()
    assert outside == [], f"the UI requested outside resources: {outside}"


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "SmtpSink",
    "database",
    "loopback_page",
    "row_counts",
    "served",
]
