"""``webhook_events.decision_id``: the decision a ``decision.*`` event is about, indexed.

Erasing a decision's personal data (``POST /v1/decisions/erase`` and the retention of
``TRIAGED_DECISION_RETENTION_DAYS``) clears the metadata of its webhook events.  It found
them by a path inside the JSON payload, which no index covers: every erase read all of the
workspace's ``decision.*`` events.  The upgrade fills the column from the payloads.

Revision ID: 0023_webhook_event_decision
Revises: 0022_decision_erasure
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0023_webhook_event_decision"
down_revision = "0022_decision_erasure"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("webhook_events", sa.Column("decision_id", sa.String(40), nullable=True))
    op.create_index(
        "ix_webhook_events_workspace_decision", "webhook_events", ["workspace_id", "decision_id"]
    )
    events = sa.table(
        "webhook_events",
        sa.column("id", sa.String),
        sa.column("type", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("decision_id", sa.String),
    )
    conn = op.get_bind()
    last = ""
    while True:  # in key order, a batch at a time: memory stays flat on a long outbox
        rows = conn.execute(
            sa.select(events.c.id, events.c.payload)
            .where(events.c.type.like("decision.%"), events.c.id > last)
            .order_by(events.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            about = _decision_id(row.payload)
            if about is not None:
                conn.execute(
                    sa.update(events).where(events.c.id == row.id).values(decision_id=about)
                )
        last = rows[-1].id


def _decision_id(payload: Any) -> str | None:
    if isinstance(payload, str):  # a driver that hands JSON back as text
        payload = json.loads(payload)
    data = payload.get("data") if isinstance(payload, dict) else None
    about = data.get("decision_id") if isinstance(data, dict) else None
    return str(about) if about is not None else None


def downgrade() -> None:
    op.drop_index("ix_webhook_events_workspace_decision", table_name="webhook_events")
    # a plain drop (SQLite 3.35+ drops a column in place): the batch copy would DROP TABLE
    # webhook_events, which deliveries reference
    op.drop_column("webhook_events", "decision_id")
