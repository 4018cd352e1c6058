"""Who made a version: the API key id behind each taxonomy version and routing-policy
version made through the API (null: the service made it by itself, or before 0021).

Revision ID: 0021_created_by
Revises: 0020_label_renames
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_created_by"
down_revision = "0020_label_renames"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("taxonomy_versions") as batch:
        batch.add_column(sa.Column("created_by", sa.String(40), nullable=True))
    with op.batch_alter_table("routing_policies") as batch:
        batch.add_column(sa.Column("created_by", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_policies") as batch:
        batch.drop_column("created_by")
    with op.batch_alter_table("taxonomy_versions") as batch:
        batch.drop_column("created_by")
