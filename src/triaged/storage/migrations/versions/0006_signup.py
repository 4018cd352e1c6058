"""Self-service sign-up: workspace status and contact, invites, sign-up attempts.

Revision ID: 0006_signup
Revises: 0005_security
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_signup"
down_revision = "0005_security"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("contact_email", sa.String(254), nullable=True))
        batch.create_index("ix_workspaces_contact_email", ["contact_email"])
    op.create_table(
        "invites",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=True),
        sa.Column("note", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("expires_at", Stamp, nullable=False),
        sa.Column("used_at", Stamp, nullable=True),
        sa.Column("used_by", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invites"),
        sa.UniqueConstraint("token_hash", name="uq_invites_token_hash"),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_invites_workspace_id_workspaces"
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["workspaces.id"], name="fk_invites_used_by_workspaces"
        ),
    )
    op.create_index("ix_invites_workspace_id", "invites", ["workspace_id"])
    op.create_index("ix_invites_used_by", "invites", ["used_by"])
    op.create_table(
        "email_verifications",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("expires_at", Stamp, nullable=False),
        sa.Column("used_at", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_email_verifications"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_email_verifications_workspace_id_workspaces",
        ),
    )
    op.create_index("ix_email_verifications_workspace_id", "email_verifications", ["workspace_id"])
    op.create_table(
        "signup_attempts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_hash", sa.String(64), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signup_attempts"),
    )
    op.create_index("ix_signup_attempts_created_at", "signup_attempts", ["created_at"])
    op.create_index(
        "ix_signup_attempts_client_created", "signup_attempts", ["client_hash", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("signup_attempts")
    op.drop_table("email_verifications")
    op.drop_table("invites")
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_index("ix_workspaces_contact_email")
        batch.drop_column("contact_email")
        batch.drop_column("status")
