"""Per-workspace caps on taxonomies (``TRIAGED_MAX_TAXONOMIES_PER_WORKSPACE``, archived ones
not counted) and webhooks (``TRIAGED_MAX_WEBHOOKS_PER_WORKSPACE``): 409 ``limit_reached``,
counted in the creating transaction, so concurrent creations cannot pass the cap.  Until 8
December an exhausted free workspace made 20 taxonomies (each trains a model) and 30
webhooks to one URL (each event sent 30 times to one host)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tests.servicekit import Stack, unique
from triaged.api import create_app

pytestmark = pytest.mark.anyio


def _zero_shot(name: str) -> dict[str, Any]:
    return {"name": name, "labels": [{"name": "billing"}, {"name": "bug"}]}


async def test_taxonomies_per_workspace_are_capped_archived_ones_not_counted(stack: Stack):
    tenant = stack.tenant("free")
    capped = create_app(service=stack.variant(max_taxonomies_per_workspace=2))
    async with stack.client(tenant.key, app=capped) as c:
        for name in ("a", "b"):
            r = await c.post("/v1/taxonomies", json=_zero_shot(name))
            assert r.status_code == 201, r.text
        r = await c.post("/v1/taxonomies", json=_zero_shot("c"))
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "limit_reached"
        assert err["details"] == {
            "limit": 2,
            "count": 2,
            "resource": "taxonomies",
            "setting": "TRIAGED_MAX_TAXONOMIES_PER_WORKSPACE",
        }
        assert (await c.get("/v1/taxonomies/c")).status_code == 404  # nothing stored
        assert (await c.post("/v1/taxonomies/a/archive")).status_code == 200
        r = await c.post("/v1/taxonomies", json=_zero_shot("c"))
        assert r.status_code == 201, r.text
    # another workspace has its own count
    other = stack.tenant("free")
    async with stack.client(other.key, app=capped) as c:
        assert (await c.post("/v1/taxonomies", json=_zero_shot("a"))).status_code == 201


async def test_concurrent_taxonomy_creations_stop_at_the_cap(stack: Stack):
    tenant = stack.tenant("unlimited")
    capped = create_app(service=stack.variant(max_taxonomies_per_workspace=2))
    async with stack.client(tenant.key, app=capped) as c:
        answers = await asyncio.gather(
            *[c.post("/v1/taxonomies", json=_zero_shot(unique("t"))) for _ in range(6)]
        )
        codes = Counter(r.status_code for r in answers)
        assert codes == {201: 2, 409: 4}, [r.text for r in answers]
        listed = (await c.get("/v1/taxonomies")).json()["data"]
        assert len(listed) == 2


async def test_webhooks_per_workspace_are_capped(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", "true")
    tenant = stack.tenant("free")
    capped = create_app(service=stack.variant(max_webhooks_per_workspace=3))
    body = {"url": "http://127.0.0.1:9/hook", "events": ["decision.resolved"]}
    async with stack.client(tenant.key, app=capped) as c:
        made = []
        for _ in range(3):
            r = await c.post("/v1/webhooks", json=body)
            assert r.status_code == 201, r.text
            made.append(r.json()["id"])
        r = await c.post("/v1/webhooks", json=body)
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert err["code"] == "limit_reached"
        assert err["details"]["limit"] == 3 and err["details"]["resource"] == "webhooks"
        assert len((await c.get("/v1/webhooks")).json()["data"]) == 3
        assert (await c.delete(f"/v1/webhooks/{made[0]}")).status_code == 204
        assert (await c.post("/v1/webhooks", json=body)).status_code == 201
        # concurrent registrations cannot pass it either
        answers = await asyncio.gather(*[c.post("/v1/webhooks", json=body) for _ in range(4)])
        assert Counter(r.status_code for r in answers) == {409: 4}
        assert (await c.delete(f"/v1/webhooks/{made[1]}")).status_code == 204
        answers = await asyncio.gather(*[c.post("/v1/webhooks", json=body) for _ in range(4)])
        assert Counter(r.status_code for r in answers) == {201: 1, 409: 3}


def test_the_defaults_are_set() -> None:
    from triaged.settings import Settings

    s = Settings()
    assert s.max_taxonomies_per_workspace == 100 and s.max_webhooks_per_workspace == 20
