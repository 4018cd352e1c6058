"""API conventions (issue 12 part 5), checked on every route the app has.

- every list endpoint (found by walking ``app.routes``) answers the one envelope
  ``{"data", "next_cursor", "has_more"}``, pages with opaque cursors, and refuses a cursor it
  did not hand out with 400 ``invalid_cursor``;
- every response carries a ``Request-Id`` header (the caller's when sane), repeated in error
  bodies and put on log records;
- classify answers carry ``RateLimit-Limit/Remaining/Reset``;
- the merged routes keep their old paths as deprecated aliases that answer the same.
"""

from __future__ import annotations

import base64
import json
import logging
import logging.config
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique
from triaged.api.paging import Page, encode_cursor

pytestmark = pytest.mark.anyio

ENVELOPE = {"data", "next_cursor", "has_more"}


def _is_list(route: Any) -> bool:
    """A list endpoint: a Page response model, or any GET answer with a top-level ``data``
    array or a ``cursor`` parameter (so a list that forgot the envelope is still caught)."""
    model = route.response_model
    if isinstance(model, type) and issubclass(model, Page):
        return True
    params = {p.name for p in route.dependant.query_params}
    if "cursor" in params:
        return True
    fields = getattr(model, "model_fields", {}) if isinstance(model, type) else {}
    return "data" in fields


def _flatten(routes: list[Any]) -> list[Any]:
    """The routes themselves; recent FastAPI keeps included routers nested."""
    out: list[Any] = []
    for route in routes:
        if hasattr(route, "effective_candidates"):
            out.extend(_flatten(route.effective_candidates()))
        elif isinstance(getattr(route, "path", None), str) and getattr(route, "methods", None):
            out.append(route)
    return out


def list_routes(app: Any) -> list[Any]:
    return [
        r
        for r in _flatten(app.routes)
        if isinstance(getattr(r, "original_route", r), APIRoute)
        and r.path.startswith("/v1/")
        and "GET" in r.methods
        and _is_list(r)
    ]


async def _seed(stack: Stack, tenant: Tenant, c: httpx.AsyncClient) -> dict[str, str]:
    """One of each resource a list's path names, with more than one item where it can."""
    from triaged.webhooks.events import enqueue_event

    name = unique("conv")
    body = {**TINY_TAXONOMY, "name": name, "thresholds": {"auto": 1.0, "review": 1.0}}
    assert (await c.post("/v1/taxonomies", json=body)).status_code == 201
    more = {"examples": [{"text": "refund my order please", "label": "billing"}]}
    assert (await c.post(f"/v1/taxonomies/{name}/examples", json=more)).status_code == 200
    texts = ["charged twice", "app crashes", "change my email"]
    r = await c.post("/v1/classify/batch", json={"taxonomy": name, "texts": texts})
    assert r.status_code == 200, r.text
    for _ in range(2):
        assert (await c.post("/v1/keys", json={"role": "client"})).status_code == 201
        hook = await c.post(
            "/v1/webhooks",
            json={"url": "https://hooks.example.invalid/h", "events": ["alert.drift"]},
        )
        assert hook.status_code == 201, hook.text
    webhook_id = hook.json()["id"]
    principal = stack.service.authenticate(tenant.key)
    with stack.service.db.write() as conn:
        for _ in range(2):
            enqueue_event(
                conn,
                workspace_id=principal.workspace_id,
                event_type="alert.drift",
                data={"x": 1},
            )
    deliveries = (await c.get(f"/v1/webhooks/{webhook_id}/deliveries")).json()["data"]
    return {"name": name, "webhook_id": webhook_id, "delivery_id": deliveries[0]["id"]}


def _path(route: Any, ids: dict[str, str]) -> str:
    names = [p.name for p in route.dependant.path_params]
    missing = [n for n in names if n not in ids]
    assert not missing, f"{route.path}: no seeded resource for {missing}; add one to _seed"
    return str(route.path).format(**ids)


async def test_every_list_endpoint_answers_the_envelope(stack: Stack) -> None:
    routes = list_routes(stack.app)
    paths = {r.path for r in routes}
    # the lists the issue names are all found by the walk
    for expected in (
        "/v1/decisions",
        "/v1/review/items",
        "/v1/taxonomies",
        "/v1/metrics/drift/alerts",
        "/v1/taxonomies/{name}/models",
        "/v1/taxonomies/{name}/versions",
        "/v1/keys",
        "/v1/webhooks",
        "/v1/webhooks/{webhook_id}/deliveries",
    ):
        assert expected in paths, expected
    tenant = stack.tenant()
    async with stack.client(tenant.key) as c:
        ids = await _seed(stack, tenant, c)
        for route in routes:
            path = _path(route, ids)
            params = {p.name for p in route.dependant.query_params}
            assert {"cursor", "limit"} <= params, f"{route.path} takes no cursor/limit"
            r = await c.get(path, params={"limit": 1})
            assert r.status_code == 200, (route.path, r.text)
            page = r.json()
            assert set(page) >= ENVELOPE, (route.path, sorted(page))
            assert isinstance(page["data"], list) and len(page["data"]) <= 1, route.path
            assert page["has_more"] is (page["next_cursor"] is not None), route.path
            seen = list(page["data"])
            while page["has_more"]:  # every page of a small list, one item at a time
                r = await c.get(path, params={"limit": 1, "cursor": page["next_cursor"]})
                assert r.status_code == 200, (route.path, r.text)
                page = r.json()
                seen += page["data"]
                assert len(seen) < 100, route.path
            everything = (await c.get(path, params={"limit": 100})).json()["data"]
            assert seen == everything, route.path


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",  # not base64url
        "bm90IGpzb24",  # base64url of 'not json'
        encode_cursor("some_other_list", "x"),  # a real cursor of another list
        "eyJzIjoxfQ",  # {"s":1}: JSON of the wrong shape
    ],
)
async def test_a_cursor_not_handed_out_is_400(stack: Stack, cursor: str) -> None:
    tenant = stack.tenant()
    async with stack.client(tenant.key) as c:
        ids = await _seed(stack, tenant, c)
        for route in list_routes(stack.app):
            r = await c.get(_path(route, ids), params={"cursor": cursor})
            assert r.status_code == 400, (route.path, r.status_code, r.text)
            error = r.json()["error"]
            assert error["code"] == "invalid_cursor", route.path
            assert error["details"]["field"] == "cursor"


async def test_a_cursor_of_one_taxonomy_s_list_is_refused_on_another_s(stack: Stack) -> None:
    """Lists under a parent page per parent: a cursor handed out for one taxonomy's routing
    versions paged another taxonomy's versions (200, its versions below that number)."""
    tenant = stack.tenant()
    async with stack.client(tenant.key) as c:
        names = []
        for _ in range(2):
            name = unique("cur")
            body = {**TINY_TAXONOMY, "name": name}
            assert (await c.post("/v1/taxonomies", json=body)).status_code == 201
            for auto in (0.97, 0.98, 0.99):
                url = f"/v1/taxonomies/{name}/routing"
                assert (await c.put(url, json={"auto": auto})).status_code == 200
            names.append(name)
        first = await c.get(f"/v1/taxonomies/{names[0]}/routing/versions", params={"limit": 1})
        cursor = first.json()["next_cursor"]
        assert cursor
        ok = await c.get(f"/v1/taxonomies/{names[0]}/routing/versions", params={"cursor": cursor})
        assert ok.status_code == 200 and ok.json()["data"], ok.text
        other = f"/v1/taxonomies/{names[1]}/routing/versions"
        r = await c.get(other, params={"cursor": cursor})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor", r.text


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/v1/review/items", "review_items"),
        ("/v1/decisions", "decisions"),
        ("/v1/taxonomies", "taxonomies"),
    ],
)
@pytest.mark.parametrize("position", ["ab\ud800", -1, 10**30, 5, ""])
async def test_a_made_up_position_in_a_well_formed_cursor_is_400(
    stack: Stack, path: str, scope: str, position: object
) -> None:
    """A lone surrogate is legal JSON text but no driver takes it (it was a 500 that also
    broke the connection); a negative or huge offset is nothing this server wrote, and these
    lists page by id or name, so no number is (5 read as a position until 6 December)."""
    raw = json.dumps({"s": scope, "p": position}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    tenant = stack.tenant()
    async with stack.client(tenant.key) as c:
        r = await c.get(path, params={"cursor": cursor})
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "invalid_cursor"
        assert (await c.get(path)).status_code == 200  # the connection still works


async def test_request_id_on_every_answer(stack: Stack, tenant: Tenant) -> None:
    async with stack.client(tenant.key) as c:
        ok = await c.get("/v1/usage")
        generated = ok.headers["request-id"]
        assert generated.startswith("req_") and len(generated) == 28
        again = await c.get("/v1/usage")
        assert again.headers["request-id"] != generated  # one per request
        mine = await c.get("/v1/usage", headers={"Request-Id": "trace-42:abc.def_1"})
        assert mine.headers["request-id"] == "trace-42:abc.def_1"
        for bad in ("x" * 200, "has space", "semi;colon"):
            r = await c.get("/v1/usage", headers={"Request-Id": bad})
            assert r.headers["request-id"].startswith("req_"), bad
        # errors of every origin: not found, validation, body limit, auth
        missing = await c.get("/v1/decisions/nope", headers={"Request-Id": "rid-404"})
        assert missing.status_code == 404
        assert missing.headers["request-id"] == missing.json()["error"]["request_id"] == "rid-404"
        invalid = await c.get("/v1/decisions", params={"limit": 0})
        assert invalid.json()["error"]["request_id"] == invalid.headers["request-id"]
        big = await c.post(
            "/v1/classify", content=b"x" * (stack.service.settings.max_body_bytes + 1)
        )
        assert big.status_code == 413
        assert big.json()["error"]["request_id"] == big.headers["request-id"]
    async with stack.client("tri_wrong") as anon:
        r = await anon.get("/v1/usage")
        assert r.status_code == 401
        assert r.json()["error"]["request_id"] == r.headers["request-id"]


async def test_api_answers_are_not_cached(stack: Stack, tenant: Tenant) -> None:
    """Every /v1 answer says ``Cache-Control: no-store``: a new key's secret (shown once),
    a webhook secret and plain reads alike, errors too (none said anything before)."""
    async with stack.client(tenant.key) as c:
        created = await c.post("/v1/keys", json={"name": "ci", "role": "client"})
        assert created.status_code == 201 and "key" in created.json(), created.text
        hook = await c.post(
            "/v1/webhooks", json={"url": "https://hooks.example.com/x", "events": ["alert.drift"]}
        )
        assert hook.status_code == 201, hook.text
        for r in (created, hook, await c.get("/v1/usage"), await c.get("/v1/decisions/nope")):
            assert r.headers["cache-control"] == "no-store", (r.request.url, r.headers)
        assert "no-store" not in (await c.get("/healthz")).headers.get("cache-control", "")


async def test_an_unexpected_error_names_its_request_id(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 is answered by Starlette's outermost middleware, outside RequestIdMiddleware: its
    body, header and log line still name the request."""
    from triaged.api import create_app

    app = create_app(service=stack.service)

    def boom() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/v1/boom", boom, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
        with caplog.at_level(logging.ERROR, logger="triaged.api"):
            r = await c.get("/v1/boom", headers={"Request-Id": "boom-1"})
    assert r.status_code == 500
    assert r.headers["request-id"] == "boom-1"
    assert r.json()["error"] == {
        "code": "internal_error",
        "message": "internal server error",
        "details": {},
        "request_id": "boom-1",
    }
    assert any("request_id=boom-1" in rec.getMessage() for rec in caplog.records)


async def test_log_records_carry_the_request_id() -> None:
    """Records logged while a request is handled carry its id; the id ends with it."""
    from triaged.api.request_id import RequestIdMiddleware, current, install_log_filter

    seen: list[tuple[str, str]] = []

    class Spy(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.getMessage(), getattr(record, "request_id", "?")))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        logging.getLogger("triaged.test").warning("inside")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    install_log_filter()
    logger = logging.getLogger("triaged.test")
    spy = Spy()
    logger.addHandler(spy)
    try:
        transport = httpx.ASGITransport(app=RequestIdMiddleware(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
            r = await c.get("/", headers={"Request-Id": "log-me-1"})
        logger.warning("outside")
    finally:
        logger.removeHandler(spy)
    assert r.headers["request-id"] == "log-me-1"
    assert seen == [("inside", "log-me-1"), ("outside", "-")]
    assert current() is None


def test_serve_log_format_names_the_request_id() -> None:
    from triaged.api.request_id import log_config

    config = log_config()
    assert all("%(request_id)s" in f["fmt"] for f in config["formatters"].values())
    logging.config.dictConfig({**config, "loggers": {}})  # valid for logging.config


async def test_rate_limit_headers_on_classify(stack: Stack) -> None:
    tenant = stack.tenant("tiny")  # 3 per minute, 1000 per month
    async with stack.client(tenant.key) as c:
        name = unique("rl")
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        first = await c.post("/v1/classify", json={"taxonomy": name, "text": "charged twice"})
        assert first.status_code == 200, first.text
        assert first.headers["ratelimit-limit"] == "3"
        remaining = int(first.headers["ratelimit-remaining"])
        assert 0 <= int(first.headers["ratelimit-reset"]) <= 60
        second = await c.post("/v1/classify", json={"taxonomy": name, "text": "app crashes"})
        if second.status_code == 200:  # unless the minute turned in between
            assert int(second.headers["ratelimit-remaining"]) in (remaining - 1, 2)
        # an answer that counts nothing has none; a 429 says the limit is used up
        assert "ratelimit-limit" not in (await c.get("/v1/usage")).headers
        for _ in range(4):
            r = await c.post("/v1/classify", json={"taxonomy": name, "text": "hello"})
        assert r.status_code == 429
        assert r.headers["ratelimit-remaining"] == "0" and r.headers["ratelimit-limit"] == "3"
        assert int(r.headers["retry-after"]) >= 1


async def test_rate_limit_headers_on_an_evaluation_that_counts(stack: Stack) -> None:
    """Given examples count like classified texts, and the answer says so as classify's does
    (it carried no RateLimit-* headers while the count moved)."""
    tenant = stack.tenant("tiny")  # 3 per minute, 1000 per month
    async with stack.client(tenant.key) as c:
        name = unique("rle")
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        body = {"examples": [{"text": "charged twice", "label": "billing"}]}
        r = await c.post(f"/v1/taxonomies/{name}/evaluate", json=body)
        assert r.status_code == 200, r.text
        assert r.headers["ratelimit-limit"] == "3"
        assert 0 <= int(r.headers["ratelimit-remaining"]) <= 2


async def test_rate_limit_headers_report_the_limit_nearest_running_out(stack: Stack) -> None:
    """The free plan (100 a month, 120 a minute) at 99 of its month: the headers speak of the
    month, with 1 left, then 0, and the next request is refused."""
    tenant = stack.tenant("free")
    async with stack.client(tenant.key) as c:
        name = unique("rl")
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        texts = [f"charged twice, ticket {i}" for i in range(98)]
        r = await c.post("/v1/classify/batch", json={"taxonomy": name, "texts": texts})
        assert r.status_code == 200, r.text
        assert r.headers["ratelimit-limit"] == "100" and r.headers["ratelimit-remaining"] == "2"
        r = await c.post("/v1/classify", json={"taxonomy": name, "text": "app crashes"})
        assert (r.headers["ratelimit-limit"], r.headers["ratelimit-remaining"]) == ("100", "1")
        r = await c.post("/v1/classify", json={"taxonomy": name, "text": "app crashes"})
        assert r.headers["ratelimit-remaining"] == "0"
        r = await c.post("/v1/classify", json={"taxonomy": name, "text": "one more"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"


async def test_an_idempotent_replay_carries_the_rate_limit_headers_and_counts_nothing(
    stack: Stack,
) -> None:
    """A replay (the same Idempotency-Key and body) had no ``RateLimit-*`` headers while
    the first answer had them; it now reports the plan as it stands and still counts nothing
    (free plan: 100 a month, the tightest limit here)."""
    tenant = stack.tenant("free")
    async with stack.client(tenant.key) as c:
        name = unique("rl")
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        body = {"taxonomy": name, "texts": [f"charged twice, ticket {i}" for i in range(98)]}
        once = {"Idempotency-Key": unique("replay")}
        first = await c.post("/v1/classify/batch", json=body, headers=once)
        assert first.status_code == 200, first.text
        assert (first.headers["ratelimit-limit"], first.headers["ratelimit-remaining"]) == (
            "100",
            "2",
        )
        again = await c.post("/v1/classify/batch", json=body, headers=once)
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert (again.headers["ratelimit-limit"], again.headers["ratelimit-remaining"]) == (
            "100",
            "2",
        )
        assert int(again.headers["ratelimit-reset"]) >= 1
        single = {"taxonomy": name, "text": "app crashes"}
        one = {"Idempotency-Key": unique("replay")}
        r = await c.post("/v1/classify", json=single, headers=one)
        assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "1"
        r = await c.post("/v1/classify", json=single, headers=one)  # /v1/classify replayed
        assert r.headers["idempotent-replayed"] == "true"
        assert r.headers["ratelimit-remaining"] == "1"
        r = await c.post("/v1/classify/batch", json=body, headers=once)  # the state now
        assert r.headers["ratelimit-remaining"] == "1"
        assert (await c.get("/v1/usage")).json()["used"] == 99  # replays counted nothing


async def test_unlimited_plans_send_no_rate_limit_headers(stack: Stack, tenant: Tenant) -> None:
    async with stack.client(tenant.key) as c:
        name = unique("rl")
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        r = await c.post("/v1/classify", json={"taxonomy": name, "text": "charged twice"})
        assert r.status_code == 200 and "ratelimit-limit" not in r.headers


async def test_deprecated_aliases_answer_like_the_new_paths(stack: Stack, tenant: Tenant) -> None:
    spec = stack.app.openapi()
    paths = spec["paths"]
    assert paths["/v1/taxonomies/{name}/model-versions"]["get"]["deprecated"] is True
    assert paths["/v1/taxonomies/{name}/retrain"]["post"]["deprecated"] is True
    assert not paths["/v1/taxonomies/{name}/models"]["get"].get("deprecated")
    assert not paths["/v1/taxonomies/{name}/train"]["post"].get("deprecated")
    async with stack.client(tenant.key) as c:
        name = unique("alias")
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        new = await c.post(f"/v1/taxonomies/{name}/train", json={"wait": True})
        assert new.status_code == 200, new.text  # trained: done, not accepted
        assert new.json()["status"] == "ready" and new.json()["trigger"] == "api"
        assert "deprecation" not in new.headers
        old = await c.post(f"/v1/taxonomies/{name}/retrain", json={"wait": True})
        assert old.status_code == 200, old.text
        assert old.headers["deprecation"] == "true"
        # the successor with this request's name: a link a client can follow
        assert old.headers["link"] == f'</v1/taxonomies/{name}/train>; rel="successor-version"'
        models = (await c.get(f"/v1/taxonomies/{name}/models")).json()
        aliased = await c.get(f"/v1/taxonomies/{name}/model-versions")
        assert aliased.headers["deprecation"] == "true"
        assert models == aliased.json()
        assert [m["id"] for m in models["data"][:2]] == [old.json()["id"], new.json()["id"]]
        assert [m["active"] for m in models["data"][:2]] == [True, False]
        assert aliased.headers["link"] == f'</v1/taxonomies/{name}/models>; rel="successor-version"'
        followed = await c.get(aliased.links["successor-version"]["url"])
        assert followed.status_code == 200 and followed.json() == models
        # errors of an alias are answers of it too: still marked, still linked
        missing = await c.get("/v1/taxonomies/no-such-taxonomy/model-versions")
        assert missing.status_code == 404 and missing.headers["deprecation"] == "true"
        link = '</v1/taxonomies/no-such-taxonomy/models>; rel="successor-version"'
        assert missing.headers["link"] == link
        bad = await c.post(f"/v1/taxonomies/{name}/retrain", json={"wait": "soon"})
        assert bad.status_code == 422 and bad.headers["deprecation"] == "true"
        assert "deprecation" not in (await c.get("/v1/taxonomies/no-such-taxonomy/models")).headers


async def test_no_scores_field_in_answers(stack: Stack, tenant: Tenant) -> None:
    """``scores`` (the model's uncalibrated class probabilities) disagreed with the calibrated
    ``alternatives`` and was undocumented: it is no longer sent."""
    spec = stack.app.openapi()["components"]["schemas"]
    assert "scores" not in spec["ClassifyResponse"]["properties"]
    async with stack.client(tenant.key) as c:
        name = unique("scores")
        assert (await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})).is_success
        r = await c.post("/v1/classify", json={"taxonomy": name, "text": "charged twice"})
        assert "scores" not in r.json()
        listed = (await c.get("/v1/decisions", params={"taxonomy": name})).json()["data"]
        assert listed and all("scores" not in d for d in listed)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/taxonomies", {"thresholds": {"auto": True}}),
        ("POST", "/v1/taxonomies", {"thresholds": {"auto": "0.9"}}),
        ("PATCH", "/v1/taxonomies/{name}", {"thresholds": {"review": False}}),
        ("PATCH", "/v1/taxonomies/{name}/review-settings", {"reopen_window_seconds": True}),
        ("PATCH", "/v1/taxonomies/{name}/review-settings", {"overlap_rate": "0.5"}),
        ("POST", "/v1/taxonomies/{name}/retrain", {"wait": "yes"}),
        ("POST", "/v1/review/claim", {"limit": "5"}),
    ],
)
async def test_a_value_of_another_json_type_is_refused_not_converted(
    stack: Stack, tenant: Tenant, method: str, path: str, body: dict[str, Any]
) -> None:
    """``true`` is no threshold and ``"5"`` no limit: each was read as 1.0 and 5 (a manual
    auto lane at 1.0), while ``PUT .../routing`` refused the same values."""
    name = unique("strict")
    async with stack.client(tenant.key) as c:
        created = await c.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": name})
        assert created.status_code == 201, created.text
        if path == "/v1/taxonomies":
            body = {**TINY_TAXONOMY, "name": unique("strict"), **body}
        r = await c.request(method, path.format(name=name), json=body)
        assert r.status_code == 422, (path, body, r.status_code, r.text)
        assert r.json()["error"]["code"] == "validation_error"
        versions = (await c.get(f"/v1/taxonomies/{name}/versions")).json()["data"]
        assert len(versions) == 1  # nothing written
        listed = (await c.get("/v1/taxonomies", params={"limit": 200})).json()["data"]
        assert {t["name"] for t in listed} & {body.get("name")} == set()
