"""Operator limits on taxonomy size (413) and paginated taxonomy lists."""

from __future__ import annotations

import json

import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique
from triaged.api import create_app

pytestmark = pytest.mark.anyio


def _labels(n: int, examples: int = 1) -> list[dict[str, object]]:
    return [
        {"name": f"label{i}", "examples": [f"example {j} of label {i}" for j in range(examples)]}
        for i in range(n)
    ]


async def test_labels_and_examples_per_taxonomy_are_capped(stack: Stack, tenant: Tenant) -> None:
    small = create_app(
        service=stack.variant(max_labels_per_taxonomy=5, max_examples_per_taxonomy=13)
    )
    async with stack.client(tenant.key, app=small) as c:
        r = await c.post("/v1/taxonomies", json={"name": unique("many"), "labels": _labels(6)})
        assert r.status_code == 413, r.text
        err = r.json()["error"]
        assert err["code"] == "payload_too_large" and err["details"]["limit"] == 5
        r = await c.post("/v1/taxonomies", json={"name": unique("ex"), "labels": _labels(3, 5)})
        assert r.status_code == 413 and r.json()["error"]["details"]["field"] == "examples"
        name = unique("ok")
        r = await c.post("/v1/taxonomies", json={"name": name, "labels": _labels(3, 4)})
        assert r.status_code == 201, r.text
        more = [{"text": f"another one {i}", "label": "label0"} for i in range(1)]
        assert (await c.post(f"/v1/taxonomies/{name}/examples", json={"examples": more})).is_success
        r = await c.post(f"/v1/taxonomies/{name}/examples", json={"examples": more})
        assert r.status_code == 413  # 14 > 13: refused, the version is unchanged
        r = await c.patch(f"/v1/taxonomies/{name}", json={"labels": _labels(6)})
        assert r.status_code == 413
        assert (await c.get(f"/v1/taxonomies/{name}")).json()["version"] == 2


async def test_an_example_is_no_longer_than_a_classified_text(stack: Stack, tenant: Tenant) -> None:
    """An example over TRIAGED_MAX_TEXT_CHARS is refused (413, naming it) at creation, in a
    PATCH and in an upload, and nothing is stored (until 5 December a 2,000,000-character
    example was kept while classify refused anything over 10,000)."""
    small = create_app(service=stack.variant(max_text_chars=50))
    long = "x" * 51
    async with stack.client(tenant.key, app=small) as c:
        labels = _labels(2, 2)
        labels[1]["examples"] = ["fine", long]
        name = unique("long")
        r = await c.post("/v1/taxonomies", json={"name": name, "labels": labels})
        assert r.status_code == 413, r.text
        err = r.json()["error"]
        assert err["code"] == "payload_too_large"
        assert err["details"] == {"field": "labels[1].examples[1]", "limit": 50, "got": 51}
        assert (await c.get(f"/v1/taxonomies/{name}")).status_code == 404
        r = await c.post("/v1/taxonomies", json={"name": name, "labels": _labels(2, 2)})
        assert r.status_code == 201, r.text
        more = [{"text": "short", "label": "label0"}, {"text": long, "label": "label0"}]
        r = await c.post(f"/v1/taxonomies/{name}/examples", json={"examples": more})
        assert r.status_code == 413, r.text
        # named where it is in the upload (it named its place in the taxonomy, labels[0]...)
        assert r.json()["error"]["details"] == {"field": "examples[1]", "limit": 50, "got": 51}
        body = "\n".join(json.dumps(e) for e in more).encode()
        jsonl = {"Content-Type": "application/x-ndjson"}
        r = await c.post(f"/v1/taxonomies/{name}/examples", content=body, headers=jsonl)
        assert r.status_code == 413 and r.json()["error"]["details"]["field"] == "line 2", r.text
        csv_body = f"text,label\nshort,label0\n{long},label0\n".encode()
        as_csv = {"Content-Type": "text/csv"}
        r = await c.post(f"/v1/taxonomies/{name}/examples", content=csv_body, headers=as_csv)
        assert r.status_code == 413 and r.json()["error"]["details"]["field"] == "line 3", r.text
        r = await c.patch(f"/v1/taxonomies/{name}", json={"labels": labels})
        assert r.status_code == 413, r.text
        assert (await c.get(f"/v1/taxonomies/{name}")).json()["version"] == 1


async def test_taxonomy_list_is_paginated(stack: Stack) -> None:
    tenant = stack.tenant()
    names = sorted(f"p{i:02d}-{unique('t')}" for i in range(5))
    async with stack.client(tenant.key) as c:
        for name in names:
            r = await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})
            assert r.status_code == 201, r.text
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await c.get("/v1/taxonomies", params=params)).json()
            assert len(page["data"]) <= 2
            seen += [t["name"] for t in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == names
        assert (await c.get("/v1/taxonomies", params={"limit": 0})).status_code == 422
        assert (await c.get("/v1/taxonomies", params={"limit": 201})).status_code == 422


async def _all_pages(c, path: str, field: str, limit: int) -> list[dict]:
    seen: list[dict] = []
    cursor = None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await c.get(path, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page[field]) <= limit
        seen += page[field]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_every_list_is_paginated(stack: Stack, monkeypatch) -> None:
    monkeypatch.setenv("TRIAGED_WEBHOOK_ALLOW_PRIVATE", "false")
    tenant = stack.tenant()
    async with stack.client(tenant.key) as c:
        for _ in range(4):
            assert (await c.post("/v1/keys", json={"role": "client"})).status_code == 201
            r = await c.post(
                "/v1/webhooks",
                json={"url": "https://hooks.example.invalid/h", "events": ["alert.drift"]},
            )
            assert r.status_code == 201, r.text
        name = unique("pages")
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        for i in range(3):
            more = {"examples": [{"text": f"please refund order {i}", "label": "billing"}]}
            assert (await c.post(f"/v1/taxonomies/{name}/examples", json=more)).is_success
        full = {
            "/v1/keys": "data",
            "/v1/webhooks": "data",
            f"/v1/taxonomies/{name}/versions": "data",
            f"/v1/taxonomies/{name}/models": "data",
        }
        for path, field in full.items():
            everything = (await c.get(path)).json()[field]
            assert len(everything) >= 4, (path, everything)
            assert await _all_pages(c, path, field, 3) == everything, path
        r = await c.get("/v1/keys", params={"cursor": "key_nope"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
