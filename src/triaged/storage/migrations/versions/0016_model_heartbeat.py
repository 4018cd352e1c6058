"""A process training a model row beats on it every few seconds, so a training whose
process stopped (on any host) is told from one still running: the queue's sweep and the
inline take-over act on a silent row, never on a live one.

Revision ID: 0016_model_heartbeat
Revises: 0015_webhook_previous_secret
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_model_heartbeat"
down_revision = "0015_webhook_previous_secret"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("heartbeat_at")
