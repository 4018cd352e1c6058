"""``webhook_events.decision_id``: the decision a ``decision.*`` event is about, indexed.

Erasing a decision's personal data (``POST /v1/decisions/erase`` and the retention of
``TRIAGED_DECISION_RETENTION_DAYS``) clears the metadata of its webhook events.  It found
them by a path inside the JSON payload, which no index covers: every erase read all of the
workspace's ``decision.*`` events.  The upgrade fills the column from the payloads in one statement.

Revision ID: 0023_webhook_event_decision
Revises: 0022_decision_erasure
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_webhook_event_decision"
down_revision = "0022_decision_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_events", sa.Column("decision_id", sa.String(40), nullable=True))
    op.create_index(
        "ix_webhook_events_workspace_decision", "webhook_events", ["workspace_id", "decision_id"]
    )
    events = sa.table(
        "webhook_events",
        sa.column("type", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("decision_id", sa.String),
    )
    # one statement, the JSON path in the database's own dialect (PostgreSQL ``->>``,
    # SQLite ``json_extract``): a long outbox is not read into Python row by row
    op.execute(
        sa.update(events)
        .where(events.c.type.like("decision.%"))
        .values(decision_id=events.c.payload[("data", "decision_id")].as_string())
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_workspace_decision", table_name="webhook_events")
    # a plain drop (SQLite 3.35+ drops a column in place): the batch copy would DROP TABLE
    # webhook_events, which deliveries reference
    op.drop_column("webhook_events", "decision_id")
