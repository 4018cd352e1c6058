"""Routing policies record where their hold (review) threshold comes from: ``evidence``
(chosen from the model's held-out evidence, never below ``review_floor``) or ``manual``.
Versions written before keep ``manual``: their threshold was the definition's.

Revision ID: 0010_hold_from_evidence
Revises: 0009_job_runner
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_hold_from_evidence"
down_revision = "0009_job_runner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_policies") as batch:
        batch.add_column(
            sa.Column("review_source", sa.String(16), nullable=False, server_default="manual")
        )
        batch.add_column(sa.Column("review_floor", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_policies") as batch:
        batch.drop_column("review_floor")
        batch.drop_column("review_source")
