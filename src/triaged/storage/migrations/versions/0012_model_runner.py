"""Training rows record the process that trains them (and the retrain's trigger), so a
restarted ``triaged serve`` trains again what a killed one left ``training``.

Revision ID: 0012_model_runner
Revises: 0011_auth_failures
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_model_runner"
down_revision = "0011_auth_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("runner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("trigger", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("trigger")
        batch.drop_column("runner")
