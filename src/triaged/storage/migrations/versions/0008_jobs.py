"""Jobs: bulk classification jobs and their rows; periodic runs claimed once per period.

Revision ID: 0008_jobs
Revises: 0007_review_workspace
Create Date: 2026-12-02

The queue itself (on PostgreSQL, ``procrastinate``'s tables) is created by
``triaged worker`` / ``triaged serve`` in queue mode with procrastinate's own schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_jobs"
down_revision = "0007_review_workspace"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("taxonomy_id", sa.String(40), nullable=False),
        sa.Column("taxonomy", sa.String(100), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("log", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("started_at", Stamp, nullable=True),
        sa.Column("finished_at", Stamp, nullable=True),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bulk_jobs"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_bulk_jobs_workspace_id_workspaces"
        ),
        sa.ForeignKeyConstraint(
            ["taxonomy_id"], ["taxonomies.id"], name="fk_bulk_jobs_taxonomy_id_taxonomies"
        ),
    )
    op.create_index("ix_bulk_jobs_workspace_id_id", "bulk_jobs", ["workspace_id", "id"])
    op.create_table(
        "bulk_job_rows",
        sa.Column("job_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "seq", name="pk_bulk_job_rows"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["bulk_jobs.id"], name="fk_bulk_job_rows_job_id_bulk_jobs"
        ),
    )
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=False),
        sa.Column("ran_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_periodic_runs"),
    )


def downgrade() -> None:
    op.drop_table("periodic_runs")
    op.drop_table("bulk_job_rows")
    op.drop_index("ix_bulk_jobs_workspace_id_id", table_name="bulk_jobs")
    op.drop_table("bulk_jobs")
