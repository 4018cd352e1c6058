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

The decision counts, the latency histogram and the failure count come from tallies
written in the transactions that log decisions and attempts (``decision_tallies``,
``metric_totals``): a scrape reads a few rows per taxonomy however long the log, and a
counter never goes down (pruned attempts stay counted).  The queue gauges are aggregate
queries over the open items.
"""

from __future__ import annotations

from collections import defaultdict
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

LATENCY_BUCKETS_S = metrics_repo.LATENCY_BOUNDS_S
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
        """Decisions per bucket and the classify latency histogram, from their tallies."""
        counts: dict[tuple[str, str, str], int] = defaultdict(int)
        per_le: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        sums: dict[tuple[str, str], float] = defaultdict(float)
        for ws, tax, bucket, le, n, latency_ms in metrics_repo.decision_tally_rows(conn):
            counts[(ws, tax, bucket)] += int(n)
            per_le[(ws, tax)][le] += int(n)
            sums[(ws, tax)] += float(latency_ms)
        family = CounterMetricFamily(
            "triaged_decisions",
            "Decisions logged, by taxonomy and bucket.",
            labels=["workspace", "taxonomy", "bucket"],
        )
        for labels, n in sorted(counts.items()):
            family.add_metric(list(labels), float(n))
        yield family

        hist = HistogramMetricFamily(
            "triaged_classify_latency_seconds",
            "Per-text classify latency.",
            labels=["workspace", "taxonomy"],
        )
        for (ws, tax), by_le in sorted(per_le.items()):
            finite = [(float(le), n) for le, n in by_le.items() if le != metrics_repo.INF]
            buckets = [
                (str(b), float(sum(n for le, n in finite if le <= b))) for b in LATENCY_BUCKETS_S
            ]
            buckets.append(("+Inf", float(sum(by_le.values()))))
            hist.add_metric([ws, tax], buckets, sum_value=sums[(ws, tax)] / 1000.0)
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
        failed = metrics_repo.total(conn, metrics_repo.WEBHOOK_FAILURES)
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
