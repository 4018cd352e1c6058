"""Counted requests per UTC day and key, written with the quota counter: the usage page
read them from the decision log, which misses bulk jobs run with ``log=false`` and loses
what retention deletes.  Filled from the decisions already logged.

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
    if op.get_bind().dialect.name == "postgresql":
        day = "to_char(timezone('UTC', created_at), 'YYYY-MM-DD')"
    else:
        day = "strftime('%Y-%m-%d', created_at)"
    op.execute(
        "INSERT INTO usage_daily (workspace_id, day, key_id, requests) "
        f"SELECT workspace_id, {day}, COALESCE(key_id, ''), COUNT(*) FROM decisions "
        f"GROUP BY workspace_id, {day}, COALESCE(key_id, '')"
    )


def downgrade() -> None:
    op.drop_table("usage_daily")
