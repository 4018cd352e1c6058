"""Every API operation of the SDK, once: the request it sends and how its answer is read.

:class:`~triaged.client.Client` and :class:`~triaged.client.AsyncClient` send the same
:class:`Op` objects, one synchronously, the other awaited.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from triaged.client._http import Call, check_filters, seg
from triaged.client.pages import DecisionPage, Page
from triaged.client.results import (
    Classification,
    Decision,
    Erased,
    Evaluation,
    Key,
    LaneError,
    ModelInfo,
    ReviewItem,
    ReviewStats,
    Routing,
    TaxonomyInfo,
    Usage,
    Webhook,
    WebhookDelivery,
    WhatIf,
    _lanes,
)
from triaged.types import Bucket

R = TypeVar("R")
T = TypeVar("T")
PAGE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Op(Generic[R]):
    """A request and the reader of its answer."""

    call: Call
    read: Callable[[Any], R]


def _none(_data: Any) -> None:
    return None


def _when(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _some(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


# ----------------------------------------------------------------- classify
def classify(
    text: str,
    taxonomy: str,
    external_id: str | None,
    metadata: Mapping[str, Any] | None,
    idempotency_key: str | None,
) -> Op[Classification]:
    body: dict[str, Any] = {"taxonomy": taxonomy, "text": text}
    if external_id is not None:
        body["external_id"] = external_id
    if metadata is not None:
        body["metadata"] = dict(metadata)
    headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    return Op(Call("POST", "/v1/classify", json=body, headers=headers), Classification.from_dict)


def classify_batch(
    texts: Sequence[str | Mapping[str, Any]], taxonomy: str, key: str | None
) -> Op[list[Classification]]:
    items = [t if isinstance(t, str) else dict(t) for t in texts]
    call = Call(
        "POST",
        "/v1/classify/batch",
        json={"taxonomy": taxonomy, "texts": items},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )
    return Op(call, lambda data: [Classification.from_dict(d) for d in data["results"]])


# ---------------------------------------------------------------- decisions
def decision(decision_id: str) -> Op[Decision]:
    return Op(Call("GET", f"/v1/decisions/{seg(decision_id)}"), Decision.from_dict)


#: the filters of ``GET /v1/decisions`` (``tests/test_sdk_contract.py`` checks them)
DECISION_FILTERS = frozenset({"taxonomy", "bucket", "label", "external_id", "since", "until"})


def decisions(cursor: str | None, limit: int, filters: Mapping[str, Any]) -> Op[DecisionPage]:
    check_filters("decisions", filters, DECISION_FILTERS)
    params = {k: v for k, v in filters.items() if v is not None}
    params["limit"] = limit
    if cursor:
        params["cursor"] = cursor
    return Op(Call("GET", "/v1/decisions", params=params), DecisionPage.from_dict)


def erase_decisions(ids: Sequence[str] | None, external_ids: Sequence[str] | None) -> Op[Erased]:
    body: dict[str, Any] = {}
    if ids is not None:
        body["ids"] = list(ids)
    if external_ids is not None:
        body["external_ids"] = list(external_ids)
    return Op(Call("POST", "/v1/decisions/erase", json=body), Erased.from_dict)


def usage() -> Op[Usage]:
    return Op(Call("GET", "/v1/usage"), Usage.from_dict)


# --------------------------------------------------------------- taxonomies
def create_taxonomy(
    name: str,
    labels: Sequence[str | Mapping[str, Any]],
    thresholds: Mapping[str, float] | None,
    description: str,
    examples: Sequence[Mapping[str, str]] | None,
) -> Op[TaxonomyInfo]:
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "labels": [{"name": lb} if isinstance(lb, str) else dict(lb) for lb in labels],
    }
    if thresholds is not None:
        body["thresholds"] = dict(thresholds)
    if examples:
        body["examples"] = [dict(e) for e in examples]
    return Op(Call("POST", "/v1/taxonomies", json=body), TaxonomyInfo.from_dict)


def taxonomy(name: str) -> Op[TaxonomyInfo]:
    return Op(Call("GET", f"/v1/taxonomies/{seg(name)}"), TaxonomyInfo.from_dict)


def page(path: str, item: Callable[[Any], T], cursor: str | None, **params: Any) -> Op[Page[T]]:
    """One page of the list at ``path`` (every list answers the same envelope)."""
    query = _some(limit=PAGE_LIMIT, cursor=cursor, **params)
    return Op(Call("GET", path, params=query), lambda data: Page.read(data, item))


def taxonomies_page(cursor: str | None) -> Op[Page[TaxonomyInfo]]:
    return page("/v1/taxonomies", TaxonomyInfo.from_dict, cursor)


def models_page(name: str, cursor: str | None) -> Op[Page[ModelInfo]]:
    return page(f"/v1/taxonomies/{seg(name)}/models", ModelInfo.from_dict, cursor)


def keys_page(cursor: str | None) -> Op[Page[Key]]:
    return page("/v1/keys", Key.from_dict, cursor)


def update_taxonomy(name: str, changes: Mapping[str, Any]) -> Op[TaxonomyInfo]:
    return Op(
        Call("PATCH", f"/v1/taxonomies/{seg(name)}", json=dict(changes)), TaxonomyInfo.from_dict
    )


def archive_taxonomy(name: str) -> Op[TaxonomyInfo]:
    return Op(Call("POST", f"/v1/taxonomies/{seg(name)}/archive"), TaxonomyInfo.from_dict)


def add_examples(name: str, examples: Sequence[Mapping[str, str]], train: bool) -> Op[TaxonomyInfo]:
    call = Call(
        "POST",
        f"/v1/taxonomies/{seg(name)}/examples",
        json={"examples": [dict(e) for e in examples]},
        params={"train": str(train).lower()},
    )
    return Op(call, TaxonomyInfo.from_dict)


def train(name: str) -> Op[ModelInfo]:
    return Op(Call("POST", f"/v1/taxonomies/{seg(name)}/train"), ModelInfo.from_dict)


def evaluate(name: str, examples: Sequence[Mapping[str, str]] | None) -> Op[Evaluation]:
    body = {"examples": [dict(e) for e in examples]} if examples else {}
    return Op(Call("POST", f"/v1/taxonomies/{seg(name)}/evaluate", json=body), Evaluation.from_dict)


def ready(info: TaxonomyInfo) -> bool:
    """Whether ``wait_until_ready`` may stop; raises when the newest training job failed."""
    from triaged.errors import ModelError

    job = info.training
    if info.ready and (job is None or job.status != "training"):
        return True
    if job is not None and job.status == "failed" and not info.ready:
        raise ModelError(f"training failed: {job.error}")
    return False


# ------------------------------------------------------------------ routing
def routing(taxonomy: str) -> Op[Routing]:
    return Op(Call("GET", f"/v1/taxonomies/{seg(taxonomy)}/routing"), Routing.from_dict)


def set_routing(taxonomy: str, fields: Mapping[str, Any]) -> Op[Routing]:
    call = Call("PUT", f"/v1/taxonomies/{seg(taxonomy)}/routing", json=dict(fields))
    return Op(call, Routing.from_dict)


def what_if(
    taxonomy: str,
    auto: float | None,
    review: float | None,
    since: datetime | str | None,
    until: datetime | str | None,
) -> Op[WhatIf]:
    params = _some(auto=auto, review=review, since=_when(since), until=_when(until))
    return Op(
        Call("GET", f"/v1/taxonomies/{seg(taxonomy)}/what-if", params=params), WhatIf.from_dict
    )


# --------------------------------------------------------------------- keys
def create_key(role: str, name: str) -> Op[Key]:
    return Op(Call("POST", "/v1/keys", json={"role": role, "name": name}), Key.from_dict)


def revoke_key(key_id: str) -> Op[Key]:
    return Op(Call("DELETE", f"/v1/keys/{seg(key_id)}"), Key.from_dict)


# ------------------------------------------------------------------- review
def claim(taxonomy: str | None, queue: str | None, limit: int) -> Op[list[ReviewItem]]:
    body = _some(limit=limit, taxonomy=taxonomy, queue=queue)
    return Op(
        Call("POST", "/v1/review/claim", json=body),
        lambda data: [ReviewItem.from_dict(item) for item in data["items"]],
    )


def resolve(
    item_id: str, action: str, label: str | None, new_label: str | None, note: str | None
) -> Op[ReviewItem]:
    body = _some(action=action, label=label, new_label=new_label, note=note)
    call = Call("POST", f"/v1/review/items/{seg(item_id)}/resolve", json=body)
    return Op(call, ReviewItem.from_dict)


def release(item_id: str) -> Op[ReviewItem]:
    return Op(Call("POST", f"/v1/review/items/{seg(item_id)}/release"), ReviewItem.from_dict)


def reopen(item_id: str) -> Op[ReviewItem]:
    return Op(Call("POST", f"/v1/review/items/{seg(item_id)}/reopen"), ReviewItem.from_dict)


def bulk_resolve(
    item_ids: list[str],
    action: str,
    label: str | None,
    new_label: str | None,
    note: str | None,
) -> Op[list[ReviewItem]]:
    body = _some(
        item_ids=list(item_ids), action=action, label=label, new_label=new_label, note=note
    )
    return Op(
        Call("POST", "/v1/review/items/bulk-resolve", json=body),
        lambda data: [ReviewItem.from_dict(item) for item in data["data"]],
    )


def review_stats(taxonomy: str | None, days: int | None) -> Op[ReviewStats]:
    params = _some(taxonomy=taxonomy, days=days) or None
    return Op(Call("GET", "/v1/review/stats", params=params), ReviewStats.from_dict)


def lane_error(taxonomy: str | None, since: datetime | str | None) -> Op[dict[str, LaneError]]:
    params = _some(taxonomy=taxonomy, since=_when(since)) or None
    call = Call("GET", "/v1/review/lane-error", params=params)
    return Op(call, lambda data: _lanes(data.get("lanes")))


# ----------------------------------------------------------------- webhooks
def create_webhook(url: str, events: Sequence[str], description: str) -> Op[Webhook]:
    body: dict[str, Any] = {"url": url, "events": list(events)}
    if description:
        body["description"] = description
    return Op(Call("POST", "/v1/webhooks", json=body), Webhook.from_dict)


def webhooks_page(cursor: str | None) -> Op[Page[Webhook]]:
    return page("/v1/webhooks", Webhook.from_dict, cursor)


def update_webhook(
    webhook_id: str,
    url: str | None,
    events: Sequence[str] | None,
    description: str | None,
) -> Op[Webhook]:
    body: dict[str, Any] = {}
    if url is not None:
        body["url"] = url
    if events is not None:
        body["events"] = list(events)
    if description is not None:
        body["description"] = description
    return Op(Call("PATCH", f"/v1/webhooks/{seg(webhook_id)}", json=body), Webhook.from_dict)


def rotate_webhook_secret(webhook_id: str, overlap_hours: float) -> Op[Webhook]:
    path = f"/v1/webhooks/{seg(webhook_id)}/rotate-secret"
    return Op(Call("POST", path, json={"overlap_hours": overlap_hours}), Webhook.from_dict)


def test_webhook(webhook_id: str) -> Op[WebhookDelivery]:
    return Op(Call("POST", f"/v1/webhooks/{seg(webhook_id)}/test"), WebhookDelivery.from_dict)


def delete_webhook(webhook_id: str) -> Op[None]:
    return Op(Call("DELETE", f"/v1/webhooks/{seg(webhook_id)}"), _none)


def pick(
    res: Classification,
    on_auto: Callable[[Classification], T] | None,
    on_review: Callable[[Classification], T] | None,
    on_hold: Callable[[Classification], T] | None,
) -> Callable[[Classification], T] | None:
    """The handler of ``route()`` for the result's bucket."""
    return {Bucket.AUTO: on_auto, Bucket.REVIEW: on_review, Bucket.HOLD: on_hold}[res.bucket]
