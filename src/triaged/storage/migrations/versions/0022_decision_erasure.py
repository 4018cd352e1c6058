"""Erased decisions: ``decisions.redacted_at``, when a decision's text and metadata were
erased (``POST /v1/decisions/erase``, or the retention of ``TRIAGED_DECISION_RETENTION_DAYS``).

Revision ID: 0022_decision_erasure
Revises: 0021_created_by
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_decision_erasure"
down_revision = "0021_created_by"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # a plain drop (SQLite 3.35+ drops a column in place): the batch mode's copy of the
    # table would DROP TABLE decisions, which review items reference
    op.drop_column("decisions", "redacted_at")
