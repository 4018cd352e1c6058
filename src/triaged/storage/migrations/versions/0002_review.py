"""Review queue: review_items, review_events (history) and model_evaluations.

Revision ID: 0002_review
Revises: 0001_core
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_review"
down_revision = "0001_core"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("decision_id", sa.String(40), nullable=False),
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("taxonomy", sa.String(100), nullable=False),
        sa.Column("queue", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("claimed_by", sa.String(40), nullable=True),
        sa.Column("claimed_at", Stamp, nullable=True),
        sa.Column("lease_expires_at", Stamp, nullable=True),
        sa.Column("action", sa.String(20), nullable=True),
        sa.Column("resolved_label", sa.String(100), nullable=True),
        sa.Column("new_label", sa.String(100), nullable=True),
        sa.Column("resolved_by", sa.String(40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.Column("resolved_at", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_review_items_workspace_id_workspaces"
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name="fk_review_items_decision_id_decisions"
        ),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_review_items_taxonomy_id_taxonomies"
        ),
        sa.UniqueConstraint("decision_id", name="uq_review_items_decision_id"),
    )
    op.create_index(
        "ix_review_items_workspace_status_queue",
        "review_items",
        ["workspace_id", "status", "queue", "id"],
    )
    op.create_index(
        "ix_review_items_workspace_taxonomy_status",
        "review_items",
        ["workspace_id", "taxonomy", "status", "id"],
    )
    op.create_index(
        "ix_review_items_taxonomy_resolved", "review_items", ["taxonomy_id", "resolved_at"]
    )
    op.create_table(
        "review_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("decision_id", sa.String(40), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(40), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_events"),
        sa.ForeignKeyConstraint(
            ["item_id"], ["review_items.id"], name="fk_review_events_item_id_review_items"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_review_events_workspace_id_workspaces"
        ),
    )
    op.create_index("ix_review_events_item_id", "review_events", ["item_id", "created_at"])
    op.create_index(
        "ix_review_events_workspace_event", "review_events", ["workspace_id", "event", "created_at"]
    )
    op.create_table(
        "model_evaluations",
        sa.Column("model_id", sa.String(40), nullable=False),
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("n_examples", sa.Integer(), nullable=False),
        sa.Column("n_review_examples", sa.Integer(), nullable=False),
        sa.Column("n_eval", sa.Integer(), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("model_id", name="pk_model_evaluations"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name="fk_model_evaluations_model_id_models"
        ),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_model_evaluations_taxonomy_id_taxonomies"
        ),
    )
    op.create_index("ix_model_evaluations_taxonomy_id", "model_evaluations", ["taxonomy_id"])


def downgrade() -> None:
    op.drop_table("model_evaluations")
    op.drop_table("review_events")
    op.drop_table("review_items")
