"""Failed authentications in the database, so every API process counts them together.

Revision ID: 0011_auth_failures
Revises: 0010_hold_from_evidence
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_auth_failures"
down_revision = "0010_hold_from_evidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("failed_at", sa.Float, nullable=False),
    )
    op.create_index("ix_auth_failures_subject_failed_at", "auth_failures", ["subject", "failed_at"])
    op.create_index("ix_auth_failures_failed_at", "auth_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_failures_failed_at", table_name="auth_failures")
    op.drop_index("ix_auth_failures_subject_failed_at", table_name="auth_failures")
    op.drop_table("auth_failures")
