"""A key of workspace A gets 404 for every resource of workspace B, on every route.

The cases are generated from ``app.routes``: each /v1 route with a path
parameter is called with workspace B's resources using A's admin key, with a
body that is valid for the route (built from its OpenAPI schema), so the only
reason left to refuse is that the resource is not A's.  A new route is covered
as soon as it exists; a new *kind* of path parameter needs an entry in
``RESOURCES`` below (the test fails and says so until it has one).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique

pytestmark = pytest.mark.anyio


@dataclass
class B:
    """Workspace B: its admin client and the resources made so far."""

    stack: Stack
    tenant: Tenant
    client: httpx.AsyncClient
    taxonomy: str = ""
    made: dict[str, str] = field(default_factory=dict)


async def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code < 300, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    data: dict[str, Any] = r.json()
    return data


async def _decision(b: B) -> str:
    return (
        await _ok(
            await b.client.post(
                "/v1/classify", json={"taxonomy": b.taxonomy, "text": "refund please"}
            )
        )
    )["id"]


async def _key(b: B) -> str:
    return (await _ok(await b.client.post("/v1/keys", json={"role": "client"})))["id"]


async def _model(b: B) -> str:
    return (await _ok(await b.client.get(f"/v1/taxonomies/{b.taxonomy}")))["model"]["id"]


async def _webhook(b: B) -> str:
    from triaged.webhooks.events import EVENT_TYPES

    body = {"url": "https://example.invalid/hook", "events": [next(iter(EVENT_TYPES))]}
    return (await _ok(await b.client.post("/v1/webhooks", json=body)))["id"]


async def _delivery(b: B) -> str:
    from triaged.webhooks.events import EVENT_TYPES, enqueue_event

    hook = await _get(b, "webhook_id")
    principal = b.stack.service.authenticate(b.tenant.key)
    with b.stack.service.db.write() as conn:
        enqueue_event(
            conn,
            workspace_id=principal.workspace_id,
            event_type=next(iter(EVENT_TYPES)),
            data={"x": 1},
        )
    page = await _ok(await b.client.get(f"/v1/webhooks/{hook}/deliveries"))
    return str(page["data"][0]["id"])


async def _review_item(b: B) -> str:
    name = unique("tax-hold")
    body = {**TINY_TAXONOMY, "name": name, "thresholds": {"auto": 1.0, "review": 1.0}}
    await _ok(await b.client.post("/v1/taxonomies", json=body))
    await _ok(await b.client.post("/v1/classify", json={"taxonomy": name, "text": "hmm"}))
    page = await _ok(await b.client.get("/v1/review/items", params={"taxonomy": name}))
    return str(page["data"][0]["id"])


async def _version(b: B) -> str:
    return "1"


async def _job(b: B) -> str:
    body = b'{"text": "refund please"}\n'
    r = await b.client.post(
        "/v1/jobs", params={"taxonomy": b.taxonomy, "format": "jsonl"}, content=body
    )
    return str((await _ok(r))["id"])


async def _taxonomy(b: B) -> str:
    return b.taxonomy


async def _label(b: B) -> str:
    return str(TINY_TAXONOMY["labels"][0]["name"])  # a label of B's taxonomy


# path parameter name -> how to make workspace B's value for it
RESOURCES: dict[str, Callable[[B], Awaitable[str]]] = {
    "name": _taxonomy,
    "label": _label,
    "version": _version,
    "decision_id": _decision,
    "key_id": _key,
    "model_id": _model,
    "webhook_id": _webhook,
    "delivery_id": _delivery,
    "item_id": _review_item,
    "job_id": _job,
}


async def _get(b: B, param: str) -> str:
    if param not in b.made:
        b.made[param] = await RESOURCES[param](b)
    return b.made[param]


def _flatten(routes: list[Any]) -> list[Any]:
    """Routes with a path and methods; recent FastAPI keeps included routers nested."""
    out: list[Any] = []
    for route in routes:
        if hasattr(route, "effective_candidates"):
            out.extend(_flatten(route.effective_candidates()))
        elif isinstance(getattr(route, "path", None), str) and getattr(route, "methods", None):
            out.append(route)
    return out


def _v1_routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for route in _flatten(app.routes):
        if route.path.startswith("/v1/") and "{" in route.path:
            out.extend((m, route.path) for m in sorted(set(route.methods) - {"HEAD"}))
    return out


def sample(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A minimal instance of a JSON schema (required fields only)."""
    if "$ref" in schema:
        return sample(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return sample(options[0], components)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: sample(props[k], components) for k in schema.get("required", []) if k in props}
    if kind == "array":
        return [
            sample(schema.get("items", {}), components) for _ in range(schema.get("minItems", 0))
        ]
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind in {"integer", "number"}:
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return None


def _body(openapi: dict[str, Any], method: str, path: str) -> Any:
    op = openapi["paths"].get(path, {}).get(method.lower(), {})
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return sample(content["application/json"].get("schema", {}), openapi["components"]["schemas"])


async def test_every_route_hides_other_workspaces_resources(stack: Stack, tenant: Tenant):
    routes = _v1_routes(stack.app)
    assert len(routes) >= 10
    openapi = stack.app.openapi()
    b_tenant = stack.tenant("unlimited")
    failures = []
    async with stack.client(b_tenant.key) as bc, stack.client(tenant.key) as c:
        b = B(stack, b_tenant, bc, taxonomy=unique("tax-b"))
        await _ok(await bc.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": b.taxonomy}))
        # A has resources of its own too, so "not found" is not just "A has nothing"
        await _ok(await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": unique("tax-a")}))
        for method, path in routes:
            params = re.findall(r"{(\w+)(?::\w+)?}", path)
            missing = [p for p in params if p not in RESOURCES]
            assert not missing, f"{method} {path}: add a workspace-B resource for {missing}"
            url = path
            for p in params:
                url = re.sub(r"\{" + p + r"(?::\w+)?\}", await _get(b, p), url)
            body = _body(openapi, method, path)
            r = await c.request(method, url, **({"json": body} if body is not None else {}))
            if r.status_code != 404 or r.json().get("error", {}).get("code") != "not_found":
                failures.append(f"{method} {url} -> {r.status_code} {r.text[:200]}")
            # B still sees its own resource (the 404 was about ownership, not a bad URL)
            if method == "GET":
                own = await bc.get(url)
                assert own.status_code == 200, f"B: GET {url} -> {own.status_code} {own.text}"
    assert not failures, "\n".join(failures)
