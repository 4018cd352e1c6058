"""Prometheus exposition, read from the database at scrape time.

The decision log, the review queue and the webhook outbox are the source of truth, so
every API worker (and a restarted one) reports the same figures with no shared
in-process state:

* ``triaged_decisions_total{workspace, taxonomy, bucket}``: decisions logged;
* ``triaged_classify_latency_seconds{workspace, taxonomy}``: histogram of the per-text
  classify latency recorded with each decision;
* ``triaged_review_queue_depth{queue}`` and ``triaged_review_queue_oldest_age_seconds{queue}``:
  open (pending or claimed) review items and the age of the oldest;
* ``triaged_webhook_delivery_failures_total``: failed delivery attempts, and
  ``triaged_webhook_deliveries{status}`` by delivery status.

A scrape runs a handful of aggregate queries (the latency histogram scans the
decisions once); scrape every 30-60 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Connection

from triaged.storage import metrics_repo
from triaged.storage.db import Database

__all__ = ["LATENCY_BUCKETS_S", "DatabaseCollector", "exposition"]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OPEN_STATUSES = ("pending", "claimed", "released")  # released: handed back, open again


class DatabaseCollector(Collector):
    """A prometheus_client collector whose every sample comes from one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        with self.db.read() as conn:
            yield from self._decisions(conn)
            yield from self._review_queues(conn)
            yield from self._webhooks(conn)

    @staticmethod
    def _decisions(conn: Connection) -> Iterator[Metric]:
        """Decisions per bucket and the classify latency histogram."""
        counts = CounterMetricFamily(
            "triaged_decisions",
            "Decisions logged, by taxonomy and bucket.",
            labels=["workspace", "taxonomy", "bucket"],
        )
        for ws, tax, bucket, n in metrics_repo.decision_counts(conn):
            counts.add_metric([ws, tax, bucket], float(n))
        yield counts

        hist = HistogramMetricFamily(
            "triaged_classify_latency_seconds",
            "Per-text classify latency.",
            labels=["workspace", "taxonomy"],
        )
        for row in metrics_repo.latency_histogram(conn, LATENCY_BUCKETS_S):
            ws, tax, n, total_ms, *cum = row
            buckets = [(str(b), float(c or 0)) for b, c in zip(LATENCY_BUCKETS_S, cum, strict=True)]
            buckets.append(("+Inf", float(n)))
            hist.add_metric([ws, tax], buckets, sum_value=float(total_ms or 0) / 1000.0)
        yield hist

    @staticmethod
    def _review_queues(conn: Connection) -> Iterator[Metric]:
        """Depth and oldest age of each review queue."""
        depth = GaugeMetricFamily(
            "triaged_review_queue_depth",
            "Open review items (pending or claimed).",
            labels=["queue"],
        )
        oldest = GaugeMetricFamily(
            "triaged_review_queue_oldest_age_seconds",
            "Age of the oldest open review item.",
            labels=["queue"],
        )
        now = datetime.now(UTC)
        seen = set()
        for queue, n, first in metrics_repo.open_review_queues(conn, OPEN_STATUSES):
            seen.add(queue)
            depth.add_metric([queue], float(n))
            first_utc = first if first.tzinfo else first.replace(tzinfo=UTC)
            oldest.add_metric([queue], max(0.0, (now - first_utc).total_seconds()))
        for queue in ("hold", "review", "audit"):
            if queue not in seen:
                depth.add_metric([queue], 0.0)
                oldest.add_metric([queue], 0.0)
        yield depth
        yield oldest

    @staticmethod
    def _webhooks(conn: Connection) -> Iterator[Metric]:
        """Failed delivery attempts and deliveries by status."""
        failed = metrics_repo.failed_delivery_attempts(conn)
        yield CounterMetricFamily(
            "triaged_webhook_delivery_failures",
            "Webhook delivery attempts that failed (error or non-2xx).",
            value=float(failed),
        )
        by_status = GaugeMetricFamily(
            "triaged_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        for status, n in metrics_repo.deliveries_by_status(conn):
            by_status.add_metric([status], float(n))
        yield by_status


def exposition(db: Database) -> bytes:
    """The text exposition format of every metric above (one scrape)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db))
    out: bytes = generate_latest(registry)
    return out
