"""The SDK's operations on the workspace's views: review items and progress, the workspace.

Like :mod:`triaged.client._ops`, each builds the request once for both clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from triaged.client._http import Call, check_filters, seg
from triaged.client._ops import Op, _some, _when
from triaged.client.results import ReviewItem
from triaged.client.review_results import ReviewItemPage, ReviewProgress
from triaged.client.workspace_results import Workspace

__all__ = ["review_item", "review_items", "review_progress", "workspace"]


def _query_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(v) for v in value)
    return value


#: the filters of ``GET /v1/review/items`` (``tests/test_sdk_contract.py`` checks them)
REVIEW_ITEM_FILTERS = frozenset(
    {
        "taxonomy",
        "queue",
        "status",
        "claimed_by",
        "decision_id",
        "decision_ids",
        "q",
        "label",
        "confidence_min",
        "confidence_max",
        "since",
        "until",
    }
)


def review_items(cursor: str | None, limit: int, filters: Mapping[str, Any]) -> Op[ReviewItemPage]:
    check_filters("review_items", filters, REVIEW_ITEM_FILTERS)
    params = _some(**{k: _query_value(v) for k, v in filters.items()})
    params.update(_some(limit=limit, cursor=cursor or None))
    return Op(Call("GET", "/v1/review/items", params=params), ReviewItemPage.from_dict)


def review_item(item_id: str) -> Op[ReviewItem]:
    return Op(Call("GET", f"/v1/review/items/{seg(item_id)}"), ReviewItem.from_dict)


def review_progress(taxonomy: str | None) -> Op[ReviewProgress]:
    params = _some(taxonomy=taxonomy) or None
    return Op(Call("GET", "/v1/review/progress", params=params), ReviewProgress.from_dict)


def workspace() -> Op[Workspace]:
    return Op(Call("GET", "/v1/workspace"), Workspace.from_dict)
