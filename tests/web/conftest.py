"""A real uvicorn server on loopback over a real SQLite file, and a headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servicekit import LiveServer, live_server
from tests.web.seed import Seeded, seed
from triaged.api import create_app

CHROMIUM = os.environ.get("TRIAGED_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    s = seed(tmp_path)
    yield s
    s.service.close()


@pytest.fixture
def server(seeded: Seeded) -> Iterator[LiveServer]:
    with live_server(create_app(service=seeded.service)) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module.  Module scope, not session: playwright's sync API
    keeps an event loop running in this thread while it is open, and anyio tests that a
    worker runs after the browser tests would fail on it."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; run scripts/ensure-services.sh")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=server.url)
    outside: list[str] = []

    def only_loopback(route: Any) -> None:  # no request may leave the server's origin
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert outside == [], f"the UI requested outside resources: {outside}"


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[tuple[Any, Seeded]]:
    """A seeded service behind the ASGI app (no server, no browser): (client, seeded)."""
    from fastapi.testclient import TestClient

    s = seed(tmp_path, texts=["I was charged twice", "The app crashes on start"])
    with TestClient(create_app(service=s.service), follow_redirects=False) as client:
        yield client, s
    s.service.close()
