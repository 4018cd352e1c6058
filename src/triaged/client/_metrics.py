"""Methods of both clients on a workspace's health: bucket metrics over time, drift (now,
checked and recorded, and the recorded alerts) and a taxonomy's insights.
:class:`~triaged.client.Client` inherits :class:`SyncMetrics`,
:class:`~triaged.client.AsyncClient` :class:`AsyncMetrics`; each pair has the same methods."""

from __future__ import annotations

from datetime import datetime

from triaged.client import _ops_metrics as metrics
from triaged.client._runner import AsyncRunner, SyncRunner
from triaged.client.insights_results import Insights
from triaged.client.metrics_results import BucketMetrics, DriftAlert, DriftReport

__all__ = ["AsyncMetrics", "SyncMetrics"]


class SyncMetrics(SyncRunner):
    """The synchronous methods (the client supplies ``_run``)."""

    def bucket_metrics(
        self,
        *,
        taxonomy: str | None = None,
        interval: str = "day",
        label: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> BucketMetrics:
        """Decisions per bucket and period (``hour``, ``day``, ``week``), oldest first."""
        return self._run(metrics.bucket_metrics(taxonomy, interval, label, since, until))

    def drift(self, *, taxonomy: str | None = None, **settings: float | int | bool) -> DriftReport:
        """Held and review shares of the recent window against the baseline before it (no
        alert is recorded); settings: recent_hours, baseline_hours, alpha, min_volume,
        min_change, per_label (left out: the server's defaults)."""
        return self._run(metrics.drift(taxonomy, settings))

    def drift_check(
        self, *, taxonomy: str | None = None, **settings: float | int | bool
    ) -> list[DriftAlert]:
        """Run the drift check now (admin): the new alerts, recorded and sent to the
        webhooks subscribed to ``alert.drift``; settings as :meth:`drift`."""
        return self._run(metrics.drift_check(taxonomy, settings))

    def drift_alerts(
        self, *, taxonomy: str | None = None, since: datetime | str | None = None
    ) -> list[DriftAlert]:
        """The recorded drift alerts, newest first (all pages)."""
        return self._all(lambda cursor: metrics.drift_alerts_page(taxonomy, since, cursor))

    def insights(
        self,
        taxonomy: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> Insights:
        """Gap clusters, overlapping labels and per-label health (default: last 30 days)."""
        return self._run(metrics.insights(taxonomy, since, until))


class AsyncMetrics(AsyncRunner):
    """The same methods, awaitable (the client supplies ``_run``)."""

    async def bucket_metrics(
        self,
        *,
        taxonomy: str | None = None,
        interval: str = "day",
        label: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> BucketMetrics:
        """Decisions per bucket and period (``hour``, ``day``, ``week``), oldest first."""
        return await self._run(metrics.bucket_metrics(taxonomy, interval, label, since, until))

    async def drift(
        self, *, taxonomy: str | None = None, **settings: float | int | bool
    ) -> DriftReport:
        """Held and review shares of the recent window against the baseline before it (no
        alert is recorded); settings: recent_hours, baseline_hours, alpha, min_volume,
        min_change, per_label (left out: the server's defaults)."""
        return await self._run(metrics.drift(taxonomy, settings))

    async def drift_check(
        self, *, taxonomy: str | None = None, **settings: float | int | bool
    ) -> list[DriftAlert]:
        """Run the drift check now (admin): the new alerts, recorded and sent to the
        webhooks subscribed to ``alert.drift``; settings as :meth:`drift`."""
        return await self._run(metrics.drift_check(taxonomy, settings))

    async def drift_alerts(
        self, *, taxonomy: str | None = None, since: datetime | str | None = None
    ) -> list[DriftAlert]:
        """The recorded drift alerts, newest first (all pages)."""
        return await self._all(lambda cursor: metrics.drift_alerts_page(taxonomy, since, cursor))

    async def insights(
        self,
        taxonomy: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> Insights:
        """Gap clusters, overlapping labels and per-label health (default: last 30 days)."""
        return await self._run(metrics.insights(taxonomy, since, until))
