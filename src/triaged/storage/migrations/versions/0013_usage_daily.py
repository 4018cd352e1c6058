"""Counted requests that no decision logs (bulk jobs run with ``log=false``), per UTC day
and key, written with the quota counter: the usage page read its per-day and per-key
figures from the decision log alone, which misses them.

Revision ID: 0013_usage_daily
Revises: 0012_model_runner
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_usage_daily"
down_revision = "0012_model_runner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_daily")
