"""The SDK's taxonomy-admin operations: delete, versions, routing-policy versions, a model
by id, rollback, review settings and reviewed examples.  Like :mod:`triaged.client._ops`,
each builds the request once for both clients."""

from __future__ import annotations

from triaged.client._http import Call, seg
from triaged.client._ops import Op, _some, page
from triaged.client.pages import Page
from triaged.client.results import ModelInfo, TaxonomyInfo
from triaged.client.taxonomy_results import (
    ReviewedExample,
    ReviewSettings,
    RoutingVersion,
    TaxonomyDefinition,
    TaxonomyVersion,
)

__all__ = [
    "delete_taxonomy",
    "merge_labels",
    "model",
    "rename_label",
    "review_settings",
    "reviewed_examples_page",
    "rollback",
    "routing_versions_page",
    "update_review_settings",
    "version",
    "versions_page",
]


def _path(name: str, rest: str = "") -> str:
    return f"/v1/taxonomies/{seg(name)}{rest}"


def rename_label(name: str, label: str, new_name: str, description: str | None) -> Op[TaxonomyInfo]:
    body = _some(name=new_name, description=description)
    return Op(
        Call("POST", _path(name, f"/labels/{seg(label)}/rename"), json=body),
        TaxonomyInfo.from_dict,
    )


def merge_labels(name: str, label: str, into: str) -> Op[TaxonomyInfo]:
    return Op(
        Call("POST", _path(name, f"/labels/{seg(label)}/merge"), json={"into": into}),
        TaxonomyInfo.from_dict,
    )


def delete_taxonomy(name: str) -> Op[TaxonomyInfo]:
    return Op(Call("DELETE", _path(name)), TaxonomyInfo.from_dict)


def versions_page(name: str, cursor: str | None) -> Op[Page[TaxonomyVersion]]:
    return page(_path(name, "/versions"), TaxonomyVersion.from_dict, cursor)


def routing_versions_page(name: str, cursor: str | None) -> Op[Page[RoutingVersion]]:
    return page(_path(name, "/routing/versions"), RoutingVersion.from_dict, cursor)


def version(name: str, number: int) -> Op[TaxonomyDefinition]:
    call = Call("GET", _path(name, f"/versions/{int(number)}"))
    return Op(call, TaxonomyDefinition.from_dict)


def model(name: str, model_id: str) -> Op[ModelInfo]:
    return Op(Call("GET", _path(name, f"/models/{seg(model_id)}")), ModelInfo.from_dict)


def rollback(name: str, model_id: str) -> Op[ModelInfo]:
    call = Call("POST", _path(name, "/rollback"), json={"model_id": model_id})
    return Op(call, ModelInfo.from_dict)


def review_settings(name: str) -> Op[ReviewSettings]:
    return Op(Call("GET", _path(name, "/review-settings")), ReviewSettings.from_dict)


def update_review_settings(
    name: str,
    guidelines: str | None,
    overlap_rate: float | None,
    reopen_window_seconds: int | None,
) -> Op[ReviewSettings]:
    body = _some(
        guidelines=guidelines,
        overlap_rate=overlap_rate,
        reopen_window_seconds=reopen_window_seconds,
    )
    call = Call("PATCH", _path(name, "/review-settings"), json=body)
    return Op(call, ReviewSettings.from_dict)


def reviewed_examples_page(name: str, cursor: str | None) -> Op[Page[ReviewedExample]]:
    return page(_path(name, "/reviewed-examples"), ReviewedExample.from_dict, cursor)
