"""The published OpenAPI document is written, not generated: every operation has a summary of
its own (not FastAPI's title-cased function name), every schema field and parameter a
description, every request body an example.  A route or field added without them fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.servicekit import make_settings
from triaged.api.app import create_app
from triaged.api.openapi import first_sentence, generated_summary


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = Path(tmp_path_factory.mktemp("openapi")) / "o.db"
    doc: dict[str, Any] = create_app(make_settings(f"sqlite:///{db}")).openapi()
    return doc


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]


def test_every_operation_has_a_written_summary(spec: dict[str, Any]) -> None:
    ops = _operations(spec)
    assert len(ops) >= 50
    missing = [f"{m} {p}: {op.get('summary')!r}" for m, p, op in ops if generated_summary(op)]
    assert missing == []
    too_long = [f"{m} {p}" for m, p, op in ops if len(op["summary"]) > 90]
    assert too_long == []


def test_every_field_and_parameter_has_a_description(spec: dict[str, Any]) -> None:
    missing = [
        f"{name}.{field}"
        for name, schema in spec["components"]["schemas"].items()
        for field, prop in (schema.get("properties") or {}).items()
        if not str(prop.get("description") or "").strip()
    ]
    assert missing == []
    params = [
        f"{m} {p} {param['name']}"
        for m, p, op in _operations(spec)
        for param in op.get("parameters", [])
        if not str(param.get("description") or "").strip()
    ]
    assert params == []


def _has_example(body: dict[str, Any], schemas: dict[str, Any]) -> bool:
    for media in body.get("content", {}).values():
        if "example" in media or "examples" in media:
            return True
        schema = media.get("schema", {})
        ref = schema.get("$ref") or next(
            (s.get("$ref") for s in schema.get("anyOf", []) if "$ref" in s), None
        )
        target = schemas[ref.rsplit("/", 1)[-1]] if ref else schema
        if target.get("examples") or target.get("example"):
            return True
    return False


def test_every_request_body_has_an_example(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    bodies = [(m, p, op["requestBody"]) for m, p, op in _operations(spec) if "requestBody" in op]
    assert len(bodies) >= 15
    missing = [f"{m} {p}" for m, p, body in bodies if not _has_example(body, schemas)]
    assert missing == []


def test_the_checks_can_fail() -> None:
    """The detectors see a generated summary, and summarise a long docstring sensibly."""
    assert generated_summary({"summary": "List Decisions", "operationId": "list_decisions_v1"})
    assert not generated_summary({"summary": "List decisions, newest first", "operationId": "x"})
    long = "Resolve an item you hold: confirm, correct to a label, propose a new category, " * 2
    assert len(first_sentence(long)) <= 90
    assert first_sentence("Archive.  More text.\n\nDetails.") == "Archive"
    cut = first_sentence(
        "Resolve many items with one answer in one transaction (all or nothing; items you do "
        "not hold are refused) and tell the webhooks"
    )
    assert cut == "Resolve many items with one answer in one transaction"
