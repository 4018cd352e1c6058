"""Routing policy: versioned thresholds per taxonomy; decisions record the version.

Revision ID: 0004_routing
Revises: 0003_webhooks
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_routing"
down_revision = "0003_webhooks"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "routing_policies",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(40), nullable=True),
        sa.Column("auto", sa.Float(), nullable=True),
        sa.Column("review", sa.Float(), nullable=False),
        sa.Column("audit_rate", sa.Float(), nullable=True),
        sa.Column("auto_error_target", sa.Float(), nullable=False),
        sa.Column("confidence_level", sa.Float(), nullable=False),
        sa.Column("expected_out_of_scope", sa.Float(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("bound", sa.JSON(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_routing_policies"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_routing_policies_workspace_id_workspaces"
        ),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_routing_policies_taxonomy_id_taxonomies"
        ),
        sa.UniqueConstraint("taxonomy_id", "version", name="uq_routing_policies_taxonomy_version"),
    )
    with op.batch_alter_table("taxonomies") as batch:
        batch.add_column(sa.Column("routing_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("audit_rate", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("audit_rate")
        batch.drop_column("policy_version")
    with op.batch_alter_table("taxonomies") as batch:
        batch.drop_column("routing_version")
    op.drop_table("routing_policies")
