"""The SDK's routing-policy history (``routing_versions``, sync and async, every page) and
the key ids on versions (``Routing.created_by``, ``TaxonomyVersion.created_by``), against
a real uvicorn server."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, LiveServer, Stack, live_server, make_stack
from triaged.client import AsyncClient, Client, RoutingBound, RoutingVersion
from triaged.client import _ops as ops
from triaged.errors import NotFound


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, LiveServer]]:
    stack = make_stack("sqlite", f"sqlite:///{tmp_path_factory.mktemp('rv') / 'r.db'}")
    with live_server(stack.app) as server:
        yield stack, server
    stack.service.close()


def _raw(server: LiveServer, key: str, path: str) -> Any:
    answer = httpx.get(
        f"{server.url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    answer.raise_for_status()
    return answer.json()


def test_routing_versions_sync_and_async_every_page(
    served: tuple[Stack, LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, server = served
    tenant = stack.tenant()
    admin_id = stack.service.authenticate(tenant.key).key_id
    monkeypatch.setattr(ops, "PAGE_LIMIT", 1)  # one version a page: the SDK follows cursors
    with Client(server.url, tenant.key, backoff=0.01) as c:
        c.create_taxonomy("support", TINY_TAXONOMY["labels"])
        c.wait_until_ready("support", timeout=120, poll=0.1)
        trained = c.routing("support")
        assert trained.created_by is None
        first = c.set_routing("support", auto=0.96)
        second = c.set_routing("support", review=0.45)
        assert first.created_by == second.created_by == admin_id
        history = c.routing_versions("support")
        assert [v.version for v in history] == [second.version, first.version, trained.version]
        assert all(isinstance(v, RoutingVersion) for v in history)
        assert isinstance(history[0].bound, RoutingBound)
        assert [v.created_by for v in history] == [admin_id, admin_id, None]
        assert history[1].auto == 0.96 and history[1].source == "manual"
        assert history[0].review == 0.45 and history[2].source == "training"
        assert history[2].reason == trained.reason and history[0].created_at == second.created_at
        assert [v.created_by for v in c.taxonomy_versions("support")] == [admin_id]
        with pytest.raises(NotFound):
            c.routing_versions("nope")
    row = _raw(server, tenant.key, "/v1/taxonomies/support/routing/versions")["data"][0]
    assert set(row) == {f.name for f in dataclasses.fields(RoutingVersion)}
    assert RoutingVersion.from_dict(row) == history[0]

    async def scenario() -> list[RoutingVersion]:
        async with AsyncClient(server.url, tenant.key, backoff=0.01) as c:
            assert (await c.routing("support")).created_by == admin_id
            return await c.routing_versions("support")

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, scenario()).result() == history
