"""A taxonomy version records the labels it renamed (``{old name: new name}``), so that
the examples, reviews and decisions of a renamed label follow it whatever else changed.

Revision ID: 0020_label_renames
Revises: 0019_model_progress
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_label_renames"
down_revision = "0019_model_progress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("taxonomy_versions") as batch:
        batch.add_column(sa.Column("renames", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("taxonomy_versions") as batch:
        batch.drop_column("renames")
