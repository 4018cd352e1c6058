"""A rotated webhook secret keeps signing beside the new one for a while (deliveries carry
both ``v1=`` signatures until ``previous_expires_at``), so a receiver can switch without
refusing deliveries.

Revision ID: 0015_webhook_previous_secret
Revises: 0014_metric_tallies
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_webhook_previous_secret"
down_revision = "0014_metric_tallies"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("previous_secret", sa.String(100), nullable=True))
        batch.add_column(sa.Column("previous_expires_at", Stamp, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("previous_expires_at")
        batch.drop_column("previous_secret")
