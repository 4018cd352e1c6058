"""The SDK's operations on a workspace's health: bucket metrics, drift and insights.

Like :mod:`triaged.client._ops`, each builds the request once for both clients.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from triaged.client._http import Call, check_filters, seg
from triaged.client._ops import Op, _some, _when, page
from triaged.client.insights_results import Insights
from triaged.client.metrics_results import BucketMetrics, DriftAlert, DriftReport
from triaged.client.pages import Page

__all__ = [
    "bucket_metrics",
    "drift",
    "drift_alerts_page",
    "drift_check",
    "drift_params",
    "insights",
]


def bucket_metrics(
    taxonomy: str | None,
    interval: str,
    label: str | None,
    since: datetime | str | None,
    until: datetime | str | None,
) -> Op[BucketMetrics]:
    params = _some(
        taxonomy=taxonomy, interval=interval, label=label, since=_when(since), until=_when(until)
    )
    return Op(Call("GET", "/v1/metrics/buckets", params=params), BucketMetrics.from_dict)


#: the settings of the drift endpoints (``tests/test_sdk_contract.py`` checks them)
DRIFT_SETTINGS = frozenset(
    {"recent_hours", "baseline_hours", "alpha", "min_volume", "min_change", "per_label"}
)


def drift_params(taxonomy: str | None, settings: dict[str, Any]) -> dict[str, Any]:
    """The query of the drift endpoints: ``taxonomy`` and the settings given (recent_hours,
    baseline_hours, alpha, min_volume, min_change, per_label); the others keep the server's."""
    check_filters("drift", settings, DRIFT_SETTINGS)
    params = _some(taxonomy=taxonomy, **settings)
    if "per_label" in params:
        params["per_label"] = str(bool(params["per_label"])).lower()
    return params


def drift(taxonomy: str | None, settings: dict[str, Any]) -> Op[DriftReport]:
    call = Call("GET", "/v1/metrics/drift", params=drift_params(taxonomy, settings))
    return Op(call, DriftReport.from_dict)


def drift_check(taxonomy: str | None, settings: dict[str, Any]) -> Op[list[DriftAlert]]:
    call = Call("POST", "/v1/metrics/drift/check", params=drift_params(taxonomy, settings))
    return Op(call, lambda data: [DriftAlert.from_dict(a) for a in data["alerts"]])


def drift_alerts_page(
    taxonomy: str | None, since: datetime | str | None, cursor: str | None
) -> Op[Page[DriftAlert]]:
    return page(
        "/v1/metrics/drift/alerts",
        DriftAlert.from_dict,
        cursor,
        taxonomy=taxonomy,
        since=_when(since),
    )


def insights(
    taxonomy: str, since: datetime | str | None, until: datetime | str | None
) -> Op[Insights]:
    params = _some(since=_when(since), until=_when(until)) or None
    call = Call("GET", f"/v1/taxonomies/{seg(taxonomy)}/insights", params=params)
    return Op(call, Insights.from_dict)
