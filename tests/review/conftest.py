"""Fixtures for the review-queue tests: a real stack per backend, tenants with reviewer keys.

The stack's service queues every decision (``review_audit_rate=1``: each ``auto``
decision is audited), so a test controls exactly how many items it creates; the
automatic retrain is off here (the learning tests turn it on).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.servicekit import BACKENDS, TINY_TAXONOMY, Stack, make_settings, pg_database
from triaged.service import Service
from triaged.storage import upgrade

REVIEW_SETTINGS: dict[str, Any] = {
    "review_audit_rate": 1.0,
    "review_retrain_after": 0,
    "migrate_on_start": False,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def review_stack(backend: str, url: str, **overrides: Any) -> Stack:
    upgrade(url)
    return Stack(backend, url, Service(make_settings(url, **{**REVIEW_SETTINGS, **overrides})))


@pytest.fixture(scope="session", params=BACKENDS)
def rstack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('review') / 'triaged.db'}"
        s = review_stack("sqlite", url)
        yield s
        s.service.close()
        return
    with pg_database() as url:
        s = review_stack("postgres", url)
        yield s
        s.service.close()


@dataclass
class Team:
    """One workspace: an admin, two reviewers and a client, each with an httpx client."""

    stack: Stack
    workspace: str
    admin: httpx.AsyncClient
    alice: httpx.AsyncClient
    bob: httpx.AsyncClient
    client: httpx.AsyncClient

    async def taxonomy(self, **changes: Any) -> str:
        body = {**TINY_TAXONOMY, **changes}
        r = await self.admin.post("/v1/taxonomies", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["ready"], r.json()
        return str(body["name"])

    async def classify(self, taxonomy: str, texts: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(texts), 100):
            r = await self.client.post(
                "/v1/classify/batch", json={"taxonomy": taxonomy, "texts": texts[i : i + 100]}
            )
            assert r.status_code == 200, r.text
            out.extend(r.json()["results"])
        return out


@pytest.fixture
async def team(rstack: Stack) -> Any:
    tenant = rstack.tenant("unlimited")
    clients = [
        rstack.client(tenant.key),
        rstack.client(rstack.key(tenant, "reviewer")),
        rstack.client(rstack.key(tenant, "reviewer")),
        rstack.client(rstack.key(tenant, "client")),
    ]
    yield Team(rstack, tenant.workspace, *clients)
    for c in clients:
        await c.aclose()
