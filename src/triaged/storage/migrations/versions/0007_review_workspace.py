"""Review workspace: guidelines, reopen, reviewer agreement.

Per-taxonomy review settings (guidelines, overlap rate, reopen window), one
judgment row per reviewer answer (agreement, reopen bookkeeping) and the round an
item is in.

Revision ID: 0007_review_workspace
Revises: 0006_signup
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_review_workspace"
down_revision = "0006_signup"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(
            sa.Column("review_round", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("first_by", sa.String(40), nullable=True))
    op.create_table(
        "review_settings",
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("guidelines", sa.Text(), nullable=False),
        sa.Column("overlap_rate", sa.Float(), nullable=False),
        sa.Column("reopen_window_seconds", sa.Integer(), nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.Column("updated_by", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("taxonomy_id", name="pk_review_settings"),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_review_settings_taxonomy_id_taxonomies"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_review_settings_workspace_id_workspaces"
        ),
    )
    op.create_table(
        "review_judgments",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("decision_id", sa.String(40), nullable=False),
        sa.Column("review_round", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(40), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("withdrawn_at", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_judgments"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_review_judgments_workspace_id_workspaces"
        ),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_review_judgments_taxonomy_id_taxonomies"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["review_items.id"], name="fk_review_judgments_item_id_review_items"
        ),
    )
    op.create_index(
        "ix_review_judgments_taxonomy_id", "review_judgments", ["taxonomy_id", "created_at"]
    )
    op.create_index("ix_review_judgments_item_id", "review_judgments", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_review_judgments_item_id", table_name="review_judgments")
    op.drop_index("ix_review_judgments_taxonomy_id", table_name="review_judgments")
    op.drop_table("review_judgments")
    op.drop_table("review_settings")
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("first_by")
        batch.drop_column("review_round")
