"""Core tables: workspaces, API keys, quota counters, taxonomies, models, decisions, idempotency.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("plan", sa.String(100), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workspaces"),
        sa.UniqueConstraint("name", name="uq_workspaces_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("revoked_at", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_api_keys_workspace_id_workspaces"
        ),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_workspace_id", "api_keys", ["workspace_id"])
    op.create_table(
        "quota_counters",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("period_used", sa.BigInteger(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("minute_used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_quota_counters"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_quota_counters_workspace_id_workspaces"
        ),
    )
    op.create_table(
        "taxonomies",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("active_model_id", sa.String(40), nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.Column("archived_at", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_taxonomies"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_taxonomies_workspace_id_workspaces"
        ),
        sa.UniqueConstraint("workspace_id", "name", name="uq_taxonomies_workspace_name"),
    )
    op.create_table(
        "taxonomy_versions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("n_examples", sa.Integer(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_taxonomy_versions"),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_taxonomy_versions_taxonomy_id_taxonomies"
        ),
        sa.UniqueConstraint("taxonomy_id", "version", name="uq_taxonomy_versions_taxonomy_version"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("taxonomy_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("mode", sa.String(40), nullable=True),
        sa.Column("blob", sa.LargeBinary(), nullable=True),
        sa.Column("n_examples", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_models_taxonomy_id_taxonomies"
        ),
    )
    op.create_index("ix_models_taxonomy_id", "models", ["taxonomy_id"])
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("taxonomy", sa.String(100), nullable=False),
        sa.Column("taxonomy_version", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("bucket", sa.String(10), nullable=False),
        sa.Column("alternatives", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("final_label", sa.String(100), nullable=True),
        sa.Column("final_source", sa.String(20), nullable=True),
        sa.Column("resolved_at", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_decisions_workspace_id_workspaces"
        ),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_decisions_taxonomy_id_taxonomies"
        ),
    )
    op.create_index("ix_decisions_workspace_id_id", "decisions", ["workspace_id", "id"])
    op.create_index(
        "ix_decisions_workspace_taxonomy_id", "decisions", ["workspace_id", "taxonomy", "id"]
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "key", name="pk_idempotency_keys"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_idempotency_keys_workspace_id_workspaces"
        ),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "decisions",
        "models",
        "taxonomy_versions",
        "taxonomies",
        "quota_counters",
        "api_keys",
        "workspaces",
    ):
        op.drop_table(table)
