"""Prometheus counters kept as tallies written with the rows they count: decisions per
workspace, taxonomy, bucket and latency bucket (with the latency sum), and failed webhook
delivery attempts.  The scrape read them by scanning every decision and attempt, which
grew with the log, and the failure count went down when retention pruned attempts (a
counter that decreases reads as a reset to Prometheus).  Filled from the rows there are.

Revision ID: 0014_metric_tallies
Revises: 0013_usage_daily
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_metric_tallies"
down_revision = "0013_usage_daily"
branch_labels = None
depends_on = None

# the latency buckets' upper bounds in seconds when this ran (the le label; +Inf beyond)
BOUNDS_S = (
    "0.001",
    "0.0025",
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1.0",
    "2.5",
    "5.0",
)


def upgrade() -> None:
    op.create_table(
        "decision_tallies",
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("taxonomy", sa.String(100), primary_key=True),
        sa.Column("bucket", sa.String(10), primary_key=True),
        sa.Column("le", sa.String(16), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
    )
    op.create_table(
        "metric_totals",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    whens = " ".join(f"WHEN latency_ms <= {float(b) * 1000.0!r} THEN '{b}'" for b in BOUNDS_S)
    le = f"CASE {whens} ELSE '+Inf' END"
    op.execute(
        "INSERT INTO decision_tallies (workspace_id, taxonomy, bucket, le, n, latency_ms) "
        f"SELECT workspace_id, taxonomy, bucket, {le}, COUNT(*), COALESCE(SUM(latency_ms), 0) "
        f"FROM decisions GROUP BY workspace_id, taxonomy, bucket, {le}"
    )
    op.execute(
        "INSERT INTO metric_totals (name, value) "
        "SELECT 'webhook_delivery_failures', COUNT(*) FROM webhook_attempts "
        "WHERE error IS NOT NULL OR status_code IS NULL OR status_code >= 300"
    )


def downgrade() -> None:
    op.drop_table("metric_totals")
    op.drop_table("decision_tallies")
