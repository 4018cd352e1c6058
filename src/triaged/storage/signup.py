"""Sign-up tables (Alembic revision ``0006_signup``).

``invites`` are single-use links an admin hands out when sign-up is by invitation;
``email_verifications`` the links mailed to a new workspace's contact (the workspace
stays ``pending`` until one is followed); ``signup_attempts`` one row per accepted
sign-up (the client address HMAC-hashed, no workspace) for the per-address and global
rate limits.  Tokens are kept as SHA-256 hex only; the links carry the secret.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from triaged.storage.tables import Stamp, metadata

__all__ = ["email_verifications", "invites", "signup_attempts"]

invites = Table(
    "invites",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("created_by", String(40), nullable=True),  # the admin key's id
    Column("note", String(200), nullable=False, server_default=""),
    Column("created_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False),
    Column("used_at", Stamp, nullable=True),
    Column("used_by", String(40), ForeignKey("workspaces.id"), nullable=True, index=True),
)

email_verifications = Table(
    "email_verifications",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("email", String(254), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False),
    Column("used_at", Stamp, nullable=True),
)

signup_attempts = Table(
    "signup_attempts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("client_hash", String(64), nullable=False),
    Column("created_at", Stamp, nullable=False, index=True),
    Index("ix_signup_attempts_client_created", "client_hash", "created_at"),
)
