"""The history of a taxonomy's routing policy (``GET .../routing/versions``) and who made
each version: the API key behind a PUT, thresholds set in a definition and every taxonomy
version; null where the service moved the policy by itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique
from triaged.api.paging import encode_cursor

pytestmark = pytest.mark.anyio


def _key_id(stack: Stack, key: str) -> str:
    return stack.service.authenticate(key).key_id


async def _create(c: httpx.AsyncClient, *, pinned: bool = False) -> str:
    name = unique("rh")
    body: dict[str, Any] = {**TINY_TAXONOMY, "name": name}
    if not pinned:
        body.pop("thresholds")
    r = await c.post("/v1/taxonomies", json=body)
    assert r.status_code == 201, r.text
    return name


async def _history(c: httpx.AsyncClient, name: str, **params: Any) -> dict[str, Any]:
    r = await c.get(f"/v1/taxonomies/{name}/routing/versions", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_put_is_listed_newest_first_with_the_key_that_made_it(
    stack: Stack, tenant: Tenant
) -> None:
    admin_id = _key_id(stack, tenant.key)
    async with stack.client(tenant.key) as c:
        name = await _create(c)
        trained = (await c.get(f"/v1/taxonomies/{name}/routing")).json()
        assert trained["source"] == "training" and trained["created_by"] is None
        r = await c.put(f"/v1/taxonomies/{name}/routing", json={"auto": 0.97, "review": 0.4})
        assert r.status_code == 200, r.text
        put = r.json()
        assert put["created_by"] == admin_id and put["source"] == "manual"
        # the same thresholds again change nothing: no new version (v7 equalled v6)
        again = await c.put(f"/v1/taxonomies/{name}/routing", json={"auto": 0.97, "review": 0.4})
        assert again.status_code == 200 and again.json()["version"] == put["version"]
        body = await _history(c, name)
    assert set(body) == {"data", "next_cursor", "has_more"}
    assert body["next_cursor"] is None and body["has_more"] is False
    rows = body["data"]
    assert [v["version"] for v in rows] == [put["version"], trained["version"]]
    newest, earlier = rows
    assert newest["created_by"] == admin_id
    assert newest["source"] == "manual" and newest["auto"] == 0.97 and newest["review"] == 0.4
    assert newest["auto_lane_open"] is True and newest["review_source"] == "manual"
    assert newest["reason"].startswith("set through the API (auto=0.97, review=0.4)")
    assert newest["created_at"] == put["created_at"]
    assert newest["model_id"] == put["model_id"] is not None
    assert earlier["created_by"] is None and earlier["source"] == "training"
    assert earlier["auto"] is None and earlier["auto_lane_open"] is False
    assert earlier["reason"] == trained["reason"]
    assert earlier["bound"] == trained["bound"]
    assert set(newest["bound"]) == {"upper", "estimate", "n", "errors", "since", "basis"}
    assert newest["bound"]["basis"] == "training" and newest["bound"]["n"] >= 0


async def test_limit_one_walks_every_version(stack: Stack, tenant: Tenant) -> None:
    async with stack.client(tenant.key) as c:
        name = await _create(c)
        for review in (0.3, 0.35, 0.4):
            r = await c.put(f"/v1/taxonomies/{name}/routing", json={"review": review})
            assert r.status_code == 200, r.text
        everything = [v["version"] for v in (await _history(c, name))["data"]]
        walked: list[int] = []
        cursor: str | None = None
        while True:
            page = await _history(c, name, limit=1, **({"cursor": cursor} if cursor else {}))
            assert len(page["data"]) == 1
            walked += [v["version"] for v in page["data"]]
            assert page["has_more"] is (page["next_cursor"] is not None)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        # a cursor of another list is refused, not read as a position
        foreign = await c.get(
            f"/v1/taxonomies/{name}/routing/versions",
            params={"cursor": encode_cursor("versions", 3)},
        )
    assert everything == sorted(everything, reverse=True) and len(everything) == 4
    assert walked == everything
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "invalid_cursor"


async def test_every_role_that_reads_the_policy_reads_its_history(
    stack: Stack, tenant: Tenant
) -> None:
    async with stack.client(tenant.key) as c:
        name = await _create(c)
        r = await c.put(f"/v1/taxonomies/{name}/routing", json={"auto": 0.95})
        assert r.status_code == 200, r.text
        want = await _history(c, name)
    for role in ("reviewer", "client"):
        async with stack.client(stack.key(tenant, role)) as c:
            current = await c.get(f"/v1/taxonomies/{name}/routing")
            assert current.status_code == 200, (role, current.text)
            assert await _history(c, name) == want
            refused = await c.put(f"/v1/taxonomies/{name}/routing", json={"auto": 0.9})
            assert refused.status_code == 403


async def test_an_unknown_taxonomy_is_404(stack: Stack, tenant: Tenant) -> None:
    async with stack.client(tenant.key) as c:
        r = await c.get(f"/v1/taxonomies/{unique('none')}/routing/versions")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_taxonomy_versions_name_the_key_that_made_them(stack: Stack, tenant: Tenant) -> None:
    creator = _key_id(stack, tenant.key)
    other_key = stack.key(tenant, "admin")
    other = _key_id(stack, other_key)
    async with stack.client(tenant.key) as c:
        name = await _create(c, pinned=True)
        pinned = (await _history(c, name))["data"]
    async with stack.client(other_key) as c:
        r = await c.patch(f"/v1/taxonomies/{name}", json={"description": "edited"})
        assert r.status_code == 200, r.text
        r = await c.post(f"/v1/taxonomies/{name}/labels/account/rename", json={"name": "profile"})
        assert r.status_code == 200, r.text
        versions = (await c.get(f"/v1/taxonomies/{name}/versions")).json()["data"]
    assert [(v["version"], v["created_by"]) for v in versions] == [
        (1, creator),
        (2, other),
        (3, other),
    ]
    assert versions[2]["renames"] == {"account": "profile"}
    # the thresholds the definition set: a manual version by the creator; the first
    # model's certification that kept them: the service's own
    by = {v["version"]: v for v in pinned}
    assert by[1]["source"] == "manual" and by[1]["created_by"] == creator
    assert all(v["created_by"] is None for v in pinned if v["version"] > 1)
