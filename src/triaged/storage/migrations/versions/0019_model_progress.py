"""A model row in training carries its progress (done and total steps of the fit, the
stage, when it started and was last written), for the API to show with an ETA.

Revision ID: 0019_model_progress
Revises: 0018_definition_thresholds
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_model_progress"
down_revision = "0018_definition_thresholds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("progress", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("progress")
