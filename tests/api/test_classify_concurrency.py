"""``TRIAGED_CLASSIFY_CONCURRENCY``: how many classify requests one API process works on at
once, whatever the number of CPU cores (the rest wait their turn), over real uvicorn."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, live_server, make_settings, unique
from triaged.api import create_app
from triaged.service import Service
from triaged.settings import Settings

pytestmark = pytest.mark.anyio


class _Peak:
    """Wraps the service's classify to count the calls in flight (each held 50 ms)."""

    def __init__(self, service: Service) -> None:
        self.inner = service.classify
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(0.05)  # long enough for every waiting request to pile up
            return self.inner(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


async def _burst(stack: Stack, **settings: Any) -> int:
    service = Service(make_settings(stack.url, migrate_on_start=False, **settings))
    try:
        key = service.create_key(unique("ws"), "admin", create_plan="unlimited").key
        assert key is not None
        service.create_taxonomy(service.authenticate(key), {**TINY_TAXONOMY})
        peak = _Peak(service)
        service.classify = peak  # type: ignore[method-assign]
        with live_server(create_app(service=service)) as srv:
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=srv.url, headers=headers, timeout=60) as c:
                body = {"taxonomy": "support", "text": "I was charged twice"}
                answers = await asyncio.gather(
                    *(c.post("/v1/classify", json=body) for _ in range(12))
                )
        assert [r.status_code for r in answers] == [200] * 12, answers[0].text
        return peak.peak
    finally:
        service.close()


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_at_most_the_configured_classify_requests_run_at_once(stack: Stack) -> None:
    assert await _burst(stack, classify_concurrency=2) == 2
    # the default is 4 per process, not 4 per CPU core as until 6 December
    assert await _burst(stack) == 4


def test_classify_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="classify_concurrency"):
        Settings(database_url="sqlite:///x.db", classify_concurrency=0)
