"""Webhook deliveries name their subject (the decision of a decision.* event), so that an
endpoint gets one decision's events in the order they happened: a later one waits while an
earlier one is pending or being sent.

Revision ID: 0017_webhook_delivery_order
Revises: 0016_model_heartbeat
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_webhook_delivery_order"
down_revision = "0016_model_heartbeat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("subject", sa.String(40), nullable=True))
        batch.create_index(
            "ix_webhook_deliveries_endpoint_subject", ["endpoint_id", "subject", "created_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_endpoint_subject")
        batch.drop_column("subject")
