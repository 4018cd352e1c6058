"""The SDK's result types mirror the API's response schemas (``/openapi.json``).

For each pair the SDK dataclass and the schema must have the same fields (but for the fields
listed as SDK-only or deliberately left out), of the same JSON types, with nested objects
checked the same way; a field the schema may omit needs a default in the SDK, and a field the
schema may send as null must be optional in the SDK.  A field added to (or renamed in) the API's
decision, review item, model, key, webhook or bulk job schema fails this test until the SDK
follows.  (A job's JSONL result rows have no schema: ``tests/jobs/test_sdk_jobs.py`` compares
them with :class:`~triaged.client.JobResult` on a real server.)
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from tests.servicekit import make_settings
from triaged.api.app import create_app
from triaged.client import (
    Classification,
    Decision,
    Job,
    Key,
    ModelInfo,
    Plan,
    ReviewAlternative,
    ReviewItem,
    ReviewItemPage,
    Routing,
    RoutingBound,
    RoutingVersion,
    TaxonomyVersion,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    Workspace,
)
from triaged.client._ops import DECISION_FILTERS
from triaged.client._ops_metrics import DRIFT_SETTINGS
from triaged.client._ops_views import REVIEW_ITEM_FILTERS
from triaged.types import Alternative

# SDK class -> (schema name, SDK-only fields, schema fields the SDK leaves to ``raw``)
PAIRS: dict[type, tuple[str, frozenset[str], frozenset[str]]] = {
    Classification: ("ClassifyResponse", frozenset(), frozenset()),
    Decision: ("DecisionOut", frozenset(), frozenset()),
    Alternative: ("AlternativeOut", frozenset(), frozenset()),
    ReviewAlternative: ("ReviewAlternativeOut", frozenset(), frozenset()),
    # the item schema allows extra fields: the SDK types those of a resolved item
    ReviewItem: (
        "ReviewItemOut",
        frozenset({"action", "final_label", "final_source", "resolved_at", "note", "extra"}),
        frozenset(),
    ),
    ModelInfo: ("ModelOut", frozenset(), frozenset()),
    Key: ("KeyCreated", frozenset(), frozenset()),
    Webhook: ("WebhookCreated", frozenset(), frozenset()),
    RoutingBound: ("RoutingBoundOut", frozenset(), frozenset()),
    Routing: ("RoutingOut", frozenset({"raw"}), frozenset({"live"})),
    RoutingVersion: ("RoutingVersionOut", frozenset(), frozenset()),
    Job: ("JobOut", frozenset(), frozenset()),
    ReviewItemPage: ("ItemPage", frozenset(), frozenset()),
    Workspace: ("WorkspaceOut", frozenset(), frozenset()),
    Plan: ("PlanOut", frozenset(), frozenset()),
    TaxonomyVersion: ("VersionOut", frozenset(), frozenset()),
    WebhookDelivery: ("DeliveryOut", frozenset({"raw"}), frozenset()),
    WebhookAttempt: ("AttemptOut", frozenset(), frozenset()),
}
# answers that omit the secret (listing, revoking) use the parent schema
SECRET_FIELDS = {Key: ("KeyOut", "key"), Webhook: ("WebhookOut", "secret")}


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = Path(tmp_path_factory.mktemp("contract")) / "c.db"
    doc: dict[str, Any] = create_app(make_settings(f"sqlite:///{db}")).openapi()
    return doc


@pytest.fixture(scope="module")
def schemas(openapi: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = openapi["components"]["schemas"]
    return found


@pytest.mark.parametrize(
    ("path", "method", "known"),
    [
        ("/v1/decisions", "get", DECISION_FILTERS),
        ("/v1/review/items", "get", REVIEW_ITEM_FILTERS),
        ("/v1/metrics/drift", "get", DRIFT_SETTINGS | {"taxonomy"}),
        ("/v1/metrics/drift/check", "post", DRIFT_SETTINGS | {"taxonomy"}),
    ],
)
def test_the_sdk_filters_are_the_api_query(
    openapi: dict[str, Any], path: str, method: str, known: frozenset[str]
) -> None:
    """The SDK refuses filters it does not know (a misspelt one was ignored by the server):
    a filter the API adds fails here until the SDK takes it."""
    params = openapi["paths"][path][method].get("parameters", [])
    query = {p["name"] for p in params if p["in"] == "query"} - {"cursor", "limit"}
    assert query == set(known)


def _ref(prop: dict[str, Any]) -> str | None:
    """The schema's class name: pydantic prefixes the module (``triaged__api__..._Name``)
    when two models of one name have different schemas."""
    ref = prop.get("$ref")
    return str(ref).rsplit("/", 1)[-1].rsplit("__", 1)[-1] if ref else None


def _named(schemas: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The schemas of class ``name`` (several when models of that name differ)."""
    found = [v for k, v in schemas.items() if k.rsplit("__", 1)[-1] == name]
    assert found, f"no schema {name}"
    return found


def _schema_types(prop: dict[str, Any]) -> set[str]:
    if "anyOf" in prop:
        return set().union(*(_schema_types(p) for p in prop["anyOf"]))
    if "$ref" in prop:
        return {"object"}
    kind = prop.get("type")
    if kind is None:
        return {"any"}
    return set(kind) if isinstance(kind, list) else {kind}


def _sdk_types(tp: Any) -> set[str]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return {"null"}
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_sdk_types(a) for a in args))
    if tp is Any:
        return {"any"}
    base = origin or tp
    if base is bool:
        return {"boolean"}
    if isinstance(base, type) and issubclass(base, str):  # str, and StrEnum such as Bucket
        return {"string"}
    if base is int:
        return {"integer"}
    if base is float:
        return {"number"}
    if base is list:
        return {"array"}
    if base is dict or dataclasses.is_dataclass(base):
        return {"object"}
    raise AssertionError(f"no JSON type for {tp!r}")


def _non_null(tp: Any) -> list[Any]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _check_nested(where: str, tp: Any, prop: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Enums carry the schema's values; objects and array items of a known pair match it."""
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    for inner, sub in zip(_non_null(tp), options, strict=False):
        if isinstance(inner, type) and issubclass(inner, enum.Enum) and "enum" in sub:
            assert {m.value for m in inner} == set(sub["enum"]), where
        args = typing.get_args(inner)
        if typing.get_origin(inner) is list and "items" in sub:
            item_tp, item = args[0], sub["items"]
            assert _sdk_types(item_tp) == _schema_types(item), f"{where}[]"
            if _ref(item) and item_tp in PAIRS:
                assert PAIRS[item_tp][0] == _ref(item), f"{where}[]"
        if typing.get_origin(inner) is dict and "additionalProperties" in sub:
            extra = sub["additionalProperties"]
            if isinstance(extra, dict):
                assert _sdk_types(args[1]) == _schema_types(extra), f"{where}{{}}"
        if _ref(sub) and inner in PAIRS:
            assert PAIRS[inner][0] == _ref(sub), where


def _compare(
    cls: type,
    schema_name: str,
    sdk_only: frozenset[str],
    left: frozenset[str],
    schemas: dict[str, Any],
) -> None:
    for schema in _named(schemas, schema_name):
        _compare_one(cls, schema_name, schema, sdk_only, left, schemas)


def _compare_one(
    cls: type,
    schema_name: str,
    schema: dict[str, Any],
    sdk_only: frozenset[str],
    left: frozenset[str],
    schemas: dict[str, Any],
) -> None:
    props: dict[str, Any] = schema["properties"]
    required = set(schema.get("required", []))
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(fields) - sdk_only == set(props) - left, (
        f"{cls.__name__} vs {schema_name}: SDK lacks {sorted(set(props) - left - set(fields))}, "
        f"API lacks {sorted(set(fields) - sdk_only - set(props))}"
    )
    for name in set(fields) & set(props):
        where = f"{cls.__name__}.{name}"
        sdk, api = _sdk_types(hints[name]), _schema_types(props[name])
        assert sdk - {"null"} == api - {"null"} or "any" in api, (where, sdk, api)
        if "null" in api:
            assert "null" in sdk, f"{where}: the API may send null"
        field = fields[name]
        has_default = not (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if name not in required:
            assert has_default, f"{where}: the API may leave it out"
        _check_nested(where, hints[name], props[name], schemas)


@pytest.mark.parametrize("cls", list(PAIRS), ids=lambda c: c.__name__)
def test_the_sdk_type_mirrors_the_api_schema(cls: type, schemas: dict[str, Any]) -> None:
    schema_name, sdk_only, left = PAIRS[cls]
    _compare(cls, schema_name, sdk_only, left, schemas)


@pytest.mark.parametrize("cls", list(SECRET_FIELDS), ids=lambda c: c.__name__)
def test_the_secret_is_the_only_difference_of_the_creating_answer(
    cls: type, schemas: dict[str, Any]
) -> None:
    plain, secret = SECRET_FIELDS[cls]
    _compare(cls, plain, frozenset({secret}), frozenset(), schemas)
    assert set(schemas[PAIRS[cls][0]]["properties"]) - set(schemas[plain]["properties"]) == {secret}


def test_the_check_catches_drift(schemas: dict[str, Any]) -> None:
    """A field added to the decision schema, or a type changed, fails the comparison."""
    grown = {**schemas, "DecisionOut": dict(schemas["DecisionOut"])}
    grown["DecisionOut"]["properties"] = {
        **schemas["DecisionOut"]["properties"],
        "reviewer": {"type": "string"},
    }
    with pytest.raises(AssertionError, match="SDK lacks \\['reviewer'\\]"):
        _compare(Decision, "DecisionOut", frozenset(), frozenset(), grown)
    retyped = {**schemas, "DecisionOut": dict(schemas["DecisionOut"])}
    retyped["DecisionOut"]["properties"] = {
        **schemas["DecisionOut"]["properties"],
        "confidence": {"type": "string"},
    }
    with pytest.raises(AssertionError, match=r"Decision\.confidence"):
        _compare(Decision, "DecisionOut", frozenset(), frozenset(), retyped)
