"""One request must not poison a workspace: bad metadata, NUL bytes, lone surrogates and
invisible-only texts are refused (422) before anything is written, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, unique
from triaged.errors import ValidationFailed
from triaged.inputs import check_metadata, is_blank
from triaged.service import ClassifyItem

pytestmark = pytest.mark.anyio


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def raw(body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments sending ``body`` as ASCII JSON (lone surrogates as \\uXXXX escapes)."""
    return {
        "content": json.dumps(body, ensure_ascii=True).encode(),
        "headers": {"Content-Type": "application/json"},
    }


async def _taxonomy(c: Any) -> str:
    name = unique("poison")
    body = {**TINY_TAXONOMY, "name": name, "thresholds": {"auto": 1.0, "review": 0.0}}
    r = await c.post("/v1/taxonomies", json=body)
    assert r.status_code == 201, r.text
    return name


async def _state(c: Any) -> tuple[int, int, int]:
    used = (await c.get("/v1/usage")).json()["used"]
    decisions = (await c.get("/v1/decisions", params={"limit": 200})).json()["data"]
    items = (await c.get("/v1/review/items", params={"limit": 200})).json()["data"]
    return used, len(decisions), len(items)


async def test_poison_metadata_is_refused_and_every_read_path_still_works(
    stack: Stack, tenant: Tenant
) -> None:
    async with stack.client(tenant.key) as c:
        name = await _taxonomy(c)
        good = await c.post(
            "/v1/classify",
            json={"taxonomy": name, "text": "I was charged twice", "metadata": nested(8)},
        )
        assert good.status_code == 200, good.text
        before = await _state(c)
        for metadata in (
            nested(256),
            nested(9),
            {"blob": "x" * 17_000},
            {"k": "a\x00b"},
            [1, 2],
        ):
            r = await c.post(
                "/v1/classify",
                json={"taxonomy": name, "text": "the app crashes", "metadata": metadata},
            )
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "validation_error"
        r = await c.post(
            "/v1/classify/batch",
            json={"taxonomy": name, "texts": ["fine", {"text": "x", "metadata": nested(256)}]},
        )
        assert r.status_code == 422
        assert await _state(c) == before  # quota not counted, nothing stored, nothing queued
        # every read path works
        r = await c.get("/v1/decisions")
        assert r.status_code == 200
        r = await c.get(f"/v1/decisions/{good.json()['id']}")
        assert r.status_code == 200 and r.json()["metadata"] == nested(8)
        assert (await c.get("/v1/review/items")).status_code == 200
        r = await c.post("/v1/review/claim", json={"taxonomy": name, "limit": 10})
        assert r.status_code == 200, r.text
        assert [i["decision_id"] for i in r.json()["items"]] == [good.json()["id"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "charged\x00twice"),
        ("text", "charged \ud800 twice"),
        ("text", "\u200b\u200c\u200d\ufeff \u2060"),
        ("external_id", "order\x00-1"),
        ("external_id", "order-\udfff"),
    ],
)
async def test_nul_surrogates_and_invisible_texts_are_422(
    stack: Stack, tenant: Tenant, field: str, value: str
) -> None:
    async with stack.client(tenant.key) as c:
        name = await _taxonomy(c)
        before = await _state(c)
        body = {"taxonomy": name, "text": "I was charged twice", field: value}
        r = await c.post("/v1/classify", **raw(body))
        assert r.status_code == 422, r.text
        r = await c.post("/v1/classify/batch", **raw({"taxonomy": name, "texts": [body]}))
        body.pop("taxonomy")
        assert r.status_code == 422, r.text
        assert await _state(c) == before


@pytest.mark.parametrize(
    "name", ["a\x00b", "..", ".", "a/b", "%2F", "what?", "tag#1", "tab\tname", "\u200b", "x\ud800"]
)
async def test_unaddressable_taxonomy_names_are_refused(
    stack: Stack, tenant: Tenant, name: str
) -> None:
    async with stack.client(tenant.key) as c:
        r = await c.post("/v1/taxonomies", **raw({**TINY_TAXONOMY, "name": name}))
        assert r.status_code == 422, r.text
        assert (await c.get("/v1/taxonomies")).status_code == 200


async def test_nul_anywhere_else_is_422_not_500(stack: Stack, tenant: Tenant) -> None:
    async with stack.client(tenant.key) as c:
        name = await _taxonomy(c)
        for path in ("/v1/taxonomies/a%00b", f"/v1/taxonomies/{name}/versions?x=%00"):
            r = await c.get(path)
            assert r.status_code == 422, (path, r.text)
        r = await c.get("/v1/decisions", params={"external_id": "a\x00"})
        assert r.status_code == 422
        r = await c.post(
            f"/v1/taxonomies/{name}/examples",
            **raw({"examples": [{"text": "refund\x00please", "label": "billing"}]}),
        )  # named by their place in the upload (was labels[0].examples[n], 400)
        assert r.status_code == 422 and "NUL" in r.json()["error"]["message"], r.text
        assert r.json()["error"]["details"]["field"] == "examples[0]: text"
        r = await c.post(  # invisible-only is empty, named by its place in the upload
            f"/v1/taxonomies/{name}/examples",
            json={"examples": [{"text": "\u200b\u2060", "label": "billing"}]},
        )  # was 400 invalid_taxonomy "labels[0].examples[n]: examples must be non-empty"
        assert r.status_code == 400 and r.json()["error"]["details"]["at"] == "examples[0]", r.text
        csv = "text,label\nrefund\x00 please,billing\n"
        r = await c.post(
            f"/v1/taxonomies/{name}/examples",
            files={"file": ("ex.csv", csv.encode(), "text/csv")},
        )
        assert 400 <= r.status_code < 500 and r.status_code != 404, r.text
        r = await c.post(
            "/v1/webhooks",
            **raw(
                {
                    "url": "https://hooks.example.com/h",
                    "events": ["alert.drift"],
                    "description": "x\x00",
                }
            ),
        )
        assert r.status_code == 422, r.text
        assert (await c.get(f"/v1/taxonomies/{name}")).status_code == 200


async def test_json_nested_past_the_parser_is_refused_not_500(stack: Stack, tenant: Tenant) -> None:
    """An examples upload (JSON, JSONL) or a bulk job (JSONL) nested deeper than the JSON
    parser recurses was a 500 (RecursionError); it is malformed input, and nothing is written."""
    deep = "[" * 10_000 + "]" * 10_000
    line = '{"text": ' + deep + ', "label": "billing"}\n'
    async with stack.client(tenant.key) as c:
        name = await _taxonomy(c)
        before = (await c.get(f"/v1/taxonomies/{name}")).json()["labels"]
        for content_type, body in (("application/json", deep), ("application/x-ndjson", line)):
            r = await c.post(
                f"/v1/taxonomies/{name}/examples",
                content=body.encode(),
                headers={"Content-Type": content_type},
            )
            assert r.status_code == 400, r.text
            assert r.json()["error"]["code"] == "invalid_dataset"
        r = await c.post(
            f"/v1/jobs?taxonomy={name}",
            content=line.replace('"label": "billing"', '"id": "1"').encode(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
        assert (await c.get("/v1/jobs")).json()["data"] == []
        assert (await c.get(f"/v1/taxonomies/{name}")).json()["labels"] == before


def test_library_callers_get_the_same_checks(stack: Stack, tenant: Tenant) -> None:
    principal = stack.service.authenticate(tenant.key)
    with pytest.raises(ValidationFailed):
        stack.service.classify(principal, "any", [ClassifyItem("hello", metadata=nested(300))])
    with pytest.raises(ValidationFailed):
        check_metadata({1: "non-string key"})
    with pytest.raises(ValidationFailed):
        check_metadata({"x": float("nan")})
    check_metadata(nested(8))
    assert is_blank("\u200b\u2060\u00ad\ufeff \n\u3164")
    assert not is_blank("\u200bok")
